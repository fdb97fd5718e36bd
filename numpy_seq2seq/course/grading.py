"""What every check shares: calling a student's function safely, comparing what it returns with
the reference, and saying in one or two lines what is wrong.

A check raises ``CheckFailed`` with a message such as::

    rnn_step_backward: dWh is wrong (relative error 9.1e-01): it equals the transpose of the
    correct gradient.

In a notebook, ``Result.show`` prints a check's one line: ``✔ …`` on stdout when it passes,
``✘ …`` on stderr when it fails, and the notebook runs on. Under nbgrader (which sets
``NBGRADER_EXECUTION`` while it runs a notebook) a failing check instead raises its
``CheckFailed``, which IPython shows as that same one line (no traceback): an error is what
nbgrader scores 0, and unlike a line on stderr it cannot be hidden by redirecting a stream.
Relative errors are ``gradcheck.rel_error``: ‖a − b‖ / (‖a‖ + ‖b‖).
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..gradcheck import rel_error

TOL_FORWARD = 1e-10  # a forward against the reference, float64
TOL_REFERENCE = 1e-8  # a backward against the reference gradients, float64
TOL_NUMERIC = 1e-7  # a backward against centred differences of a forward
MATCH = 1e-6  # "equals" when naming a fault (the transpose, a known mistake, ...)


class CheckFailed(Exception):
    """A check found a fault; ``str(e)`` is the message for the student."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the message, on one line."""
        return [f"✘ {self}"]


class NotImplementedYet(CheckFailed):
    """The function still raises NotImplementedError."""


@dataclass(frozen=True)
class Result:
    """The outcome of one check."""

    name: str  # the exercise, e.g. "rnn_step_backward"
    passed: bool
    message: str  # one or two lines
    # False when the function is not there to judge: missing, not implemented, not the
    # student's own; only an attempt that fails has the library's stand in for it (payoff.py)
    attempted: bool = True

    def show(self) -> None:
        """Print ``✔ message``; failing, raise ``CheckFailed(message)`` under nbgrader, else
        print ``✘ message`` on stderr (see the module docstring)."""
        # one write per line: print() writes the text and its newline apart, and a busy kernel
        # can send them as two outputs, which is not one line to whoever reads the cell
        if self.passed:
            sys.stdout.write(f"✔ {self.message}\n")
        elif os.environ.get("NBGRADER_EXECUTION"):
            raise CheckFailed(self.message)
        else:
            sys.stderr.write(f"✘ {self.message}\n")


# ---------------------------------------------------------------------------------------------
# calling student code

@dataclass(frozen=True)
class Raised:
    """What a student's function raised, described in words (it may have been raised in another
    process: see sandbox.py)."""

    kind: str  # the exception's class name; "NotImplementedError" for it and its subclasses
    message: str  # its first line
    raised_in: str | None  # the function whose own code raised it
    where: str  # " (line 7: `da = dh * cache.h`)": the last line of the student's code that ran

    @classmethod
    def of(cls, e: BaseException, fn: Callable) -> Raised:
        kind = "NotImplementedError" if isinstance(e, NotImplementedError) else type(e).__name__
        return cls(kind, _first_line(e), _raised_in(e), _where(e, fn))

    def failure(self, name: str, fn_name: str) -> CheckFailed:
        """The one-line CheckFailed for exercise ``name``."""
        if self.kind == "NotImplementedError":
            if self.raised_in and self.raised_in != fn_name:
                return NotImplementedYet(f"{name} calls {self.raised_in}, which is not "
                                         "implemented yet (it raises NotImplementedError).")
            return NotImplementedYet(f"{name}: not implemented yet (it raises "
                                     "NotImplementedError).")
        return CheckFailed(f"{name} raised {self.kind}: {self.message}{self.where}")


class StudentRaised(Exception):
    """Raised in the grader for what a student's function raised in its own process."""

    def __init__(self, raised: Raised) -> None:
        super().__init__(f"{raised.kind}: {raised.message}")
        self.raised = raised


