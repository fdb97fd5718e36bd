"""Own work only: whether a student's function is, or calls, the library's own version of an
exercise.

An exercise scores 0, with one line saying why, when its function

* is the library's (imported from ``numpy_seq2seq``, or any function defined in a module of
  ``numpy_seq2seq``), also when wrapped (``functools.partial``, ``functools.wraps``, a bound
  method) or rebuilt around the library's code object; or
* calls, through a name bound in the answer cells (a global, a default argument, a closure
  variable, an attribute of an imported ``numpy_seq2seq`` module), a function of the library's
  implementation modules that the notebooks do not hand out, such as the library's
  ``rnn_step_backward`` or ``recurrent_forward``; directly, or through other functions of the
  answer cells. The globals named after the other exercises it builds on
  (``functional_checks.CALLS``: ``rnn_backward`` calls ``rnn_step_backward``) are not looked
  at: those exercises are graded, and charged, on their own.

What the notebooks import for the student (``RNNCache``, ``SCORE_BACKWARD``, ``log_softmax``, …:
``GIVEN``) and everything outside the implementation modules (``sigmoid``, ``gradcheck``) may be
used. The test is made on the function objects (their ``__module__``, code objects and the names
their code loads), never on the source text; it does not follow names built at run time
(``getattr(module, "rnn_" + "step_backward")``, ``importlib``), and it cannot tell an answer
retyped from the library's source from one derived: the library is the reference implementation,
and the course is built on reading it (course/README.md, "Own work").
"""

from __future__ import annotations

import dis
import functools
import importlib
import inspect
import types
from collections.abc import Callable

from ..decoding import beam_search, greedy_decode
from ..functional.recurrent import rnn_backward, rnn_forward
from ..substitute import REPLACEABLE
from .functional_checks import CALLS

LIBRARY = "numpy_seq2seq"
# where the library implements the exercises: its functions there are not the student's to call
IMPLEMENTATION = tuple(f"{LIBRARY}.{m}" for m in (
    "functional.rnn", "functional.lstm", "functional.gru", "functional.softmax",
    "functional.attention", "functional.recurrent", "functional.layers", "decoding", "model",
    "substitute", "course"))
# what the assignments' own import cells hand to the student (course/source/*/*.ipynb)
GIVEN = frozenset({"RNNCache", "LSTMCache", "GRUCache", "SoftmaxCache", "CrossEntropyCache",
                   "DotCache", "GeneralCache", "ConcatCache", "AttentionCache", "SCORE_FORWARD",
                   "SCORE_BACKWARD", "MASK_FILL", "log_softmax", "Hypothesis", "check",
                   "check_training", "check_translator", "student_functions",
                   "train_translator", "shipped_model"})
# the library's implementations of the exercises, and the public functions that call them
_LIBRARY_FUNCTIONS = [*REPLACEABLE.items(), ("rnn_forward", rnn_forward),
                      ("rnn_backward", rnn_backward), ("greedy_decode", greedy_decode),
                      ("beam_search", beam_search)]


def _code_of(fn: Callable) -> types.CodeType | None:
    return getattr(inspect.unwrap(fn), "__code__", None)


_LIBRARY_CODE = {code: f"{fn.__module__}.{name}" for name, fn in _LIBRARY_FUNCTIONS
                 if (code := _code_of(fn)) is not None}


def borrowed(name: str, fn: object) -> str | None:
    """The one-line reason ``fn``, the student's function for exercise ``name``, is not their
    own work, or None. ``fn`` may be the grader's stand-in for a function in the student's
    process (sandbox.py), which carries the reason the student's process found."""
    from .sandbox import RemoteFunction  # late: the worker imports this module too

    if isinstance(fn, RemoteFunction):  # decided in the student's process, where fn lives
        return fn.borrowed
    try:
        return _borrowed(name, fn)
    except Exception as e:  # noqa: BLE001 - a student's object may raise on any attribute
        return (f"{name} could not be inspected as your own function ({type(e).__name__}), so "
                "it scores 0: define it with a plain `def` in its answer cell.")


def _borrowed(name: str, fn: object) -> str | None:
    own = _unwrap(fn)
    if (where := _library_name(own, any_function=True)) is not None:
        return (f"{name} is the library's {where}, not your own work (it scores 0): write it "
                "in its answer cell.")
    found = _library_calls(own, set(), frozenset(CALLS.get(name, ())))
    if found is None:
        return None
    via, where = found
    return (f"{name} calls the library's {where}{via}, so it is not your own work (it scores "
            "0): use your own functions and the helpers the notebook imports.")


