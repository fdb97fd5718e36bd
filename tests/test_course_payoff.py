"""The payoff's graded checks: training with the student's functions must give the library's
numbers, and the translator must reach the target at the full budget; a wrong function that
slipped through, a missing one, or a short run each lose the points; the earlier assignments'
answers are found in nbgrader's layout."""

import shutil
from collections import Counter
from importlib import resources
from pathlib import Path

from numpy_seq2seq.course.notebooks import notebooks, read_notebook, write_notebook
from numpy_seq2seq.course.payoff import (
    NEEDED,
    Collected,
    TranslatorRun,
    evaluate_training,
    evaluate_translator,
    student_functions,
    translator_exact_match,
)
from numpy_seq2seq.substitute import REPLACEABLE

import wrong_solutions
from wrong_solutions import put_answer


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


def test_earlier_answers_are_found_in_nbgrader_autograde_layout(course_dir):
    """autograded/<student>/a4 finds submitted/<student>/a1 and a3; a2 is missing; a3's
    attention_backward is wrong: each function says where it came from or why not."""
    root = course_dir / "nbgrader-layout"
    for a in ("a1_rnn", "a3_attention"):
        shutil.copytree(course_dir / "source" / a, root / "submitted" / "alice" / a)
    (path,) = notebooks(root / "submitted" / "alice" / "a3_attention")
    nb = read_notebook(path)
    put_answer(nb, "attention_backward", wrong_solutions.attention_backward_no_tanh_derivative)
    write_notebook(nb, path)
    here = root / "autograded" / "alice" / "a4_translator"
    here.mkdir(parents=True)
    mine = student_functions(here=here)
    assert mine.origin["rnn_step_backward"] == "a1_rnn/rnn_and_bptt.ipynb"
    assert mine.origin["general_score_backward"] == "a3_attention/attention.ipynb"
    assert mine.missing["lstm_step_backward"].startswith("not found (no a2_gates folder")
    # a wrong answer, charged in a3: the library's stands in for it in the payoff
    assert "tanh′ of h̃ is missing" in mine.stood_in["attention_backward"]
    assert "attention_backward" not in mine.missing and "attention_backward" not in \
        mine.needed_missing()
    assert set(mine.needed_missing()) == {"lstm_step_backward", "cross_entropy_forward",
                                          "cross_entropy_backward", "greedy_decode"}


def test_earlier_answers_come_from_the_same_students_flat_downloads(course_dir, tmp_path):
    """A platform's flat folder (renamed files, any order): course grade's grouping gives a4
    alice's a1–a3 notebooks, told apart by metadata; without it (the twin) the folders beside
    are looked for and not found; two a2 notebooks of one student are not guessed between."""
    from numpy_seq2seq.course.notebooks import source_of
    from numpy_seq2seq.course.submissions import earlier_notebooks, student_of

    flat = tmp_path / "downloads"
    flat.mkdir()
    names = {"a1_rnn": "alice_111_rnn_and_bptt.ipynb", "a2_gates": "alice_111_LATE_gates.ipynb",
             "a3_attention": "alice_111_attention-1.ipynb",
             "a4_translator": "alice_111_decoding_and_payoff.ipynb"}
    for assignment, name in names.items():
        shutil.copy(notebooks(course_dir / "source" / assignment)[0], flat / name)
    shutil.copy(notebooks(course_dir / "release" / "a2_gates")[0], flat / "bob_222_gates.ipynb")
    shutil.copy(notebooks(course_dir / "release" / "a2_gates")[0], flat / "bob_222_gates-2.ipynb")
    shutil.copy(notebooks(course_dir / "release" / "a4_translator")[0], flat / "bob_222_a4.ipynb")
    paths = sorted(flat.iterdir())
    src = {p: source_of(p, nb=read_notebook(p)) for p in paths}
    assignment_of = {p: s.parent.name for p, s in src.items()}
    whose = {p: student_of(p, assignment_of[p], s.name) for p, s in src.items()}
    earlier = earlier_notebooks(assignment_of, whose, "a4_translator",
                                ("a1_rnn", "a2_gates", "a3_attention"))
    alice, bob = flat / names["a4_translator"], flat / "bob_222_a4.ipynb"
    assert set(earlier) == {alice, bob}
    assert earlier[alice] == {a: flat / names[a] for a in ("a1_rnn", "a2_gates", "a3_attention")}
    assert list(earlier[bob]) == ["a2_gates"] and "2 a2_gates notebooks of bob" in \
        earlier[bob]["a2_gates"]
    mine = student_functions(here=flat, earlier=earlier[alice])
    assert mine.needed_missing() == {"greedy_decode": "not defined in an answer cell"}
    assert mine.origin["lstm_step_backward"] == "a2_gates/gates_and_loss.ipynb"
    alone = student_functions(here=flat)  # the twin: no grouping, no folders beside
    assert alone.missing["rnn_step_backward"].startswith("not found (no a1_rnn folder found")
    theirs = student_functions(here=flat, earlier=earlier[bob])
    assert "2 a2_gates notebooks of bob" in theirs.missing["lstm_step_backward"]


def test_the_translator_is_scored_on_fresh_dates_by_the_library():
    """The shipped, briefly trained model (course/README.md: 28.9 % on its held-out split; 24 %
    on these 200 fresh dates) is scored in between: neither 0 nor 1."""
    with resources.as_file(resources.files("numpy_seq2seq.course") / "dates_model.npz") as path:
        score = translator_exact_match(path, 200)
    assert 0.2 < score < 0.9
