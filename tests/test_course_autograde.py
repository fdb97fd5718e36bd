"""``numpy-seq2seq course grade``: the course's own checks, run in the grader on the functions of
the student's answer cells. The sources get full marks and the untouched releases 0; nothing a
student writes in the notebook raises its score (tests/exploits.py); wrong answers lose their
points with the fault named; a slow or dying answer costs its own exercise; bad input is one
line and status 2; no Jupyter kernel is involved.

Notebooks are graded on copies (the ``course_dir`` fixture) with the small ``ci`` budget.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from numpy_seq2seq.cli import main
from numpy_seq2seq.course import autograde
from numpy_seq2seq.course.autograde import grade, graded_cells
from numpy_seq2seq.course.commands import EXIT_TAMPERED
from numpy_seq2seq.course.fingerprint import PACKAGE, fingerprint
from numpy_seq2seq.course.notebooks import (
    SOURCES,
    assignments,
    notebooks,
    read_notebook,
    source_of,
    write_notebook,
)

import wrong_solutions
from exploits import COPY_THE_LIBRARY, EXPLOITS, REWRITTEN_CHECKS
from wrong_solutions import answer_cell, put_answer

ASSIGNMENTS = [p.name for p in assignments(SOURCES)]
SLOW = "slow_cell"  # the exploit that needs a short time limit
SHORT = 4.0  # seconds: enough for the first exercise of assignment 1, not for a sleep


def _notebook(course_dir: Path, kind: str, assignment: str) -> Path:
    return notebooks(course_dir / kind / assignment)[0]


def _copy(course_dir: Path, kind: str, assignment: str, folder: Path, edit=None) -> Path:
    """A copy of a notebook in ``folder/<assignment>/``, edited by ``edit(nb)``."""
    original = _notebook(course_dir, kind, assignment)
    path = folder / assignment / original.name
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = read_notebook(original)
    if edit is not None:
        edit(nb)
    write_notebook(nb, path)
    return path


# ---------------------------------------------------------------------------------------------
# the sources and the releases

@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_source_notebook_grades_to_full_marks(course_dir, assignment):
    result = grade(_notebook(course_dir, "source", assignment), budget="ci")
    assert result.complete and result.source == f"{assignment}/" + \
        _notebook(course_dir, "source", assignment).name
    assert result.points == result.max_points > 0, [
        (e.grade_id, e.message) for e in result.exercises if e.points < e.max_points]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_released_notebook_grades_to_zero(course_dir, assignment):
    result = grade(_notebook(course_dir, "release", assignment), budget="ci")
    assert result.complete and result.max_points > 0
    assert all(e.points == 0 for e in result.exercises), result.exercises
    assert all("not implemented" in e.message or "not yours" in e.message
               for e in result.exercises), [e.message for e in result.exercises]


def test_the_points_are_the_sources_graded_cells():
    points = {a: sum(c.points for c in graded_cells(read_notebook(notebooks(SOURCES / a)[0])))
              for a in ASSIGNMENTS}
    assert points == {"a1_rnn": 11, "a2_gates": 12, "a3_attention": 18, "a4_translator": 16}


# ---------------------------------------------------------------------------------------------
# nothing in the notebook raises its score

@pytest.mark.parametrize("exploit", EXPLOITS)
def test_no_edit_raises_the_score_of_the_untouched_release(course_dir, tmp_path, exploit):
    path = _copy(course_dir, "release", "a1_rnn", tmp_path, EXPLOITS[exploit])
    result = grade(path, timeout=SHORT / 2 if exploit == SLOW else 120, budget="ci")
    scored = {e.grade_id: e for e in result.exercises}
    assert (result.points, result.max_points) == (0, 11), result.exercises
    assert {"rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"} <= \
        set(scored)
    unknown = set(scored) - {"rnn_step_forward", "rnn_step_backward", "rnn_forward",
                             "rnn_backward"}
    assert all(scored[g].max_points == 0 and "not an exercise of a1_rnn" in scored[g].message
               for g in unknown)  # the renamed and the extra graded cells: flagged, worth 0


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A copy of the package that the student's process imports (first on its PYTHONPATH) and
    the grader fingerprints: an answer that writes into the package writes into the copy."""
    copy = tmp_path / "site" / "numpy_seq2seq"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("PYTHONPATH", str(copy.parent))
    monkeypatch.setattr(autograde, "PACKAGE", copy)
    return copy


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_an_answer_that_rewrites_the_package_scores_0_and_stops_grading(
        course_dir, tmp_path, capsys, package_copy, as_json):
    """The review's E, then the untouched release in the same run: refused, not graded."""
    real = fingerprint(PACKAGE)
    eve = _copy(course_dir, "release", "a1_rnn", tmp_path / "eve", REWRITTEN_CHECKS)
    untouched = _notebook(course_dir, "release", "a1_rnn")
    argv = ["course", "grade", str(eve), str(untouched)] + ["--json"] * as_json
    assert main(argv) == EXIT_TAMPERED
    out, err = capsys.readouterr()
    assert len(err.splitlines()) == 1 and str(eve) in err and "exercises.py" in err and \
        "git checkout numpy_seq2seq/" in err, err
    if as_json:
        report = json.loads(out)
        (graded,) = report["notebooks"]
        assert (graded["path"], graded["points"], graded["max_points"]) == (str(eve), 0, 11)
        assert graded["tampered"] == ["numpy_seq2seq/course/exercises.py"]
        assert report["not_graded"] == [str(untouched)]
    else:
        assert out.startswith(f"{eve}: 0 / 11 points") and str(untouched) not in out
        assert "changed meanwhile: numpy_seq2seq/course/exercises.py" in out.splitlines()[0]
    assert fingerprint(PACKAGE) == real  # the real package was never written
    # what the flag guards against: a fresh process importing the copy now passes everything
    passes = subprocess.run([sys.executable, "-c", "from numpy_seq2seq.course.exercises import "
                             "evaluate; print(evaluate('rnn_backward', None).passed)"],
                            cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert passes.strip() == "True"


def test_flagged_cells_are_listed_with_their_ids(course_dir, tmp_path):
    path = _copy(course_dir, "release", "a1_rnn", tmp_path, EXPLOITS["extra_graded_cell"])
    result = grade(path, budget="ci")
    assert [(e.grade_id, e.points, e.max_points) for e in result.exercises][-1] == \
        ("bonus", 0, 0)


def test_an_answer_that_ends_the_process_costs_only_the_exercises_it_runs_in(course_dir,
                                                                          tmp_path):
    """The source with rnn_step_backward calling os._exit: its exercise fails, saying so; a
    fresh process grades the others, rnn_backward (which calls it) with the reference's step."""
    def edit(nb):
        cell = answer_cell(nb, "rnn_step_backward")
        text = "".join(cell["source"])
        cell["source"] = text.replace("    ### BEGIN SOLUTION\n",
                                      "    ### BEGIN SOLUTION\n    import os\n    os._exit(3)\n")

    result = grade(_copy(course_dir, "source", "a1_rnn", tmp_path, edit), budget="ci")
    scored = {e.grade_id: e for e in result.exercises}
    assert result.points == 8  # all but rnn_step_backward's 3
    assert "ended (exit status 3)" in scored["rnn_step_backward"].message
    assert scored["rnn_backward"].message.endswith(
        "Graded with the reference rnn_step_backward, since yours fails its check."), \
        scored["rnn_backward"].message


def test_the_library_imported_as_answers_scores_zero(course_dir, tmp_path):
    """Own work only (ownership.py): each exercise says whose function it is."""
    result = grade(_copy(course_dir, "release", "a1_rnn", tmp_path, COPY_THE_LIBRARY),
                   budget="ci")
    assert result.points == 0 and result.max_points == 11
    assert all("is the library's numpy_seq2seq.functional." in e.message and
               "not your own work" in e.message for e in result.exercises), result.exercises


def _delegate_everything(nb):
    """Every answer cell of a3 or a4 only imports the library's function."""
    from numpy_seq2seq.course.exercises import EXERCISES
    from numpy_seq2seq.course.functional_checks import reference

    for name in EXERCISES:
        cell = next((c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {})
                     .get("grade_id") == f"{name}_answer"), None)
        if cell is not None:
            cell["source"] = f"from {reference(name).__module__} import {name}\n"