def _unwrap(fn: object) -> object:
    """The function under partials, bound methods and ``functools.wraps`` wrappers."""
    for _ in range(50):
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif inspect.ismethod(fn):
            fn = fn.__func__
        elif isinstance(getattr(fn, "__wrapped__", None), Callable):
            fn = fn.__wrapped__
        else:
            break
    return fn


def _library_name(obj: object, any_function: bool = False) -> str | None:
    """``numpy_seq2seq.functional.rnn.rnn_step_backward`` if ``obj`` is such a library function
    (any function of the package's if ``any_function``, else one of its implementation modules
    that the notebooks do not hand out), else None."""
    obj = _unwrap(obj)
    code = getattr(obj, "__code__", None)
    if isinstance(code, types.CodeType) and code in _LIBRARY_CODE:
        return _LIBRARY_CODE[code]
    if not callable(obj) or isinstance(obj, type):
        return None
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str) or not (module == LIBRARY or module.startswith(LIBRARY + ".")):
        return None
    fn_name = getattr(obj, "__name__", "?")
    if any_function or (fn_name not in GIVEN and module.startswith(IMPLEMENTATION)):
        return f"{module}.{fn_name}"
    return None


def _codes(code: types.CodeType):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


_GLOBAL_OPS = {"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"}


def _loads(fn: types.FunctionType) -> tuple[set[str], set[str], set[str]]:
    """(the global names ``fn``'s code, nested functions included, loads; the attribute names
    it loads; the modules it imports): ``cache.h`` is an attribute, not the global ``h``."""
    globals_, attributes, imports = set(), set(), set()
    for code in _codes(fn.__code__):
        for ins in dis.get_instructions(code):
            if ins.opname in _GLOBAL_OPS:
                globals_.add(ins.argval)
            elif ins.opname in ("LOAD_ATTR", "LOAD_METHOD", "IMPORT_FROM"):
                attributes.add(ins.argval)
            elif ins.opname == "IMPORT_NAME":
                imports.add(ins.argval)
    return globals_, attributes, imports


def _library_calls(fn: object, seen: set[int], graded: frozenset[str]
                   ) -> tuple[str, str] | None:
    """(" through `name`", the library function) for the first library function ``fn`` can
    reach through the names its code loads, or None. A global of a name in ``graded`` (another
    exercise, graded on its own) is not followed: delegating it is charged there."""
    if id(fn) in seen or not isinstance(fn, types.FunctionType):
        return None
    seen.add(id(fn))
    names, attributes, imports = _loads(fn)
    bound: list[tuple[str, object]] = [(n, fn.__globals__[n]) for n in sorted(names)
                                       if n in fn.__globals__ and n not in graded]
    bound += [(m, importlib.import_module(m)) for m in sorted(imports)  # imports inside fn
              if isinstance(m, str) and (m == LIBRARY or m.startswith(LIBRARY + "."))]
    bound += [(c, cell.cell_contents) for c, cell in zip(fn.__code__.co_freevars,
                                                          fn.__closure__ or ())
              if _filled(cell)]
    bound += [(f"a default of {fn.__name__}", d) for d in (fn.__defaults__ or ())]
    bound += [(k, d) for k, d in (fn.__kwdefaults__ or {}).items()]
    for label, value in _with_module_attributes(bound, attributes):
        if (where := _library_name(value)) is not None:
            return ("" if label in (where, where.rsplit(".", 1)[-1]) else f" (as `{label}`)"), where
        inner = _unwrap(value)
        if isinstance(inner, types.FunctionType) and inner.__globals__ is fn.__globals__:
            found = _library_calls(inner, seen, graded)  # another function of the answers
            if found is not None:
                return found
    return None


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018
        return True
    except ValueError:
        return False


def _with_module_attributes(bound: list, names: set[str]) -> list[tuple[str, object]]:
    """``bound``, plus ``module.attr`` for every attribute the code loads of a library module
    among them (``R.rnn_step_backward`` after ``import numpy_seq2seq.functional.rnn as R``)."""
    out, queue = list(bound), [(label, v) for label, v in bound if _is_library_module(v)]
    seen = {id(v) for _, v in queue}
    while queue:
        label, module = queue.pop()
        for attr in sorted(names):
            value = getattr(module, attr, None)
            if value is None:
                continue
            out.append((f"{label}.{attr}", value))
            if _is_library_module(value) and id(value) not in seen:
                seen.add(id(value))
                queue.append((f"{label}.{attr}", value))
    return out


def _is_library_module(value: object) -> bool:
    return isinstance(value, types.ModuleType) and (
        value.__name__ == LIBRARY or value.__name__.startswith(LIBRARY + "."))
