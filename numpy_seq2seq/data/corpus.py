"""Sentence-pair corpora: reading TSV files, holding out a split, encoding to ids.

The TSV format is what Tatoeba and the Anki "manythings" exports use: one pair
per line, ``source<TAB>target``, any further columns (licence, attribution) are
ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from .vocab import Vocab

DEFAULT_VALID_FRACTION = 0.1  # also the command line's (config.DataConfig)

Pair = tuple[str, str]


def load_tsv(path: str | PathLike[str]) -> list[Pair]:
    """Read (source, target) pairs from a UTF-8 tab-separated file.

    Blank lines are skipped; each field is stripped of surrounding whitespace; a
    leading byte-order mark (as written by some spreadsheet exports) is dropped.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    pairs : list of (str, str)

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (the message names it).
    ValueError
        One line naming the file and line number, for a line that is not UTF-8,
        has no TAB, or has an empty source or target; or if the file holds no pairs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file not found (or not a file): {path}")
    # Decode line by line (not the whole file) so an encoding error can name its line.
    raw_lines = path.read_bytes().split(b"\n")
    if raw_lines and raw_lines[0].startswith(b"\xef\xbb\xbf"):
        raw_lines[0] = raw_lines[0][3:]
    pairs = []
    for lineno, raw in enumerate(raw_lines, start=1):
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}:{lineno}: not valid UTF-8 ({e.reason})") from None
        if not line.strip():
            continue
        if "\t" not in line:
            raise ValueError(f"{path}:{lineno}: expected 'source<TAB>target', found no TAB")
        src, tgt = (field.strip() for field in line.split("\t")[:2])
        if not src or not tgt:
            side = "source" if not src else "target"
            raise ValueError(f"{path}:{lineno}: empty {side}")
        pairs.append((src, tgt))
    if not pairs:
        raise ValueError(f"{path}: no sentence pairs found (file is empty or blank)")
    return pairs


def split_pairs(
    pairs: Sequence[Pair],
    valid_fraction: float = DEFAULT_VALID_FRACTION,
    seed: int | None = 0,
) -> tuple[list[Pair], list[Pair]]:
    """Hold out a seeded fraction of the pairs, keeping equal sources together.

    The split is drawn over *distinct source strings*, so a source that occurs
    several times (with the same or different targets) lands entirely on one
    side and the held-out score is never flattered by memorised duplicates.
    ``round(valid_fraction * distinct sources)`` sources are held out, at least
    one source always stays in training. Both returned lists keep input order.

    Parameters
    ----------
    pairs : sequence of (str, str)
    valid_fraction : float
        In [0, 1).
    seed : int or None
        Seed for ``np.random.default_rng``.

    Returns
    -------
    train, valid : list of (str, str)
    """
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction!r}")
    sources = list(dict.fromkeys(src for src, _ in pairs))  # distinct, first-seen order
    n_valid = min(round(valid_fraction * len(sources)), max(len(sources) - 1, 0))
    order = np.random.default_rng(seed).permutation(len(sources))
    held_out = {sources[i] for i in order[:n_valid].tolist()}
    train = [p for p in pairs if p[0] not in held_out]
    valid = [p for p in pairs if p[0] in held_out]
    return train, valid


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
