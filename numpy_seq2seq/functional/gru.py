"""The GRU cell: one step forward and backward.

Gates are stacked in PyTorch's order r, z, n, with PyTorch's placement of the reset gate
(``torch.nn.GRU``; Cho et al. 2014 put r before the product with W_hn instead)::

    [xr, xz, xn] = x_t W_x + b          [hr, hz, hn] = h_{t-1} W_h + [0, 0, b_hn]
    r = σ(xr + hr)
    z = σ(xz + hz)
    n = tanh(xn + r ⊙ hn)
    h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

``W_x`` (D, 3H) is ``weight_ih_l0.T``; ``b`` holds b_ir + b_hr, b_iz + b_hz and b_in; ``bhn`` is
PyTorch's b_hn, which must stay separate because the reset gate multiplies it. The time-unrolled
layer is in ``recurrent.py``.

Letters: N batch, D input features, H hidden units.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..checks import check_arrays, check_cache, check_grads
from .activations import sigmoid
from .kernels import kernel

GATES = 3


class GRUCache(NamedTuple):
    """What one GRU step keeps for its backward pass; every array but the weights is (N, H)."""

    h_prev: np.ndarray  # h_{t-1}
    r: np.ndarray  # reset gate
    z: np.ndarray  # update gate
    n: np.ndarray  # candidate tanh(xn + r ⊙ hn)
    hn: np.ndarray  # h_{t-1} W_hn + b_hn, the part the reset gate scales
    Wh: np.ndarray  # (H, 3H)
    x: np.ndarray | None = None  # (N, D), x_t: kept by gru_step_forward only
    Wx: np.ndarray | None = None  # (D, 3H): kept by gru_step_forward only


# ---------------------------------------------------------------------------------------------
def gru_core_forward(
    xw: np.ndarray, state: tuple, Wh: np.ndarray, bhn: np.ndarray
) -> tuple[tuple, GRUCache]:
    """One step given the input projection ``xw = x_t W_x + b`` (precomputed for all steps).

    Parameters
    ----------
    xw : ndarray of shape (N, 3H)
    state : (h_prev,) with h_prev of shape (N, H)
    Wh : ndarray of shape (H, 3H)
    bhn : ndarray of shape (H,)

    Returns
    -------
    state : (h,) with h of shape (N, H)
    cache : GRUCache (without x and Wx)
    """
    (h_prev,) = state
    H = h_prev.shape[1]
    hw = h_prev @ Wh  # (N, 3H), all three gates in one product
    r = sigmoid(xw[:, :H] + hw[:, :H])
    z = sigmoid(xw[:, H : 2 * H] + hw[:, H : 2 * H])
    hn = hw[:, 2 * H :] + bhn
    n = np.tanh(xw[:, 2 * H :] + r * hn)
    h = (1 - z) * n + z * h_prev
    return (h,), GRUCache(h_prev, r, z, n, hn, Wh)


def gru_core_backward(dstate: tuple, cache: GRUCache) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Backward of one step.

    Returns
    -------
    dxw : ndarray of shape (N, 3H), gradient of the input projection
    dhw : ndarray of shape (N, 3H), gradient of h_{t-1} W_h + [0, 0, b_hn]
    dstate_prev : (dh_prev,)
    """
    h_prev, r, z, n, hn, Wh, _, _ = cache
    (dh,) = dstate
    dan = dh * (1 - z) * (1 - n * n)  # into n, through tanh
    dar = dan * hn * r * (1 - r)  # into r, through σ
    daz = dh * (h_prev - n) * z * (1 - z)  # into z, through σ
    dxw = np.concatenate([dar, daz, dan], axis=1)
    dhw = np.concatenate([dar, daz, dan * r], axis=1)  # the reset gate scales the hidden side
    return dxw, dhw, (dh * z + dhw @ Wh.T,)  # into h_prev: directly and through W_h


# ---------------------------------------------------------------------------------------------
@kernel
def gru_step_forward(
    x: np.ndarray,
    h_prev: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    bhn: np.ndarray,
) -> tuple[np.ndarray, GRUCache]:
    """One GRU step from raw inputs (see the module docstring for the equations).

    Parameters
    ----------
    x : ndarray of shape (N, D)
    h_prev : ndarray of shape (N, H)
    Wx : ndarray of shape (D, 3H)
    Wh : ndarray of shape (H, 3H)
    b : ndarray of shape (3H,)
    bhn : ndarray of shape (H,)

    Returns
    -------
    h : ndarray of shape (N, H)
    cache : GRUCache(h_prev, r, z, n, hn, Wh, x, Wx)
    """
    check_arrays(x=(x, "N D"), h_prev=(h_prev, "N H"), Wx=(Wx, "D 3H"), Wh=(Wh, "H 3H"),
                 b=(b, "3H"), bhn=(bhn, "H"))
    (h,), cache = gru_core_forward(x @ Wx + b, (h_prev,), Wh, bhn)
    return h, cache._replace(x=x, Wx=Wx)


@kernel
def gru_step_backward(dh: np.ndarray, cache: GRUCache) -> tuple[np.ndarray, ...]:
    """Backward of ``gru_step_forward``.

    Returns
    -------
    dx, dh_prev, dWx, dWh, db, dbhn : shapes of x, h_prev, Wx, Wh, b, bhn
    """
    check_cache(cache, GRUCache, "gru_step_forward")
    check_grads(dh=(dh, cache.h_prev.shape, "h"))
    dxw, dhw, (dh_prev,) = gru_core_backward((dh,), cache)
    H = cache.h_prev.shape[1]
    return (
        dxw @ cache.Wx.T,
        dh_prev,
        cache.x.T @ dxw,
        cache.h_prev.T @ dhw,
        dxw.sum(axis=0),
        dhw[:, 2 * H :].sum(axis=0),
    )
