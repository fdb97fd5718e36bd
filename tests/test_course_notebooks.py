"""The assignments as notebooks: nbgrader metadata, the release (no solution leaks), grading of
the sources (full marks) and of the released versions (0, run to the end), the ``course``
command end to end, and how assignment 4 finds the earlier answers in every layout.

Notebooks are graded on copies in a temporary folder (grading the payoff writes a run folder)
with the small ``ci`` budget.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import wrong_solutions

from numpy_seq2seq.cli import main
from numpy_seq2seq.course.autograde import grade
from numpy_seq2seq.course.exercises import EXERCISES
from numpy_seq2seq.course.notebooks import (
    CODE_STUB,
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
    write_notebook,
)
from numpy_seq2seq.course.payoff import student_functions

ASSIGNMENTS = [p.name for p in assignments(SOURCES)]
KERNEL_ENV = {"NUMPY_SEQ2SEQ_BUDGET": "ci", "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1",
              "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
PAYOFF_IDS = {"train_with_your_functions", "translator_accuracy"}


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory) -> Path:
    """A copy of the sources (``source/``) and their release (``release/``)."""
    root = tmp_path_factory.mktemp("course")
    for folder in assignments(SOURCES):
        (root / "source" / folder.name).mkdir(parents=True)
        for nb in notebooks(folder):
            shutil.copy(nb, root / "source" / folder.name / nb.name)
    release(root / "release")
    return root


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
# grading

@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_source_notebook_grades_to_full_marks(course_dir, assignment):
    result = grade(_notebook(course_dir, "source", assignment), timeout=600, env=KERNEL_ENV)
    assert result.complete
    assert result.points == result.max_points > 0, [
        (e.grade_id, e.message) for e in result.exercises if e.points < e.max_points]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_released_notebook_runs_to_the_end_and_grades_to_zero(course_dir, assignment):
    result = grade(_notebook(course_dir, "release", assignment), timeout=600, env=KERNEL_ENV)
    assert result.complete and result.max_points > 0
    assert all(e.points == 0 for e in result.exercises), result.exercises
    assert all("not implemented" in e.message or "not yours" in e.message
               for e in result.exercises), [e.message for e in result.exercises]


def _replace_answer(nb: dict, name: str, fn) -> None:
    """Put an answer from wrong_solutions.py (renamed to ``name``, importing the helpers it
    calls from there) into the answer cell of ``name``."""
    cell = next(c for c in nb["cells"] if meta(c).get("grade_id") == f"{name}_answer")
    text = inspect.getsource(fn).replace(f"def {fn.__name__}(", f"def {name}(")
    helpers = sorted(set(re.findall(r"\b(_[a-z]\w*)\(", text)))
    imports = f"from wrong_solutions import {', '.join(helpers)}\n\n" if helpers else ""
    cell["source"] = imports + text


def test_course_grade_json_scores_wrong_answers_and_restores_edited_checks(course_dir, capsys,
                                                                          monkeypatch):
    nb = read_notebook(_notebook(course_dir, "source", "a1_rnn"))
    _replace_answer(nb, "rnn_step_backward", wrong_solutions.rnn_step_backward_transposed_dwh)
    _replace_answer(nb, "rnn_forward", wrong_solutions.rnn_forward)  # right, with its own cache
    _replace_answer(nb, "rnn_backward", wrong_solutions.rnn_backward_no_carry)
    check_cell = next(c for c in nb["cells"] if meta(c).get("grade_id") == "rnn_step_backward")
    check_cell["source"] = "print('all good')"  # a student's edit: grading puts the check back
    path = course_dir / "edited.ipynb"
    write_notebook(nb, path)
    monkeypatch.setenv("PYTHONPATH", str(Path(wrong_solutions.__file__).parent))
    for key, value in KERNEL_ENV.items():
        monkeypatch.setenv(key, value)
    assert main(["course", "grade", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report) == ["notebooks"]
    (graded,) = report["notebooks"]
    assert list(graded) == ["path", "points", "max_points", "exercises"]
    scores = {e["grade_id"]: e for e in graded["exercises"]}
    assert all(list(e) == ["grade_id", "points", "max_points", "message"] for e in scores.values())
    assert (graded["points"], graded["max_points"]) == (4, 11)
    assert scores["rnn_step_backward"]["points"] == scores["rnn_backward"]["points"] == 0
    assert "transpose of the correct gradient" in scores["rnn_step_backward"]["message"]
    assert "carry dh_next" in scores["rnn_backward"]["message"]


def test_course_grade_stops_at_the_time_limit(course_dir, capsys):
    nb = read_notebook(_notebook(course_dir, "source", "a1_rnn"))
    first_check = next(i for i, c in enumerate(nb["cells"]) if is_grade(c))
    nb["cells"].insert(first_check, {"cell_type": "code", "metadata": {}, "outputs": [],
                                     "execution_count": None, "id": "slow",
                                     "source": "import time\ntime.sleep(60)"})
    path = course_dir / "slow.ipynb"
    write_notebook(nb, path)
    assert main(["course", "grade", str(path), "--timeout", "4"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: 0 / 11 points")
    assert out.count("not run: the time limit of 4 s was reached first") == 4


@pytest.mark.parametrize("make, words", [
    (lambda p: p, "no such notebook"),
    (lambda p: p.write_text("not json", encoding="utf-8") and p, "is not a notebook"),
    (lambda p: shutil.copy(Path(__file__).parent.parent / "notebooks" /
                           "01_rnn_cell_and_bptt.ipynb", p) and p, "has no graded cells"),
], ids=["missing", "not-a-notebook", "no-graded-cells"])
def test_course_grade_bad_input_is_one_line_and_status_2(tmp_path, capsys, make, words):
    path = make(tmp_path / "x.ipynb")
    assert main(["course", "grade", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err


# ---------------------------------------------------------------------------------------------
# assignment 4 finds the earlier answers

def test_earlier_answers_are_found_in_nbgrader_autograde_layout(course_dir):
    """autograded/<student>/a4 finds submitted/<student>/a1 and a3; a2 is missing; a3's
    attention_backward is wrong: each function says where it came from or why not."""
    root = course_dir / "nbgrader"
    for a in ("a1_rnn", "a3_attention"):
        shutil.copytree(course_dir / "source" / a, root / "submitted" / "alice" / a)
    nb = read_notebook(_notebook(course_dir, "source", "a3_attention"))
    _replace_answer(nb, "attention_backward",
                    wrong_solutions.attention_backward_no_tanh_derivative)
    write_notebook(nb, notebooks(root / "submitted" / "alice" / "a3_attention")[0])
    here = root / "autograded" / "alice" / "a4_translator"
    here.mkdir(parents=True)
    mine = student_functions(here=here)
    assert mine.origin["rnn_step_backward"] == "a1_rnn/rnn_and_bptt.ipynb"
    assert mine.origin["general_score_backward"] == "a3_attention/attention.ipynb"
    assert mine.missing["lstm_step_backward"].startswith("not found (no a2_gates folder")
    assert "tanh′ of h̃ is missing" in mine.missing["attention_backward"]
    assert set(mine.needed_missing()) == {"lstm_step_backward", "cross_entropy_forward",
                                          "cross_entropy_backward", "attention_backward",
                                          "greedy_decode"}
