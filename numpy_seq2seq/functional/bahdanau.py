"""Bahdanau (additive) attention (Bahdanau, Cho & Bengio 2015), forward and backward.

Bahdanau attends from the decoder's *previous* state s_{t-1}, before the step, and feeds the
context into the step's recurrent input; Luong (``attention.py``) attends from the *current*
state h_t, after the step, and combines the context with it into h̃_t for the output layer. For
one decoder step t and source position s::

    e_t(s)  = v_aᵀ tanh(s_{t-1} W_q + h̄_s W_k)
    a_t(s)  = exp(e_t(s)) / Σ_s' exp(e_t(s'))        (over real source positions)
    c_t     = Σ_s a_t(s) h̄_s
    x_t     = [E y_{t-1}; c_t]                         the decoder's input at step t
    s_t     = cell(x_t, s_{t-1})                        logits_t = s_t W_s + b_s

The score is Luong's concat score with the query taken one step earlier and W_a split in two
(W_a = [W_q; W_k]). The keys h̄_s W_k do not depend on t, so they are projected once per source
(``bahdanau_keys_forward``) and every step projects only its query (``bahdanau_step_forward``);
the step is sequential (s_{t-1} is needed first), so it handles one decoder step at a time.

Letters: N batch, S source positions, H hidden units, A attention size.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..checks import check_arrays, check_cache, check_grads
from .kernels import KERNELS
from .layers import matmul
from .softmax import SoftmaxCache

BAHDANAU = "bahdanau"


class BahdanauKeysCache(NamedTuple):
    """What the key projection keeps for its backward pass."""

    hs: np.ndarray  # (N, S, H), encoder states h̄_s
    W_k: np.ndarray  # (H, A)


class BahdanauCache(NamedTuple):
    """What one Bahdanau step keeps for its backward pass."""

    s_prev: np.ndarray  # (N, H), the query s_{t-1}
    hs: np.ndarray  # (N, S, H), encoder states h̄_s
    W_q: np.ndarray  # (H, A)
    v_a: np.ndarray  # (A,)
    act: np.ndarray  # (N, S, A), tanh(s_{t-1} W_q + h̄_s W_k)
    softmax_cache: SoftmaxCache
    weights: np.ndarray  # (N, S), a_t(s)


# ---------------------------------------------------------------------------------------------
def bahdanau_keys_forward(
    hs: np.ndarray, W_k: np.ndarray
) -> tuple[np.ndarray, BahdanauKeysCache]:
    """keys[n, s] = h̄_s W_k, once per source for all decoder steps.

    Parameters
    ----------
    hs : ndarray of shape (N, S, H)
    W_k : ndarray of shape (H, A)

    Returns
    -------
    keys : ndarray of shape (N, S, A)
    cache : BahdanauKeysCache(hs, W_k)
    """
    check_arrays(hs=(hs, "N S H"), W_k=(W_k, "H A"))
    return matmul(hs, W_k), BahdanauKeysCache(hs, W_k)


def bahdanau_keys_backward(
    dkeys: np.ndarray, cache: BahdanauKeysCache
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Backward of the key projection, given dkeys summed over every decoder step.

    Returns
    -------
    dhs : ndarray of shape (N, S, H)
    grads : {"W_k": ndarray of shape (H, A)}
    """
    check_cache(cache, BahdanauKeysCache, "bahdanau_keys_forward")
    check_grads(dkeys=(dkeys, (*cache.hs.shape[:2], cache.W_k.shape[1]), "keys"))
    hs, W_k = cache
    H, A = W_k.shape
    return matmul(dkeys, W_k.T), {"W_k": hs.reshape(-1, H).T @ dkeys.reshape(-1, A)}


# ---------------------------------------------------------------------------------------------
def bahdanau_step_forward(
    s_prev: np.ndarray,
    hs: np.ndarray,
    keys: np.ndarray,
    src_mask: np.ndarray,
    W_q: np.ndarray,
    v_a: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, BahdanauCache]:
    """Score, weigh and read for one decoder step: from s_{t-1} to the context c_t.

    e_t(s) = v_aᵀ tanh(s_{t-1} W_q + keys_s);  a_t = masked_softmax(e_t);  c_t = Σ_s a_t(s) h̄_s

    Parameters
    ----------
    s_prev : ndarray of shape (N, H), the previous (top-layer) decoder state s_{t-1}
    hs : ndarray of shape (N, S, H), encoder states h̄_s
    keys : ndarray of shape (N, S, A), h̄_s W_k from ``bahdanau_keys_forward``
    src_mask : bool ndarray of shape (N, S), False at padded source positions
    W_q : ndarray of shape (H, A)
    v_a : ndarray of shape (A,)

    Returns
    -------
    context : ndarray of shape (N, H), c_t
    weights : ndarray of shape (N, S), rows sum to 1, exactly 0 at padded positions
    cache : BahdanauCache, for ``bahdanau_step_backward``
    """
    check_arrays(s_prev=(s_prev, "N H"), hs=(hs, "N S H"), keys=(keys, "N S A"),
                 src_mask=(src_mask, "N S", bool), W_q=(W_q, "H A"), v_a=(v_a, "A"))
    q = s_prev @ W_q  # (N, A), the query
    act = keys + q[:, None, :]  # (N, S, A), every source position against the one query
    np.tanh(act, out=act)  # in place: a fresh array, the step's largest
    scores = act @ v_a  # (N, S)
    weights, sm_cache = KERNELS["masked_softmax_forward"](scores, src_mask)
    context = (weights[:, None, :] @ hs)[:, 0]  # (N, H)
    return context, weights, BahdanauCache(s_prev, hs, W_q, v_a, act, sm_cache, weights)


def bahdanau_step_backward(
    dcontext: np.ndarray, cache: BahdanauCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Backward of ``bahdanau_step_forward``.

    Returns
    -------
    ds_prev : ndarray of shape (N, H)
    dhs : ndarray of shape (N, S, H), through the context only (the keys' share is dkeys)
    dkeys : ndarray of shape (N, S, A)
    grads : {"W_q": ndarray of shape (H, A), "v_a": ndarray of shape (A,)}
    """
    check_cache(cache, BahdanauCache, "bahdanau_step_forward")
    check_grads(dcontext=(dcontext, cache.s_prev.shape, "context"))
    s_prev, hs, W_q, v_a, act, sm_cache, weights = cache
    dweights = (hs @ dcontext[:, :, None])[:, :, 0]  # (N, S), into a
    dhs = weights[:, :, None] * dcontext[:, None, :]  # (N, S, H), into h̄_s through c_t
    dscores = KERNELS["masked_softmax_backward"](dweights, sm_cache)  # (N, S)
    dv_a = dscores.reshape(1, -1) @ act.reshape(-1, act.shape[-1])  # (1, A), into v_a
    dkeys = (1 - act * act) * v_a * dscores[:, :, None]  # (N, S, A), through tanh
    dq = dkeys.sum(axis=1)  # (N, A), the query meets every key
    return dq @ W_q.T, dhs, dkeys, {"W_q": s_prev.T @ dq, "v_a": dv_a[0]}
