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

``recurrent_forward`` and ``recurrent_backward`` check their inputs once per call; the cells'
cores, called once per step inside the loop, trust them. ``rnn_forward`` / ``rnn_backward`` are
the layer for the tanh RNN with CS231n's signatures.

Letters: N batch, T time, D input features, H hidden units, G gates (rnn 1, gru 3, lstm 4).
A state is a tuple of (N, H) arrays: (h,) for rnn and gru, (h, c) for lstm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from ..checks import (
    check_arrays,
    check_cache,
    check_choice,
    check_grads,
    check_keys,
    optional,
    refuse,
)
from . import gru, lstm, rnn
from .kernels import KERNELS, LIBRARY
from .layers import matmul
from .step_cells import step_cell


@dataclass(frozen=True)
class Cell:
    """What the unrolled layer needs to know about a cell type.

    ``core_forward(xw, state, Wh) -> (state, cache)`` for rnn and lstm, and
    ``core_forward(xw, state, Wh, bhn)`` for the GRU, whose hidden-side bias of the n gate cannot
    be folded into xw; ``core_backward(dstate, cache) -> (dxw, dhw, dstate_prev)``.
    """

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
    cell_type = CELLS[cell]
    shapes = {
        "Wx": (input_dim, cell_type.gates * hidden_dim),
        "Wh": (hidden_dim, cell_type.gates * hidden_dim),
        "b": (cell_type.gates * hidden_dim,),
    }
    if cell_type.has_bhn:
        shapes["bhn"] = (hidden_dim,)
    return shapes


def check_cell(cell: str) -> Cell:
    """``current_cell(cell)``; a name that is not registered is refused with the choices."""
    return current_cell(check_choice("cell", cell, CELLS))


def current_cell(cell: str) -> Cell:
    """The cell the layers run now: ``CELLS[cell]``, or, while the kernel table holds other step
    functions for it (``substitute.use_functions``), that cell with those steps as its core
    (``step_cells.py``). Layers look it up once per forward and keep it in their cache, so the
    backward differentiates what the forward ran."""
    registered = CELLS[cell]
    names = f"{cell}_step_forward", f"{cell}_step_backward"
    steps = tuple(KERNELS[name] for name in names)
    if all(fn is LIBRARY[name] for fn, name in zip(steps, names)):
        return registered
    made = _STEPPED.get(cell)
    if made is None or any(a is not b for a, b in zip(made, (registered, *steps))):
        made = _STEPPED[cell] = (registered, *steps, step_cell(registered, *steps))
    return made[-1]


# cell -> (the registered cell, step forward, step backward, the cell run through them): made
# once per swap, so the identity matrices of ``step_cell`` are built once, not per forward
_STEPPED: dict[str, tuple] = {}


def check_state(name: str, state: object, cell_type: Cell, layers: int = 1) -> None:
    """A state is a tuple of ``layers`` · n arrays: (h,) or (h, c) per layer."""
    n = layers * cell_type.n_states
    if not isinstance(state, tuple) or len(state) != n:
        got = f"{len(state)} arrays" if isinstance(state, tuple) else type(state).__name__
        per = "(h, c)" if cell_type.n_states == 2 else "(h,)"
        raise refuse(f"{name} must be a tuple of {n} arrays of shape (N, H), {per} per "
                     f"layer for {cell_type.name}, got {got}")


def weight_specs(cell_type: Cell, p: dict[str, np.ndarray], prefix: str = "", inputs: str = "D",
                 units: str = "H") -> dict[str, tuple]:
    """``check_arrays`` specs of one layer's weights, named as in ``p``: Wx (inputs, G·units),
    Wh (units, G·units), b (G·units,) and, GRU only, bhn (units,)."""
    names = [prefix + k for k in cell_param_shapes(cell_type.name, 1, 1)]
    check_keys("p", p, names, f"one {cell_type.name} layer's weights")
    G = cell_type.gates
    specs = {names[0]: (p[names[0]], f"{inputs} {G}{units}"),
             names[1]: (p[names[1]], f"{units} {G}{units}"), names[2]: (p[names[2]], f"{G}{units}")}
    if cell_type.has_bhn:
        specs[names[3]] = (p[names[3]], units)
    return specs


