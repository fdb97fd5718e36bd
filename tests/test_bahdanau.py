"""Bahdanau attention: the key projection and one step, gradients (with wrong-backward twins),
the paper's equation one pair at a time, weights and masking."""

import numpy as np
import pytest

from numpy_seq2seq.functional import bahdanau as bah
from numpy_seq2seq.functional.attention import concat_score_forward
from numpy_seq2seq.functional.kernels import KERNELS
from numpy_seq2seq.gradcheck import check_layer

from conftest import assert_gradcheck, assert_refused
from sizes import A, H, N, S

TOL = 1e-7
BROKEN = [False, True]
BROKEN_IDS = ["correct", "wrong-backward-is-caught"]
SRC_MASK = np.array([[1, 1, 1, 1, 1, 1, 0], [1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1]], bool)


def _inputs(rng):
    return {"s_prev": rng.standard_normal((N, H)), "hs": rng.standard_normal((N, S, H)),
            "W_q": rng.standard_normal((H, A)) * 0.5, "W_k": rng.standard_normal((H, A)) * 0.5,
            "v_a": rng.standard_normal(A)}


def _forward(s_prev, hs, W_q, W_k, v_a):
    """Keys, then one step: the context c_t as a function of every input."""
    keys, keys_cache = bah.bahdanau_keys_forward(hs, W_k)
    context, _, step_cache = bah.bahdanau_step_forward(s_prev, hs, keys, SRC_MASK, W_q, v_a)
    return context, (keys_cache, step_cache)


def _backward(dcontext, cache):
    keys_cache, step_cache = cache
    ds_prev, dhs, dkeys, grads = bah.bahdanau_step_backward(dcontext, step_cache)
    dhs_keys, grads_keys = bah.bahdanau_keys_backward(dkeys, keys_cache)
    return {"s_prev": ds_prev, "hs": dhs + dhs_keys, **grads, **grads_keys}


@pytest.mark.parametrize("broken", BROKEN, ids=BROKEN_IDS)
def test_bahdanau_gradient(rng, broken):
    backward = _backward
    if broken:  # forgets that h̄_s also reaches the context through the keys
        def backward(d, cache):
            grads = _backward(d, cache)
            grads["hs"] = bah.bahdanau_step_backward(d, cache[1])[1]
            return grads
    report = check_layer(_forward, backward, _inputs(rng))
    assert_gradcheck(report, "bahdanau attention (one step)", TOL, broken)


def test_bahdanau_check_catches_a_wrong_softmax_backward(rng, monkeypatch):
    """Twin: a softmax backward that forgets the normalisation term."""
    monkeypatch.setitem(KERNELS, "masked_softmax_backward", lambda d, c: c.p * d)
    report = check_layer(_forward, _backward, _inputs(rng))
    assert_gradcheck(report, "bahdanau attention (one step)", TOL, broken=True)


def test_the_equation_one_pair_at_a_time(rng):
    x = _inputs(rng)
    keys, _ = bah.bahdanau_keys_forward(x["hs"], x["W_k"])
    context, w, _ = bah.bahdanau_step_forward(x["s_prev"], x["hs"], keys, SRC_MASK, x["W_q"],
                                              x["v_a"])
    for n in range(N):  # column vectors, as in Bahdanau et al. (2015), eq. 6 and appendix A
        s_prev, real = x["s_prev"][n], SRC_MASK[n]
        e = np.array([x["v_a"] @ np.tanh(x["W_q"].T @ s_prev + x["W_k"].T @ h_s)
                      for h_s in x["hs"][n]])
        a = np.where(real, np.exp(e - e[real].max()), 0)
        a /= a.sum()
        assert np.allclose(w[n], a, rtol=1e-12, atol=0)
        assert np.allclose(context[n], a @ x["hs"][n], rtol=1e-12)


