"""The Elman tanh RNN cell: one step forward and backward.

    h_t = tanh(x_t W_x + h_{t-1} W_h + b)

Row vectors, batch first. ``W_x`` of shape (D, H) is ``torch.nn.RNN``'s ``weight_ih_l0.T``; our
single ``b`` is PyTorch's ``bias_ih_l0 + bias_hh_l0``. The time-unrolled layer (BPTT over a padded
batch) is generic over cells and lives in ``recurrent.py``; it calls ``rnn_core_forward`` and
``rnn_core_backward`` below once per time step; ``rnn_forward`` / ``rnn_backward``, that layer
for this cell with CS231n's signatures, sit beside the loop in ``recurrent.py``.

The step functions check their inputs (``checks.check_arrays``: shapes in the letters
below, one float dtype); the cores, called inside the layer's loop, trust their caller.

Letters: N batch, T time steps, D input features, H hidden units.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..checks import check_arrays, check_cache, check_grads
from .kernels import kernel

GATES = 1


class RNNCache(NamedTuple):
    """What one RNN step keeps for its backward pass."""

    h_prev: np.ndarray  # (N, H), h_{t-1}
    h: np.ndarray  # (N, H), h_t = tanh(…)
    Wh: np.ndarray  # (H, H)
    x: np.ndarray | None = None  # (N, D), x_t: kept by rnn_step_forward only
    Wx: np.ndarray | None = None  # (D, H): kept by rnn_step_forward only


# ---------------------------------------------------------------------------------------------
def rnn_core_forward(
    xw: np.ndarray, state: tuple, Wh: np.ndarray
) -> tuple[tuple, RNNCache]:
    """One step given the input projection ``xw = x_t W_x + b`` (precomputed for all steps).

    h_t = tanh(xw_t + h_{t-1} W_h)

    Parameters
    ----------
    xw : ndarray of shape (N, H)
    state : (h_prev,) with h_prev of shape (N, H)
    Wh : ndarray of shape (H, H)

    Returns
    -------
    state : (h,) with h of shape (N, H)
    cache : RNNCache (without x and Wx)
    """
    (h_prev,) = state
    h = np.tanh(xw + h_prev @ Wh)
    return (h,), RNNCache(h_prev, h, Wh)


def rnn_core_backward(dstate: tuple, cache: RNNCache) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Backward of one step.

    Returns
    -------
    dxw : ndarray of shape (N, H), gradient of the input projection
    dhw : ndarray of shape (N, H), gradient of h_{t-1} W_h (so dW_h = Σ_t h_{t-1}ᵀ dhw_t)
    dstate_prev : (dh_prev,)
    """
    (dh,) = dstate
    da = dh * (1 - cache.h * cache.h)  # through tanh
    return da, da, (da @ cache.Wh.T,)  # into x, into W_h, into h_prev


# ---------------------------------------------------------------------------------------------
@kernel
def rnn_step_forward(
    x: np.ndarray, h_prev: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, RNNCache]:
    """One tanh-RNN step from raw inputs: h = tanh(x W_x + h_prev W_h + b).

    Parameters
    ----------
    x : ndarray of shape (N, D)
    h_prev : ndarray of shape (N, H)
    Wx : ndarray of shape (D, H)
    Wh : ndarray of shape (H, H)
    b : ndarray of shape (H,)

    Returns
    -------
    h : ndarray of shape (N, H)
    cache : RNNCache(h_prev, h, Wh, x, Wx)
    """
    check_arrays(x=(x, "N D"), h_prev=(h_prev, "N H"), Wx=(Wx, "D H"), Wh=(Wh, "H H"), b=(b, "H"))
    (h,), cache = rnn_core_forward(x @ Wx + b, (h_prev,), Wh)
    return h, cache._replace(x=x, Wx=Wx)


@kernel
def rnn_step_backward(dh: np.ndarray, cache: RNNCache) -> tuple[np.ndarray, ...]:
    """Backward of ``rnn_step_forward``.

    Returns
    -------
    dx, dh_prev, dWx, dWh, db : shapes of x, h_prev, Wx, Wh, b
    """
    check_cache(cache, RNNCache, "rnn_step_forward")
    check_grads(dh=(dh, cache.h.shape, "h"))
    dxw, dhw, (dh_prev,) = rnn_core_backward((dh,), cache)
    return dxw @ cache.Wx.T, dh_prev, cache.x.T @ dxw, cache.h_prev.T @ dhw, dxw.sum(axis=0)
