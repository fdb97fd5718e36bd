"""Grade notebooks: the course's own checks, run in the grader, on the student's answers.

The notebook is never run. For one notebook:

1. Its course notebook is found by the grade ids of its answer cells, else by assignment and
   notebook name (``notebooks.source_of``). The exercises and their points are the course's
   graded cells, whatever the student's copy says: a graded cell whose grade id the course does
   not have scores 0 and is listed as such, and the student's check cells and outputs are not
   looked at.
2. The student's answer cells and the code cells they added (``answers.py``), after the
   course's import statements, run in a sandbox, a separate process (``sandbox.py``), one cell
   at a time.
3. Each exercise's check runs in the grader's own process, which computes the library's
   reference values, on stand-ins that call the student's functions in the sandbox and bring
   back what they return, as data. What the answer cells redefine, patch, print or exit with
   changes nothing here but those return values.
4. Assignment 4's payoff checks gather the earlier assignments' answers beside the notebook into
   the same sandbox, train five steps here with the student's functions, and run the long
   training in the sandbox; the translator it writes is scored here (``payoff``).

Written answers (nbgrader's manually graded markdown cells) are graded by hand: each is listed
as pending when answered, or 0 when it still holds the release's ``YOUR ANSWER HERE`` (as
nbgrader's autograde scores an unchanged answer cell), and neither counts in the automatic
``points``/``max_points``.

Each answer cell and each check has its own time limit (``timeout``, as nbgrader's per-cell
limit): a cell that hangs is left out and costs the functions it defines; a check that runs out
of time costs its own exercise, named in the message; the others are graded in a fresh
process. The budget (``ci`` or ``full``, as the notebooks' ``NUMPY_SEQ2SEQ_BUDGET``) sizes
assignment 4's training. Nothing is written beside the notebook.

The sandbox is a separate process run by the same user, so an answer cell can still write into
the package's files. ``grade_all`` (what ``course grade`` runs) compares them before and after
each notebook (fingerprint.py): the notebook during which they changed scores 0, naming them,
and no notebook is graded after it.
"""

from __future__ import annotations

import ast
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path

from ..threads import DEFAULT_THREADS, blas_threads
from .answers import answer_code
from .exercises import CALLS, EXERCISES, evaluate
from .fingerprint import PACKAGE, changed, fingerprint
from .grading import CheckFailed, Result, StudentRaised
from .notebooks import (
    Notebook,
    grade_cells,
    is_grade,
    label_of,
    meta,
    read_notebook,
    source,
    source_of,
    written_cells,
)
from .payoff import (
    Collected,
    evaluate_training,
    evaluate_translator,
    run_translator,
    student_functions,
)
from .sandbox import Sandbox

DEFAULT_TIMEOUT = 600  # seconds per cell: each answer cell, and each check
CHECKS = ("check", "check_training", "check_translator")  # what a source's graded cell calls


@dataclass
class Exercise:
    grade_id: str
    points: float
    max_points: float
    message: str


@dataclass
class Written:
    """A written answer: graded by hand, never part of the automatic points."""

    grade_id: str
    max_points: float
    answered: bool
    message: str

    @property
    def points(self) -> float | None:
        """None (pending: to grade by hand) when answered; 0 when not, as nbgrader scores it."""
        return None if self.answered else 0.0

    def to_json(self) -> dict:
        return {"grade_id": self.grade_id, "points": self.points, "max_points": self.max_points,
                "answered": self.answered, "message": self.message}


@dataclass
class Graded:
    path: str
    points: float  # automatic: the checks' points (written answers are not in it)
    max_points: float
    exercises: list[Exercise] = field(default_factory=list)
    seconds: float = 0.0  # wall time to grade
    complete: bool = True  # every exercise was graded (always, since limits are per cell)
    source: str = ""  # the course notebook it was graded as, e.g. "a1_rnn/rnn_and_bptt.ipynb"
    tampered: list[str] = field(default_factory=list)  # package files changed meanwhile
    student: str = ""  # whose it is (submissions.student_of), set by ``course grade``
    written: list[Written] = field(default_factory=list)  # graded by hand

    @property
    def assignment(self) -> str:
        return self.source.split("/")[0]

    @property
    def written_max_points(self) -> float:
        return sum(w.max_points for w in self.written)

    @property
    def written_pending_points(self) -> float:
        """The points of the written answers that wait for hand grading (the answered ones)."""
        return sum(w.max_points for w in self.written if w.answered)

    def to_json(self) -> dict:
        """The keys ``course grade --json`` prints, and no others."""
        return {"path": self.path, "student": self.student, "assignment": self.assignment,
                "points": self.points, "max_points": self.max_points,
                "seconds": round(self.seconds, 2),
                "exercises": [asdict(e) for e in self.exercises],
                "written": [w.to_json() for w in self.written],
                "written_max_points": self.written_max_points,
                "written_pending_points": self.written_pending_points,
                "tampered": self.tampered}


