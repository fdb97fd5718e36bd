"""Embedding lookup, affine (fully connected) and dropout layers, each with its backward.

Letters: N batch, T time, D input features, M output features, V vocabulary, E embedding.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_arrays, check_grads, check_ids


def matmul(x: np.ndarray, W: np.ndarray) -> np.ndarray:
    """x @ W for x of shape (..., D) and W of shape (D, M), as one 2-D matrix product.

    NumPy evaluates a 3-D @ 2-D product as one small product per leading index; flattening the
    leading axes hands BLAS a single (N·T, D) @ (D, M) product instead, 2-3x faster at the sizes
    of the date task. The result is the same.
    """
    return (x.reshape(-1, x.shape[-1]) @ W).reshape(*x.shape[:-1], W.shape[-1])


# ---------------------------------------------------------------------------------------------
def embedding_forward(ids: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Look up one row of ``W`` per token id: out[n, t] = W[ids[n, t]].

    Parameters
    ----------
    ids : int ndarray of shape (N, T)
    W : ndarray of shape (V, E)

    Returns
    -------
    out : ndarray of shape (N, T, E)
    cache : (ids, W.shape)
    """
    check_arrays(ids=(ids, "...", int), W=(W, "V E"))
    check_ids("ids", ids, W.shape[0], "the rows of W")
    return W[ids], (ids, W.shape)


def embedding_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Backward of the lookup: dW[v] = Σ_{n,t: ids[n,t]=v} dout[n, t].

    Returns
    -------
    dW : ndarray of shape (V, E)
    """
    ids, shape = cache
    check_grads(dout=(dout, (*ids.shape, shape[1]), "out"))
    dW = np.zeros(shape, dtype=dout.dtype)
    # add.at (not dW[ids] += ...) so that repeated ids accumulate instead of overwriting
    np.add.at(dW, ids.reshape(-1), dout.reshape(-1, shape[1]))
    return dW


# ---------------------------------------------------------------------------------------------
def affine_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """out = x W + b over the last axis of any batch of rows.

    Parameters
    ----------
    x : ndarray of shape (..., D), e.g. (N, T, D)
    W : ndarray of shape (D, M)
    b : ndarray of shape (M,)

    Returns
    -------
    out : ndarray of shape (..., M)
    cache : (x, W)
    """
    check_arrays(x=(x, "... D"), W=(W, "D M"), b=(b, "M"))
    return matmul(x, W) + b, (x, W)


def affine_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of ``affine_forward``.

    Returns
    -------
    dx : ndarray of shape (..., D)
    dW : ndarray of shape (D, M)
    db : ndarray of shape (M,)
    """
    x, W = cache
    check_grads(dout=(dout, (*x.shape[:-1], W.shape[1]), "out"))
    d2 = dout.reshape(-1, dout.shape[-1])  # (N·T, M)
    dx = matmul(dout, W.T)  # into x
    dW = x.reshape(-1, x.shape[-1]).T @ d2  # (D, M)
    db = d2.sum(axis=0)
    return dx, dW, db


# ---------------------------------------------------------------------------------------------
def dropout_mask(
    rng: np.random.Generator, p: float, shape: tuple[int, ...], dtype
) -> np.ndarray:
    """An inverted-dropout mask: m = [u >= p] / (1 - p) with u ~ U[0, 1), in ``dtype``.

    Scaling the kept units by 1 / (1 - p) during training keeps E[x ⊙ m] = x, so nothing needs
    rescaling at evaluation, when no mask is applied at all (Srivastava et al. 2014).
    """
    return ((rng.random(shape) >= p) / (1.0 - p)).astype(dtype)


def dropout_forward(x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """out = x ⊙ m for a mask from ``dropout_mask``; ``mask=None`` (evaluation) returns x."""
    return x if mask is None else x * mask


def dropout_backward(dout: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Backward of ``dropout_forward``: dx = dout ⊙ m (dropped units get no gradient)."""
    return dout if mask is None else dout * mask
