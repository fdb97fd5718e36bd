"""Time-unrolled recurrent layers (backpropagation through time) over right-padded batches.

One loop serves every cell: the cell modules (``rnn``, ``gru``, ``lstm``) supply the step's core
(``*_core_forward`` / ``*_core_backward``), and this module supplies what is common to all three:

* the input projections x_t W_x + b for *all* time steps in one matrix product, since nothing
  about them is sequential;
* the padding rule: where ``mask[n, t]`` is False the state is carried unchanged,
  s_t = m_t ⊙ cell(x_t, s_{t-1}) + (1 - m_t) ⊙ s_{t-1}, so no gradient leaks through a padded
  step and a row's final state is the state after its last real token;
* the weight gradients summed over time in one product each after the loop
  (dW_h = Σ_t h_{t-1}ᵀ dhw_t, written as one (H, N·T) @ (N·T, G·H) product).

Letters: N batch, T time, D input features, H hidden units, G gates (rnn 1, gru 3, lstm 4).
A state is a tuple of (N, H) arrays: (h,) for rnn and gru, (h, c) for lstm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import gru, lstm, rnn
from .layers import matmul


@dataclass(frozen=True)
class Cell:
    """What the unrolled layer needs to know about a cell type."""

    name: str
    gates: int  # G: blocks of H columns in W_x and W_h
    n_states: int  # 1 for (h,), 2 for (h, c)
    has_bhn: bool  # the GRU's separate hidden-side bias of the n gate
    core_forward: Callable
    core_backward: Callable


CELLS: dict[str, Cell] = {
    "rnn": Cell("rnn", rnn.GATES, 1, False, rnn.rnn_core_forward, rnn.rnn_core_backward),
    "gru": Cell("gru", gru.GATES, 1, True, gru.gru_core_forward, gru.gru_core_backward),
    "lstm": Cell("lstm", lstm.GATES, 2, False, lstm.lstm_core_forward, lstm.lstm_core_backward),
}


def cell_param_shapes(cell: str, input_dim: int, hidden_dim: int) -> dict[str, tuple[int, ...]]:
    """Shapes of one recurrent layer: Wx (D, G·H), Wh (H, G·H), b (G·H,) and, GRU only, bhn (H,)."""
    c = CELLS[cell]
    shapes = {
        "Wx": (input_dim, c.gates * hidden_dim),
        "Wh": (hidden_dim, c.gates * hidden_dim),
        "b": (c.gates * hidden_dim,),
    }
    if c.has_bhn:
        shapes["bhn"] = (hidden_dim,)
    return shapes


# ---------------------------------------------------------------------------------------------
def recurrent_forward(
    cell: str, x: np.ndarray, state0: tuple, mask: np.ndarray, p: dict[str, np.ndarray]
) -> tuple[np.ndarray, tuple, tuple]:
    """Run a cell over every time step of a right-padded batch.

    Parameters
    ----------
    cell : {"rnn", "gru", "lstm"}
    x : ndarray of shape (N, T, D)
    state0 : tuple of ndarrays of shape (N, H), the initial state
    mask : bool ndarray of shape (N, T), False at padded steps
    p : dict with "Wx" (D, G·H), "Wh" (H, G·H), "b" (G·H,) and, for the GRU, "bhn" (H,)

    Returns
    -------
    hs : ndarray of shape (N, T, H), the hidden state after every step (carried over padding)
    state : tuple of ndarrays of shape (N, H), the final state
    cache : for ``recurrent_backward``
    """
    c = CELLS[cell]
    N, T, _ = x.shape
    H = state0[0].shape[1]
    xw = matmul(x, p["Wx"]) + p["b"]  # (N, T, G·H), every step's input projection at once
    hs = np.empty((N, T, H), dtype=x.dtype)
    h_prev = np.empty((N, T, H), dtype=x.dtype)  # h_{t-1} for every t, for dW_h after the loop
    keep = mask[:, :, None]  # (N, T, 1)
    full = mask.all(axis=0)  # (T,): steps with no padding need no carrying
    state, caches = tuple(state0), []
    for t in range(T):
        h_prev[:, t] = state[0]
        new, step_cache = c.core_forward(xw[:, t], state, p["Wh"], p.get("bhn"))
        state = new if full[t] else tuple(np.where(keep[:, t], n, s) for n, s in zip(new, state))
        hs[:, t] = state[0]
        caches.append(step_cache)
    return hs, state, (c, x, p, keep, full, h_prev, caches)


def recurrent_backward(
    dhs: np.ndarray, dstate: tuple | None, cache: tuple, return_dh: bool = False
) -> tuple:
    """Backpropagation through time for ``recurrent_forward``.

    Parameters
    ----------
    dhs : ndarray of shape (N, T, H), gradient of every step's output (zeros where unused)
    dstate : tuple of ndarrays of shape (N, H), gradient of the final state, or None for zeros
    cache : from ``recurrent_forward``
    return_dh : also return the total gradient reaching every hidden state

    Returns
    -------
    dx : ndarray of shape (N, T, D)
    dstate0 : tuple of ndarrays of shape (N, H)
    grads : dict with the keys and shapes of ``p``
    dh_total : ndarray of shape (N, T, H), only with return_dh: ∂L/∂h_t including everything
        that flows back from later steps (what gradient-flow studies plot)
    """
    c, x, p, keep, full, h_prev, caches = cache
    N, T, H = dhs.shape
    GH = p["Wh"].shape[1]
    if dstate is None:
        dstate = tuple(np.zeros((N, H), dtype=dhs.dtype) for _ in range(c.n_states))
    dxw = np.empty((N, T, GH), dtype=dhs.dtype)
    # only the GRU's hidden-side gradient differs from the input side's (r scales the n block)
    dhw = np.empty((N, T, GH), dtype=dhs.dtype) if c.has_bhn else dxw
    dh_total = np.empty((N, T, H), dtype=dhs.dtype) if return_dh else None
    for t in reversed(range(T)):
        dstate = (dstate[0] + dhs[:, t],) + tuple(dstate[1:])  # output h_t is also state
        if return_dh:
            dh_total[:, t] = dstate[0]
        if full[t]:
            dnew, dcarry = dstate, None
        else:  # padded rows: the gradient skips the cell and goes straight to s_{t-1}
            dnew = tuple(np.where(keep[:, t], d, 0) for d in dstate)
            dcarry = tuple(np.where(keep[:, t], 0, d) for d in dstate)
        dxw[:, t], dhw_t, dprev = c.core_backward(dnew, caches[t])
        if c.has_bhn:
            dhw[:, t] = dhw_t
        dstate = dprev if dcarry is None else tuple(a + b for a, b in zip(dprev, dcarry))
    dxw2 = dxw.reshape(N * T, GH)
    grads = {
        "Wx": x.reshape(N * T, -1).T @ dxw2,  # (D, G·H)
        "Wh": h_prev.reshape(N * T, H).T @ dhw.reshape(N * T, GH),  # (H, G·H)
        "b": dxw2.sum(axis=0),
    }
    if c.has_bhn:
        grads["bhn"] = dhw[:, :, 2 * H :].sum(axis=(0, 1))
    dx = matmul(dxw, p["Wx"].T)  # (N, T, D)
    if return_dh:
        return dx, dstate, grads, dh_total
    return dx, dstate, grads


# ---------------------------------------------------------------------------------------------
def reverse_padded_index(lengths: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays that reverse each row's first ``lengths[n]`` steps and leave padding in place.

    Used for the backward direction of a bidirectional encoder and for ``reverse_source``. The
    permutation is its own inverse, so the same index undoes it (and routes gradients back).

    Returns
    -------
    rows : ndarray of shape (N, 1)
    cols : ndarray of shape (N, T), cols[n, t] = lengths[n] - 1 - t for t < lengths[n], else t
    """
    t = np.arange(T)[None, :]
    L = np.asarray(lengths)[:, None]
    cols = np.where(t < L, L - 1 - t, t)
    return np.arange(len(L))[:, None], cols
