"""Luong global attention (Luong, Pham & Manning 2015): the three scores, the context vector and
the attentional hidden state, each with its backward.

Luong attends from the decoder's *current* state h_t (computed from y_{t-1} and h_{t-1}); Bahdanau
et al. (2015) attend from the previous state h_{t-1}. We follow Luong. For one decoder step t and
source position s::

    dot:      score(h_t, h̄_s) = h_tᵀ h̄_s
    general:  score(h_t, h̄_s) = h_tᵀ W_a h̄_s
    concat:   score(h_t, h̄_s) = v_aᵀ tanh(W_a [h_t; h̄_s])
    a_t(s)  = exp(score(h_t, h̄_s)) / Σ_s' exp(score(h_t, h̄_s'))     (over real source positions)
    c_t     = Σ_s a_t(s) h̄_s
    h̃_t     = tanh(W_c [c_t; h_t])

In code everything is a row vector and all T decoder steps are scored at once with batched matrix
products, e.g. the dot score of every (t, s) pair is ``hd @ hsᵀ`` of shape (N, T, S). A decoder
that feeds h̃_{t-1} back as input (input feeding) calls the same functions with T = 1.

Every function checks its inputs (``checks.check_arrays``): shapes in these letters, one float
dtype, no broadcasting, a known score name; the error names the argument.

Letters: N batch, T decoder steps, S source positions, H hidden units (H_s of the encoder
states, which only the general and concat scores allow to differ from H), A concat attention
size.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..checks import check_arrays, check_cache, check_choice, check_grads, check_keys, refuse
from .kernels import KERNELS, KernelView, kernel
from .layers import matmul
from .softmax import SoftmaxCache

SCORES = ("dot", "general", "concat")


class DotCache(NamedTuple):
    """What the dot score keeps for its backward pass."""

    hd: np.ndarray  # (N, T, H), decoder states h_t
    hs: np.ndarray  # (N, S, H), encoder states h̄_s


class GeneralCache(NamedTuple):
    """What the general score keeps for its backward pass."""

    hd: np.ndarray  # (N, T, H)
    hs: np.ndarray  # (N, S, H_s)
    W_a: np.ndarray  # (H, H_s)
    q: np.ndarray  # (N, T, H_s), h_t W_a


class ConcatCache(NamedTuple):
    """What the concat score keeps for its backward pass."""

    hd: np.ndarray  # (N, T, H)
    hs: np.ndarray  # (N, S, H_s)
    W_a: np.ndarray  # (H + H_s, A)
    v_a: np.ndarray  # (A,)
    act: np.ndarray  # (N, T, S, A), tanh(W_a [h_t; h̄_s]) for every (t, s) pair


class AttentionCache(NamedTuple):
    """What ``attention_forward`` keeps for ``attention_backward``."""

    score: str  # "dot", "general" or "concat"
    hd: np.ndarray  # (N, T, H), decoder states h_t
    hs: np.ndarray  # (N, S, H), encoder states h̄_s
    W_c: np.ndarray  # (2H, H)
    score_cache: DotCache | GeneralCache | ConcatCache
    softmax_cache: SoftmaxCache
    weights: np.ndarray  # (N, T, S), a_t(s)
    context: np.ndarray  # (N, T, H), c_t
    h_tilde: np.ndarray  # (N, T, H), h̃_t


def _swap(x: np.ndarray) -> np.ndarray:
    """Transpose the last two axes of a batch of matrices."""
    return x.swapaxes(-1, -2)


# ---------------------------------------------------------------------------------------------
@kernel
def dot_score_forward(hd: np.ndarray, hs: np.ndarray) -> tuple[np.ndarray, DotCache]:
    """score[n, t, s] = h_tᵀ h̄_s.

    Parameters
    ----------
    hd : ndarray of shape (N, T, H), decoder states h_t
    hs : ndarray of shape (N, S, H), encoder states h̄_s

    Returns
    -------
    scores : ndarray of shape (N, T, S)
    cache : DotCache(hd, hs)

    Raises
    ------
    ValueError
        If h_t and h̄_s differ in size: the dot score has no weights to bridge them (use
        "general" or "concat", or give the encoder states the decoder's size).
    """
    check_arrays(hd=(hd, "N T H"), hs=(hs, "N S H_s"))
    if hd.shape[-1] != hs.shape[-1]:
        raise refuse(
            f"the dot score needs decoder and encoder states of one size, got h_t of size "
            f"{hd.shape[-1]} and h̄_s of size {hs.shape[-1]}; use 'general' or 'concat' instead"
        )
    return hd @ _swap(hs), DotCache(hd, hs)


@kernel
def dot_score_backward(
    dscores: np.ndarray, cache: DotCache
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Backward of the dot score.

    Returns
    -------
    dhd : ndarray of shape (N, T, H)
    dhs : ndarray of shape (N, S, H)
    grads : {} (the dot score has no parameters)
    """
    _check_dscores(dscores, cache, DotCache, "dot_score_forward")
    return dscores @ cache.hs, _swap(dscores) @ cache.hd, {}


# ---------------------------------------------------------------------------------------------
@kernel
def general_score_forward(
    hd: np.ndarray, hs: np.ndarray, W_a: np.ndarray
) -> tuple[np.ndarray, GeneralCache]:
    """score[n, t, s] = h_tᵀ W_a h̄_s, computed as (h_t W_a) · h̄_s.

    W_a lets the decoder compare its state with a *learned linear map* of each encoder state,
    so the two need not live in the same coordinates (the dot score assumes they do).

    Parameters
    ----------
    hd : ndarray of shape (N, T, H)
    hs : ndarray of shape (N, S, H), or (N, S, H_s)
    W_a : ndarray of shape (H, H), or (H, H_s)

    Returns
    -------
    scores : ndarray of shape (N, T, S)
    cache : GeneralCache(hd, hs, W_a, q) with q = hd W_a of shape (N, T, H_s)
    """
    check_arrays(hd=(hd, "N T H"), hs=(hs, "N S H_s"), W_a=(W_a, "H H_s"))
    q = matmul(hd, W_a)  # (N, T, H_s)
    return q @ _swap(hs), GeneralCache(hd, hs, W_a, q)


@kernel
def general_score_backward(
    dscores: np.ndarray, cache: GeneralCache
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Backward of the general score.

    Returns
    -------
    dhd : ndarray of shape (N, T, H)
    dhs : ndarray of shape (N, S, H_s)
    grads : {"W_a": ndarray of shape (H, H_s)}
    """
    _check_dscores(dscores, cache, GeneralCache, "general_score_forward")
    hd, hs, W_a, q = cache
    dq = dscores @ hs  # (N, T, H_s), into q
    dhs = _swap(dscores) @ q  # (N, S, H_s), into h̄_s
    H, H_s = W_a.shape
    dW_a = hd.reshape(-1, H).T @ dq.reshape(-1, H_s)  # (H, H_s)
    return matmul(dq, W_a.T), dhs, {"W_a": dW_a}


# ---------------------------------------------------------------------------------------------
@kernel
def concat_score_forward(
    hd: np.ndarray, hs: np.ndarray, W_a: np.ndarray, v_a: np.ndarray
) -> tuple[np.ndarray, ConcatCache]:
    """score[n, t, s] = v_aᵀ tanh(W_a [h_t; h̄_s]).

    [h_t; h̄_s] W_a splits into h_t W_a[:H] + h̄_s W_a[H:], so each half is projected once
    (T + S products, not T·S) and the pairs are formed by broadcasting to (N, T, S, A).

    Parameters
    ----------
    hd : ndarray of shape (N, T, H)
    hs : ndarray of shape (N, S, H), or (N, S, H_s)
    W_a : ndarray of shape (2H, A), or (H + H_s, A); rows [:H] act on h_t and rows [H:] on h̄_s
    v_a : ndarray of shape (A,)

    Returns
    -------
    scores : ndarray of shape (N, T, S)
    cache : ConcatCache(hd, hs, W_a, v_a, act) with act = tanh(…) of shape (N, T, S, A)
    """
    check_arrays(hd=(hd, "N T H"), hs=(hs, "N S H_s"), W_a=(W_a, "H+H_s A"), v_a=(v_a, "A"))
    H = hd.shape[-1]
    u = matmul(hd, W_a[:H])  # (N, T, A)
    k = matmul(hs, W_a[H:])  # (N, S, A)
    act = u[:, :, None, :] + k[:, None, :, :]  # (N, T, S, A), every (t, s) pair
    np.tanh(act, out=act)  # in place: this is the model's largest array
    return act @ v_a, ConcatCache(hd, hs, W_a, v_a, act)


@kernel
def concat_score_backward(
    dscores: np.ndarray, cache: ConcatCache
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Backward of the concat score.

    Returns
    -------
    dhd : ndarray of shape (N, T, H)
    dhs : ndarray of shape (N, S, H_s)
    grads : {"W_a": ndarray of shape (H + H_s, A), "v_a": ndarray of shape (A,)}
    """
    _check_dscores(dscores, cache, ConcatCache, "concat_score_forward")
    hd, hs, W_a, v_a, act = cache
    H, H_s, A = hd.shape[-1], hs.shape[-1], v_a.shape[0]
    dv_a = dscores.reshape(1, -1) @ act.reshape(-1, A)  # (1, A), into v_a
    # (N, T, S, A) is the largest array of the model: build dpre in one buffer, no temporaries
    dpre = np.multiply(act, act)
    np.subtract(1, dpre, out=dpre)  # through tanh
    dpre *= v_a
    dpre *= dscores[..., None]
    du = dpre.sum(axis=2)  # (N, T, A), into h_t W_a[:H]
    dk = dpre.sum(axis=1)  # (N, S, A), into h̄_s W_a[H:]
    dW_a = np.concatenate(
        [hd.reshape(-1, H).T @ du.reshape(-1, A), hs.reshape(-1, H_s).T @ dk.reshape(-1, A)]
    )
    return matmul(du, W_a[:H].T), matmul(dk, W_a[H:].T), {"W_a": dW_a, "v_a": dv_a[0]}


def _check_dscores(dscores: np.ndarray, cache, cls: type, forward: str) -> None:
    check_cache(cache, cls, forward)
    check_grads(dscores=(dscores, (*cache.hd.shape[:2], cache.hs.shape[1]), "scores"))


# score -> its forward and backward as the kernel table holds them now (kernels.py): a student's
# attention_backward that looks its score up here reaches the student's score backward too
SCORE_FORWARD = KernelView(SCORES, "{}_score_forward")
SCORE_BACKWARD = KernelView(SCORES, "{}_score_backward")
SCORE_PARAMS = {"dot": (), "general": ("W_a",), "concat": ("W_a", "v_a")}


# ---------------------------------------------------------------------------------------------
@kernel
def attention_forward(
    score: str, hd: np.ndarray, hs: np.ndarray, src_mask: np.ndarray, p: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, AttentionCache]:
    """Score, weigh, read and combine: from decoder states to attentional hidden states.

    a = masked_softmax(score(h_t, h̄_s)) over s;  c_t = Σ_s a_t(s) h̄_s;  h̃_t = tanh(W_c [c_t; h_t])

    Parameters
    ----------
    score : {"dot", "general", "concat"}
    hd : ndarray of shape (N, T, H), decoder states
    hs : ndarray of shape (N, S, H), encoder states
    src_mask : bool ndarray of shape (N, S), False at padded source positions
    p : dict with "W_c" (2H, H) and the score's parameters ("W_a", "v_a")

    Returns
    -------
    h_tilde : ndarray of shape (N, T, H)
    weights : ndarray of shape (N, T, S), rows sum to 1, exactly 0 at padded positions
    cache : AttentionCache, for ``attention_backward``
    """
    check_choice("score", score, SCORES)
    check_keys("p", p, ("W_c", *SCORE_PARAMS[score]), f"W_c and the {score} score's weights")
    check_arrays(hd=(hd, "N T H"), hs=(hs, "N S H"), src_mask=(src_mask, "N S", bool),
                 W_c=(p["W_c"], "2H H"))
    H = hd.shape[-1]
    scores, score_cache = SCORE_FORWARD[score](hd, hs, *(p[k] for k in SCORE_PARAMS[score]))
    weights, sm_cache = KERNELS["masked_softmax_forward"](scores, src_mask[:, None, :])  # (N, T, S)
    context = weights @ hs  # (N, T, H)
    # [c_t; h_t] W_c = c_t W_c[:H] + h_t W_c[H:], which avoids building the concatenation
    h_tilde = np.tanh(matmul(context, p["W_c"][:H]) + matmul(hd, p["W_c"][H:]))  # (N, T, H)
    cache = AttentionCache(score, hd, hs, p["W_c"], score_cache, sm_cache, weights, context,
                           h_tilde)
    return h_tilde, weights, cache


@kernel
def attention_backward(
    dh_tilde: np.ndarray, cache: AttentionCache
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Backward of ``attention_forward``.

    Returns
    -------
    dhd : ndarray of shape (N, T, H)
    dhs : ndarray of shape (N, S, H)
    grads : dict with "W_c" and the score's parameters
    """
    check_cache(cache, AttentionCache, "attention_forward")
    check_grads(dh_tilde=(dh_tilde, cache.h_tilde.shape, "h_tilde"))
    score, hd, hs, W_c, score_cache, sm_cache, weights, context, h_tilde = cache
    H = hd.shape[-1]
    dpre = dh_tilde * (1 - h_tilde * h_tilde)  # (N, T, H), through tanh
    dcontext = matmul(dpre, W_c[:H].T)  # into c_t
    dhd = matmul(dpre, W_c[H:].T)  # into h_t, directly
    dW_c = np.concatenate(
        [context.reshape(-1, H).T @ dpre.reshape(-1, H), hd.reshape(-1, H).T @ dpre.reshape(-1, H)]
    )
    dweights = dcontext @ _swap(hs)  # (N, T, S), into a
    dhs = _swap(weights) @ dcontext  # (N, S, H), into h̄_s through the context
    dscores = KERNELS["masked_softmax_backward"](dweights, sm_cache)
    dhd_score, dhs_score, grads = SCORE_BACKWARD[score](dscores, score_cache)
    grads["W_c"] = dW_c
    return dhd + dhd_score, dhs + dhs_score, grads