@dataclass(frozen=True)
class GradedCell:
    """A graded cell of a source notebook: ``check(name, fn, forward=…)`` or a payoff check."""

    grade_id: str
    points: float
    check: str  # one of CHECKS
    args: tuple[str | None, ...] = ()  # check: the exercise, its function, its forward or None


# ---------------------------------------------------------------------------------------------
def load_for_grading(path: str | os.PathLike) -> tuple[Notebook, Path]:
    """Read a notebook and make sure it has something to grade (else ValueError, one line);
    (the notebook, the course's source of it)."""
    nb = read_notebook(path)
    if not grade_cells(nb):
        raise ValueError(f"{path} has no graded cells (no cell with nbgrader metadata "
                         "grade: true)")
    return nb, source_of(path, nb=nb)


def graded_cells(src: Notebook) -> list[GradedCell]:
    """The graded cells of a source notebook, each read from its one-line call."""
    return [_parse(cell) for cell in grade_cells(src)]


def _parse(cell: dict) -> GradedCell:
    gid, points = meta(cell)["grade_id"], float(meta(cell)["points"])
    body = ast.parse(source(cell)).body
    call = body[0].value if len(body) == 1 and isinstance(body[0], ast.Expr) else None
    if not isinstance(call, ast.Call) or getattr(call.func, "id", None) not in CHECKS:
        raise ValueError(f"graded cell {gid!r} is not a call of one of {', '.join(CHECKS)}")
    if call.func.id != "check":
        return GradedCell(gid, points, call.func.id)
    forward = next((k.value.id for k in call.keywords if k.arg == "forward"), None)
    return GradedCell(gid, points, "check", (call.args[0].value, call.args[1].id, forward))


# ---------------------------------------------------------------------------------------------
def grade(path: str | os.PathLike, timeout: float = DEFAULT_TIMEOUT,
          budget: str | None = None, earlier: Mapping[str, Path | str] | None = None) -> Graded:
    """Grade one notebook (see the module docstring).

    Parameters
    ----------
    path : the notebook
    timeout : seconds for each answer cell and each check (nbgrader's limit is per cell too)
    budget : "ci" or "full"; default: ``NUMPY_SEQ2SEQ_BUDGET``, else "full"
    earlier : assignment 4: the same student's notebooks of the earlier assignments (or why
        none), where they are not in folders beside it (``payoff.student_functions``)
    """
    start = time.perf_counter()
    path = Path(path)
    nb, src_path = load_for_grading(path)
    src = read_notebook(src_path)
    cells = graded_cells(src)
    written = written_answers(nb, src)
    known = {c.grade_id for c in cells} | {w.grade_id for w in written}
    flagged = [Exercise(gid, 0.0, 0.0, f"not an exercise of {label_of(src_path)}: a graded "
                                       "cell the course does not have scores nothing")
               for gid in (meta(c).get("grade_id", "?") for c in nb["cells"] if is_grade(c))
               if gid not in known]
    budget = budget or os.environ.get("NUMPY_SEQ2SEQ_BUDGET", "full")
    deadline = time.monotonic() + timeout
    with blas_threads(DEFAULT_THREADS), Sandbox(path.resolve().parent, deadline, timeout) as box:
        grader = _Grader(box, path, nb, src, src_path, budget, earlier)
        exercises = [grader.score(cell) for cell in cells]
    return Graded(str(path), sum(e.points for e in exercises),
                  sum(e.max_points for e in exercises), exercises + flagged,
                  time.perf_counter() - start, True, label_of(src_path), written=written)


def written_answers(nb: Notebook, released: Notebook) -> list[Written]:
    """The written answers of ``nb``, a student's copy of the course's student version
    ``released``: answered where the cell's text differs from the release's (nbgrader's rule,
    which compares checksums of the source)."""
    by_id = {meta(c).get("grade_id"): c for c in nb["cells"] if meta(c)}
    out = []
    for cell in written_cells(released):
        gid, points = meta(cell)["grade_id"], float(meta(cell)["points"])
        mine = by_id.get(gid)
        if mine is None:
            out.append(Written(gid, points, False, "written answer: the answer cell was deleted "
                                                   "(0)"))
        elif source(mine) == source(cell):
            out.append(Written(gid, points, False, f"written answer: not answered (still "
                                                   f"{source(cell)!r}): 0, as nbgrader scores it"))
        else:
            out.append(Written(gid, points, True, f"written answer ({len(source(mine).strip()):,} "
                                                  "characters), to grade by hand"))
    return out


