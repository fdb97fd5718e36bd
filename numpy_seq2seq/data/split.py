"""Holding out pairs: a split that cannot flatter, storing it, and checking other pairs against it.

Why pairs are kept together
---------------------------
A held-out score measures what the model does with text it has not seen. Real corpora repeat
themselves: Tatoeba pairs one English sentence with several translations and one translation
with several English sentences (``Run!`` -> ``Cours !``, ``Courez !``; ``Who?`` and ``Who is
it?`` -> ``Qui ?``). A split drawn over single pairs puts some of them on each side, and the
model is then scored on targets it learnt by heart. Two ways of keeping pairs together:

``"source"``
    Pairs with the same source string stay on one side; ``round(valid_fraction · distinct
    sources)`` sources are held out. Right for generated tasks, whose target is a function of
    the source (the dates task writes one date in many formats, and seeing ``2022-03-14`` as
    an answer in training is the task, not a leak).
``"either"``
    Pairs that share a source *or* a target sentence, after normalisation (:func:`side_key`),
    stay on one side: the pairs are the edges of a graph whose nodes are the distinct sources
    and targets, and each connected component (found by union-find) goes to one side whole.
    Components are visited in a seeded random order and held out while they fit into
    ``round(valid_fraction · pairs)`` pairs, so a large component (a sentence with many
    translations) stays in training and the held-out share is met exactly unless the
    components are too coarse. No held-out source and no held-out target occurs on the
    training side. Right for corpora.

Either way at least one group stays in training, and both sides keep the input order.

Storing and checking a split
----------------------------
:func:`write_heldout` writes the held-out pairs as a TSV (``heldout.tsv`` in a run's folder,
readable by ``load_tsv`` and ``evaluate --data``); :func:`file_sha256` fingerprints the corpus
they came from, so a later reader can tell whether rebuilding the split from the corpus still
gives the same pairs. :func:`count_overlap` counts how many pairs of some list share a source
or a target with the training pairs (``evaluate --data`` warns with that count).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..config import DEFAULT_VALID_FRACTION, SPLIT_MODES
from ..files import write_text_atomic
from .tokenize import Tokenizer, normalize_text, split_words

Pair = tuple[str, str]
HELDOUT_NAME = "heldout.tsv"  # the held-out pairs in a run's folder


class Overlap(NamedTuple):
    """How many of some pairs the training pairs already hold (see :func:`count_overlap`)."""

    n: int  # pairs checked
    sources: int  # pairs whose source occurs as a training source
    targets: int  # pairs whose target occurs as a training target
    either: int  # pairs with one or both
    pairs: int  # pairs that occur whole in training

    def describe(self) -> str:
        """``12 of 300 pairs share a source or a target with the training pairs (4 sources,
        10 targets, 2 whole pairs)``."""
        return (f"{self.either:,} of {self.n:,} pair{'s' * (self.n != 1)} share a source or a "
                f"target with the training pairs ({self.sources:,} sources, {self.targets:,} "
                f"targets, {self.pairs:,} whole pairs)")


def side_key(text: str, tokenizer: Tokenizer | None = None) -> str:
    """The form in which two sentences count as the same: normalised as ``tokenizer`` does
    (NFKC, spaces, its lowercasing; :func:`normalize_text` without one) and split into words
    and punctuation, joined by single spaces, so ``Pain !`` (with U+202F) equals ``Pain!``."""
    prepared = normalize_text(text) if tokenizer is None else tokenizer.prepare(text)
    return " ".join(split_words(prepared))


def _keys(pairs: Sequence[Pair],
          tokenizers: tuple[Tokenizer, Tokenizer] | None) -> list[tuple[str, str]]:
    src_tok, tgt_tok = tokenizers if tokenizers is not None else (None, None)
    return [(side_key(s, src_tok), side_key(t, tgt_tok)) for s, t in pairs]


# ---------------------------------------------------------------------------------------------
# the split

def split_pairs(
    pairs: Sequence[Pair],
    valid_fraction: float = DEFAULT_VALID_FRACTION,
    seed: int | None = 0,
    together: str = "source",
    tokenizers: tuple[Tokenizer, Tokenizer] | None = None,
) -> tuple[list[Pair], list[Pair]]:
    """Hold out a seeded share of the pairs, keeping related pairs on one side.

    Parameters
    ----------
    pairs : sequence of (str, str)
    valid_fraction : float
        In [0, 1): of the distinct sources (``together="source"``) or of the pairs
        (``"either"``).
    seed : int or None
        Seed for ``np.random.default_rng``; the same pairs and seed give the same split.
    together : {"source", "either"}
        Which pairs stay on one side (module docstring): those with one source string, or
        those linked by a shared source or target sentence.
    tokenizers : (Tokenizer, Tokenizer), optional
        ``"either"`` only: the normalisation (and lowercasing) under which two sources or two
        targets are the same (:func:`side_key`); default NFKC and spaces.

    Returns
    -------
    train, valid : list of (str, str), each in input order
    """
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction!r}")
    if together not in SPLIT_MODES:
        raise ValueError(f"unknown split {together!r}; choose one of {', '.join(SPLIT_MODES)}")
    if together == "source":
        groups = _groups_by_source(pairs)
        n_valid = round(valid_fraction * len(groups))  # counted in sources
        held = _draw(groups, n_valid, seed, count=lambda group: 1)
    else:
        groups = _groups_linked(_keys(pairs, tokenizers))
        n_valid = round(valid_fraction * len(pairs))  # counted in pairs
        held = _draw(groups, n_valid, seed, count=len)
    train = [p for i, p in enumerate(pairs) if i not in held]
    valid = [p for i, p in enumerate(pairs) if i in held]
    return train, valid


def _groups_by_source(pairs: Sequence[Pair]) -> list[list[int]]:
    """The pair indices of each distinct source string, in first-seen order."""
    groups: dict[str, list[int]] = {}
    for i, (src, _) in enumerate(pairs):
        groups.setdefault(src, []).append(i)
    return list(groups.values())


def _groups_linked(keys: Sequence[tuple[str, str]]) -> list[list[int]]:
    """The pair indices of each connected component of the source–target graph.

    Union-find: node ``("s", key)`` for each distinct source, ``("t", key)`` for each target
    (two namespaces: a source and a target are two languages, equal strings or not); each pair
    joins its two nodes. Components are listed in the order of their first pair.
    """
    node: dict[tuple[str, str], int] = {}
    for src, tgt in keys:
        node.setdefault(("s", src), len(node))
        node.setdefault(("t", tgt), len(node))
    parent = list(range(len(node)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]  # path halving keeps the trees shallow
            a = parent[a]
        return a

    for src, tgt in keys:
        a, b = find(node[("s", src)]), find(node[("t", tgt)])
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i, (src, _) in enumerate(keys):
        groups.setdefault(find(node[("s", src)]), []).append(i)
    return list(groups.values())


def _draw(groups: list[list[int]], n_valid: int, seed: int | None, count) -> set[int]:
    """The pair indices of the groups held out: visited in a seeded order, each taken while
    ``count(group)`` still fits into ``n_valid``; at least one group stays in training."""
    order = np.random.default_rng(seed).permutation(len(groups)).tolist()
    held: set[int] = set()
    taken = room = 0
    for g in order:
        if taken == len(groups) - 1 or room >= n_valid:
            break
        if room + count(groups[g]) <= n_valid:
            held.update(groups[g])
            room += count(groups[g])
            taken += 1
    return held


# ---------------------------------------------------------------------------------------------
# storing and checking a split

def count_overlap(
    pairs: Sequence[Pair],
    train_pairs: Sequence[Pair],
    tokenizers: tuple[Tokenizer, Tokenizer] | None = None,
) -> Overlap:
    """How many of ``pairs`` share a source, a target, or both with ``train_pairs`` (compared
    as :func:`side_key` with each side's tokenizer)."""
    train_keys = _keys(train_pairs, tokenizers)
    sources = {s for s, _ in train_keys}
    targets = {t for _, t in train_keys}
    whole = set(train_keys)
    keys = _keys(pairs, tokenizers)
    in_src = [s in sources for s, _ in keys]
    in_tgt = [t in targets for _, t in keys]
    return Overlap(len(keys), sum(in_src), sum(in_tgt),
                   sum(a or b for a, b in zip(in_src, in_tgt, strict=True)),
                   sum(k in whole for k in keys))


def write_heldout(path: str | PathLike[str], pairs: Sequence[Pair]) -> Path:
    """Write ``pairs`` as ``source<TAB>target`` lines (UTF-8), atomically; ``load_tsv`` reads
    them back unchanged. A side holding a TAB or a line break, or blank, is refused."""
    lines = []
    for i, (src, tgt) in enumerate(pairs):
        for side, text in (("source", src), ("target", tgt)):
            if any(c in text for c in "\t\r\n") or text != text.strip() or not text:
                raise ValueError(f"pair {i}: the {side} {text!r} cannot be one TSV field (it is "
                                 "blank, holds a TAB or a line break, or has outer spaces)")
        lines.append(f"{src}\t{tgt}\n")
    return write_text_atomic(path, "".join(lines))


def file_sha256(path: str | PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, in hex: the fingerprint of the corpus a split came from."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
