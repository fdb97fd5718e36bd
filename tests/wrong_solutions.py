"""Plausible wrong answers to the course's exercises, written the way a student would write them.

Each entry of ``WRONG`` is (exercise, function, the student's forward or None, words the check's
message must contain). ``tests/test_course_checks.py`` runs them all through the checks; every
one must lose its exercise's points, and the message must name the fault. ``put_answer`` writes
one into a notebook's answer cell, for the tests that grade notebooks.
"""

from __future__ import annotations

import inspect
import re

import numpy as np

from numpy_seq2seq.course.notebooks import meta
from numpy_seq2seq.decoding import Hypothesis, beam_search, greedy_decode
from numpy_seq2seq.functional.attention import (
    SCORE_BACKWARD,
    ConcatCache,
    DotCache,
    GeneralCache,
)
from numpy_seq2seq.functional.rnn import RNNCache, rnn_step_backward, rnn_step_forward
from numpy_seq2seq.functional.softmax import (
    CrossEntropyCache,
    SoftmaxCache,
    masked_softmax_backward,
)


def answer_cell(nb: dict, name: str) -> dict:
    """The answer cell of exercise ``name`` of the notebook ``nb`` (grade id ``<name>_answer``)."""
    return next(c for c in nb["cells"] if meta(c).get("grade_id") == f"{name}_answer")


def put_answer(nb: dict, name: str, fn) -> None:
    """Put ``fn`` (renamed to ``name``, importing the helpers it calls from this module) into
    the answer cell of exercise ``name`` of the notebook ``nb``."""
    cell = answer_cell(nb, name)
    text = inspect.getsource(fn).replace(f"def {fn.__name__}(", f"def {name}(")
    helpers = sorted(set(re.findall(r"\b(_[a-z]\w*)\(", text)))
    imports = f"from wrong_solutions import {', '.join(helpers)}\n\n" if helpers else ""
    cell["source"] = imports + text


# ---------------------------------------------------------------------------------------------
# assignment 1: the RNN step and BPTT


def rnn_step_forward_no_bias(x, h_prev, Wx, Wh, b):
    h = np.tanh(x @ Wx + h_prev @ Wh)
    return h, RNNCache(h_prev, h, Wh, x, Wx)


def rnn_step_forward_wh_transposed(x, h_prev, Wx, Wh, b):
    h = np.tanh(x @ Wx + h_prev @ Wh.T + b)
    return h, RNNCache(h_prev, h, Wh, x, Wx)


def rnn_step_forward_tuple_cache(x, h_prev, Wx, Wh, b):
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return h, (x, h_prev, Wx, Wh, h)


def rnn_step_forward_no_tanh(x, h_prev, Wx, Wh, b):
    h = x @ Wx + h_prev @ Wh + b
    return h, RNNCache(h_prev, h, Wh, x, Wx)


def rnn_step_forward_tanh_twice(x, h_prev, Wx, Wh, b):
    h = np.tanh(np.tanh(x @ Wx + h_prev @ Wh + b))
    return h, RNNCache(h_prev, h, Wh, x, Wx)


def rnn_step_backward_transposed_dwh(dh, cache):
    da = dh * (1 - cache.h ** 2)
    return (da @ cache.Wx.T, da @ cache.Wh.T, cache.x.T @ da, da.T @ cache.h_prev,
            da.sum(axis=0))


def rnn_step_backward_no_tanh_derivative(dh, cache):
    da = dh
    return (da @ cache.Wx.T, da @ cache.Wh.T, cache.x.T @ da, cache.h_prev.T @ da,
            da.sum(axis=0))


def rnn_step_backward_in_place(dh, cache):
    da = dh
    da *= 1 - cache.h ** 2
    return (da @ cache.Wx.T, da @ cache.Wh.T, cache.x.T @ da, cache.h_prev.T @ da,
            da.sum(axis=0))


def rnn_step_backward_dh_prev_untransposed(dh, cache):
    da = dh * (1 - cache.h ** 2)
    return (da @ cache.Wx.T, da @ cache.Wh, cache.x.T @ da, cache.h_prev.T @ da,
            da.sum(axis=0))


def rnn_step_backward_float64(dh, cache):
    da = dh * (1 - cache.h ** 2)
    db = np.zeros(da.shape[1])
    for row in da:
        db += row
    return da @ cache.Wx.T, da @ cache.Wh.T, cache.x.T @ da, cache.h_prev.T @ da, db


