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
The library calls each of these functions through the kernel table ``KERNELS`` of
``functional/kernels.py`` (``KERNELS["attention_backward"](...)``), never by an imported name.
``use_functions`` puts the replacements into that table when the ``with`` block starts and the
previous entries back when it ends, also after an error; no module's names change, so a module
imported inside the block holds nothing to undo. The score registries ``SCORE_FORWARD`` /
``SCORE_BACKWARD`` are views of the table, and a replaced cell step runs as the unrolled layer's
core through ``functional/step_cells.py`` (which says what that costs). A table entry that is
the library's own function object takes the library's path: a cell whose step functions are
both the library's runs its fast core, not its step functions.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, Mapping

# imported for what they define: each registers its kernels in the table
from . import decoding  # noqa: F401
from .functional import attention, gru, lstm, rnn, softmax  # noqa: F401
from .functional.kernels import KERNELS, LIBRARY

__all__ = ["REPLACEABLE", "use_functions", "library_function", "signature_problem"]

# name -> the library's function, in the order the error messages list them
REPLACEABLE: dict[str, Callable] = {name: LIBRARY[name] for name in (
    "rnn_step_forward", "rnn_step_backward", "lstm_step_forward", "lstm_step_backward",
    "gru_step_forward", "gru_step_backward",
    "masked_softmax_forward", "masked_softmax_backward", "cross_entropy_forward",
    "cross_entropy_backward",
    "dot_score_forward", "dot_score_backward", "general_score_forward", "general_score_backward",
    "concat_score_forward", "concat_score_backward", "attention_forward", "attention_backward",
    "greedy_decode", "beam_search",
)}


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
    Blocks may be nested; each puts back the entries it found. A cache made inside the block
    keeps the cell it ran with, so its backward after the block still matches its forward.
    """
    _validate(functions)
    previous = {name: KERNELS[name] for name in functions}
    KERNELS.update(functions)
    try:
        yield
    finally:
        KERNELS.update(previous)
