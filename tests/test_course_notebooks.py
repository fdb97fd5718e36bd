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
        if is_grade(cell):  # a check: locked, worth points, named after its exercise
            assert m["locked"] and not m["solution"] and m["points"] > 0
            assert m["grade_id"] in set(EXERCISES) | PAYOFF_IDS
        if is_solution(cell):
            assert cell["cell_type"] == "code" and "### BEGIN SOLUTION" in source(cell)
            assert not m["locked"] and not m["grade"]


def test_each_exercise_is_graded_once():
    graded = [meta(c)["grade_id"] for a in ASSIGNMENTS for c in
              read_notebook(notebooks(SOURCES / a)[0])["cells"] if is_grade(c)]
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
    answers = [source(c) for c in released["cells"] if is_solution(c)]
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


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_assignment_has_practice_and_written_questions(assignment):
    """A worked example with its expected value, two to three written questions (ungraded:
    nbgrader accepts only graded markdown answers; the model answers are in
    course/MODEL_ANSWERS.md), and, where there is a backward to write, a gradient check of the
    student's own with the library's numeric_gradient."""
    nb = read_notebook(notebooks(SOURCES / assignment)[0])
    code = "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "code" and not meta(c))
    assert "worked example" in code.lower() and "expected" in code
    if assignment != "a4_translator":
        assert "numeric_gradient" in code and "rel_error" in code
    questions = [source(c) for c in nb["cells"] if source(c).startswith("**Question")]
    assert 2 <= len(questions) <= 3
    answers = (Path(__file__).resolve().parent.parent / "course" / "MODEL_ANSWERS.md").read_text(
        encoding="utf-8")
    assert all(q in answers for q in questions)
    released = read_notebook(notebooks(RELEASED / assignment)[0])
    assert [source(c) for c in released["cells"] if source(c).startswith("**Question")] == \
        questions


def test_assignment_3_plots_the_students_attention_map():
    nb = read_notebook(notebooks(SOURCES / "a3_attention")[0])
    code = "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "code")
    assert all(w in code for w in ("imshow", "colorbar", "set_title", "set_xlabel",
                                   "masked_softmax_forward(general_score_forward"))
