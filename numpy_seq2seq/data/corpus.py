"""Sentence-pair corpora: reading TSV files, choosing pairs, encoding (holding out a split:
:mod:`.split`).

File format
-----------
One pair per line, ``source<TAB>target``, UTF-8. The Tatoeba pair files published by
manythings.org (``fra.txt``, ``kor.txt``, ...) add a third column, the attribution that
Tatoeba's licence (CC-BY 2.0 FR) requires, e.g. ``CC-BY 2.0 (France) Attribution: tatoeba.org
#2877272 (CM) & #1158250 (Wittydev)``. That column is read on purpose and counted
(:class:`TsvCorpus`), never trained on: keep it with any copy of the data you pass on. A line
with four or more columns is an error, since it is most likely Tatoeba's own
``id<TAB>sentence<TAB>id<TAB>sentence`` export (keep columns 2 and 4: ``cut -f2,4``) or a TAB
inside a sentence, and guessing would train on ids.

Choosing pairs (:func:`select_pairs`)
-------------------------------------
Exact duplicate pairs are dropped; so are pairs with a side longer than ``max_len`` tokens
(counted with that side's tokenizer; for bpe, which is learnt after this choice, in words);
then, if more than ``max_pairs`` remain, a seeded random sample of ``max_pairs`` is kept (input
order preserved). Pair files are often sorted by length, so the first N lines would be only the
shortest sentences. :func:`describe_selection` writes what was dropped and why as one line.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .tokenize import Tokenizer
from .vocab import Vocab

Pair = tuple[str, str]


class TsvCorpus(NamedTuple):
    """What :func:`read_tsv` found in a file."""

    pairs: list[Pair]
    attributed: int  # pairs whose line carried a non-empty third (attribution) column


class UnknownTokens(NamedTuple):
    """Tokens of some pairs that their vocabularies lack (see :func:`count_unknown`)."""

    unknown: int  # token occurrences not in the vocabulary, both sides
    total: int  # all token occurrences, both sides
    counts: Counter  # unknown token -> occurrences

    @property
    def fraction(self) -> float:
        return self.unknown / self.total if self.total else 0.0


def load_tsv(path: str | PathLike[str], swap: bool = False) -> list[Pair]:
    """The (source, target) pairs of a TSV file: ``read_tsv(path, swap).pairs``."""
    return read_tsv(path, swap).pairs


def read_tsv(path: str | PathLike[str], swap: bool = False) -> TsvCorpus:
    """Read (source, target) pairs, and count attribution columns, from a UTF-8 TSV file.

    Blank lines are skipped; each field is stripped of surrounding whitespace; a
    leading byte-order mark (as written by some spreadsheet exports) is dropped. A file whose
    name ends in ``.gz`` is decompressed first.
    A third column is the attribution (see the module docstring).

    Parameters
    ----------
    path : str or path-like
    swap : bool
        Read the second column as the source and the first as the target (Tatoeba's files
        put English first: ``swap=True`` reads them as French -> English).

    Returns
    -------
    TsvCorpus
        ``pairs`` (list of (str, str)) and ``attributed`` (int).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (the message names it).
    ValueError
        One line naming the file and line number, for a line that is not UTF-8, has no TAB,
        has more than three columns, or has an empty source or target; or if the file holds
        no pairs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file not found (or not a file): {path}")
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise ValueError(f"{path}: not a readable gzip file ({e})") from None
    # Decode line by line (not the whole file) so an encoding error can name its line.
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[0].startswith(b"\xef\xbb\xbf"):
        raw_lines[0] = raw_lines[0][3:]
    pairs, attributed = [], 0
    for lineno, raw in enumerate(raw_lines, start=1):
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}:{lineno}: not valid UTF-8 ({e.reason})") from None
        if not line.strip():
            continue
        if "\t" not in line:
            raise ValueError(f"{path}:{lineno}: expected 'source<TAB>target', found no TAB")
        fields = [field.strip() for field in line.split("\t")]
        if len(fields) > 3:
            raise ValueError(
                f"{path}:{lineno}: expected 2 or 3 TAB-separated columns (source, target, "
                f"attribution), found {len(fields)}; for Tatoeba's id/sentence/id/sentence "
                "export keep columns 2 and 4 (cut -f2,4)")
        src, tgt = fields[:2]
        if not src or not tgt:
            side = "source" if not src else "target"
            raise ValueError(f"{path}:{lineno}: empty {side}")
        pairs.append((tgt, src) if swap else (src, tgt))
        attributed += len(fields) == 3 and bool(fields[2])
    if not pairs:
        raise ValueError(f"{path}: no sentence pairs found (file is empty or blank)")
    return TsvCorpus(pairs, attributed)


