"""Tests for numpy_seq2seq.data.batching: padding and mini-batch iteration."""

import numpy as np
import pytest

from numpy_seq2seq.data import PAD_ID, iterate_batches, pad_sequences


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def data(rng):
    """N=203 examples whose first token is a unique id (>= 4, so never padding)."""
    n = 203
    src = [np.r_[4 + i, rng.integers(4, 20, size=rng.integers(0, 30))] for i in range(n)]
    tgt = [np.r_[4 + i, rng.integers(4, 20, size=rng.integers(1, 12))] for i in range(n)]
    return src, tgt


def _unpad(row):
    return tuple(int(v) for v in row if v != PAD_ID)


def test_pad_sequences():
    out = pad_sequences([[5, 6, 7], [8], np.array([9, 10])])
    assert out.dtype == np.int64 and out.shape == (3, 3)
    assert out.tolist() == [[5, 6, 7], [8, 0, 0], [9, 10, 0]]
    assert pad_sequences([[1], []], pad_id=-1).tolist() == [[1], [-1]]
    with pytest.raises(ValueError, match="at least one"):
        pad_sequences([])


@pytest.mark.parametrize("bucket", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_example_once_per_epoch(data, shuffle, bucket):
    src, tgt = data
    batches = list(iterate_batches(src, tgt, batch_size=16, shuffle=shuffle, seed=1, bucket=bucket))
    assert len(batches) == -(-len(src) // 16)
    seen = []
    for s, t in batches:
        assert s.dtype == np.int64 and t.dtype == np.int64
        assert s.shape[0] == t.shape[0] <= 16
        # Padded only to this batch's longest row: the last column is used by some row.
        assert (s[:, -1] != PAD_ID).any() and (t[:, -1] != PAD_ID).any()
        seen += [(_unpad(a), _unpad(b)) for a, b in zip(s, t, strict=True)]
    expected = [(tuple(a.tolist()), tuple(b.tolist())) for a, b in zip(src, tgt, strict=True)]
    assert sorted(seen) == sorted(expected)  # pairs stay matched, nothing lost or repeated
    if not shuffle and not bucket:
        assert seen == expected


def _padding(batches):
    return sum(int((s == PAD_ID).sum()) for s, _ in batches)


def test_bucketing_reduces_padding(data):
    src, tgt = data
    plain = list(iterate_batches(src, tgt, batch_size=8, seed=2))
    bucketed = list(iterate_batches(src, tgt, batch_size=8, seed=2, bucket=True))
    assert _padding(bucketed) < 0.3 * _padding(plain)


@pytest.mark.parametrize("bucket", [False, True])
def test_deterministic_for_a_seed(data, bucket):
    src, tgt = data

    def order(seed):
        batches = iterate_batches(src, tgt, 10, seed=seed, bucket=bucket)
        return [s[:, 0].tolist() for s, _ in batches]

    assert order(5) == order(5)
    assert order(5) != order(6)
    gen = np.random.default_rng(5)
    epoch1, epoch2 = order(gen), order(gen)  # one Generator across epochs: fresh order each time
    assert epoch1 != epoch2
    gen = np.random.default_rng(5)
    assert order(gen) == epoch1


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True, "8"])
def test_bad_batch_size(data, batch_size):
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        iterate_batches(*data, batch_size=batch_size)


def test_mismatched_counts(data):
    src, tgt = data
    with pytest.raises(ValueError, match="203 and 202"):
        iterate_batches(src, tgt[:-1], batch_size=4)
