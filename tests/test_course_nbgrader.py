"""nbgrader compatibility (where nbgrader is installed, as the test extra installs it):
``nbgrader generate_assignment`` on course/source gives the same student cells as
``numpy-seq2seq course release``, and ``nbgrader autograde`` gives the sources full marks.

One course folder is built per run: source/ (a copy of the course's sources), nbgrader's
release/, our release ours/, and three submissions: alice hands in the sources (full marks), bob
the released notebooks untouched (0: under nbgrader a failing check raises its one line, which
nbgrader scores 0), carol assignment 1's release with stderr redirected to stdout (still 0: an
error cannot be redirected). nbgrader runs with Jupyter folders of its own (tests/kernels.py):
no user configuration, and its "python3" kernel is this interpreter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from numpy_seq2seq.course.notebooks import (
    SOURCES,
    assignments,
    notebooks,
    read_notebook,
    release,
    write_notebook,
)

from exploits import EXPLOITS
from kernels import isolated_jupyter_env
from wrong_solutions import answer_cell

nbgrader_api = pytest.importorskip(
    "nbgrader.api", reason="nbgrader is not installed (pip install '.[nbgrader]')")

ASSIGNMENTS = [p.name for p in assignments(SOURCES)]
(A1,) = notebooks(SOURCES / "a1_rnn")
TIMEOUT = 600  # seconds per nbgrader command


def _nbgrader(root: Path, *args: str) -> None:
    env = {**isolated_jupyter_env(root / ".jupyter"), "NUMPY_SEQ2SEQ_BUDGET": "ci",
           "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1",
           # nbgrader runs its database migrations with the `alembic` script of its environment
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--course-dir", str(root)],
                         cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0 and "ERROR" not in out.stderr, out.stderr[-3000:]


def _helper_cell(nb: dict) -> None:
    """A code cell of the student's own, holding a helper an answer calls."""
    cell = answer_cell(nb, "rnn_step_backward")
    nb["cells"].insert(nb["cells"].index(cell), {
        "cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
        "id": "dana-helper", "source": "def through_tanh(dh, h):\n    return dh * (1 - h * h)\n"})
    cell["source"] = "".join(cell["source"]).replace("da = dh * (1 - cache.h ** 2)",
                                                     "da = through_tanh(dh, cache.h)")


def _renamed(nb: dict) -> None:
    """The same maths, the student's own names, the cache unpacked by position."""
    answer_cell(nb, "rnn_step_backward")["source"] = (
        "def rnn_step_backward(dh, cache):\n"
        "    prev, out, W_hh, inp, W_xh = cache\n"
        "    g = dh * (1.0 - out * out)\n"
        "    return g @ W_xh.T, g @ W_hh.T, inp.T @ g, prev.T @ g, g.sum(0)\n")


def _slow(nb: dict) -> None:
    """Right, but slow: a row-by-row loop and a pause at the top of the cell."""
    answer_cell(nb, "rnn_step_forward")["source"] = (
        "import time\ntime.sleep(1.5)\n\n"
        "def rnn_step_forward(x, h_prev, Wx, Wh, b):\n"
        "    h = np.empty((x.shape[0], Wh.shape[1]), dtype=x.dtype)\n"
        "    for n in range(x.shape[0]):\n"
        "        h[n] = np.tanh(x[n] @ Wx + h_prev[n] @ Wh + b)\n"
        "    return h, RNNCache(h_prev, h, Wh, x, Wx)\n")


def _helper_and_one_mistake(nb: dict) -> None:
    """A helper cell, and rnn_step_backward's dWh transposed (charged once)."""
    _helper_cell(nb)
    cell = answer_cell(nb, "rnn_step_backward")
    cell["source"] = "".join(cell["source"]).replace("cache.h_prev.T @ da", "da.T @ cache.h_prev")


