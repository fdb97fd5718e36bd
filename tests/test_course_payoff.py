"""The payoff's graded checks: training with the student's functions must give the library's
numbers, and the translator must reach the target at the full budget; a wrong function that
slipped through, a missing one, or a short run each lose the points."""

from collections import Counter
from pathlib import Path

import wrong_solutions

from numpy_seq2seq.course.payoff import (
    NEEDED,
    Collected,
    TranslatorRun,
    evaluate_training,
    evaluate_translator,
)
from numpy_seq2seq.substitute import REPLACEABLE


def _library(**replace) -> Collected:
    functions = {name: REPLACEABLE[name] for name in NEEDED} | replace
    return Collected(functions, dict.fromkeys(functions, "test"))


def test_the_library_functions_train_like_the_library():
    result = evaluate_training(_library())
    assert result.passed, result.message


def test_twin_a_wrong_function_changes_the_training():
    result = evaluate_training(_library(
        attention_backward=wrong_solutions.attention_backward_no_tanh_derivative))
    assert not result.passed
    assert "differs from training with the library's" in result.message


def test_a_missing_function_scores_zero_and_says_which():
    mine = _library()
    del mine.functions["lstm_step_backward"]
    mine.missing["lstm_step_backward"] = "a2_gates/gates_and_loss.ipynb: not implemented yet"
    result = evaluate_training(mine)
    assert not result.passed and "lstm_step_backward" in result.message
    assert "1 of the 9 functions" in result.message


def _run(budget: str, exact_match: float, missing=None) -> TranslatorRun:
    return TranslatorRun(budget, exact_match, 60.0, Counter(dict.fromkeys(NEEDED, 5)),
                         Path("runs/x"), missing or {})


def test_the_translator_needs_99_percent_at_the_full_budget():
    assert evaluate_translator(_run("full", 0.995)).passed
    below = evaluate_translator(_run("full", 0.98))
    assert not below.passed and "below the 99% target" in below.message
    assert evaluate_translator(_run("ci", 0.0)).passed  # ci: a short run must only complete
    skipped = evaluate_translator(_run("full", float("nan"), {"greedy_decode": "not found"}))
    assert not skipped.passed and "not trained" in skipped.message