def _length_tokenizer(tokenizer: Tokenizer) -> Tokenizer:
    # a bpe model is learnt from the chosen pairs, so their length is counted in words first
    if tokenizer.kind == "bpe":
        return Tokenizer("word", lowercase=tokenizer.lowercase)
    return tokenizer


def select_pairs(
    pairs: Sequence[Pair],
    src_tokenizer: Tokenizer,
    tgt_tokenizer: Tokenizer,
    max_len: int | None = None,
    max_pairs: int | None = None,
    seed: int | None = 0,
) -> tuple[list[Pair], dict[str, int]]:
    """Drop duplicates, over-long pairs and (at random) pairs beyond ``max_pairs``.

    Parameters
    ----------
    pairs : sequence of (str, str)
    src_tokenizer, tgt_tokenizer : Tokenizer
        Count each side's length in its own tokens (words for bpe).
    max_len : int, optional
        Most tokens a side may have.
    max_pairs : int, optional
        Most pairs to keep; a seeded random sample, input order preserved.
    seed : int or None
        Seed of that sample.

    Returns
    -------
    kept : list of (str, str)
    dropped : dict of reason -> count, in the order applied, reasons with 0 left out
    """
    dropped: dict[str, int] = {}
    kept = list(dict.fromkeys(pairs))
    dropped["duplicates"] = len(pairs) - len(kept)
    if max_len is not None:
        src_tok, tgt_tok = _length_tokenizer(src_tokenizer), _length_tokenizer(tgt_tokenizer)
        short = [(s, t) for s, t in kept
                 if len(src_tok.tokenize(s)) <= max_len and len(tgt_tok.tokenize(t)) <= max_len]
        dropped[f"longer than {max_len} tokens"] = len(kept) - len(short)
        kept = short
    if max_pairs is not None and len(kept) > max_pairs:
        chosen = np.sort(np.random.default_rng(seed).permutation(len(kept))[:max_pairs])
        dropped[f"beyond the {max_pairs:,}-pair limit"] = len(kept) - max_pairs
        kept = [kept[i] for i in chosen.tolist()]
    return kept, {reason: n for reason, n in dropped.items() if n}


def describe_selection(n_read: int, dropped: dict[str, int], n_kept: int) -> str:
    """One line: ``read 312 pairs; dropped 2 duplicates, 5 longer than 12 tokens; kept 305``."""
    parts = ", ".join(f"{n:,} {reason}" for reason, n in dropped.items())
    return f"read {n_read:,} pair{'s' * (n_read != 1)}; dropped {parts or 'none'}; kept {n_kept:,}"


def count_unknown(pairs: Sequence[Pair], src_vocab: Vocab, tgt_vocab: Vocab) -> UnknownTokens:
    """How many of the pairs' tokens (source and target) each side's vocabulary lacks."""
    counts: Counter = Counter()
    total = 0
    for src, tgt in pairs:
        for vocab, text in ((src_vocab, src), (tgt_vocab, tgt)):
            tokens = vocab.tokenize(text)
            total += len(tokens)
            counts.update(t for t in tokens if t not in vocab)
    return UnknownTokens(sum(counts.values()), total, counts)


def encode_pairs(
    pairs: Sequence[Pair],
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    unknown: str = "unk",
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Tokenize and encode pairs with each side's vocabulary.

    Sources get no special tokens (the encoder just reads them); targets become
    ``<s> y1 ... yk </s>`` because the decoder is fed ``<s>`` first and must
    learn to emit ``</s>``.

    Parameters
    ----------
    pairs : sequence of (str, str)
    src_vocab, tgt_vocab : Vocab
        Each tokenizes its side with its own stored tokenizer.
    unknown : {"unk", "error"}
        Passed to :meth:`Vocab.encode`; with "error" the message names the pair.

    Returns
    -------
    src_ids, tgt_ids : list of int64 ndarray of shape (S_i,) and (T_i,)
    """
    src_ids, tgt_ids = [], []
    for i, (src, tgt) in enumerate(pairs):
        try:
            src_ids.append(src_vocab.encode(src, unknown=unknown))
            tgt_ids.append(tgt_vocab.encode(tgt, add_bos=True, add_eos=True, unknown=unknown))
        except ValueError as e:
            raise ValueError(f"pair {i} ({src!r} -> {tgt!r}): {e}") from None
    return src_ids, tgt_ids
