"""Argument checks shared by every public function: the one place their rules are written.

* numbers — `Number`, a kind and a range; the ranges the package uses are named below
  (`POSITIVE_INT`, `UNIT_INTERVAL`, …). Configs, functions and command-line options all read
  numbers through it, so ``--clip nan`` and ``TrainConfig(clip=nan)`` get the same words;
* choices — `check_choice`;
* arrays — `check_arrays` checks shapes written in letters ("N T H", "D 4H"), dtypes and that
  the letters agree across arguments; `check_ids` a token-id range; `check_mask` a boolean mask
  that must broadcast to a given shape; `check_grads` an upstream gradient against the shape of
  the output it belongs to; `check_keys` a parameter dict.

Every error is one ValueError line naming the argument, what was expected and what was given::

    hidden_dim must be an integer >= 1, got 0
    attention_forward: hs must have shape (N, S, H) = (2, 6, 4), got (1, 6, 4) (N is 2 in hd)

The array checks run once per call of a public function (a few microseconds); the per-step cores
that the unrolled layers call inside their loops trust their callers and check nothing.
"""

from __future__ import annotations

import argparse
import functools
import math
import re
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


def is_int(value: Any) -> bool:
    """True for Python and NumPy integers; False for bools (``True`` is an int in Python)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# numbers

@dataclass(frozen=True)
class Number:
    """The values a numeric argument accepts: a kind (int or float) and an optional range.

    Floats must be finite; bools are not numbers here.

    Examples
    --------
    >>> Number(float, low=0, high=1, low_open=True).describe()
    'a number in (0, 1]'
    >>> POSITIVE_INT.check("beam", 0)
    Traceback (most recent call last):
    ValueError: beam must be an integer >= 1, got 0
    """

    kind: type  # int or float
    low: float | None = None  # smallest allowed value (None: unbounded)
    high: float | None = None  # largest allowed value (None: unbounded)
    low_open: bool = False  # True excludes `low` itself
    high_open: bool = False  # True excludes `high` itself

    def describe(self) -> str:
        """What is expected, in words: 'an integer >= 1', 'a number in (0, 1]', …"""
        what = "an integer" if self.kind is int else "a number"
        if self.low is not None and self.high is not None:
            return (f"{what} in {'(' if self.low_open else '['}{self.low:g}, "
                    f"{self.high:g}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{what} {'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{what} {'<' if self.high_open else '<='} {self.high:g}"
        return what if self.kind is int else "a finite number"

    def accepts(self, value: Any) -> bool:
        """True if ``value`` is of the right kind, finite and in range (a 0-d array counts as
        the number it holds)."""
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if self.kind is int:
            if not is_int(value):
                return False
        elif isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                               np.floating)):
            return False
        elif not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def check(self, name: str, value: Any, or_none: bool = False) -> Any:
        """Return ``value`` as a Python ``kind`` (None stays None if ``or_none``), or raise
        ValueError naming ``name`` and the range."""
        if or_none and value is None:
            return None
        if not self.accepts(value):
            raise ValueError(f"{name} must be {self.describe()}{' or None' if or_none else ''}, "
                             f"got {value!r}")
        return self.kind(value[()] if isinstance(value, np.ndarray) else value)

    def parse(self, text: str) -> Any:
        """Read ``text`` as this number, or raise ValueError saying what was expected."""
        try:
            value = self.kind(text)
        except ValueError:
            value = None
        if value is None or not self.accepts(value):
            raise ValueError(f"expected {self.describe()}, got {text!r}")
        return value

    def argument_type(self) -> Callable[[str], Any]:
        """An argparse ``type=`` reading this number; argparse's message then names the flag:
        ``argument --clip: expected a number >= 0, got 'nan'``."""

        def parse(text: str) -> Any:
            try:
                return self.parse(text)
            except ValueError as err:
                raise argparse.ArgumentTypeError(str(err)) from None

        return parse


POSITIVE_INT = Number(int, low=1)
NON_NEGATIVE_INT = Number(int, low=0)
POSITIVE = Number(float, low=0, low_open=True)
NON_NEGATIVE = Number(float, low=0)
FINITE = Number(float)
UNIT_INTERVAL = Number(float, low=0, high=1, high_open=True)  # [0, 1): dropout, momentum, betas


def check_choice(name: str, value: Any, choices: Collection) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise ValueError listing them."""
    try:
        if value in choices:
            return value
    except TypeError:  # an unhashable value in a dict's keys
        pass
    raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


# ---------------------------------------------------------------------------------------------
# arrays

_TERM = re.compile(r"(\d*)([A-Za-z_]\w*)?$")