def rnn_forward(x, h0, Wx, Wh, b, mask=None):
    """A correct forward, to run the wrong backwards below."""
    h, caches, hs = h0, [], []
    for t in range(x.shape[1]):
        h_new, c = rnn_step_forward(x[:, t], h, Wx, Wh, b)
        h = np.where(mask[:, t, None], h_new, h)
        hs.append(h)
        caches.append(c)
    return np.stack(hs, axis=1), (caches, mask)


def rnn_forward_ignores_mask(x, h0, Wx, Wh, b, mask=None):
    h, caches, hs = h0, [], []
    for t in range(x.shape[1]):
        h, c = rnn_step_forward(x[:, t], h, Wx, Wh, b)
        hs.append(h)
        caches.append(c)
    return np.stack(hs, axis=1), (caches, mask)


def _bptt(dhs, cache, steps, carry=True, mask_backward=True, pass_through=True, sum_steps=True):
    caches, mask = cache
    dx = np.zeros(dhs.shape[:2] + (caches[0].x.shape[1],), dtype=dhs.dtype)
    dWx, dWh, db = 0, 0, 0
    dh_next = np.zeros_like(dhs[:, 0])
    for t in steps:
        dh = dhs[:, t] + (dh_next if carry else 0)
        keep = mask[:, t, None] if mask_backward else True
        dx[:, t], dh_prev, dWx_t, dWh_t, db_t = rnn_step_backward(np.where(keep, dh, 0),
                                                                  caches[t])
        dh_next = np.where(keep, dh_prev, dh) if pass_through else dh_prev
        if sum_steps:
            dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
        else:
            dWx, dWh, db = dWx_t, dWh_t, db_t
    return dx, dh_next, dWx, dWh, db


def rnn_backward(dhs, cache):
    """A correct backward on the cache of the forwards above (to grade a wrong forward alone)."""
    return _bptt(dhs, cache, reversed(range(dhs.shape[1])))


def rnn_backward_off_by_one(dhs, cache):
    return _bptt(dhs, cache, range(dhs.shape[1] - 1, 0, -1))


def rnn_backward_no_carry(dhs, cache):
    return _bptt(dhs, cache, reversed(range(dhs.shape[1])), carry=False)


def rnn_backward_skips_last_step(dhs, cache):
    return _bptt(dhs, cache, range(dhs.shape[1] - 2, -1, -1))


def rnn_backward_no_pass_through(dhs, cache):
    """The issue's commonest BPTT mistake: dh_next = dh_prev also where the mask is off."""
    return _bptt(dhs, cache, reversed(range(dhs.shape[1])), pass_through=False)


def rnn_backward_overwrites_weight_gradients(dhs, cache):
    return _bptt(dhs, cache, reversed(range(dhs.shape[1])), sum_steps=False)


def rnn_backward_ignores_mask(dhs, cache):
    return _bptt(dhs, cache, reversed(range(dhs.shape[1])), mask_backward=False)


# ---------------------------------------------------------------------------------------------
# assignment 2: the gated cells and the loss


def _lstm_backward(dh, dc, cache, f_prime=True, tanh_c_prime=True, transpose_dwh=False,
                   i_prime=True, o_prime=True):
    h_prev, c_prev, i, f, g, o, tanh_c, Wh, x, Wx = cache
    dc_t = dc + dh * o * ((1 - tanh_c ** 2) if tanh_c_prime else 1)
    da = np.concatenate([dc_t * g * (i * (1 - i) if i_prime else 1),
                         dc_t * c_prev * (f * (1 - f) if f_prime else 1),
                         dc_t * i * (1 - g ** 2),
                         dh * tanh_c * (o * (1 - o) if o_prime else 1)], axis=1)
    dWh = da.T @ h_prev if transpose_dwh else h_prev.T @ da
    return da @ Wx.T, da @ Wh.T, dc_t * f, x.T @ da, dWh, da.sum(axis=0)


def lstm_step_backward_no_forget_sigmoid_derivative(dh, dc, cache):
    return _lstm_backward(dh, dc, cache, f_prime=False)


def lstm_step_backward_no_tanh_c_derivative(dh, dc, cache):
    return _lstm_backward(dh, dc, cache, tanh_c_prime=False)


