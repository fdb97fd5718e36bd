"""The "numbers" task: a number written in words in one language, translated into another.

Both sides are written by num2words from the same integer, e.g. (en -> fr)
``"ninety-seven thousand, one hundred and twenty-one"`` ->
``"quatre-vingt-dix-sept mille cent vingt et un"``. It is a small translation task whose
alignments are *not* monotonic, which makes its attention maps worth reading:

* German puts units before tens inside a number word: 21 is "einundzwanzig" (one-and-twenty);
* French counts in twenties from 60 on: 97 is "quatre-vingt-dix-sept" (four-twenty-ten-seven);
* Korean and Japanese group digits by 10^4 (만, 万) where English groups by 10^3:
  123,456 is "십이만 삼천사백오십육" (twelve-ten-thousands, three thousand four hundred ...);
* Spanish and French drop "one" before a hundred or a thousand ("cent", "mil"), English keeps
  it ("one hundred"), Korean drops it too ("백", "천").

Languages and tokenizers (:data:`NUMBER_LANGUAGES`): English, French and Spanish are
word-level (words and commas; a hyphen stays on the piece before it, so "quatre-vingt-dix" is
``quatre-`` ``vingt-`` ``dix``); German, Korean and Japanese are character-level, because they
write a number as one long word or without spaces.

The ``n`` numbers are distinct and every length is common: each digit count in ``[min_len,
max_len]`` (default 1-6) gets an equal share, or all its numbers if it has fewer (0-9, 10-99,
100-999), the rest going to the longer counts (:func:`draw_numbers`). Data are a pure function
of the seed.
"""

from __future__ import annotations

import numpy as np
from num2words import num2words

from ..config import DEFAULT_SOURCE_LANG, DEFAULT_TARGET_LANG
from .tokenize import Tokenizer

# language code -> tokenizer kind; num2words uses the same codes
NUMBER_LANGUAGES: dict[str, str] = {
    "en": "word", "fr": "word", "es": "word", "de": "char", "ko": "char", "ja": "char",
}
# Above 10^9 German splits into words with capitals ("eine Milliarde ...") and int64 draws
# are no longer exact; nine digits keep every language in one regime.
MAX_DIGITS = 9


def check_languages(source_lang: str, target_lang: str) -> None:
    """Raise ValueError unless both are in :data:`NUMBER_LANGUAGES` and they differ."""
    for label, lang in (("source_lang", source_lang), ("target_lang", target_lang)):
        if lang not in NUMBER_LANGUAGES:
            raise ValueError(f"{label} must be one of {', '.join(NUMBER_LANGUAGES)}, got {lang!r}")
    if source_lang == target_lang:
        raise ValueError(f"source_lang and target_lang must differ, both are {source_lang!r}")


def number_tokenizers(source_lang: str, target_lang: str) -> tuple[Tokenizer, Tokenizer]:
    """The (source, target) tokenizers of a language pair (see the module docstring)."""
    check_languages(source_lang, target_lang)
    return Tokenizer(NUMBER_LANGUAGES[source_lang]), Tokenizer(NUMBER_LANGUAGES[target_lang])


def draw_numbers(n: int, rng: np.random.Generator, min_digits: int, max_digits: int) -> np.ndarray:
    """``n`` distinct integers with ``min_digits`` to ``max_digits`` digits, in random order.

    Each digit count gets an equal share of ``n``, or all of its numbers when it has fewer
    (there are only 10 one-digit and 90 two-digit numbers); what they cannot take goes to the
    longer counts. Distinct numbers keep the held-out set honest: with repeats, a few short
    numbers would fill a large part of it.
    """
    counts = [10 if d == 1 else 9 * 10 ** (d - 1) for d in range(min_digits, max_digits + 1)]
    if n > sum(counts):
        raise ValueError(f"n must be <= {sum(counts):,}, the count of numbers with {min_digits} to "
                         f"{max_digits} digits, got {n:,}")
    quotas, left = [], n
    for i, count in enumerate(counts):  # counts grow, so a capped share frees room for the rest
        quotas.append(min(count, left // (len(counts) - i)))
        left -= quotas[-1]
    parts = [(0 if d == 1 else 10 ** (d - 1)) + rng.choice(count, size=q, replace=False)
             for d, count, q in zip(range(min_digits, max_digits + 1), counts, quotas)]
    return rng.permutation(np.concatenate(parts))  # (n,)


def make_numbers(
    n: int,
    rng: np.random.Generator,
    min_len: int,
    max_len: int,
    source_lang: str = DEFAULT_SOURCE_LANG,
    target_lang: str = DEFAULT_TARGET_LANG,
) -> list[tuple[str, str]]:
    """``n`` pairs (number in ``source_lang`` words, same number in ``target_lang`` words).

    ``min_len`` and ``max_len`` are digit counts (at most :data:`MAX_DIGITS`).
    """
    check_languages(source_lang, target_lang)
    if max_len > MAX_DIGITS:
        raise ValueError(f"max_len must be <= {MAX_DIGITS} digits for the numbers task, "
                         f"got {max_len}")
    numbers = draw_numbers(n, rng, min_len, max_len).tolist()
    return [(num2words(x, lang=source_lang), num2words(x, lang=target_lang)) for x in numbers]