def hidden_weights(cell_type: Cell, p: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """What ``core_forward`` takes after the state: (Wh,), or (Wh, bhn) for the GRU."""
    return (p["Wh"], p["bhn"]) if cell_type.has_bhn else (p["Wh"],)


# ---------------------------------------------------------------------------------------------
# one step with the padding rule, and the weight gradients summed over time: shared by the
# unrolled layer below and by the decoder's step-by-step loop (decoder.py), whose recurrence
# differs only in how xw is made

def padded_keep(mask: np.ndarray) -> list[np.ndarray | None]:
    """Per step, the (N, 1) rows to update, or None where no row is padded (nothing to carry).

    Parameters
    ----------
    mask : bool ndarray of shape (N, T)
    """
    return [None if mask[:, t].all() else mask[:, t, None] for t in range(mask.shape[1])]


def step_forward(
    cell_type: Cell, xw: np.ndarray, state: tuple, keep: np.ndarray | None, weights: tuple
) -> tuple[tuple, tuple]:
    """s_t = m ⊙ cell(xw_t, s_{t-1}) + (1 - m) ⊙ s_{t-1}: padded rows keep their state.

    ``weights`` is ``hidden_weights(cell_type, p)``.
    """
    new, cache = cell_type.core_forward(xw, state, *weights)
    if keep is None:
        return new, cache
    return tuple(np.where(keep, n, s) for n, s in zip(new, state)), cache


def step_backward(
    cell_type: Cell, dstate: tuple, cache: tuple, keep: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Backward of ``step_forward``: on padded rows the gradient skips the cell entirely.

    Returns
    -------
    dxw, dhw : ndarrays of shape (N, G·H), zero on padded rows
    dstate_prev : tuple of ndarrays of shape (N, H)
    """
    if keep is None:
        return cell_type.core_backward(dstate, cache)
    dxw, dhw, dprev = cell_type.core_backward(tuple(np.where(keep, d, 0) for d in dstate), cache)
    return dxw, dhw, tuple(a + np.where(keep, 0, d) for a, d in zip(dprev, dstate))


def grad_buffers(cell_type: Cell, N: int, T: int, GH: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Arrays for every step's dxw and dhw. Only the GRU's dhw differs from dxw (the reset gate
    scales its n block), so for the RNN and LSTM the two are one array."""
    dxw = np.empty((N, T, GH), dtype=dtype)
    return dxw, (np.empty((N, T, GH), dtype=dtype) if cell_type.has_bhn else dxw)


def weight_grads(
    cell_type: Cell, x: np.ndarray, h_prev: np.ndarray, dxw: np.ndarray, dhw: np.ndarray
) -> dict[str, np.ndarray]:
    """Weight gradients summed over all steps, one product each.

    dW_x = Σ_t x_tᵀ dxw_t,  dW_h = Σ_t h_{t-1}ᵀ dhw_t,  db = Σ_t dxw_t,  db_hn = Σ_t dhw_t[n block]

    Parameters
    ----------
    x : ndarray of shape (N, T, D), each step's input
    h_prev : ndarray of shape (N, T, H), each step's h_{t-1}
    dxw, dhw : ndarrays of shape (N, T, G·H), from ``step_backward`` per step
    """
    N, T, H = h_prev.shape
    dxw2 = dxw.reshape(N * T, -1)  # (N·T, G·H)
    grads = {
        "Wx": x.reshape(N * T, -1).T @ dxw2,  # (D, G·H)
        "Wh": h_prev.reshape(N * T, H).T @ dhw.reshape(N * T, -1),  # (H, G·H)
        "b": dxw2.sum(axis=0),
    }
    if cell_type.has_bhn:
        grads["bhn"] = dhw[:, :, 2 * H :].sum(axis=(0, 1))
    return grads


# ---------------------------------------------------------------------------------------------
class RecurrentCache(NamedTuple):
    """What ``recurrent_forward`` keeps for ``recurrent_backward``."""

    cell_type: Cell  # the cell as run (``current_cell``), so the backward matches the forward
    x: np.ndarray  # (N, T, D), the inputs
    p: dict  # the layer's parameters
    keep: list  # per step, (N, 1) bool rows to update or None (see ``padded_keep``)
    h_prev: np.ndarray  # (N, T, H), h_{t-1} at every step
    steps: list  # per step, the cell's cache


def recurrent_forward(
    cell: str, x: np.ndarray, state0: tuple, mask: np.ndarray, p: dict[str, np.ndarray], *,
    trusted: bool = False,
) -> tuple[np.ndarray, tuple, RecurrentCache]:
    """Run a cell over every time step of a right-padded batch.

    Parameters
    ----------
    cell : {"rnn", "gru", "lstm"}
    x : ndarray of shape (N, T, D)
    state0 : tuple of ndarrays of shape (N, H), the initial state
    mask : bool ndarray of shape (N, T), False at padded steps
    p : dict with "Wx" (D, G·H), "Wh" (H, G·H), "b" (G·H,) and, for the GRU, "bhn" (H,)
    trusted : the caller checked these arguments (a stack checks every layer's at once), so
        they are not checked again

    Returns
    -------
    hs : ndarray of shape (N, T, H), the hidden state after every step (carried over padding)
    state : tuple of ndarrays of shape (N, H), the final state
    cache : RecurrentCache, for ``recurrent_backward``
    """
    cell_type = current_cell(cell) if trusted else _check_inputs(cell, x, state0, mask, p)
    N, T, _ = x.shape
    H = state0[0].shape[1]
    xw = matmul(x, p["Wx"]) + p["b"]  # (N, T, G·H), every step's input projection at once
    hs = np.empty((N, T, H), dtype=x.dtype)
    h_prev = np.empty((N, T, H), dtype=x.dtype)  # h_{t-1} for every t, for dW_h after the loop
    keep = padded_keep(mask)
    weights = hidden_weights(cell_type, p)
    state, steps = tuple(state0), []
    for t in range(T):
        h_prev[:, t] = state[0]
        state, step_cache = step_forward(cell_type, xw[:, t], state, keep[t], weights)
        hs[:, t] = state[0]
        steps.append(step_cache)
    return hs, state, RecurrentCache(cell_type, x, p, keep, h_prev, steps)


def _check_inputs(cell, x, state0, mask, p) -> Cell:
    """``recurrent_forward``'s arguments, checked; returns the cell."""
    cell_type = check_cell(cell)
    check_state("state0", state0, cell_type)
    check_arrays(x=(x, "N T D"), state0=(state0, "N H"), mask=(mask, "N T", bool),
                 **weight_specs(cell_type, p))
    return cell_type


def recurrent_backward(
    dhs: np.ndarray, dstate: tuple | None, cache: RecurrentCache,
    dh_total: np.ndarray | None = None, *, trusted: bool = False,
) -> tuple[np.ndarray, tuple, dict[str, np.ndarray]]:
    """Backpropagation through time for ``recurrent_forward``.

    Parameters
    ----------
    dhs : ndarray of shape (N, T, H), gradient of every step's output (zeros where unused)
    dstate : tuple of ndarrays of shape (N, H), gradient of the final state, or None for zeros
    cache : from ``recurrent_forward``
    dh_total : ndarray of shape (N, T, H), optional
        If given, filled with ∂L/∂h_t for every t: the total gradient reaching each hidden
        state, including everything that flows back from later steps (what gradient-flow
        studies plot)
    trusted : the caller checked dhs, dstate and dh_total against the cache

    Returns
    -------
    dx : ndarray of shape (N, T, D)
    dstate0 : tuple of ndarrays of shape (N, H)
    grads : dict with the keys and shapes of ``p``
    """
    if not trusted:
        _check_grads(dhs, dstate, cache, dh_total)
    cell_type, x, p, keep, h_prev, steps = cache
    N, T, H = dhs.shape
    if dstate is None:
        dstate = tuple(np.zeros((N, H), dtype=dhs.dtype) for _ in range(cell_type.n_states))
    dxw, dhw = grad_buffers(cell_type, N, T, p["Wh"].shape[1], dhs.dtype)
    for t in reversed(range(T)):
        dstate = (dstate[0] + dhs[:, t],) + tuple(dstate[1:])  # output h_t is also state
        if dh_total is not None:
            dh_total[:, t] = dstate[0]
        dxw[:, t], dhw_t, dstate = step_backward(cell_type, dstate, steps[t], keep[t])
        if cell_type.has_bhn:
            dhw[:, t] = dhw_t
    grads = weight_grads(cell_type, x, h_prev, dxw, dhw)
    dx = matmul(dxw, p["Wx"].T)  # (N, T, D)
    return dx, dstate, grads


def _check_grads(dhs, dstate, cache, dh_total) -> None:
    """``recurrent_backward``'s arguments, checked against the forward's cache."""
    check_cache(cache, RecurrentCache, "recurrent_forward")
    check_grads(dhs=(dhs, cache.h_prev.shape, "hs"))
    if dstate is not None:
        check_state("dstate", dstate, cache.cell_type)
    check_arrays(dhs=(dhs, "N T H"),
                 **optional(dstate=(dstate, "N H"), dh_total=(dh_total, "N T H")))


# ---------------------------------------------------------------------------------------------
# the tanh RNN over a whole sequence with CS231n's signatures: the layer above for one cell
# (the course's a1 assignment has students write these two)

def rnn_forward(
    x: np.ndarray,
    h0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple]:
    """Run the tanh RNN over every step of a right-padded batch.

    h_t = m_t ⊙ tanh(x_t W_x + h_{t-1} W_h + b) + (1 - m_t) ⊙ h_{t-1}

    where m_t = mask[:, t]: a padded step leaves the row's state unchanged, so h_T is the state
    after the row's last real token.

    Parameters
    ----------
    x : ndarray of shape (N, T, D)
    h0 : ndarray of shape (N, H), the initial state
    Wx : ndarray of shape (D, H)
    Wh : ndarray of shape (H, H)
    b : ndarray of shape (H,)
    mask : bool ndarray of shape (N, T), False at padded steps (default: no padding)

    Returns
    -------
    hs : ndarray of shape (N, T, H), the state after every step
    cache : for ``rnn_backward``
    """
    check_arrays(x=(x, "N T D"), h0=(h0, "N H"), Wx=(Wx, "D H"), Wh=(Wh, "H H"), b=(b, "H"),
                 **optional(mask=(mask, "N T", bool)))
    if mask is None:
        mask = np.ones(x.shape[:2], dtype=bool)
    hs, _, cache = recurrent_forward("rnn", x, (h0,), mask, {"Wx": Wx, "Wh": Wh, "b": b},
                                     trusted=True)
    return hs, cache


def rnn_backward(dhs: np.ndarray, cache: RecurrentCache) -> tuple[np.ndarray, ...]:
    """Backpropagation through time for ``rnn_forward``.

    Parameters
    ----------
    dhs : ndarray of shape (N, T, H), the gradient of every step's output
    cache : from ``rnn_forward``

    Returns
    -------
    dx, dh0, dWx, dWh, db : shapes of x, h0, Wx, Wh, b
    """
    dx, (dh0,), grads = recurrent_backward(dhs, None, cache)
    return dx, dh0, grads["Wx"], grads["Wh"], grads["b"]


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