def lstm_step_backward_candidate_times_g(dh, dc, cache):
    """da_g = dc_t ⊙ g ⊙ (1 − g²): the input gate's value where the candidate's own belongs."""
    dx, dh_prev, dc_prev, dWx, dWh, db = _lstm_backward(dh, dc, cache)
    h_prev, c_prev, i, f, g, o, tanh_c, Wh, x, Wx = cache
    H = g.shape[1]
    dc_t = dc + dh * o * (1 - tanh_c ** 2)
    da = np.concatenate([dc_t * g * i * (1 - i), dc_t * c_prev * f * (1 - f),
                         dc_t * g * (1 - g ** 2), dh * tanh_c * o * (1 - o)], axis=1)
    assert da.shape[1] == 4 * H
    return da @ Wx.T, da @ Wh.T, dc_prev, x.T @ da, h_prev.T @ da, da.sum(axis=0)


def _gru_backward(dh, cache, bhn_inside_r=True, z_prime=True, r_prime=True):
    h_prev, r, z, n, hn, Wh, x, Wx = cache
    dan = dh * (1 - z) * (1 - n ** 2)
    dar = dan * hn * (r * (1 - r) if r_prime else 1)
    daz = dh * (h_prev - n) * (z * (1 - z) if z_prime else 1)
    dxw = np.concatenate([dar, daz, dan], axis=1)
    dhw = np.concatenate([dar, daz, dan * r], axis=1)
    dbhn = (dan * r if bhn_inside_r else dan).sum(axis=0)
    return (dxw @ Wx.T, dh * z + dhw @ Wh.T, x.T @ dxw, h_prev.T @ dhw, dxw.sum(axis=0), dbhn)


def gru_step_backward_bhn_outside_reset(dh, cache):
    return _gru_backward(dh, cache, bhn_inside_r=False)


def gru_step_backward_no_update_sigmoid_derivative(dh, cache):
    return _gru_backward(dh, cache, z_prime=False)


def _log_softmax(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def cross_entropy_forward_mean_over_all(logits, targets, mask):
    log_probs = _log_softmax(logits)
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    loss = -float((picked * mask).sum()) / mask.size
    return loss, CrossEntropyCache(np.exp(log_probs), targets, mask, int(mask.sum()))


def cross_entropy_forward_naive(logits, targets, mask):
    probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    picked = np.take_along_axis(np.log(probs), targets[..., None], axis=-1)[..., 0]
    count = int(mask.sum())
    return -float((picked * mask).sum()) / count, CrossEntropyCache(probs, targets, mask, count)


def cross_entropy_backward_no_mask(dloss, cache):
    probs, targets, mask, count = cache
    onehot = np.arange(probs.shape[-1]) == targets[..., None]
    return (probs - onehot) * dloss / count


# ---------------------------------------------------------------------------------------------
# assignment 3: the masked softmax, the scores and attention


def masked_softmax_forward_mask_after(scores, mask):
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True) * mask
    return p, SoftmaxCache(p)


