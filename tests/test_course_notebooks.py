"""The assignments as notebooks: nbgrader metadata, the release (no solution leaks, the usual
file permissions), and what a student sees: run top to bottom in a kernel, the released
notebook reaches its end and every check says in one line that its function is not implemented
yet; the source's checks all pass. (Grading is tests/test_course_autograde.py.)
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from numpy_seq2seq.cli import main
from numpy_seq2seq.course.exercises import EXERCISES
from numpy_seq2seq.course.notebooks import (
    CODE_STUB,
    RELEASED,
    SOURCES,
    assignments,
    is_grade,
    is_solution,
    is_written,
    meta,
    notebooks,
    read_notebook,
    release,
    solution_lines,
    source,
)

from kernels import notebook_client

ASSIGNMENTS = [p.name for p in assignments(SOURCES)]
PAYOFF_IDS = {"train_with_your_functions", "translator_accuracy"}


def _notebook(course_dir: Path, kind: str, assignment: str) -> Path:
    return notebooks(course_dir / kind / assignment)[0]


# ---------------------------------------------------------------------------------------------
# the sources

def test_four_assignments_of_rising_size():
    assert ASSIGNMENTS == ["a1_rnn", "a2_gates", "a3_attention", "a4_translator"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_sources_carry_valid_nbgrader_metadata(assignment):
    nb = read_notebook(notebooks(SOURCES / assignment)[0])
    ids = [meta(c)["grade_id"] for c in nb["cells"] if meta(c)]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    for cell in nb["cells"]:
        m = meta(cell)
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None, "stored with outputs"
        if not m:
            assert "BEGIN SOLUTION" not in source(cell)
            continue
        assert m["schema_version"] == 3 and {"grade", "solution", "locked", "task"} <= set(m)
        if is_written(cell):  # nbgrader's manually graded answer: markdown, worth points
            assert not m["locked"] and m["points"] == 1 and m["grade_id"].startswith(
                assignment[:2] + "_written_")
            assert "BEGIN SOLUTION" not in source(cell)  # replaced whole by the release
        elif is_grade(cell):  # a check: locked, worth points, named after its exercise
            assert m["locked"] and not m["solution"] and m["points"] > 0
            assert m["grade_id"] in set(EXERCISES) | PAYOFF_IDS
        elif is_solution(cell):
            assert cell["cell_type"] == "code" and "### BEGIN SOLUTION" in source(cell)
            assert not m["locked"] and not m["grade"]


def test_each_exercise_is_graded_once():
    graded = [meta(c)["grade_id"] for a in ASSIGNMENTS for c in
              read_notebook(notebooks(SOURCES / a)[0])["cells"] if is_grade(c)
              and not is_written(c)]
    expected = set(EXERCISES) - {"lstm_step_forward", "gru_step_forward", "attention_forward"}
    assert sorted(graded) == sorted(expected | PAYOFF_IDS)


# ---------------------------------------------------------------------------------------------
# the release

@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_solution_line_reaches_the_release(course_dir, assignment):
    secret = {line.strip() for line in solution_lines(read_notebook(
        _notebook(course_dir, "source", assignment)))}
    released = read_notebook(_notebook(course_dir, "release", assignment))
    shown = {line.strip() for c in released["cells"] for line in source(c).split("\n")}
    assert secret and not secret & shown, sorted(secret & shown)[:5]
    assert "BEGIN SOLUTION" not in json.dumps(released)


def test_release_puts_the_stub_where_the_solution_was(course_dir):
    released = read_notebook(_notebook(course_dir, "release", "a1_rnn"))
    answers = [source(c) for c in released["cells"] if is_solution(c) and not is_written(c)]
    assert answers and all(
        "    " + "\n    ".join(CODE_STUB) in text and text.startswith("def ") for text in answers)


def test_release_never_overwrites_silently(course_dir):
    code = main(["course", "release", "--out", str(course_dir / "release"), "a1_rnn"])
    assert code == 2
    assert main(["course", "release", "--out", str(course_dir / "release"), "--force",
                 "a1_rnn"]) == 0


def test_release_writes_notebooks_with_the_usual_permissions(tmp_path):
    """Under umask 022 a released notebook is -rw-r--r--, as any file the user writes: a class
    sharing a folder must be able to read it."""
    old = os.umask(0o022)
    try:
        written = release(tmp_path / "release")
    finally:
        os.umask(old)
    assert written and {oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {oct(0o644)}


def test_release_works_from_any_directory(tmp_path):
    """The assignments ship as package data: the installed command finds them anywhere."""
    out = subprocess.run([sys.executable, "-m", "numpy_seq2seq", "course", "release", "--out",
                          "student"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert sorted(p.parent.name for p in (tmp_path / "student").glob("*/*.ipynb")) == ASSIGNMENTS


# ---------------------------------------------------------------------------------------------
# in a kernel, as a student runs them

CHECK = re.compile(r'^(check|check_training|check_translator)\(')


@pytest.mark.parametrize("kind", ["source", "release"])
def test_a_notebook_runs_to_the_end_and_each_check_says_one_line(course_dir, kind):
    """Assignment 1 run top to bottom as a student would (no errors allowed): each check cell
    prints exactly one line, ✔ on stdout in the source, ✘ "not implemented yet" on stderr in
    the release, and nothing raises."""
    path = _notebook(course_dir, kind, "a1_rnn")
    nb = nbformat.read(path, as_version=4)
    notebook_client(nb, path.parent, timeout=120).execute()
    checks = [c for c in nb.cells if c.cell_type == "code" and CHECK.match(c.source)]
    assert len(checks) == 4
    for cell in checks:
        (out,) = cell.outputs
        lines = out["text"].splitlines()
        assert len(lines) == 1, lines
        if kind == "source":
            assert out["name"] == "stdout" and lines[0].startswith("✔"), lines
        else:
            assert out["name"] == "stderr" and lines[0].startswith("✘"), lines
            assert "not implemented yet" in lines[0]


MODEL_ANSWERS = Path(__file__).resolve().parent.parent / "course" / "MODEL_ANSWERS.md"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_assignment_has_practice_and_written_questions(assignment):
    """A worked example with its expected value, a gradient check of the student's own with the
    library's numeric_gradient or check_model, and three written questions, each followed by an
    answer cell graded by hand (nbgrader's manual grading: 1 point each): the source holds the
    model answer, also in course/MODEL_ANSWERS.md, and the release ``YOUR ANSWER HERE``."""
    nb = read_notebook(notebooks(SOURCES / assignment)[0])
    code = "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "code" and not meta(c))
    assert "worked example" in code.lower() and "expected" in code
    assert "from numpy_seq2seq.gradcheck import" in code and (
        "rel_error" in code if assignment != "a4_translator" else "check_model(" in code)
    questions = [source(c) for c in nb["cells"] if source(c).startswith("**Question")]
    written = [c for c in nb["cells"] if is_written(c)]
    assert len(questions) == len(written) == 3
    model_answers = MODEL_ANSWERS.read_text(encoding="utf-8")
    section = model_answers.split(f"### {assignment}\n")[1].split("###")[0]
    assert all(f"* {q}\n" in section for q in questions)
    assert all(f"*Answer.* {source(c)}\n" in section for c in written)
    cells = nb["cells"]
    assert all(is_written(cells[cells.index(q) + 1]) for q in cells
               if source(q).startswith("**Question"))  # each question, then its answer
    released = read_notebook(notebooks(RELEASED / assignment)[0])
    assert [source(c) for c in released["cells"] if source(c).startswith("**Question")] == \
        questions
    assert [source(c) for c in released["cells"] if is_written(c)] == ["YOUR ANSWER HERE"] * 3


# the key expressions of the backward passes a1 and a2 withhold (deriving them is the exercise)
WITHHELD = {
    "a1_rnn": ("da = dh \\odot (1 - h^2)", "dW_h = h_{prev}^\\top da", "dx = da\\, W_x^\\top"),
    "a2_gates": ("dc_t = dc + dh \\odot o", "da_f = dc_t \\odot c_{prev}",
                 "dc_{prev} = dc_t \\odot f"),
}


@pytest.mark.parametrize("assignment", WITHHELD)
def test_the_rnn_and_lstm_backward_formulas_are_withheld(assignment):
    """Not in the student's notebook, nor in the source's text outside the solutions; in
    MODEL_ANSWERS.md (not shipped: tests/test_course_package.py), where the search finds them
    (its twin). The hint comes when a check fails (test below)."""
    model_answers = MODEL_ANSWERS.read_text(encoding="utf-8")
    released = json.dumps(read_notebook(notebooks(RELEASED / assignment)[0]), ensure_ascii=False)
    src = read_notebook(notebooks(SOURCES / assignment)[0])
    text = json.dumps([source(c) for c in src["cells"] if c["cell_type"] == "markdown"],
                      ensure_ascii=False)
    for expression in WITHHELD[assignment]:
        assert expression in model_answers
        assert json.dumps(expression)[1:-1] not in released and \
            json.dumps(expression)[1:-1] not in text, expression


@pytest.mark.parametrize("name, words", [
    ("rnn_step_backward", "da = dh ⊙ tanh′(a) with tanh′(a) = 1 − h²"),
    ("lstm_step_backward", "c_t gets dc_t = dc + dh ⊙ o ⊙ (1 − tanh²(c_t))"),
])
def test_a_failing_check_gives_the_withheld_derivation_as_its_hint(name, words):
    """A backward no known mistake explains (every other gradient mixed with its neighbour's
    entries) fails with the derivation the notebook withholds; the library's own passes."""
    from numpy_seq2seq.course.exercises import evaluate
    from numpy_seq2seq.course.functional_checks import reference

    def skewed(*args):
        grads = reference(name)(*args)
        return tuple(g + 0.1 * np.roll(g, 1, axis=-1) if k % 2 else g
                     for k, g in enumerate(grads))

    skewed.__name__ = name
    result = evaluate(name, skewed, own_work=False)
    assert not result.passed and words in result.message, result.message
    assert evaluate(name, reference(name), own_work=False).passed


@pytest.mark.parametrize("wrong", [False, True], ids=["right", "broken-twin"])
def test_assignment_4s_gradient_check_finds_a_wrong_function(wrong, capsys):
    """a4's practice cell, run on the functions ``mine`` holds: the library's pass (every row
    below 1e-6); an LSTM backward without σ′ of the forget gate shows as a large error."""
    from numpy_seq2seq.course.payoff import NEEDED, Collected
    from numpy_seq2seq.substitute import library_function

    from wrong_solutions import lstm_step_backward_no_forget_sigmoid_derivative

    nb = read_notebook(notebooks(SOURCES / "a4_translator")[0])
    namespace: dict = {}
    for cell in nb["cells"]:
        if meta(cell).get("grade_id") == "imports" or cell.get("id") == "a4-practice-code":
            exec(source(cell), namespace)  # noqa: S102
            if "mine" not in namespace:
                functions = {k: library_function(k) for k in NEEDED}
                if wrong:
                    functions["lstm_step_backward"] = \
                        lstm_step_backward_no_forget_sigmoid_derivative
                namespace.update(mine=Collected(functions=functions),
                                 greedy_decode=library_function("greedy_decode"),
                                 beam_search=library_function("beam_search"))
    error = namespace["report"].max_error
    assert (error > 1e-3) if wrong else (error < 1e-6), error
    assert "worst relative error" in capsys.readouterr().out


def test_assignment_3_plots_the_students_attention_map():
    nb = read_notebook(notebooks(SOURCES / "a3_attention")[0])
    code = "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "code")
    assert all(w in code for w in ("imshow", "colorbar", "set_title", "set_xlabel",
                                   "masked_softmax_forward(general_score_forward"))