@pytest.mark.parametrize("assignment", ["a3_attention", "a4_translator"])
def test_delegating_every_answer_scores_zero(course_dir, assignment):
    """The issue's a3 (was 18/18) and a4 (was 16/16); a4's copy sits beside the sources of
    a1–a3, whose own functions pass, yet its decoders are the library's."""
    path = _copy(course_dir, "source", assignment, course_dir / "delegated", _delegate_everything)
    for earlier in ("a1_rnn", "a2_gates", "a3_attention"):
        if earlier != assignment and not (path.parent.parent / earlier).exists():
            shutil.copytree(course_dir / "source" / earlier, path.parent.parent / earlier)
    result = grade(path, budget="ci")
    assert result.points == 0 and result.max_points > 0, result.exercises


# ---------------------------------------------------------------------------------------------
# the command

def test_course_grade_json_scores_wrong_answers(course_dir, tmp_path, capsys, monkeypatch):
    def edit(nb):
        put_answer(nb, "rnn_step_backward", wrong_solutions.rnn_step_backward_transposed_dwh)
        put_answer(nb, "rnn_forward", wrong_solutions.rnn_forward)  # right, with its own cache
        put_answer(nb, "rnn_backward", wrong_solutions.rnn_backward_no_carry)

    path = _copy(course_dir, "source", "a1_rnn", tmp_path, edit)
    monkeypatch.setenv("PYTHONPATH", str(Path(wrong_solutions.__file__).parent))
    monkeypatch.setenv("NUMPY_SEQ2SEQ_BUDGET", "ci")
    assert main(["course", "grade", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report) == ["notebooks", "students", "not_graded"] and \
        report["not_graded"] == []
    (graded,) = report["notebooks"]
    assert list(graded) == ["path", "student", "assignment", "points", "max_points", "seconds",
                            "exercises", "written", "written_max_points",
                            "written_pending_points", "tampered"]
    assert graded["assignment"] == "a1_rnn" and graded["seconds"] > 0
    assert graded["tampered"] == []
    scores = {e["grade_id"]: e for e in graded["exercises"]}
    assert all(list(e) == ["grade_id", "points", "max_points", "message"] for e in scores.values())
    assert (graded["points"], graded["max_points"]) == (4, 11)
    assert scores["rnn_step_backward"]["points"] == scores["rnn_backward"]["points"] == 0
    assert "transpose of the correct gradient" in scores["rnn_step_backward"]["message"]
    assert "carry dh_next" in scores["rnn_backward"]["message"]


def test_a_check_that_runs_out_of_time_costs_only_its_exercise(course_dir, tmp_path, capsys):
    """rnn_step_backward sleeps: its check runs out of time, naming it; the others are graded
    in a fresh process (rnn_backward with the reference's step standing in)."""
    def edit(nb):
        cell = answer_cell(nb, "rnn_step_backward")
        cell["source"] = "".join(cell["source"]).replace(
            "    ### BEGIN SOLUTION\n", "    ### BEGIN SOLUTION\n    import time\n"
            "    time.sleep(60)\n")

    path = _copy(course_dir, "source", "a1_rnn", tmp_path, edit)
    assert main(["course", "grade", str(path), "--timeout", str(SHORT)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: 8 / 11 points"), out
    assert out.count(f"the time limit of {SHORT:g} s was reached while it ran") == 1
    assert "rnn_step_backward: the time limit" in out


def test_an_answer_cell_that_hangs_costs_only_its_exercise(course_dir, tmp_path):
    """An endless loop at the top level of rnn_step_forward's answer cell (nbgrader: 7 / 11,
    since its rnn_forward then fails too): the cell is left out, named; the rest score."""
    def edit(nb):
        cell = answer_cell(nb, "rnn_step_forward")
        cell["source"] = "".join(cell["source"]) + "\nwhile True:\n    pass\n"

    result = grade(_copy(course_dir, "source", "a1_rnn", tmp_path, edit), timeout=SHORT,
                   budget="ci")
    scored = {e.grade_id: e for e in result.exercises}
    assert result.points == 9, result.exercises
    assert f"rnn_step_forward_answer did not finish within {SHORT:g} s" in \
        scored["rnn_step_forward"].message


def test_a_helper_in_a_cell_the_student_added_is_run(course_dir, tmp_path):
    """As nbgrader runs it: a code cell of the student's own, between the answers."""
    def edit(nb):
        cell = answer_cell(nb, "rnn_step_backward")
        at = nb["cells"].index(cell)
        nb["cells"].insert(at, {"cell_type": "code", "execution_count": None, "metadata": {},
                                "outputs": [], "id": "my-helper",
                                "source": "def _through_tanh(dh, h):\n"
                                          "    return dh * (1 - h ** 2)\n"})
        cell["source"] = "".join(cell["source"]).replace(
            "da = dh * (1 - cache.h ** 2)", "da = _through_tanh(dh, cache.h)")
        assert "_through_tanh" in cell["source"]

    result = grade(_copy(course_dir, "source", "a1_rnn", tmp_path, edit), budget="ci")
    assert result.points == 11, result.exercises


def _foreign(path: Path) -> Path:
    """A notebook with graded cells, none of whose grade ids is the course's."""
    nb = read_notebook(notebooks(SOURCES / "a1_rnn")[0])
    for cell in nb["cells"]:
        if "nbgrader" in cell.get("metadata", {}):
            cell["metadata"]["nbgrader"]["grade_id"] = "x_" + cell["metadata"]["nbgrader"][
                "grade_id"]
    write_notebook(nb, path)
    return path


@pytest.mark.parametrize("make, words", [
    (lambda p: p, "no such notebook"),
    (lambda p: p.write_text("not json", encoding="utf-8") and p, "is not a notebook"),
    (lambda p: shutil.copy(Path(__file__).parent.parent / "notebooks" /
                           "01_rnn_cell_and_bptt.ipynb", p) and p, "has no graded cells"),
    (lambda p: _foreign(p), "is not one of the course's notebooks"),
], ids=["missing", "not-a-notebook", "no-graded-cells", "not-the-course's"])
def test_course_grade_bad_input_is_one_line_and_status_2(tmp_path, capsys, make, words):
    path = make(tmp_path / "x.ipynb")
    assert main(["course", "grade", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err


def test_a_notebook_is_graded_as_its_assignment_and_name(tmp_path):
    """By folder and name; else by name alone; else by folder alone."""
    for where, expected in [("a2_gates/rnn_and_bptt.ipynb", "a1_rnn"),
                            ("a1_rnn/renamed.ipynb", "a1_rnn"),
                            ("alice/attention.ipynb", "a3_attention")]:
        assert source_of(tmp_path / where).parent.name == expected


def test_grading_needs_no_kernel_whatever_the_user_kernelspecs(course_dir, tmp_path, capsys,
                                                                monkeypatch):
    """A user-level "python3" kernelspec pointing to another Python changes nothing: the
    student's code runs in this interpreter (sys.executable), not in a Jupyter kernel."""
    from test_notebooks import bogus_user_kernelspec

    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "0")
    bogus_user_kernelspec(tmp_path)
    assert main(["course", "grade", str(_notebook(course_dir, "source", "a1_rnn"))]) == 0
    assert " 11 / 11 points" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# one mistake, charged once

def _unpadded_rnn_forward(nb):
    """The source's rnn_forward with the padding ignored (its own cache kept)."""
    cell = answer_cell(nb, "rnn_forward")
    text = "".join(cell["source"])
    assert "h = np.where(keep, h_new, h)" in text
    cell["source"] = text.replace("h = np.where(keep, h_new, h)", "h = h_new")


@pytest.mark.parametrize("assignment, edit, exercise, note", [
    ("a1_rnn", lambda nb: put_answer(nb, "rnn_step_forward",
                                     wrong_solutions.rnn_step_forward_no_bias),
     "rnn_step_forward", "Graded with the reference rnn_step_forward, since yours fails"),
    ("a1_rnn", lambda nb: put_answer(nb, "rnn_step_backward",
                                     wrong_solutions.rnn_step_backward_transposed_dwh),
     "rnn_step_backward", "Graded with the reference rnn_step_backward, since yours fails"),
    ("a1_rnn", _unpadded_rnn_forward, "rnn_forward",
     "Graded on the batch without padding, since your rnn_forward fails its check"),
    ("a3_attention", lambda nb: put_answer(nb, "masked_softmax_backward",
                                           wrong_solutions.masked_softmax_backward_no_sum),
     "masked_softmax_backward",
     "Graded with the reference masked_softmax_backward, since yours fails"),
], ids=["a1-step-forward", "a1-step-backward", "a1-rnn-forward", "a3-softmax-backward"])
def test_one_mistake_costs_only_its_own_exercise(course_dir, tmp_path, assignment, edit,
                                                 exercise, note):
    result = grade(_copy(course_dir, "source", assignment, tmp_path, edit), budget="ci")
    scored = {e.grade_id: e for e in result.exercises}
    assert scored[exercise].points == 0
    assert result.points == result.max_points - scored[exercise].max_points, result.exercises
    assert any(note in e.message for e in result.exercises if e.points), result.exercises


def test_an_earlier_mistake_costs_nothing_in_assignment_4(course_dir, tmp_path):
    """a3's masked_softmax_backward is wrong (charged in a3): a4's payoff trains with the
    library's standing in for it, and says so."""
    for earlier in ("a1_rnn", "a2_gates"):
        shutil.copytree(course_dir / "source" / earlier, tmp_path / earlier)
    _copy(course_dir, "source", "a3_attention", tmp_path, lambda nb: put_answer(
        nb, "masked_softmax_backward", wrong_solutions.masked_softmax_backward_no_sum))
    result = grade(_copy(course_dir, "source", "a4_translator", tmp_path), budget="ci")
    assert result.points == result.max_points == 16, result.exercises
    payoff = [e.message for e in result.exercises if e.grade_id in
              ("train_with_your_functions", "translator_accuracy")]
    assert all("Graded with the reference masked_softmax_backward" in m for m in payoff), payoff


# ---------------------------------------------------------------------------------------------
# an instructor's workflow

def test_a_folder_of_submissions_is_graded_by_metadata_with_a_csv(course_dir, tmp_path,
                                                                   capsys):
    """nbgrader's <student>/<assignment>/ layout and a platform's flat downloads, renamed,
    side by side; a stray notebook is skipped; the CSV has a row per exercise; the totals are
    per student."""
    alice = _copy(course_dir, "source", "a1_rnn", tmp_path / "subs" / "alice")
    flat = tmp_path / "subs" / "downloads"
    flat.mkdir()
    shutil.copy(_notebook(course_dir, "release", "a1_rnn"),
                flat / "bob_12345_67890_rnn_and_bptt.ipynb")
    shutil.copy(_notebook(course_dir, "source", "a2_gates"), flat / "alice_12345_gates.ipynb")
    shutil.copy(Path(__file__).parent.parent / "notebooks" / "01_rnn_cell_and_bptt.ipynb",
                flat / "notes.ipynb")
    grades = tmp_path / "grades.csv"
    assert main(["course", "grade", str(tmp_path / "subs"), "--csv", str(grades)]) == 0
    out, err = capsys.readouterr()
    assert "skipped" in err and "notes.ipynb" in err and "has no graded cells" in err
    assert "total for alice: 23 / 23 points (a1_rnn, a2_gates)" in out, out
    assert "total for bob: 0 / 11 points (a1_rnn)" in out, out
    import csv

    rows = list(csv.DictReader(grades.open(encoding="utf-8")))
    assert list(rows[0]) == ["student", "assignment", "exercise", "points", "max", "message"]
    assert len(rows) == (4 + 3) + (4 + 3) + (4 + 3)  # the exercises, then the written answers
    assert {(r["student"], r["assignment"]) for r in rows} == {
        ("alice", "a1_rnn"), ("alice", "a2_gates"), ("bob", "a1_rnn")}
    written = [r for r in rows if "_written_" in r["exercise"]]
    assert sum(float(r["points"]) for r in rows if r["student"] == "alice"
               and r not in written) == 23
    # written answers are graded by hand: the model answers pending, bob's unanswered 0
    assert [(r["student"], r["points"]) for r in written] == \
        [("alice", "pending")] * 6 + [("bob", "0")] * 3
    assert "total for alice: 23 / 23 points (a1_rnn, a2_gates); written answers: 6 of 6 " \
        "points to grade by hand" in out, out
    assert str(alice) in out


def test_written_answers_are_pending_never_in_the_automatic_points(course_dir, tmp_path,
                                                                    capsys):
    """nbgrader's manually graded cells: an answered one is pending (null in --json), an
    unanswered one 0 (as nbgrader scores an unchanged answer cell), a deleted one 0; none adds
    to or takes from the automatic points."""
    def answer_two(nb):
        cells = [c for c in nb["cells"] if "_written_" in c["metadata"].get(
            "nbgrader", {}).get("grade_id", "")]
        cells[0]["source"] = "Because W_h is shared by every step."
        cells[1]["source"] = "It vanishes below 1 and explodes above."
        nb["cells"].remove(cells[2])

    path = _copy(course_dir, "release", "a1_rnn", tmp_path, answer_two)
    assert main(["course", "grade", str(path), "--json"]) == 0
    (graded,) = json.loads(capsys.readouterr().out)["notebooks"]
    assert (graded["points"], graded["max_points"]) == (0, 11)
    assert [(w["grade_id"], w["points"], w["answered"]) for w in graded["written"]] == [
        ("a1_written_1", None, True), ("a1_written_2", None, True),
        ("a1_written_3", 0.0, False)]
    assert "deleted" in graded["written"][2]["message"]
    assert (graded["written_max_points"], graded["written_pending_points"]) == (3, 2)
    assert all("_written_" not in e["grade_id"] for e in graded["exercises"])


def test_flat_downloads_give_assignment_4_the_same_students_earlier_notebooks(
        course_dir, tmp_path, capsys):
    """course grade on a flat folder: alice's a4 reads her a2 and a3 (found by metadata, under
    other names; the untouched releases, so that grading is quick and the long training
    skipped): their functions are "not implemented", and no folder is missing (the twin, a4
    alone, is the test below). tests/test_course_payoff.py: the functions found this way."""
    flat = tmp_path / "downloads"
    flat.mkdir()
    shutil.copy(_notebook(course_dir, "release", "a2_gates"), flat / "alice_111_gates-1.ipynb")
    shutil.copy(_notebook(course_dir, "release", "a3_attention"), flat / "alice_111_att.ipynb")
    shutil.copy(_notebook(course_dir, "source", "a4_translator"), flat / "alice_111_a4.ipynb")
    assert main(["course", "grade", str(flat), "--json"]) == 0
    graded = {(n["student"], n["assignment"]): n for n in
              json.loads(capsys.readouterr().out)["notebooks"]}
    alice = {e["grade_id"]: e["message"] for e in graded["alice", "a4_translator"]["exercises"]}
    missing = alice["train_with_your_functions"]
    assert "lstm_step_backward" in missing and "masked_softmax_forward" in missing, missing
    assert "beside" not in missing and "not found" not in missing  # a2, a3 found: no folder
    assert "a1_rnn" not in missing  # a1 is not needed by the dates model


def test_assignment_4_alone_says_which_folders_it_needs(course_dir, tmp_path):
    result = grade(_copy(course_dir, "source", "a4_translator", tmp_path), budget="ci")
    payoff = {e.grade_id: e.message for e in result.exercises}["train_with_your_functions"]
    assert "a1_rnn, a2_gates, a3_attention" in payoff and "beside" in payoff, payoff
    assert "the same student's notebooks of them (a platform's flat downloads)" in payoff