def call(name: str, fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)``, with what it raises turned into a one-line ``CheckFailed``.

    Warnings are recorded, not shown: they are not the student's fault to read about here.
    """
    try:
        with warnings.catch_warnings(record=True), np.errstate(all="ignore"):
            warnings.simplefilter("always")
            return fn(*args, **kwargs)
    except CheckFailed:
        raise
    except StudentRaised as e:
        raised = e.raised
    except Exception as e:  # anything the student's code raises is reported, not re-raised
        raised = Raised.of(e, fn)
    raise raised.failure(name, getattr(fn, "__name__", name))


def count_calls(fn: Callable, name: str, calls: Counter) -> Callable:
    """``fn``, adding 1 to ``calls[name]`` each time it is called."""
    @functools.wraps(fn)
    def counted(*args, **kwargs):
        calls[name] += 1
        return fn(*args, **kwargs)
    return counted


def _raised_in(e: BaseException) -> str | None:
    """The name of the function whose own code raised ``e``."""
    frames = traceback.extract_tb(e.__traceback__)
    return frames[-1].name if frames else None


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else "(no message)"


def _where(e: BaseException, fn: Callable) -> str:
    """`` (line 7: `da = dh * cache.h`)``: the last line of ``fn``'s own file that ran."""
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        return ""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == code.co_filename]
    if not frames:
        return ""
    last = frames[-1]
    return f" (line {last.lineno}: `{last.line.strip()}`)" if last.line else ""


def unpack(name: str, out, names: Sequence[str]) -> tuple:
    """Check that ``out`` is a tuple of ``len(names)`` values and return it."""
    if not isinstance(out, (tuple, list)) or len(out) != len(names):
        got = f"a {type(out).__name__} of {len(out)}" if isinstance(out, (tuple, list)) \
            else f"a {type(out).__name__}"
        raise CheckFailed(f"{name} should return {len(names)} values ({', '.join(names)}); "
                          f"it returned {got}.")
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# comparing

@dataclass(frozen=True)
class Layout:
    """How one axis of an array splits into named parts, so a message can say where it is wrong.

    ``blocks`` True: the axis is ``len(labels)`` equal blocks (gates i, f, g, o); False: each
    index is one part (time steps, rows), and ``labels`` is a one-word name for an index.
    """

    axis: int
    labels: tuple[str, ...]
    blocks: bool = True


def as_array(label: str, got, want: np.ndarray) -> np.ndarray:
    """``got`` as an ndarray of ``want``'s shape, or CheckFailed saying what it is instead."""
    if np.isscalar(want) or np.ndim(want) == 0:
        if not np.isscalar(got) and np.ndim(got) != 0:
            raise CheckFailed(f"{label} should be a number, got an array of shape "
                              f"{np.shape(got)}.")
        return np.asarray(got)
    if not isinstance(got, np.ndarray):
        raise CheckFailed(f"{label} should be an ndarray of shape {want.shape}, got "
                          f"{type(got).__name__}.")
    if got.shape != want.shape:
        swapped = got.ndim >= 2 and got.shape == want.shape[:-2] + want.shape[-2:][::-1]
        raise CheckFailed(f"{label} has shape {got.shape}, expected {want.shape}"
                          + (" (its last two axes are swapped)." if swapped else "."))
    return got