# honest submissions of assignment 1: course grade must score them as nbgrader does
HONEST = {"dana": _helper_cell, "erin": _renamed, "finn": _slow, "gus": _helper_and_one_mistake}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nbgrader_course")
    for folder in assignments(SOURCES):
        for nb in notebooks(folder):
            for kind in ("source", "submitted/alice"):
                (root / kind / folder.name).mkdir(parents=True, exist_ok=True)
                shutil.copy(nb, root / kind / folder.name / nb.name)
    _nbgrader(root, "generate_assignment", "*", "--create")
    release(root / "ours")
    shutil.copytree(root / "ours", root / "submitted" / "bob")
    for student, edit in HONEST.items():  # honest work, handed in for assignment 1
        nb = read_notebook(A1)
        edit(nb)
        (root / "submitted" / student / "a1_rnn").mkdir(parents=True)
        write_notebook(nb, root / "submitted" / student / "a1_rnn" / A1.name)
    carol = root / "submitted" / "carol" / "a1_rnn" / A1.name
    carol.parent.mkdir(parents=True)
    nb = read_notebook(root / "ours" / "a1_rnn" / A1.name)
    EXPLOITS["stderr_to_stdout"](nb)
    write_notebook(nb, carol)
    _nbgrader(root, "autograde", "*", "--create", f"--Execute.timeout={TIMEOUT}")
    return root


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_nbgrader_releases_the_same_student_cells(course, assignment):
    (name,) = [p.name for p in notebooks(SOURCES / assignment)]
    theirs = read_notebook(course / "release" / assignment / name)["cells"]
    ours = read_notebook(course / "ours" / assignment / name)["cells"]
    assert [(c["cell_type"], "".join(c["source"])) for c in theirs] == \
        [(c["cell_type"], "".join(c["source"])) for c in ours]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("student, full", [("alice", True), ("bob", False)],
                         ids=["sources-full-marks", "released-zero"])
def test_nbgrader_autograde_scores_like_course_grade(course, assignment, student, full):
    with nbgrader_api.Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(assignment, student)
        grades = {g.name: (g.score, g.max_score) for nb in submission.notebooks
                  for g in nb.grades}
        assert submission.max_code_score > 0
        assert submission.code_score == (submission.max_code_score if full else 0), grades
        # the written answers are nbgrader's manually graded cells: the sources' model answers
        # wait for a grader, the release's untouched YOUR ANSWER HERE scores 0 by itself
        assert submission.max_written_score == 3
        assert submission.needs_manual_grade == full
        assert submission.written_score == 0


def test_nbgrader_scores_redirected_stderr_zero(course):
    with nbgrader_api.Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission("a1_rnn", "carol")
        assert (submission.code_score, submission.max_code_score) == (0, 11)
        assert submission.score == 0  # the untouched written answers too


def test_under_nbgrader_a_failing_check_is_one_line(course):
    """What nbgrader's feedback shows for bob's untouched a1: each check cell one error of one
    line, no traceback."""
    nb = read_notebook(course / "autograded" / "bob" / "a1_rnn" / A1.name)
    errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]
              if o["output_type"] == "error"]
    assert len(errors) == 4
    assert all(len(e["traceback"]) == 1 and e["traceback"][0].startswith("✘ ")
               and "not implemented yet" in e["traceback"][0] for e in errors), errors


@pytest.mark.parametrize("student", HONEST)
def test_course_grade_scores_honest_work_as_nbgrader_does(course, student):
    """Per graded cell, the same points from ``nbgrader autograde`` (which runs the notebook)
    and ``course grade`` (which runs the answer cells and the cells the student added); the
    written answers (the model answers, handed in) pending under both: None."""
    from numpy_seq2seq.course.autograde import grade

    with nbgrader_api.Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission("a1_rnn", student)
        # a cell waiting for a grader scores 0 in nbgrader's sums: say pending, as ours does
        theirs = {g.name: None if g.needs_manual_grade else g.score
                  for nb in submission.notebooks for g in nb.grades}
    graded = grade(course / "submitted" / student / "a1_rnn" / A1.name, budget="ci")
    ours = {e.grade_id: e.points for e in graded.exercises}
    ours |= {w.grade_id: w.points for w in graded.written}  # None: pending, as nbgrader's
    assert ours == theirs
    assert sum(p for g, p in ours.items() if "_written_" not in g) == \
        (8 if student == "gus" else 11)
