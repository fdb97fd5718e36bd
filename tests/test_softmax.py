"""Softmax, masked softmax and cross-entropy: values, edge cases and gradient checks."""

import numpy as np
import pytest

from numpy_seq2seq.functional import softmax as sm
from numpy_seq2seq.gradcheck import check_gradients, check_layer

from conftest import assert_gradcheck, assert_refused

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


# ---------------------------------------------------------------------------------------------
# bad input: one line naming what was expected; never a wrapped id, a broadcast or a 1/0

N, T, V = 2, 3, 5


def _ce_args(rng):
    return {"logits": rng.standard_normal((N, T, V)), "targets": rng.integers(0, V, (N, T)),
            "mask": np.array([[1, 1, 0], [1, 0, 0]], dtype=bool)}


BAD_CROSS_ENTROPY = {  # name: (change to the arguments, message)
    "target -1 (would wrap to V-1)": (lambda a: {**a, "targets": a["targets"] * 0 - 1},
                                      r"targets must be token ids in \[0, 4\] \(V = 5, the "
                                      r"logits' last axis\), got min -1 and max -1"),
    "target V": (lambda a: {**a, "targets": a["targets"] * 0 + V},
                 r"targets .* got min 5 and max 5"),
    "float targets": (lambda a: {**a, "targets": a["targets"] * 1.0},
                      "targets must hold integer token ids, got dtype float64"),
    "mask of one row (would broadcast)": (lambda a: {**a, "mask": a["mask"][0]},
                                          r"mask must be 2-D of shape \(N, T\), got shape \(3,\)"),
    "int mask": (lambda a: {**a, "mask": a["mask"] * 2}, "mask must be a bool array, got int64"),
    "no label": (lambda a: {**a, "mask": a["mask"] & False}, "mask selects no labels"),
    "targets of one row": (lambda a: {**a, "targets": a["targets"][:1]},
                           rf"targets must have shape \(N, T\) = \({N}, {T}\), got \(1, {T}\)"),
}


@pytest.mark.parametrize("change, message", BAD_CROSS_ENTROPY.values(), ids=list(BAD_CROSS_ENTROPY))
def test_cross_entropy_refuses_bad_input(rng, change, message):
    assert_refused(lambda: sm.cross_entropy_forward(**change(_ce_args(rng))),
                   f"^cross_entropy_forward: {message}")


@pytest.mark.parametrize("dloss", [float("nan"), np.ones(1), "1"])
def test_cross_entropy_backward_takes_a_finite_number(rng, dloss):
    _, cache = sm.cross_entropy_forward(**_ce_args(rng))
    assert_refused(lambda: sm.cross_entropy_backward(dloss, cache),
                   r"^dloss must be a finite number, got")


def test_cross_entropy_backward_takes_a_0d_array_as_its_number(rng):
    _, cache = sm.cross_entropy_forward(**_ce_args(rng))  # e.g. dloss = np.sum(...) upstream
    np.testing.assert_array_equal(sm.cross_entropy_backward(np.array(0.5), cache),
                                  sm.cross_entropy_backward(0.5, cache))


def test_masked_softmax_refuses_an_empty_last_axis():
    assert_refused(lambda: sm.masked_softmax_forward(np.zeros((N, 0)), np.ones((N, 0), bool)),
                   r"^masked_softmax_forward: scores must have at least one position on the last "
                   r"axis \(K\), got shape \(2, 0\)")


BAD_MASKS = {  # mask for scores of shape (N, T, V), and the message
    "another length": (np.ones(V - 1, dtype=bool), r"mask of shape \(4,\) does not broadcast to "
                                                   rf"the scores' shape = \({N}, {T}, {V}\)"),
    "more axes": (np.ones((1, N, T, V), dtype=bool),
                  r"mask of shape \(1, 2, 3, 5\) does not broadcast"),
    "0/1 ints": (np.ones(V, dtype=int), r"mask must be a bool ndarray .* got int64"),
    "a list": ([True] * V, "mask must be a bool ndarray .* got list"),
}


@pytest.mark.parametrize("mask, message", BAD_MASKS.values(), ids=list(BAD_MASKS))
def test_masked_softmax_refuses_a_mask_that_does_not_fit(rng, mask, message):
    assert_refused(lambda: sm.masked_softmax_forward(rng.standard_normal((N, T, V)), mask),
                   f"^masked_softmax_forward: {message}")
    p, cache = sm.masked_softmax_forward(rng.standard_normal((N, T, V)), np.ones(V, dtype=bool))
    assert_refused(lambda: sm.masked_softmax_backward(p[:1], cache),
                   r"^masked_softmax_backward: dp must have the shape of the forward's p")
