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

from collections.abc import Callable

from ..substitute import signature_problem
from .decoding_checks import check_decoder
from .functional_checks import FUNCTION_PAIRS, check_backward, check_forward, reference
from .grading import CheckFailed, Result
from .ownership import borrowed

EXERCISES = tuple(FUNCTION_PAIRS) + ("greedy_decode", "beam_search")


def evaluate(name: str, fn: Callable, forward: Callable | None = None,
             own_work: bool = True) -> Result:
    """Run the check of exercise ``name`` on ``fn``.

    Parameters
    ----------
    name : the exercise, which is the library function's name, e.g. "rnn_step_backward"
    fn : the student's function of that name
    forward : for a backward, the student's forward (its centred differences check the backward;
        for ``rnn_backward`` it also makes the cache)
    own_work : fail a function that is, or calls, the library's own (ownership.py); False only
        to check the library against itself
    """
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; the exercises are {', '.join(EXERCISES)}")
    try:
        if not callable(fn):
            raise CheckFailed(f"{name} should be a function, got {type(fn).__name__}.")
        if own_work and (problem := borrowed(name, fn)):
            raise CheckFailed(problem)
        problem = signature_problem(fn, reference(name))
        if problem:
            raise CheckFailed(f"{name}'s signature differs from the library's: {problem}.")
        return Result(name, True, _run(name, fn, forward))
    except CheckFailed as e:
        return Result(name, False, str(e))


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