@functools.lru_cache(maxsize=None)
def _parse(letters: str) -> tuple[tuple, tuple | None]:
    """"N T 4H" -> the axes (((1, "N"),), ((1, "T"),), ((4, "H"),)) and, if every axis is one
    term, those terms ((1, "N"), (1, "T"), (4, "H")) (else None): "2H+A" is ((2, "H"),
    (1, "A")), a number is ((n, None),), a leading "..." (any number of axes) stays "..."."""
    dims = []
    for token in letters.split():
        if token == "...":
            dims.append(token)
            continue
        terms = []
        for term in token.split("+"):
            coef, letter = _TERM.match(term).groups()
            terms.append((int(coef or 1), letter))
        dims.append(tuple(terms))
    single = all(d != "..." and len(d) == 1 for d in dims)
    return tuple(dims), tuple(d[0] for d in dims) if single else None


def _caller() -> str:
    """'rnn_step_forward: ', the package's public function whose check failed: the first caller
    outside this module that is neither private (_name) nor a check helper (check_*, *_specs);
    "" if the chain leaves the package first (computed only when a check fails)."""
    frame = sys._getframe(1)
    while frame is not None and (frame.f_globals is globals()
                                 or frame.f_code.co_name.startswith(("_", "<", "check_"))
                                 or frame.f_code.co_name.endswith("_specs")):
        frame = frame.f_back
    if frame is None or not frame.f_globals.get("__name__", "").startswith(__package__):
        return ""
    return f"{frame.f_code.co_name}: "


def refuse(message: str) -> ValueError:
    """The ValueError to raise for bad input: ``message`` after the name of the public function
    that was called (``raise refuse("mask selects no labels")``)."""
    return ValueError(_caller() + message)


def _tuple(parts: list[str]) -> str:
    comma = "," if len(parts) == 1 and parts[0] != "..." else ""  # (N,) as Python writes it
    return f"({', '.join(parts)}{comma})"


def _describe(dims: tuple) -> str:
    """"(N, T, 4H)": the letters as they were written."""
    return _tuple([terms if terms == "..." else
                   "+".join(f"{'' if c == 1 and x else c}{x or ''}" for c, x in terms)
                   for terms in dims])


