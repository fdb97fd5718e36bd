"""Softmax, masked softmax and cross-entropy: values, edge cases and gradient checks."""

import numpy as np
import pytest

from numpy_seq2seq.functional import softmax as sm
from numpy_seq2seq.gradcheck import check_gradients, check_layer

from conftest import assert_gradcheck

TOL = 1e-7
FAMILY = "softmax and cross-entropy"


def test_softmax_is_stable_and_matches_definition(rng):
    s = rng.standard_normal((3, 5, 7))
    p, _ = sm.softmax_forward(s)
    assert np.allclose(p, np.exp(s) / np.exp(s).sum(-1, keepdims=True), atol=1e-15)
    big, _ = sm.softmax_forward(np.array([[1000.0, 1001.0, -1000.0]]))
    assert np.isfinite(big).all() and np.allclose(big.sum(), 1.0)


def test_masked_softmax_gives_exact_zeros_and_no_nan(rng):
    s = rng.standard_normal((2, 3, 4)).astype(np.float32)
    mask = np.array([[True, True, False, False], [False, False, False, False]])[:, None, :]
    p, _ = sm.masked_softmax_forward(s, mask)
    assert p.dtype == np.float32
    assert (p[0][:, 2:] == 0).all()
    assert np.allclose(p[0].sum(-1), 1.0)
    assert (p[1] == 0).all() and np.isfinite(p).all()  # fully masked row: zeros, not NaN


def test_masked_softmax_gradient_is_zero_at_masked_positions(rng):
    s = rng.standard_normal((2, 3, 4))
    mask = np.array([[True, True, False, True], [True, False, False, False]])[:, None, :]
    p, cache = sm.masked_softmax_forward(s, mask)
    ds = sm.masked_softmax_backward(rng.standard_normal(p.shape), cache)
    assert (ds[np.broadcast_to(~mask, ds.shape)] == 0).all()


def _softmax_backward_dropping_a_term(dp, cache):
    (p,) = cache
    return p * dp  # forgets - Σ_k dp_k p_k


@pytest.mark.parametrize("broken", [False, True], ids=["correct", "wrong-backward-is-caught"])
def test_masked_softmax_gradient(rng, broken):
    mask = rng.random((3, 1, 6)) < 0.7
    mask[:, :, 0] = True
    backward = _softmax_backward_dropping_a_term if broken else sm.masked_softmax_backward
    r = check_layer(
        lambda s: sm.masked_softmax_forward(s, mask),
        lambda d, c: {"s": backward(d, c)},
        {"s": rng.standard_normal((3, 4, 6))},
    )
    assert_gradcheck(r, FAMILY, TOL, broken)


@pytest.mark.parametrize("broken", [False, True], ids=["correct", "wrong-backward-is-caught"])
def test_cross_entropy_gradient(rng, broken):
    logits = rng.standard_normal((3, 5, 7))
    targets = rng.integers(0, 7, (3, 5))
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]], dtype=bool)
    _, cache = sm.cross_entropy_forward(logits, targets, mask)
    dlogits = sm.cross_entropy_backward(1.0, cache)
    if broken:  # divide by N·T instead of the number of real labels
        dlogits = dlogits * mask.sum() / mask.size
    r = check_gradients(
        lambda: sm.cross_entropy_forward(logits, targets, mask)[0],
        {"logits": logits},
        {"logits": dlogits},
        max_coords=None,
    )
    assert_gradcheck(r, FAMILY, TOL, broken)


def test_cross_entropy_is_mean_over_real_labels(rng):
    logits = rng.standard_normal((2, 3, 4))
    targets = rng.integers(0, 4, (2, 3))
    mask = np.array([[1, 1, 0], [1, 0, 0]], dtype=bool)
    loss, _ = sm.cross_entropy_forward(logits, targets, mask)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = [logp[0, 0, targets[0, 0]], logp[0, 1, targets[0, 1]], logp[1, 0, targets[1, 0]]]
    expected = -np.mean(picked)
    assert loss == pytest.approx(expected, rel=1e-12)
