"""The checks the assignments' graded cells run: ``check("rnn_step_backward", rnn_step_backward)``.

``check`` prints one line: ``✔ …`` when the function passes, ``✘ …`` (on stderr) when it does
not, and the notebook runs on; a function that still raises NotImplementedError fails in that
one line. Under nbgrader a failing check raises instead, shown as the same one line, which
nbgrader scores 0 (see grading.py). ``evaluate`` returns the ``Result``: ``numpy-seq2seq course
grade`` calls it in its own process on the student's functions (autograde.py), and tests and
scripts use it.

Every check grades the function it is given, never the library's; the checks of one exercise
are described where it is defined (``functional_checks.py``, ``decoding_checks.py``,
``payoff.py``).
"""

from __future__ import annotations

import contextlib
import inspect
import types
from collections.abc import Callable, Collection, Iterable, Iterator

from ..substitute import signature_problem
from .decoding_checks import check_decoder
from .functional_checks import CALLS, FUNCTION_PAIRS, check_backward, check_forward, reference
from .grading import CheckFailed, NotImplementedYet, Result
from .ownership import borrowed
from .sandbox import RemoteFunction

EXERCISES = tuple(FUNCTION_PAIRS) + ("greedy_decode", "beam_search")


def evaluate(name: str, fn: Callable, forward: Callable | None = None,
             own_work: bool = True, failed: Collection[str] | None = None) -> Result:
    """Run the check of exercise ``name`` on ``fn``.

    Parameters
    ----------
    name : the exercise, which is the library function's name, e.g. "rnn_step_backward"
    fn : the student's function of that name
    forward : for a backward, the student's forward (its centred differences check the backward;
        for ``rnn_backward`` it also makes the cache)
    own_work : fail a function that is, or calls, the library's own (ownership.py); False only
        to check the library against itself
    failed : the exercises of ``CALLS[name]`` that fail their checks (the grader knows them);
        default: found by checking those of ``fn``'s namespace here
    """
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; the exercises are {', '.join(EXERCISES)}")
    stand_in: list[str] = []
    try:
        if not callable(fn):
            raise CheckFailed(f"{name} should be a function, got {type(fn).__name__}.")
        if own_work and (problem := borrowed(name, fn)):
            return Result(name, False, problem, attempted=False)
        problem = signature_problem(fn, reference(name))
        if problem:
            raise CheckFailed(f"{name}'s signature differs from the library's: {problem}.")
        stand_in = _failing_calls(name, fn, failed, own_work)
        with standing_in([fn], stand_in):
            return Result(name, True, _run(name, fn, forward) + stood_in_note(stand_in))
    except NotImplementedYet as e:  # nothing was graded: no note on what stood in
        return Result(name, False, str(e), attempted=False)
    except CheckFailed as e:
        return Result(name, False, str(e) + stood_in_note(stand_in))


def stood_in_note(names: Iterable[str]) -> str:
    """`` Graded with the reference rnn_step_backward, since yours fails its check.``"""
    names = list(names)
    if not names:
        return ""
    return (f" Graded with the reference {', '.join(names)}, since yours "
            f"{'fails its check' if len(names) == 1 else 'fail their checks'}.")


def _failing_calls(name: str, fn: Callable, failed: Collection[str] | None,
                   own_work: bool) -> list[str]:
    calls = CALLS.get(name, ())
    if failed is not None:
        return [d for d in calls if d in failed]
    namespace = _namespace(fn)
    if namespace is None:
        return []
    out = []
    for dep in calls:
        dep_fn = namespace.get(dep)
        pair = FUNCTION_PAIRS[dep]
        dep_forward = namespace.get(pair.forward) if dep == pair.backward else None
        if not callable(dep_fn) or not evaluate(dep, dep_fn, dep_forward, own_work,
                                                failed=()).passed:
            out.append(dep)
    return out


def _namespace(fn: object) -> dict | None:
    """The globals ``fn``'s code runs in (the answer cells' namespace), or None."""
    inner = inspect.unwrap(fn) if callable(fn) else fn
    return inner.__globals__ if isinstance(inner, types.FunctionType) else None


@contextlib.contextmanager
def standing_in(functions: Iterable[Callable], names: Collection[str]) -> Iterator[None]:
    """While the block runs, ``names`` in the namespaces of ``functions`` (the student's answer
    cells, here or in the grader's sandbox) are bound to the library's functions of those names;
    afterwards, to what they were."""
    if not names:
        yield
        return
    with contextlib.ExitStack() as stack:
        seen: set[int] = set()
        for fn in functions:
            if isinstance(fn, RemoteFunction):
                key = id(fn.sandbox) * 1000 + fn.ns
                if key not in seen:
                    seen.add(key)
                    stack.enter_context(fn.sandbox.standing_in(fn.ns, list(names)))
            elif (namespace := _namespace(fn)) is not None and id(namespace) not in seen:
                seen.add(id(namespace))
                stack.enter_context(_rebound(namespace, names))
        yield


@contextlib.contextmanager
def _rebound(namespace: dict, names: Collection[str]) -> Iterator[None]:
    missing = object()
    saved = {n: namespace.get(n, missing) for n in names}
    namespace.update({n: reference(n) for n in names})
    try:
        yield
    finally:
        for n, value in saved.items():
            if value is missing:
                namespace.pop(n, None)
            else:
                namespace[n] = value


def _run(name: str, fn: Callable, forward: Callable | None) -> str:
    if name in ("greedy_decode", "beam_search"):
        return check_decoder(name, fn)
    pair = FUNCTION_PAIRS[name]
    if name == pair.forward:
        return check_forward(pair, fn)
    return check_backward(pair, fn, forward)


def check(name: str, fn: Callable, forward: Callable | None = None) -> None:
    """Check exercise ``name``: print its one line, or raise it (see the module docstring)."""
    evaluate(name, fn, forward).show()