class _Letters:
    """The sizes the letters of one ``check_arrays`` call took, and which argument set each."""

    def __init__(self) -> None:
        self.size: dict[str, tuple[int, str]] = {}  # letter -> (size, the argument that set it)
        self.dtype: tuple[np.dtype, str] | None = None  # the first float array's, and its name

    def expected(self, name: str, dims: tuple, shape: tuple) -> tuple[int, ...] | None:
        """The shape ``dims`` asks for, binding the letters first met in ``shape`` (-1 for an
        axis no size of its letter can meet); None if the number of axes differs."""
        lead = ()
        if dims and dims[0] == "...":
            dims = dims[1:]
            if len(shape) < len(dims):
                return None
            lead, shape = shape[: len(shape) - len(dims)], shape[len(shape) - len(dims):]
        elif len(shape) != len(dims):
            return None
        return lead + tuple(self._axis(name, terms, n) for terms, n in zip(dims, shape))

    def _axis(self, name: str, terms: tuple, actual: int) -> int:
        unknown = [(c, x) for c, x in terms if x is not None and x not in self.size]
        known = sum(c * (1 if x is None else self.size[x][0]) for c, x in terms
                    if x is None or x in self.size)
        if not unknown:
            return known
        (c, x), rest = unknown[0], actual - known
        if len(unknown) > 1 or rest < 0 or rest % c:
            return -1
        self.size[x] = (rest // c, name)
        return actual

    def blame(self, dims: tuple, name: str) -> str:
        """' (N is 2 in hd)' for the letters an earlier argument set."""
        letters = [x for terms in dims if terms != "..." for _, x in terms
                   if x in self.size and self.size[x][1] != name]
        said = [f"{x} is {self.size[x][0]} in {self.size[x][1]}" for x in dict.fromkeys(letters)]
        return f" ({', '.join(said)})" if said else ""


def _check_one(letters: _Letters, name: str, array: Any, axes: str, kind: type) -> None:
    dims, single = _parse(axes)
    if not isinstance(array, np.ndarray):
        raise refuse(f"{name} must be an ndarray of shape {_describe(dims)}, got "
                     f"{type(array).__name__}")
    shape = array.shape
    if single is not None and len(shape) == len(single):  # the common case, kept fast
        size, fits = letters.size, True
        for (c, x), n in zip(single, shape):
            if x is None or x in size:
                fits = n == c * (1 if x is None else size[x][0])
            elif n % c == 0:
                size[x] = (n // c, name)
            else:
                fits = False
            if not fits:
                break
    else:
        fits = letters.expected(name, dims, shape) == shape
    if not fits:
        expected = letters.expected(name, dims, shape)
        if expected is None:
            raise refuse(f"{name} must be {len(dims)}-D of shape {_describe(dims)}, got shape "
                         f"{array.shape}")
        shown = _tuple(["?" if n < 0 else str(n) for n in expected])
        raise refuse(f"{name} must have shape {_describe(dims)} = {shown}, got {array.shape}"
                     f"{letters.blame(dims, name)}")
    dtype = array.dtype
    if kind is float:
        if dtype.char not in "fd":
            raise refuse(f"{name} must be float32 or float64, got {dtype}")
        if letters.dtype is None:
            letters.dtype = (dtype, name)
        elif dtype is not letters.dtype[0] and dtype != letters.dtype[0]:
            raise refuse(f"{name} is {dtype} but {letters.dtype[1]} is {letters.dtype[0]}: "
                         "give every array one dtype")
    elif kind is bool:
        if dtype.char != "?":
            raise refuse(f"{name} must be a bool array, got {dtype}")
    elif dtype.kind not in "iu":
        raise refuse(f"{name} must hold integer token ids, got dtype {dtype}")


def check_arrays(**specs: tuple) -> dict[str, int]:
    """Check arrays against shapes written in letters; return the size each letter took.

    Each keyword is an argument's name and ``(array, letters)`` or ``(array, letters, kind)``:

    * ``letters``, one word per axis: a letter (``"N"``, ``"L_q"``), a multiple (``"4H"``), a
      sum (``"H+H_s"``) or a number; a leading ``"..."`` allows any leading axes. A letter takes
      its size from the first array that has it; every later use must agree (no broadcasting).
    * ``kind``: ``float`` (the default: float32 or float64, one dtype for all float arrays of
      the call), ``bool`` (masks) or ``int`` (token ids).
    * a tuple of arrays (a recurrent state) checks each one, named ``state[i]``.

    Examples
    --------
    >>> check_arrays(x=(np.zeros((2, 3)), "N D"), h_prev=(np.zeros((1, 4)), "N H"))
    Traceback (most recent call last):
    ValueError: h_prev must have shape (N, H) = (2, 4), got (1, 4) (N is 2 in x)
    """
    letters = _Letters()
    for name, spec in specs.items():
        array, axes, kind = spec if len(spec) == 3 else (*spec, float)
        if isinstance(array, tuple):
            for i, a in enumerate(array):
                _check_one(letters, f"{name}[{i}]", a, axes, kind)
        else:
            _check_one(letters, name, array, axes, kind)
    return {x: n for x, (n, _) in letters.size.items()}


def optional(**specs: tuple) -> dict[str, tuple]:
    """The specs whose array is not None: ``check_arrays(x=…, **optional(mask=(mask, "N T",
    bool)))`` checks ``mask`` only if one was given."""
    return {name: spec for name, spec in specs.items() if spec[0] is not None}


def check_ids(name: str, ids: np.ndarray, V: int, of: str) -> None:
    """Every id in [0, V): ``of`` says where V comes from ("the logits' last axis")."""
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise refuse(f"{name} must be token ids in [0, {V - 1}] (V = {V}, {of}), got min "
                     f"{ids.min()} and max {ids.max()}")


def check_mask(name: str, mask: Any, shape: tuple[int, ...], letters: str) -> None:
    """A bool ndarray that broadcasts to exactly ``shape`` (named ``letters``, e.g. "(N, T, S)")."""
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        raise refuse(f"{name} must be a bool ndarray (True = may attend) broadcastable to "
                     f"{letters} = {shape}, got {getattr(mask, 'dtype', type(mask).__name__)}")
    # broadcasts to exactly `shape`: no more axes, and each of its axes is 1 or shape's size
    fits = mask.ndim <= len(shape) and all(
        m in (1, n) for m, n in zip(mask.shape[::-1], shape[::-1]))
    if not fits:
        raise refuse(f"{name} of shape {mask.shape} does not broadcast to {letters} = {shape}")


def check_grads(**grads: tuple) -> None:
    """Upstream gradients against the shapes of the outputs they belong to: each keyword is
    ``(gradient, shape, output name)``, e.g. ``dh=(dh, cache.h.shape, "h")``."""
    for name, (grad, shape, output) in grads.items():
        if not isinstance(grad, np.ndarray) or grad.dtype.char not in "fd":
            raise refuse(f"{name} must be a float32 or float64 ndarray of shape {shape} (the "
                         f"forward's {output}), got {getattr(grad, 'dtype', type(grad).__name__)}")
        if grad.shape != shape:
            raise refuse(f"{name} must have the shape of the forward's {output}, {shape}, got "
                         f"{grad.shape}")


def check_keys(name: str, mapping: Any, keys: Collection[str], why: str) -> None:
    """A dict holding every one of ``keys`` (``why``: who needs them)."""
    if not isinstance(mapping, Mapping):
        raise refuse(f"{name} must be a dict of parameters, got {type(mapping).__name__}")
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise refuse(f"{name} lacks {', '.join(map(repr, missing))} ({why}); it has "
                     f"{sorted(mapping)}")


def check_cache(cache: Any, cls: type, forward: str) -> None:
    """The cache a forward returned, of the NamedTuple class its backward reads."""
    if not isinstance(cache, cls):
        raise refuse(f"cache must be the {cls.__name__} that {forward} returned, got "
                     f"{type(cache).__name__}")