def test_it_is_the_concat_score_of_the_previous_state(rng):
    """e_t(s) is Luong's concat score with W_a = [W_q; W_k], queried with s_{t-1}."""
    x = _inputs(rng)
    keys, _ = bah.bahdanau_keys_forward(x["hs"], x["W_k"])
    _, w, cache = bah.bahdanau_step_forward(x["s_prev"], x["hs"], keys, SRC_MASK, x["W_q"],
                                            x["v_a"])
    concat, _ = concat_score_forward(x["s_prev"][:, None], x["hs"],
                                     np.concatenate([x["W_q"], x["W_k"]]), x["v_a"])
    assert np.allclose(cache.act @ x["v_a"], concat[:, 0], rtol=1e-12)


def test_weights_sum_to_one_and_ignore_padding(rng):
    x = _inputs(rng)
    keys, keys_cache = bah.bahdanau_keys_forward(x["hs"], x["W_k"])
    context, w, cache = bah.bahdanau_step_forward(x["s_prev"], x["hs"], keys, SRC_MASK,
                                                  x["W_q"], x["v_a"])
    assert w.shape == (N, S) and context.shape == (N, H)
    assert np.allclose(w.sum(-1), 1.0, atol=1e-12) and (w[~SRC_MASK] == 0).all()
    grads = _backward(rng.standard_normal(context.shape), (keys_cache, cache))
    assert (grads["hs"][~SRC_MASK] == 0).all()  # padded states get exactly no gradient
    hs2 = np.where(SRC_MASK[:, :, None], x["hs"], 9.0)
    assert np.array_equal(_forward(**dict(x, hs=hs2))[0], context)


# ---------------------------------------------------------------------------------------------
# bad input: one line naming the argument, its letters and both shapes; nothing broadcast

BAD_STEPS = {  # name: (change to bahdanau_step_forward's arguments, message)
    "s_prev of batch 1": (lambda a: {**a, "s_prev": a["s_prev"][:1]},  # s_prev comes first
                          rf"hs must have shape \(N, S, H\) = \(1, {S}, {H}\), got "
                          rf"\({N}, {S}, {H}\) \(N is 1 in s_prev, H is {H} in s_prev\)"),
    "src_mask of one row": (lambda a: {**a, "src_mask": a["src_mask"][0]},
                            r"src_mask must be 2-D of shape \(N, S\)"),
    "keys of another A": (lambda a: {**a, "keys": a["keys"][..., 1:]},
                          rf"W_q must have shape \(H, A\) = \({H}, {A - 1}\), got \({H}, {A}\) "
                          rf"\(H is {H} in s_prev, A is {A - 1} in keys\)"),
    "W_q transposed": (lambda a: {**a, "W_q": a["W_q"].T}, r"W_q must have shape \(H, A\)"),
}


@pytest.mark.parametrize("change, message", BAD_STEPS.values(), ids=list(BAD_STEPS))
def test_a_step_refuses_bad_input(rng, change, message):
    x = _inputs(rng)
    keys, _ = bah.bahdanau_keys_forward(x["hs"], x["W_k"])
    args = {"s_prev": x["s_prev"], "hs": x["hs"], "keys": keys, "src_mask": SRC_MASK,
            "W_q": x["W_q"], "v_a": x["v_a"]}
    assert_refused(lambda: bah.bahdanau_step_forward(**change(args)),
                   f"^bahdanau_step_forward: {message}")


def test_keys_and_backward_refuse_bad_input(rng):
    x = _inputs(rng)
    assert_refused(lambda: bah.bahdanau_keys_forward(x["hs"], x["W_k"][1:]),
                   rf"^bahdanau_keys_forward: W_k must have shape \(H, A\) = \({H}, {A}\)")
    context, (_, step_cache) = _forward(**x)
    assert_refused(lambda: bah.bahdanau_step_backward(context[:1], step_cache),
                   r"^bahdanau_step_backward: dcontext must have the shape of the forward's")