def errors(got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Relative error per entry (NaN or inf counts as 1)."""
    out = {}
    for k, w in want.items():
        g = np.asarray(got[k], dtype=np.float64)
        out[k] = 1.0 if not np.all(np.isfinite(g)) else rel_error(g, w)
    return out


def matches(got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray]) -> bool:
    """True if every entry of ``got`` equals ``want``'s to within ``MATCH``."""
    return max(errors(got, want).values(), default=0.0) <= MATCH


def difference(got: np.ndarray, want: np.ndarray, layout: Layout | None = None) -> str | None:
    """A few words on how ``got`` differs from ``want``: not finite, all zeros, transposed, of
    the wrong sign or scale, or wrong only in some parts of ``layout``'s axis."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        bad = int((~np.isfinite(got)).sum())
        return f"{bad} of its {got.size} entries are NaN or infinite"
    if not got.any() and want.any():
        return "it is all zeros"
    if got.ndim >= 2 and got.shape[-1] == got.shape[-2] and \
            rel_error(got, want.swapaxes(-1, -2)) <= MATCH:
        return "it equals the transpose of the correct gradient" if got.ndim == 2 \
            else "it equals the correct value with its last two axes swapped"
    if rel_error(got, -want) <= MATCH:
        return "it has the wrong sign"
    scale = float(np.vdot(got, want) / max(np.vdot(want, want), 1e-300))
    if rel_error(got, scale * want) <= MATCH:
        return f"it is {scale:.4g} times the correct value"
    return _where_wrong(got, want, layout) if layout else None


def _where_wrong(got: np.ndarray, want: np.ndarray, layout: Layout) -> str | None:
    parts = np.array_split(np.arange(got.shape[layout.axis]), len(layout.labels)) \
        if layout.blocks else [[i] for i in range(got.shape[layout.axis])]
    labels = _part_labels(layout, len(parts))
    wrong = []
    for idx, label in zip(parts, labels):
        g, w = np.take(got, idx, axis=layout.axis), np.take(want, idx, axis=layout.axis)
        if rel_error(g, w) > MATCH:
            wrong.append(label)
    if not wrong or len(wrong) == len(parts):
        return None
    right = [lab for lab in labels if lab not in wrong]
    return f"wrong in {', '.join(wrong)}; right in {', '.join(right)}"


def _part_labels(layout: Layout, n: int) -> list[str]:
    if layout.blocks:
        return [f"the {lab} block" for lab in layout.labels]
    return [f"{layout.labels[0]} {i}" for i in range(n)]


def wrong_message(name: str, errs: Mapping[str, float], tol: float, detail: str | None) -> str:
    """``name: dWh, db are wrong (worst relative error 3.1e-01 in dWh): <detail>.``"""
    wrong = [k for k, e in errs.items() if e > tol]
    worst = max(wrong, key=errs.get)
    if len(wrong) == 1:
        head = f"{name}: {worst} is wrong (relative error {errs[worst]:.1e})"
    else:
        head = (f"{name}: {', '.join(wrong)} are wrong (worst relative error "
                f"{errs[worst]:.1e} in {worst})")
    return head + (f": {detail.rstrip('.')}." if detail else ".")


# ---------------------------------------------------------------------------------------------
# inputs left alone, dtypes kept

def _map_arrays(fn: Callable[[np.ndarray], np.ndarray], obj):
    """``obj`` rebuilt with ``fn(a)`` for every array ``a`` inside its tuples, lists, dicts and
    NamedTuples (anything else is kept as it is)."""
    if isinstance(obj, np.ndarray):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: _map_arrays(fn, v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_map_arrays(fn, v) for v in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(_map_arrays(fn, v) for v in obj)
    return obj


def snapshot(obj):
    """A deep copy of the arrays inside tuples, lists, dicts and NamedTuples."""
    return _map_arrays(lambda a: a.copy(), obj)


def first_change(before, after, path: str) -> str | None:
    """The path (``cache.h``, ``p['W_c']``) of the first array that differs, or None."""
    if isinstance(before, np.ndarray):
        same = isinstance(after, np.ndarray) and before.shape == after.shape and \
            np.array_equal(before, after, equal_nan=True)
        return None if same else path
    if isinstance(before, dict):
        return next((c for k in before if (c := first_change(before[k], after[k],
                                                             f"{path}[{k!r}]"))), None)
    if isinstance(before, tuple) and hasattr(before, "_fields"):
        return next((c for k in before._fields if (c := first_change(
            getattr(before, k), getattr(after, k), f"{path}.{k}"))), None)
    if isinstance(before, (tuple, list)):
        return next((c for i, (b, a) in enumerate(zip(before, after))
                     if (c := first_change(b, a, f"{path}[{i}]"))), None)
    return None


def require_unchanged(name: str, before: Mapping, after: Mapping) -> None:
    """CheckFailed naming the first input the function wrote into."""
    for key in before:
        where = first_change(before[key], after[key], key)
        if where:
            raise CheckFailed(f"{name} modifies its input {where} in place; write results into "
                              "new arrays (e.g. `da = dh * ...`, not `dh *= ...`).")


def to_dtype(obj, dtype):
    """A copy of ``obj`` with every floating-point array cast to ``dtype``."""
    return _map_arrays(lambda a: a.astype(dtype) if a.dtype.kind == "f" else a, obj)


def require_float32(name: str, outputs: Mapping[str, object]) -> None:
    """CheckFailed naming the first floating-point output that is not float32."""
    for label, value in outputs.items():
        dtype = getattr(value, "dtype", None)
        if dtype is not None and dtype.kind == "f" and dtype != np.float32:
            raise CheckFailed(f"{name} returns {label} as {dtype} for float32 inputs; keep the "
                              "inputs' dtype (np.zeros(shape) is float64: use "
                              "np.zeros_like(x) or dtype=x.dtype).")
