"""Run the library with your own functions in place of its own.

::

    from numpy_seq2seq.substitute import use_functions

    with use_functions({"lstm_step_backward": my_lstm_step_backward,
                        "attention_backward": my_attention_backward}):
        history = train(model, train_ids, valid_ids)   # every LSTM step's backward is yours

A replacement must have the library function's name and signature (``REPLACEABLE`` lists the
names); ``use_functions`` checks both before it changes anything.

How a replacement reaches the model
-----------------------------------
Inside the package every replaceable function is called through one of three places: a module
global (a plain call ``attention_backward(...)`` of the imported name), the ``SCORE_FORWARD`` /
``SCORE_BACKWARD`` dicts, or the ``CELLS`` registry of ``functional/recurrent.py``.
``use_functions`` rebinds the name in every loaded ``numpy_seq2seq`` module that holds the
library's function (a module global, or an entry of a module-level dict such as the score
tables) and registers an adapted cell; on leaving the block, also after an error, it puts every
original back, and then sweeps every loaded module once more: a module imported *inside* the
block copied the replacement when it ran ``from ... import``, and gets the original too. The
course kit's own modules (``numpy_seq2seq.course``) are left alone: they grade against the
library.

Cells
-----
The unrolled layer never calls ``lstm_step_forward``. It projects every step's input at once,
xw_t = x_t W_x + b, and calls a *core* step on xw_t. A step function computes that core when it
is called with x = xw_t, W_x = I and b = 0, since then x W_x + b = xw_t; its dx is then the
gradient of xw_t. The layer also needs dhw_t, the gradient of h_{t-1} W_h, from which it sums
dW_h = Σ_t h_{t-1}ᵀ dhw_t after the loop. For the RNN and the LSTM, x W_x and h W_h enter the
gates as one sum, so dhw_t = dxw_t. The GRU's reset gate multiplies only the hidden side of the
n gate, n = tanh(xn + r ⊙ hn), so its dhw_t is dxw_t with the n block multiplied by r.

The price is one product with the (G·H, G·H) identity per step forward, and the weight
gradients your backward computes and the layer does not need.

Letters: N batch, H hidden units, G gates (rnn 1, gru 3, lstm 4).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import sys
from collections.abc import Callable, Iterator, Mapping

import numpy as np

from . import decoding
from .functional import attention, gru, lstm, recurrent, rnn, softmax
from .functional.activations import sigmoid

__all__ = ["REPLACEABLE", "use_functions", "library_function", "signature_problem"]

# name -> the library's function, captured when this module is first imported (before any
# substitution can run), so ``library_function`` always answers with the library's own
REPLACEABLE: dict[str, Callable] = {
    name: getattr(module, name)
    for module, names in [
        (rnn, ("rnn_step_forward", "rnn_step_backward")),
        (lstm, ("lstm_step_forward", "lstm_step_backward")),
        (gru, ("gru_step_forward", "gru_step_backward")),
        (softmax, ("masked_softmax_forward", "masked_softmax_backward",
                   "cross_entropy_forward", "cross_entropy_backward")),
        (attention, ("dot_score_forward", "dot_score_backward", "general_score_forward",
                     "general_score_backward", "concat_score_forward", "concat_score_backward",
                     "attention_forward", "attention_backward")),
        (decoding, ("greedy_decode", "beam_search")),
    ]
    for name in names
}
# cell -> (its step forward, its step backward)
CELL_STEPS = {cell: (f"{cell}_step_forward", f"{cell}_step_backward") for cell in recurrent.CELLS}
# modules that must keep the library's functions
_EXEMPT = ("numpy_seq2seq.course", __name__)

_active: dict[str, Callable] = {}  # name -> the replacement in force (nested blocks stack)


def library_function(name: str) -> Callable:
    """The library's own function of that name, whatever is substituted at the moment."""
    return REPLACEABLE[name]


# ---------------------------------------------------------------------------------------------
# checking a replacement

def signature_problem(fn: Callable, reference: Callable) -> str | None:
    """What keeps ``fn`` from standing in for ``reference``, in a few words, or None.

    ``fn`` must take the reference's parameters, by the same names in the same order; where the
    reference has a default, ``fn`` needs one too (callers may leave the argument out), and any
    extra parameter of ``fn`` needs a default. A function taking ``*args`` or ``**kwargs`` is
    accepted as it is.
    """
    try:
        got = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # some builtins have no signature to read
        return None
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in got):
        return None
    want = list(inspect.signature(reference).parameters.values())
    for i, w in enumerate(want):
        if i >= len(got):
            return f"parameter {w.name!r} is missing"
        if got[i].name != w.name:
            return f"parameter {i + 1} is {got[i].name!r}, expected {w.name!r}"
        if w.default is not w.empty and got[i].default is got[i].empty:
            return f"{w.name!r} needs a default (the library's is {w.default!r})"
    extra = [p.name for p in got[len(want):] if p.default is p.empty]
    return f"extra parameter {extra[0]!r} needs a default" if extra else None


def _validate(functions: Mapping[str, Callable]) -> None:
    if not isinstance(functions, Mapping):
        raise TypeError(f"use_functions takes a dict of name -> function, got "
                        f"{type(functions).__name__}")
    for name, fn in functions.items():
        if name not in REPLACEABLE:
            raise ValueError(f"unknown function {name!r}; the replaceable functions are "
                             f"{', '.join(REPLACEABLE)}")
        if not callable(fn):
            raise TypeError(f"{name} must be a function, got {type(fn).__name__}")
        problem = signature_problem(fn, REPLACEABLE[name])
        if problem:
            raise TypeError(f"{name}{_signature(fn)} cannot stand in for the library's "
                            f"{name}{_signature(REPLACEABLE[name])}: {problem}")


