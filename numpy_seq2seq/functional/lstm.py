"""The LSTM cell: one step forward and backward.

Gates are stacked in PyTorch's order i, f, g, o (``torch.nn.LSTM``'s ``weight_ih_l0.T`` is our
``W_x`` of shape (D, 4H); our ``b`` is ``bias_ih_l0 + bias_hh_l0``)::

    [a_i, a_f, a_g, a_o] = x_t W_x + h_{t-1} W_h + b
    i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
    c_t = f ⊙ c_{t-1} + i ⊙ g
    h_t = o ⊙ tanh(c_t)

The additive cell update c_t = f ⊙ c_{t-1} + … is why gradients survive many steps: ∂c_t/∂c_{t-1}
is the forget gate itself, not a product with a squashing derivative. The time-unrolled layer is in
``recurrent.py``.

Letters: N batch, D input features, H hidden units.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..checks import check_arrays, check_cache, check_grads
from .activations import sigmoid
from .kernels import kernel

GATES = 4


class LSTMCache(NamedTuple):
    """What one LSTM step keeps for its backward pass; every array but the weights is (N, H)."""

    h_prev: np.ndarray  # h_{t-1}
    c_prev: np.ndarray  # c_{t-1}
    i: np.ndarray  # input gate σ(a_i)
    f: np.ndarray  # forget gate σ(a_f)
    g: np.ndarray  # candidate tanh(a_g)
    o: np.ndarray  # output gate σ(a_o)
    tanh_c: np.ndarray  # tanh(c_t)
    Wh: np.ndarray  # (H, 4H)
    x: np.ndarray | None = None  # (N, D), x_t: kept by lstm_step_forward only
    Wx: np.ndarray | None = None  # (D, 4H): kept by lstm_step_forward only


# ---------------------------------------------------------------------------------------------
def lstm_core_forward(
    xw: np.ndarray, state: tuple, Wh: np.ndarray
) -> tuple[tuple, LSTMCache]:
    """One step given the input projection ``xw = x_t W_x + b`` (precomputed for all steps).

    Parameters
    ----------
    xw : ndarray of shape (N, 4H)
    state : (h_prev, c_prev), each of shape (N, H)
    Wh : ndarray of shape (H, 4H)

    Returns
    -------
    state : (h, c), each of shape (N, H)
    cache : LSTMCache (without x and Wx)
    """
    h_prev, c_prev = state
    H = h_prev.shape[1]
    a = xw + h_prev @ Wh  # (N, 4H), all four gates in one product
    i_f = sigmoid(a[:, : 2 * H])  # i and f are adjacent: one call for both
    i, f = i_f[:, :H], i_f[:, H:]
    g = np.tanh(a[:, 2 * H : 3 * H])
    o = sigmoid(a[:, 3 * H :])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return (h, c), LSTMCache(h_prev, c_prev, i, f, g, o, tanh_c, Wh)


def lstm_core_backward(dstate: tuple, cache: LSTMCache) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Backward of one step.

    Returns
    -------
    dxw : ndarray of shape (N, 4H), gradient of the input projection
    dhw : ndarray of shape (N, 4H), gradient of h_{t-1} W_h (equal to dxw for the LSTM)
    dstate_prev : (dh_prev, dc_prev)
    """
    h_prev, c_prev, i, f, g, o, tanh_c, Wh, _, _ = cache
    dh, dc = dstate
    do = dh * tanh_c  # into o
    dc = dc + dh * o * (1 - tanh_c * tanh_c)  # through tanh(c) into c
    da = np.concatenate(
        [
            dc * g * i * (1 - i),  # into a_i through σ
            dc * c_prev * f * (1 - f),  # into a_f through σ
            dc * i * (1 - g * g),  # into a_g through tanh
            do * o * (1 - o),  # into a_o through σ
        ],
        axis=1,
    )
    return da, da, (da @ Wh.T, dc * f)  # into h_prev, into c_prev


# ---------------------------------------------------------------------------------------------
@kernel
def lstm_step_forward(
    x: np.ndarray,
    h_prev: np.ndarray,
    c_prev: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, LSTMCache]:
    """One LSTM step from raw inputs (see the module docstring for the equations).

    Parameters
    ----------
    x : ndarray of shape (N, D)
    h_prev, c_prev : ndarrays of shape (N, H)
    Wx : ndarray of shape (D, 4H)
    Wh : ndarray of shape (H, 4H)
    b : ndarray of shape (4H,)

    Returns
    -------
    h, c : ndarrays of shape (N, H)
    cache : LSTMCache(h_prev, c_prev, i, f, g, o, tanh_c, Wh, x, Wx)
    """
    check_arrays(x=(x, "N D"), h_prev=(h_prev, "N H"), c_prev=(c_prev, "N H"),
                 Wx=(Wx, "D 4H"), Wh=(Wh, "H 4H"), b=(b, "4H"))
    (h, c), cache = lstm_core_forward(x @ Wx + b, (h_prev, c_prev), Wh)
    return h, c, cache._replace(x=x, Wx=Wx)


@kernel
def lstm_step_backward(
    dh: np.ndarray, dc: np.ndarray, cache: LSTMCache
) -> tuple[np.ndarray, ...]:
    """Backward of ``lstm_step_forward``.

    Returns
    -------
    dx, dh_prev, dc_prev, dWx, dWh, db : shapes of x, h_prev, c_prev, Wx, Wh, b
    """
    check_cache(cache, LSTMCache, "lstm_step_forward")
    check_grads(dh=(dh, cache.h_prev.shape, "h"), dc=(dc, cache.c_prev.shape, "c"))
    dxw, dhw, (dh_prev, dc_prev) = lstm_core_backward((dh, dc), cache)
    return (dxw @ cache.Wx.T, dh_prev, dc_prev, cache.x.T @ dxw, cache.h_prev.T @ dhw,
            dxw.sum(axis=0))
