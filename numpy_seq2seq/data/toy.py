"""Toy tasks for watching a seq2seq model learn: addition, reverse, copy, sort.

All are char-level on both sides. Lengths are drawn uniformly from
``[min_len, max_len]`` (inclusive); callers (``tasks.make_task``) validate them.

* ``addition`` -- "57+168" -> "225"; each operand's number of digits is drawn
  from the length range (no leading zeros; a 1-digit operand may be 0).
* ``reverse``  -- "abcde" -> "edcba"  (the classic attention demo: alignments
  form an anti-diagonal).
* ``copy``     -- "abcde" -> "abcde"  (alignments form the diagonal).
* ``sort``     -- "cabad" -> "aabcd"  (attention must search, not follow position).

Letters come from :data:`TOY_ALPHABET`, ten letters a-j: small enough that a
tiny model learns quickly, large enough that sort has work to do.
"""

from __future__ import annotations

import numpy as np

TOY_ALPHABET = "abcdefghij"


def _random_strings(n: int, rng: np.random.Generator, min_len: int, max_len: int) -> list[str]:
    lengths = rng.integers(min_len, max_len + 1, size=n)
    letters = np.array(list(TOY_ALPHABET))[rng.integers(0, len(TOY_ALPHABET), size=lengths.sum())]
    ends = np.cumsum(lengths)
    spans = zip(ends.tolist(), lengths.tolist(), strict=True)
    return ["".join(letters[e - k : e]) for e, k in spans]


def make_reverse(
    n: int, rng: np.random.Generator, min_len: int, max_len: int
) -> list[tuple[str, str]]:
    """Pairs (s, s reversed)."""
    return [(s, s[::-1]) for s in _random_strings(n, rng, min_len, max_len)]


def make_copy(
    n: int, rng: np.random.Generator, min_len: int, max_len: int
) -> list[tuple[str, str]]:
    """Pairs (s, s)."""
    return [(s, s) for s in _random_strings(n, rng, min_len, max_len)]


def make_sort(
    n: int, rng: np.random.Generator, min_len: int, max_len: int
) -> list[tuple[str, str]]:
    """Pairs (s, characters of s in sorted order)."""
    return [(s, "".join(sorted(s))) for s in _random_strings(n, rng, min_len, max_len)]


def _random_number(rng: np.random.Generator, n_digits: int) -> int:
    # Digits one by one so any length works (np.int64 would overflow past 18 digits).
    first = int(rng.integers(0 if n_digits == 1 else 1, 10))
    rest = rng.integers(0, 10, size=n_digits - 1).tolist()
    return int("".join(map(str, [first, *rest])))


def make_addition(
    n: int, rng: np.random.Generator, min_len: int, max_len: int
) -> list[tuple[str, str]]:
    """Pairs ("a+b", str(a + b)) with each operand's digit count in the length range."""
    digits = rng.integers(min_len, max_len + 1, size=(n, 2)).tolist()
    pairs = []
    for da, db in digits:
        a, b = _random_number(rng, da), _random_number(rng, db)
        pairs.append((f"{a}+{b}", str(a + b)))
    return pairs
