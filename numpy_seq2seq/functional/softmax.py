"""Softmax, masked softmax and the cross-entropy loss, each with its backward.

Letters: N batch, T target steps, S source positions, V vocabulary.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..checks import FINITE, check_arrays, check_cache, check_grads, check_ids, check_mask, refuse
from .kernels import kernel

# A finite fill value for masked scores: exp(MASK_FILL - max) underflows to exactly 0 in float32
# and float64, yet a row whose every score is masked stays finite (no inf - inf = NaN).
MASK_FILL = -1e9


class SoftmaxCache(NamedTuple):
    """The softmax's (or masked softmax's) output, all its backward needs."""

    p: np.ndarray  # (..., K)


class CrossEntropyCache(NamedTuple):
    """What the mean cross-entropy keeps for its backward pass."""

    probs: np.ndarray  # (N, T, V), softmax(z)
    targets: np.ndarray  # (N, T) int
    mask: np.ndarray  # (N, T) bool, True at the labels that count
    count: int  # Σ mask, the number of labels averaged over


# ---------------------------------------------------------------------------------------------
def softmax_forward(scores: np.ndarray) -> tuple[np.ndarray, SoftmaxCache]:
    """Numerically stable softmax over the last axis.

    p_i = exp(s_i - max_j s_j) / Σ_k exp(s_k - max_j s_j)

    Parameters
    ----------
    scores : ndarray of shape (..., K)

    Returns
    -------
    p : ndarray of shape (..., K)
    cache : SoftmaxCache(p)
    """
    # Subtracting the row maximum leaves p unchanged and keeps exp() from overflowing.
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    return p, SoftmaxCache(p)


def softmax_backward(dp: np.ndarray, cache: SoftmaxCache) -> np.ndarray:
    """Backward of softmax: ds_i = p_i (dp_i - Σ_k dp_k p_k)."""
    p = cache.p
    return p * (dp - (dp * p).sum(axis=-1, keepdims=True))


# ---------------------------------------------------------------------------------------------
def _check_not_empty(scores: np.ndarray) -> None:
    """A softmax over no positions is undefined: refuse it before NumPy's reductions do."""
    if scores.shape[-1] == 0:
        raise refuse(f"scores must have at least one position on the last axis (K), got shape "
                     f"{scores.shape}")


@kernel
def masked_softmax_forward(
    scores: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, SoftmaxCache]:
    """Softmax over the last axis that gives masked-out positions exactly zero weight.

    p_i = m_i exp(s_i) / Σ_k m_k exp(s_k), with m_i ∈ {0, 1}

    Masked scores are replaced by the finite ``MASK_FILL`` before the stable softmax, and the
    result is multiplied by the mask so that a row with every position masked gives all zeros
    (not NaN, and not a uniform distribution over padding).

    Parameters
    ----------
    scores : ndarray of shape (..., K)
    mask : bool ndarray broadcastable to scores' shape, True where a position may be attended

    Returns
    -------
    p : ndarray of shape (..., K), rows sum to 1 (or 0 if fully masked)
    cache : SoftmaxCache(p)
    """
    check_arrays(scores=(scores, "... K"))
    _check_not_empty(scores)
    check_mask("mask", mask, scores.shape, "the scores' shape")
    filled = np.where(mask, scores, scores.dtype.type(MASK_FILL))
    p, _ = softmax_forward(filled)
    p = p * mask  # exact zeros, also for fully masked rows
    return p, SoftmaxCache(p)


@kernel
def masked_softmax_backward(dp: np.ndarray, cache: SoftmaxCache) -> np.ndarray:
    """Backward of the masked softmax: the softmax's own, since masked positions have p_i = 0
    and so get exactly zero gradient from ds_i = p_i (dp_i - Σ_k dp_k p_k)."""
    check_cache(cache, SoftmaxCache, "masked_softmax_forward")
    check_grads(dp=(dp, cache.p.shape, "p"))
    return softmax_backward(dp, cache)


# ---------------------------------------------------------------------------------------------
def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log softmax over the last axis: z_i - max_j z_j - log Σ_k exp(z_k - max_j z_j).

    Computed from the shifted logits (never exp of a large number, never log of 0); used by the
    cross-entropy below and by decoding's search scores.
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


# ---------------------------------------------------------------------------------------------
@kernel
def cross_entropy_forward(
    logits: np.ndarray, targets: np.ndarray, mask: np.ndarray
) -> tuple[float, CrossEntropyCache]:
    """Mean cross-entropy over the non-padding targets, computed through log-softmax.

    L = -(1 / Σ m_nt) Σ_{n,t} m_nt log softmax(z_nt)[y_nt]

    The mean is taken over the labels with ``mask`` True (non-padding), not over N·T, so a batch's
    loss does not depend on how much padding it carries.

    Parameters
    ----------
    logits : ndarray of shape (N, T, V)
    targets : int ndarray of shape (N, T)
    mask : bool ndarray of shape (N, T), at least one True

    Returns
    -------
    loss : float
    cache : CrossEntropyCache(probs, targets, mask, count)

    Raises
    ------
    ValueError
        For shapes that differ from these (nothing is broadcast), targets outside [0, V), a
        mask that is not bool or selects no labels.
    """
    check_arrays(logits=(logits, "N T V"), targets=(targets, "N T", int), mask=(mask, "N T", bool))
    check_ids("targets", targets, logits.shape[-1], "the logits' last axis")
    if not mask.any():
        raise refuse("mask selects no labels; the mean over them is "
                     "undefined (every row padding?)")
    log_probs = log_softmax(logits)  # (N, T, V)
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]  # (N, T)
    count = int(mask.sum())
    loss = -float((picked * mask).sum()) / count
    return loss, CrossEntropyCache(np.exp(log_probs), targets, mask, count)


@kernel
def cross_entropy_backward(dloss: float, cache: CrossEntropyCache) -> np.ndarray:
    """Backward of the mean cross-entropy: dz = m (softmax(z) - onehot(y)) / Σ m.

    Returns
    -------
    dlogits : ndarray of shape (N, T, V)
    """
    check_cache(cache, CrossEntropyCache, "cross_entropy_forward")
    FINITE.check("dloss", dloss)
    probs, targets, mask, count = cache
    dlogits = probs.copy()  # the cached probabilities are never written into
    np.put_along_axis(
        dlogits, targets[..., None], np.take_along_axis(probs, targets[..., None], -1) - 1, -1
    )
    dlogits *= (mask[..., None] * (dloss / count)).astype(dlogits.dtype)
    return dlogits