def grade_all(paths: list[Path], timeout: float = DEFAULT_TIMEOUT, budget: str | None = None,
              package: Path | None = None,
              earlier: Mapping[Path, Mapping[str, Path | str]] | None = None) -> list[Graded]:
    """Grade notebooks in turn while the package's files stay as they were.

    ``earlier`` gives, per notebook of assignment 4, the same student's earlier notebooks in
    the run (``grade``'s argument).

    ``package`` (default: the one running) is fingerprinted before the first notebook and after
    each. The notebook during which a file changed scores 0, with ``tampered`` naming the files,
    and is the last in the list: the ones after it are not graded, since the grader's own code
    may now be the student's.
    """
    package = package or PACKAGE
    # our own late imports must not write .pyc files there either (the worker's: WORKER_ENV)
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        before, results = fingerprint(package), []
        for path in paths:
            results.append(grade(path, timeout, budget, (earlier or {}).get(path)))
            if tampered := changed(before, fingerprint(package)):
                results[-1] = _zeroed(results[-1], tampered)
                break
        return results
    finally:
        sys.dont_write_bytecode = writes


def _zeroed(graded: Graded, tampered: list[str]) -> Graded:
    why = "not scored: the package's files changed while this notebook was graded"
    return replace(graded, points=0.0, tampered=tampered, exercises=[
        Exercise(e.grade_id, 0.0, e.max_points, why) for e in graded.exercises],
        written=[Written(w.grade_id, w.max_points, False, why) for w in graded.written])


class _Grader:
    """One notebook's answers in a sandbox, and the results of its checks."""

    def __init__(self, box: Sandbox, path: Path, nb: Notebook, src: Notebook, src_path: Path,
                 budget: str, earlier: Mapping[str, Path | str] | None = None) -> None:
        self.box, self.path, self.nb, self.src, self.budget = box, path, nb, src, budget
        self.earlier = earlier
        self.label = label_of(src_path)
        self.passed: dict[str, bool] = {}  # exercise -> whether it passed, as graded so far

    def score(self, cell: GradedCell) -> Exercise:
        try:
            self.box.revive()
            self.box.deadline = time.monotonic() + self.box.timeout  # loading and gathering
            _ = self.answers if cell.check == "check" else self.collected
            self.box.deadline = time.monotonic() + self.box.timeout  # each check its own limit
            result = self.result(cell)
        except CheckFailed as e:  # the sandbox's time limit or lost process, outside a check
            result = Result(cell.grade_id, False, str(e))
        return Exercise(cell.grade_id, cell.points if result.passed else 0.0, cell.points,
                        result.message)

    def result(self, cell: GradedCell) -> Result:
        if cell.check == "check_training":
            with self.box.using(self.collected.functions):
                return evaluate_training(self.collected)
        if cell.check == "check_translator":
            return self.translator()
        name, fn_name, forward = cell.args
        functions, problem = self.answers
        if fn_name not in functions:
            self.passed[name] = False
            return Result(name, False, f"{name}: your answer cells do not define "
                                       f"{fn_name}{f' ({problem})' if problem else ''}.")
        # what it calls by name and fails (or is missing) is stood in for by the library's
        failed = [d for d in CALLS.get(name, ()) if d not in functions or not self.passed.get(d)]
        result = evaluate(name, functions[fn_name], functions.get(forward), failed=failed)
        self.passed[name] = result.passed
        return result

    @cached_property
    def answers(self) -> tuple[dict, str | None]:
        """The student's functions of this notebook (stand-ins), and the first problem."""
        return self.box.load(answer_code(self.nb, self.src, self.label), EXERCISES)

    @cached_property
    def collected(self) -> Collected:
        """Assignment 4: the functions of the earlier assignments and this one that pass."""
        return student_functions(current=self.answers[0], here=self.path.resolve().parent,
                                 load=lambda code: self.box.load(code, EXERCISES),
                                 earlier=self.earlier)

    def translator(self) -> Result:
        """``numpy-seq2seq train`` run in the sandbox with the student's functions; the
        checkpoint it writes is scored here."""
        with tempfile.TemporaryDirectory(prefix="course-grade-") as folder:
            try:
                run = run_translator(self.collected, self.budget, Path(folder) / "run",
                                     lambda argv, functions: self.box.train(functions, argv))
            except (StudentRaised, RuntimeError, ValueError, OSError) as e:
                return Result("translator_accuracy", False, f"translator_accuracy: the training "
                                                            f"run failed: {e}")
        return evaluate_translator(run)