def masked_softmax_forward_minus_inf(scores, mask):
    filled = np.where(mask, scores, -np.inf)
    e = np.exp(filled - filled.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    return p, SoftmaxCache(p)


def masked_softmax_backward_no_sum(dp, cache):
    return cache.p * dp


def dot_score_forward_swapped(hd, hs):
    return hs @ hd.swapaxes(1, 2), DotCache(hd, hs)


def dot_score_backward_unswapped_dhs(dscores, cache):
    return dscores @ cache.hs, dscores @ cache.hs, {}


def general_score_forward_transposed(hd, hs, W_a):
    q = hd @ W_a.T
    return q @ hs.swapaxes(1, 2), GeneralCache(hd, hs, W_a, q)


def general_score_backward_transposed_dwa(dscores, cache):
    hd, hs, W_a, q = cache
    dq = dscores @ hs
    H = hd.shape[-1]
    dW_a = dq.reshape(-1, H).T @ hd.reshape(-1, H)
    return dq @ W_a.T, dscores.swapaxes(1, 2) @ q, {"W_a": dW_a}


def concat_score_forward_swapped_halves(hd, hs, W_a, v_a):
    H = hd.shape[-1]
    act = np.tanh((hd @ W_a[H:])[:, :, None] + (hs @ W_a[:H])[:, None])
    return act @ v_a, ConcatCache(hd, hs, W_a, v_a, act)


def concat_score_backward_no_tanh_derivative(dscores, cache):
    hd, hs, W_a, v_a, act = cache
    H, A = hd.shape[-1], v_a.shape[0]
    dpre = dscores[..., None] * v_a
    du, dk = dpre.sum(axis=2), dpre.sum(axis=1)
    dW_a = np.concatenate([hd.reshape(-1, H).T @ du.reshape(-1, A),
                           hs.reshape(-1, H).T @ dk.reshape(-1, A)])
    dv_a = (dscores[..., None] * act).reshape(-1, A).sum(axis=0)
    return du @ W_a[:H].T, dk @ W_a[H:].T, {"W_a": dW_a, "v_a": dv_a}


def concat_score_backward_dv_a_before_tanh(dscores, cache):
    hd, hs, W_a, v_a, act = cache
    H, A = hd.shape[-1], v_a.shape[0]
    dpre = dscores[..., None] * v_a * (1 - act ** 2)
    du, dk = dpre.sum(axis=2), dpre.sum(axis=1)
    dW_a = np.concatenate([hd.reshape(-1, H).T @ du.reshape(-1, A),
                           hs.reshape(-1, H).T @ dk.reshape(-1, A)])
    dv_a = (dscores[..., None] * np.arctanh(act)).reshape(-1, A).sum(axis=0)  # the pre-activation
    return du @ W_a[:H].T, dk @ W_a[H:].T, {"W_a": dW_a, "v_a": dv_a}


def _attention_backward(dh_tilde, cache, tanh_prime=True, context_path=True):
    score, hd, hs, W_c, score_cache, softmax_cache, weights, context, h_tilde = cache
    H = hd.shape[-1]
    dpre = dh_tilde * (1 - h_tilde ** 2) if tanh_prime else dh_tilde
    dcontext = dpre @ W_c[:H].T
    dW_c = np.concatenate([context, hd], axis=-1).reshape(-1, 2 * H).T @ dpre.reshape(-1, H)
    dscores = masked_softmax_backward(dcontext @ hs.swapaxes(1, 2), softmax_cache)
    dhd, dhs, grads = SCORE_BACKWARD[score](dscores, score_cache)
    if context_path:
        dhs = dhs + weights.swapaxes(1, 2) @ dcontext
    return dhd + dpre @ W_c[H:].T, dhs, {**grads, "W_c": dW_c}


def attention_backward_no_tanh_derivative(dh_tilde, cache):
    return _attention_backward(dh_tilde, cache, tanh_prime=False)


def attention_backward_no_context_path(dh_tilde, cache):
    return _attention_backward(dh_tilde, cache, context_path=False)


# ---------------------------------------------------------------------------------------------
# assignment 4: decoding (what a wrong decoder returns, made from the library's right one)


def greedy_decode_keeps_eos(model, src, max_len=None, length_penalty=0.0):
    return [Hypothesis(np.append(h.tokens, 2) if h.finished else h.tokens, h.score, h.log_prob,
                       h.attention, h.finished)
            for h in greedy_decode(model, src, max_len, length_penalty)]


def greedy_decode_unnormalised(model, src, max_len=None, length_penalty=0.0):
    return [Hypothesis(h.tokens, h.log_prob, h.log_prob, h.attention, h.finished)
            for h in greedy_decode(model, src, max_len, length_penalty)]


def beam_search_unnormalised(model, src, beam=5, max_len=None, length_penalty=1.0):
    return [Hypothesis(h.tokens, h.log_prob, h.log_prob, h.attention, h.finished)
            for h in beam_search(model, src, beam, max_len, length_penalty=0.0)]


def beam_search_greedy(model, src, beam=5, max_len=None, length_penalty=1.0):
    return beam_search(model, src, 1, max_len, length_penalty)


# ---------------------------------------------------------------------------------------------
WRONG = [
    ("rnn_step_forward", rnn_step_forward_no_bias, None, "bias b is missing"),
    ("rnn_step_forward", rnn_step_forward_wh_transposed, None, "W_h transposed"),
    ("rnn_step_forward", rnn_step_forward_tuple_cache, None, "RNNCache"),
    ("rnn_step_forward", rnn_step_forward_no_tanh, None, "tanh is missing"),
    ("rnn_step_forward", rnn_step_forward_tanh_twice, None, "tanh is applied twice"),
    ("rnn_step_backward", rnn_step_backward_transposed_dwh, None,
     "dWh is wrong (relative error 4.0e-01): it equals the transpose of the correct gradient"),
    ("rnn_step_backward", rnn_step_backward_no_tanh_derivative, None, "tanh′ factor"),
    ("rnn_step_backward", rnn_step_backward_in_place, None, "modifies its input dh"),
    ("rnn_step_backward", rnn_step_backward_float64, None, "db as float64"),
    # no known mistake: the failure gives the derivation the notebook withholds
    ("rnn_step_backward", rnn_step_backward_dh_prev_untransposed, None, "derive it in two stages"),
    ("rnn_forward", rnn_forward_ignores_mask, None, "padded steps are computed"),
    ("rnn_backward", rnn_backward_off_by_one, rnn_forward, "stops one step early (off-by-one)"),
    ("rnn_backward", rnn_backward_no_carry, rnn_forward, "carry dh_next"),
    ("rnn_backward", rnn_backward_ignores_mask, rnn_forward, "the padded steps get a gradient"),
    ("rnn_backward", rnn_backward_skips_last_step, rnn_forward, "starts one step late"),
    ("rnn_backward", rnn_backward_no_pass_through, rnn_forward,
     "dh does not pass through the padding"),
    ("rnn_backward", rnn_backward_overwrites_weight_gradients, rnn_forward,
     "dWh += dWh_t, not dWh = dWh_t"),
    ("lstm_step_backward", lstm_step_backward_no_forget_sigmoid_derivative, None,
     "σ′ of the forget gate"),
    ("lstm_step_backward", lstm_step_backward_no_tanh_c_derivative, None, "tanh′ of the cell"),
    ("lstm_step_backward", lstm_step_backward_candidate_times_g, None,
     "wrong in the g block; right in the i block, the f block, the o block; c_t gets dc_t"),
    ("gru_step_backward", gru_step_backward_bhn_outside_reset, None, "b_hn sits inside r"),
    ("gru_step_backward", gru_step_backward_no_update_sigmoid_derivative, None,
     "σ′ of the update gate"),
    ("cross_entropy_forward", cross_entropy_forward_mean_over_all, None, "all N·T positions"),
    ("cross_entropy_forward", cross_entropy_forward_naive, None, "exp overflows"),
    ("cross_entropy_backward", cross_entropy_backward_no_mask, None, "padding gets a gradient"),
    ("masked_softmax_forward", masked_softmax_forward_mask_after, None,
     "mask is applied after the softmax"),
    ("masked_softmax_forward", masked_softmax_forward_minus_inf, None, "fully masked row"),
    ("masked_softmax_backward", masked_softmax_backward_no_sum, None, "Σ_k p_k dp_k"),
    ("dot_score_forward", dot_score_forward_swapped, None, "last two axes are swapped"),
    ("dot_score_backward", dot_score_backward_unswapped_dhs, None,
     "dot_score_backward's dhs has shape (3, 5, 6), expected (3, 7, 6)"),
    ("general_score_forward", general_score_forward_transposed, None, "W_a is transposed"),
    ("general_score_backward", general_score_backward_transposed_dwa, None,
     "transpose of the correct gradient"),
    ("concat_score_forward", concat_score_forward_swapped_halves, None, "halves of W_a"),
    ("concat_score_backward", concat_score_backward_no_tanh_derivative, None,
     "tanh′ = 1 − act² is missing"),
    ("concat_score_backward", concat_score_backward_dv_a_before_tanh, None,
     "dv_a = Σ_{n,t,s} dscores[n, t, s] · act[n, t, s, :]"),
    ("attention_backward", attention_backward_no_tanh_derivative, None, "tanh′ of h̃"),
    ("attention_backward", attention_backward_no_context_path, None, "through the context"),
    ("greedy_decode", greedy_decode_keeps_eos, None, "tokens end with </s>"),
    ("greedy_decode", greedy_decode_unnormalised, None, "not length-normalised"),
    ("beam_search", beam_search_unnormalised, None, "beam scores are not length-normalised"),
    ("beam_search", beam_search_greedy, None, "beam_search (beam=3), row 0: tokens"),
]
