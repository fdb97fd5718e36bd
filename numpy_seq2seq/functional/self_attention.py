"""Scaled dot-product attention (Vaswani et al. 2017), the core of self-attention, with its
backward.

Every query position i attends to every key position j of the same batch row::

    e_ij = q_i · k_j / √d                      (the dot score, scaled)
    a_ij = exp(e_ij) / Σ_j' exp(e_ij')          (over the positions j that may be attended)
    out_i = Σ_j a_ij v_j

or, for whole matrices, out = softmax(Q Kᵀ / √d) V. In *self*-attention Q, K and V are three
linear maps of one sequence X (Q = X W_q, K = X W_k, V = X W_v), so every position reads every
other position in one step: the path between any two positions has length 1, against |i - j|
recurrent steps in an RNN, and the (L_q, L_k) weight matrix costs time and memory quadratic in
the length. With decoder states as queries and encoder states as keys and values it is Luong's
dot score (``functional/attention.py``), divided by √d.

Why √d: for q and k with independent unit-variance components, q · k has variance d; dividing
by √d keeps the scores at unit scale whatever d is, so the softmax does not saturate into a
one-hot (whose gradient vanishes) as d grows.

The mask follows ``torch.nn.functional.scaled_dot_product_attention``'s boolean ``attn_mask``:
True where query i may attend to key j. A padding mask is (N, 1, L_k), a causal mask
(L_q, L_k) lower-triangular; both broadcast to (N, L_q, L_k). A query row whose every key is
masked gets all-zero weights, a zero output and zero gradients, as in PyTorch 2.13 (the tests
compare the two, fully masked rows included).

Letters: N batch, L_q query positions, L_k key positions, d query and key size, d_v value size.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..checks import check_arrays, check_mask
from .kernels import KERNELS
from .softmax import SoftmaxCache


class ScaledDotProductCache(NamedTuple):
    """What ``scaled_dot_product_attention_forward`` keeps for its backward pass."""

    q: np.ndarray  # (N, L_q, d)
    k: np.ndarray  # (N, L_k, d)
    v: np.ndarray  # (N, L_k, d_v)
    scale: float  # 1 / √d
    softmax_cache: SoftmaxCache  # its p is the weights a, (N, L_q, L_k)


# ---------------------------------------------------------------------------------------------
def scaled_dot_product_attention_forward(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, ScaledDotProductCache]:
    """out = softmax(Q Kᵀ / √d, masked) V for every row of a batch.

    Parameters
    ----------
    q : ndarray of shape (N, L_q, d), queries
    k : ndarray of shape (N, L_k, d), keys
    v : ndarray of shape (N, L_k, d_v), values
    mask : bool ndarray broadcastable to (N, L_q, L_k), optional
        True where query i may attend to key j; None lets every query see every key.

    Returns
    -------
    out : ndarray of shape (N, L_q, d_v)
    weights : ndarray of shape (N, L_q, L_k), rows sum to 1 (0 for a fully masked row)
    cache : ScaledDotProductCache, for ``scaled_dot_product_attention_backward``

    Raises
    ------
    ValueError
        For inputs that are not 3-D float arrays of one dtype with matching N, d and L_k, or a
        mask that is not bool or does not broadcast to (N, L_q, L_k).
    """
    check_arrays(q=(q, "N L_q d"), k=(k, "N L_k d"), v=(v, "N L_k d_v"))
    if mask is not None:
        check_mask("mask", mask, (*q.shape[:2], k.shape[1]), "(N, L_q, L_k)")
    scale = float(q.shape[-1]) ** -0.5  # a Python float: keeps float32 inputs float32
    scores = (q @ k.swapaxes(-1, -2)) * scale  # (N, L_q, L_k)
    full = np.ones((1, 1, 1), dtype=bool) if mask is None else mask
    weights, sm_cache = KERNELS["masked_softmax_forward"](scores, full)  # (N, L_q, L_k)
    out = weights @ v  # (N, L_q, d_v)
    return out, weights, ScaledDotProductCache(q, k, v, scale, sm_cache)


def scaled_dot_product_attention_backward(
    dout: np.ndarray, cache: ScaledDotProductCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of ``scaled_dot_product_attention_forward``.

    dV = Aᵀ dOut;  dA = dOut Vᵀ;  dE = softmax backward of dA;  dQ = dE K / √d;  dK = dEᵀ Q / √d

    Parameters
    ----------
    dout : ndarray of shape (N, L_q, d_v)
    cache : ScaledDotProductCache

    Returns
    -------
    dq : ndarray of shape (N, L_q, d)
    dk : ndarray of shape (N, L_k, d)
    dv : ndarray of shape (N, L_k, d_v)
    """
    q, k, v, scale, sm_cache = cache
    weights = sm_cache.p  # (N, L_q, L_k)
    dv = weights.swapaxes(-1, -2) @ dout  # (N, L_k, d_v), into v
    dweights = dout @ v.swapaxes(-1, -2)  # (N, L_q, L_k), into a
    dscores = KERNELS["masked_softmax_backward"](dweights, sm_cache) * scale  # into e, through 1/√d
    dq = dscores @ k  # (N, L_q, d), into q
    dk = dscores.swapaxes(-1, -2) @ q  # (N, L_k, d), into k
    return dq, dk, dv
