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

from .softmax import SoftmaxCache, masked_softmax_backward, masked_softmax_forward


class ScaledDotProductCache(NamedTuple):
    """What ``scaled_dot_product_attention_forward`` keeps for its backward pass."""

    q: np.ndarray  # (N, L_q, d)
    k: np.ndarray  # (N, L_k, d)
    v: np.ndarray  # (N, L_k, d_v)
    scale: float  # 1 / √d
    softmax_cache: SoftmaxCache  # its p is the weights a, (N, L_q, L_k)


def _check_inputs(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None) -> None:
    """One clear line for every input the functions below cannot take."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, np.ndarray) or x.ndim != 3:
            raise ValueError(f"{name} must be a 3-D ndarray of shape (N, L, d), "
                             f"got {type(x).__name__} of shape {np.shape(x)}")
        if x.dtype not in (np.float32, np.float64):
            raise ValueError(f"{name} must be float32 or float64, got dtype {x.dtype}")
    if not q.dtype == k.dtype == v.dtype:
        raise ValueError(f"q, k and v must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if not q.shape[0] == k.shape[0] == v.shape[0]:
        raise ValueError(f"q, k and v must have the same batch size N, got shapes {q.shape}, "
                         f"{k.shape}, {v.shape}")
    if q.shape[2] != k.shape[2]:
        raise ValueError(f"q and k must have the same size d (last axis), got q {q.shape} "
                         f"and k {k.shape}")
    if k.shape[1] != v.shape[1]:
        raise ValueError(f"k and v must have the same length L_k (axis 1), got k {k.shape} "
                         f"and v {v.shape}")
    if mask is None:
        return
    target = (q.shape[0], q.shape[1], k.shape[1])
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        raise ValueError("mask must be a bool ndarray (True = may attend) broadcastable to "
                         f"(N, L_q, L_k) = {target}, got {getattr(mask, 'dtype', type(mask))}")
    try:
        fits = np.broadcast_shapes(mask.shape, target) == target
    except ValueError:
        fits = False
    if mask.ndim > 3 or not fits:
        raise ValueError(f"mask of shape {mask.shape} does not broadcast to (N, L_q, L_k) = "
                         f"{target}")


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
    _check_inputs(q, k, v, mask)
    scale = float(q.shape[-1]) ** -0.5  # a Python float: keeps float32 inputs float32
    scores = (q @ k.swapaxes(-1, -2)) * scale  # (N, L_q, L_k)
    full = np.ones((1, 1, 1), dtype=bool) if mask is None else mask
    weights, sm_cache = masked_softmax_forward(scores, full)  # (N, L_q, L_k)
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
    dscores = masked_softmax_backward(dweights, sm_cache) * scale  # into e, through 1/√d
    dq = dscores @ k  # (N, L_q, d), into q
    dk = dscores.swapaxes(-1, -2) @ q  # (N, L_k, d), into k
    return dq, dk, dv
