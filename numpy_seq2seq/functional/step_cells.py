"""A cell run through CS231n-style step functions, for when the kernel table holds another's.

The unrolled layer (``recurrent.py``) never calls ``lstm_step_forward``. It projects every
step's input at once, xw_t = x_t W_x + b, and calls the cell's *core* step on xw_t. A step
function computes that core when it is called with x = xw_t, W_x = I and b = 0, since then
x W_x + b = xw_t; its dx is then the gradient of xw_t. The layer also needs dhw_t, the gradient
of h_{t-1} W_h, from which it sums dW_h = Σ_t h_{t-1}ᵀ dhw_t after the loop. For the RNN and the
LSTM, x W_x and h W_h enter the gates as one sum, so dhw_t = dxw_t. The GRU's reset gate
multiplies only the hidden side of the n gate, n = tanh(xn + r ⊙ hn), so its dhw_t is dxw_t with
the n block multiplied by r.

The price is one product with the (G·H, G·H) identity per step forward, and the weight
gradients the step backward computes and the layer does not need
(``benchmarks/bench_substitute.py`` measures it).

Letters: N batch, H hidden units, G gates (rnn 1, gru 3, lstm 4).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from .activations import sigmoid

__all__ = ["step_cell"]


def step_cell(cell_type: Any, forward: Callable, backward: Callable) -> Any:
    """``cell_type`` with its core step computed by step functions (module docstring).

    Parameters
    ----------
    cell_type : recurrent.Cell, the registered cell, whose gate count and state layout are kept
    forward, backward : e.g. ``lstm_step_forward`` and ``lstm_step_backward``, or a student's

    Returns
    -------
    recurrent.Cell with ``core_forward`` and ``core_backward`` replaced
    """
    identities: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # (G·H, dtype) -> (I, 0)

    def core_forward(xw: np.ndarray, state: tuple, Wh: np.ndarray, bhn=None):
        key = (xw.shape[1], xw.dtype)
        if key not in identities:
            identities[key] = (np.eye(key[0], dtype=key[1]), np.zeros(key[0], dtype=key[1]))
        eye, zero = identities[key]
        bias = [bhn] if cell_type.has_bhn else []
        *new_state, cache = forward(xw, *state, eye, Wh, zero, *bias)
        r = _reset_gate(xw, state[0], Wh, cache) if cell_type.has_bhn else None
        return tuple(new_state), (cache, r)

    def core_backward(dstate: tuple, cache: tuple):
        step_cache, r = cache
        dxw, *rest = backward(*dstate, step_cache)
        dhw = dxw
        if r is not None:  # the reset gate scales the hidden side of n only
            H = r.shape[1]
            dhw = np.concatenate([dxw[:, : 2 * H], dxw[:, 2 * H :] * r], axis=1)
        return dxw, dhw, tuple(rest[: cell_type.n_states])

    return dataclasses.replace(cell_type, core_forward=core_forward, core_backward=core_backward)


def _reset_gate(xw: np.ndarray, h_prev: np.ndarray, Wh: np.ndarray, cache) -> np.ndarray:
    """The GRU's r: from the cache if it is a ``GRUCache``, else recomputed, r = σ(xr + h W_hr)."""
    r = getattr(cache, "r", None)
    if r is None:
        H = h_prev.shape[1]
        r = sigmoid(xw[:, :H] + h_prev @ Wh[:, :H])
    return r