def _signature(fn: Callable) -> str:
    """``(x, h_prev, Wx, Wh, b)``: names and defaults, without the annotations."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return "(...)"
    bare = [p.replace(annotation=p.empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=bare, return_annotation=sig.empty))


# ---------------------------------------------------------------------------------------------
# a cell run through its step functions

def step_cell(cell: recurrent.Cell, forward: Callable, backward: Callable) -> recurrent.Cell:
    """``cell`` with its core step computed by CS231n-style step functions (module docstring).

    Parameters
    ----------
    cell : the registered cell, whose gate count and state layout are kept
    forward, backward : e.g. ``lstm_step_forward`` and ``lstm_step_backward``, or your own
    """
    identities: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # (G·H, dtype) -> (I, 0)

    def core_forward(xw: np.ndarray, state: tuple, Wh: np.ndarray, bhn=None):
        key = (xw.shape[1], xw.dtype)
        if key not in identities:
            identities[key] = (np.eye(key[0], dtype=key[1]), np.zeros(key[0], dtype=key[1]))
        eye, zero = identities[key]
        *new_state, cache = forward(xw, *state, eye, Wh, zero, *([bhn] if cell.has_bhn else []))
        r = _reset_gate(xw, state[0], Wh, cache) if cell.has_bhn else None
        return tuple(new_state), (cache, r)

    def core_backward(dstate: tuple, cache: tuple):
        step_cache, r = cache
        dxw, *rest = backward(*dstate, step_cache)
        dhw = dxw
        if r is not None:  # the reset gate scales the hidden side of n only
            H = r.shape[1]
            dhw = np.concatenate([dxw[:, : 2 * H], dxw[:, 2 * H :] * r], axis=1)
        return dxw, dhw, tuple(rest[: cell.n_states])

    return dataclasses.replace(cell, core_forward=core_forward, core_backward=core_backward)


def _reset_gate(xw: np.ndarray, h_prev: np.ndarray, Wh: np.ndarray, cache) -> np.ndarray:
    """The GRU's r: from the cache if it is a ``GRUCache``, else recomputed, r = σ(xr + h W_hr)."""
    r = getattr(cache, "r", None)
    if r is None:
        H = h_prev.shape[1]
        r = sigmoid(xw[:, :H] + h_prev @ Wh[:, :H])
    return r


# ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def use_functions(functions: Mapping[str, Callable]) -> Iterator[None]:
    """Run the package with ``functions`` in place of the library's functions of those names.

    Parameters
    ----------
    functions : dict name -> function, names from ``REPLACEABLE``, each function with the
        library's signature (``signature_problem`` says what is wrong with one that lacks it)

    Raises
    ------
    ValueError
        For an unknown name (the message lists the replaceable ones).
    TypeError
        For something that is not a function, or a signature that does not match.

    Notes
    -----
    Blocks may be nested; each restores what it replaced. Code that copied a function into a
    variable of its own before the block keeps that copy.
    """
    _validate(functions)
    undo: list[Callable[[], None]] = []
    try:
        for name, fn in functions.items():
            _rebind(name, fn, undo)
        for cell, (fwd, bwd) in CELL_STEPS.items():
            if fwd in functions or bwd in functions:
                forward = functions.get(fwd) or _current(fwd)
                backward = functions.get(bwd) or _current(bwd)
                _set_item(recurrent.CELLS, cell,
                          step_cell(recurrent.CELLS[cell], forward, backward), undo)
        yield
    finally:
        for restore in reversed(undo):
            restore()
        _sweep(functions)


def _current(name: str) -> Callable:
    return _active.get(name, REPLACEABLE[name])


def _holders() -> Iterator[tuple[dict, str]]:
    """(namespace, key) of every global and every module-level dict entry of the loaded
    ``numpy_seq2seq`` modules the substitution may touch (each dict once)."""
    seen: set[int] = set()
    for module in list(sys.modules.values()):
        module_name = getattr(module, "__name__", None) or ""
        if module_name.partition(".")[0] != "numpy_seq2seq" or module_name.startswith(_EXEMPT):
            continue
        namespace = vars(module)
        for key, value in list(namespace.items()):
            yield namespace, key
            if isinstance(value, dict) and id(value) not in seen and not key.startswith("__"):
                seen.add(id(value))
                yield from ((value, k) for k in list(value))


def _rebind(name: str, fn: Callable, undo: list) -> None:
    """Point every global and module-level dict entry that holds ``name``'s function at ``fn``."""
    old = _current(name)
    for table, key in _holders():
        if table.get(key) is old:
            _set_item(table, key, fn, undo)
    _set_item(_active, name, fn, undo)


def _sweep(functions: Mapping[str, Callable]) -> None:
    """After the undo: wherever a replacement is still held (by a module imported inside the
    block), put back what is in force outside the block."""
    outside = {id(fn): _current(name) for name, fn in functions.items()}
    for table, key in _holders():
        if id(table.get(key)) in outside:
            table[key] = outside[id(table[key])]


def _set_item(table: dict, key, value, undo: list) -> None:
    missing = key not in table
    old = table.get(key)
    table[key] = value
    undo.append(lambda: table.pop(key) if missing else table.__setitem__(key, old))
