"""Padding and mini-batches.

Sequences are right-padded with ``PAD_ID`` (0) to the longest sequence *in their
own batch*, not in the whole corpus, so short batches stay cheap. Optional
bucketing groups sequences of similar length to cut padding further.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ..checks import POSITIVE_INT
from .vocab import PAD_ID

# Bucketing sorts within chunks of this many batches: big enough to find similar
# lengths, small enough that batches still mix different parts of the data.
BUCKET_CHUNK_BATCHES = 50


def pad_sequences(seqs: Sequence[Sequence[int]], pad_id: int = PAD_ID) -> np.ndarray:
    """Stack 1-D id sequences into a right-padded matrix.

    Parameters
    ----------
    seqs : sequence of N int sequences (lists or 1-D arrays)
    pad_id : int

    Returns
    -------
    out : ndarray of shape (N, L), int64, L = longest sequence
    """
    if len(seqs) == 0:
        raise ValueError("pad_sequences needs at least one sequence, got 0")
    lengths = [len(s) for s in seqs]
    out = np.full((len(seqs), max(lengths)), pad_id, dtype=np.int64)  # (N, L)
    for row, (s, k) in enumerate(zip(seqs, lengths, strict=True)):
        out[row, :k] = s
    return out


def _batch_order(
    src_lens: np.ndarray,
    tgt_lens: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    shuffle: bool,
    bucket: bool,
) -> list[np.ndarray]:
    n = len(src_lens)
    idx = rng.permutation(n) if shuffle else np.arange(n)
    if bucket:
        chunk = batch_size * BUCKET_CHUNK_BATCHES
        parts = []
        for start in range(0, n, chunk):
            c = idx[start : start + chunk]
            # Sort by source length, ties by target length; lexsort's last key is primary.
            parts.append(c[np.lexsort((tgt_lens[c], src_lens[c]))])
        idx = np.concatenate(parts)
    batches = [idx[i : i + batch_size] for i in range(0, n, batch_size)]
    if bucket and shuffle:
        # Sorted batches would arrive short-to-long inside each chunk; mix them.
        batches = [batches[i] for i in rng.permutation(len(batches)).tolist()]
    return batches


def iterate_batches(
    src_seqs: Sequence[Sequence[int]],
    tgt_seqs: Sequence[Sequence[int]],
    batch_size: int,
    shuffle: bool = True,
    seed: int | np.random.Generator | None = None,
    bucket: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield padded (source, target) batches covering every example exactly once.

    Parameters
    ----------
    src_seqs, tgt_seqs : sequences of N id sequences each
    batch_size : int
        Examples per batch; the last batch may be smaller.
    shuffle : bool
        Shuffle example order (and, with ``bucket``, batch order).
    seed : int, Generator or None
        An int gives the same order on every call; pass one Generator across
        epochs to get a fresh, still reproducible, order each epoch.
    bucket : bool
        Sort by length within chunks of ``BUCKET_CHUNK_BATCHES`` batches so that
        each batch holds similar lengths (less padding).

    Yields
    ------
    src : ndarray of shape (N_b, S), int64
    tgt : ndarray of shape (N_b, T), int64
    """
    POSITIVE_INT.check("batch_size", batch_size)
    if len(src_seqs) != len(tgt_seqs):
        raise ValueError(
            f"src_seqs and tgt_seqs must have the same length, got {len(src_seqs)} and "
            f"{len(tgt_seqs)}"
        )
    rng = np.random.default_rng(seed)  # passes a Generator through unchanged
    src_lens = np.array([len(s) for s in src_seqs], dtype=np.int64)
    tgt_lens = np.array([len(t) for t in tgt_seqs], dtype=np.int64)
    order = _batch_order(src_lens, tgt_lens, int(batch_size), rng, shuffle, bucket)
    # Return a generator (rather than being one) so bad arguments fail at the call.
    return (
        (
            pad_sequences([src_seqs[i] for i in b.tolist()]),
            pad_sequences([tgt_seqs[i] for i in b.tolist()]),
        )
        for b in order
    )
