"""``numpy-seq2seq course``: release the student versions of the assignments, and grade notebooks.

::

    numpy-seq2seq course release --out release/          # every assignment
    numpy-seq2seq course release --out release/ a1_rnn   # one
    numpy-seq2seq course grade submissions/ [--csv grades.csv] [--json] [--timeout 600]

``grade`` takes notebooks and folders (submissions.py: a folder's non-course notebooks are
skipped with a note) and exits 0 when grading ran, whatever the score; bad input (a missing
file, a file that is not a notebook, a notebook without graded cells or not one of the course's,
an unknown assignment) is one error line and exit status 2, as for every other command. If the
package's own files changed while a notebook was graded (``autograde.grade_all``), that notebook
scores 0 naming them, the rest are not graded, and an error line says to restore the package:
exit status 3. ``--json`` prints {"notebooks": [{path, student, assignment, points, max_points,
seconds, exercises, written, written_max_points, written_pending_points, tampered}],
"students": {student: {points, max_points, written_max_points, written_pending_points,
assignments}}, "not_graded": [path, …]}; ``--csv FILE`` writes one row per exercise (student,
assignment, exercise, points, max, message). ``points`` are the automatic points; a written
answer (graded by hand) has its own row and entry, with points ``pending`` (null in JSON) when
answered and 0 when not, and is never added to them.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from ..config import POSITIVE
from ..files import write_text_atomic
from .autograde import DEFAULT_TIMEOUT, Graded, grade_all, load_for_grading
from .notebooks import RELEASED, assignments, release
from .payoff import EARLIER, PAYOFF_ASSIGNMENT
from .submissions import CSV_COLUMNS, csv_text, earlier_notebooks, find_notebooks, student_of

EXIT_TAMPERED = 3  # the package's files changed during grading: the scores cannot be trusted


def add_course_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``course release`` and ``course grade`` under the main command's subparsers."""
    names = ", ".join(p.name for p in assignments(RELEASED))
    course = sub.add_parser("course", help="release and grade the course's assignments",
                            description="The course kit: assignments graded by gradient "
                            f"checks ({names}); see course/README.md.")
    course.set_defaults(func=_choose, threads=None)  # grade limits BLAS threads itself
    actions = course.add_subparsers(dest="course_command", metavar="{release,grade}")

    rel = actions.add_parser("release", help="write the student versions",
                             description="Write each assignment's student version to "
                             "OUT/<assignment>/: every solution region replaced by "
                             "'# YOUR CODE HERE' and 'raise NotImplementedError()'.")
    rel.add_argument("--out", type=Path, required=True, metavar="DIR")
    rel.add_argument("--force", action="store_true",
                     help="replace assignment folders that already exist in DIR")
    rel.add_argument("assignment", nargs="*", help=f"which to release (default all: {names})")
    rel.set_defaults(func=cmd_release)

    gr = actions.add_parser("grade", help="score notebooks' answers with the course's checks",
                            description="Score each notebook's exercises with the course's own "
                            "checks, run in this process on the functions of its answer cells "
                            "(which run in a separate process); print points per exercise and "
                            "in total. NUMPY_SEQ2SEQ_BUDGET=ci|full sizes assignment 4's "
                            "training (default full).")
    gr.add_argument("notebooks", nargs="+", type=Path, metavar="NOTEBOOK_OR_FOLDER",
                    help="notebooks, or folders to search for them (<student>/<assignment>/… "
                    "or a platform's flat downloads)")
    gr.add_argument("--json", action="store_true", help="print the result as JSON")
    gr.add_argument("--csv", type=Path, metavar="FILE",
                    help="also write one row per exercise: " + ", ".join(CSV_COLUMNS))
    gr.add_argument("--timeout", type=POSITIVE.argument_type(),
                    default=DEFAULT_TIMEOUT, metavar="SECONDS",
                    help="time limit per answer cell and per check (default %(default)s)")
    gr.set_defaults(func=cmd_grade)


def _choose(args: argparse.Namespace) -> int:
    raise ValueError("choose a course command: release or grade (see numpy-seq2seq course --help)")


def cmd_release(args: argparse.Namespace) -> int:
    written = release(args.out, args.assignment or None, force=args.force)
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    named, found = find_notebooks(args.notebooks)
    # all bad input is reported before anything runs; the course notebook each is graded as
    sources = {path: load_for_grading(path)[1] for path in named}
    for path in found:  # in a folder, what is not the course's is skipped, not an error
        try:
            sources[path] = load_for_grading(path)[1]
        except ValueError as e:
            print(f"numpy-seq2seq: skipped {path}: {e}", file=sys.stderr)
    if not sources:
        raise ValueError("no course notebooks found in " + ", ".join(map(str, args.notebooks)))
    paths = list(sources)
    assignment_of = {path: src.parent.name for path, src in sources.items()}
    whose = {path: student_of(path, assignment_of[path], src.name)
             for path, src in sources.items()}
    earlier = earlier_notebooks(assignment_of, whose, PAYOFF_ASSIGNMENT, EARLIER)
    results = [replace(r, student=whose[Path(r.path)])
               for r in grade_all(paths, args.timeout, earlier=earlier)]
    not_graded = [str(p) for p in paths[len(results):]]
    if args.csv is not None:
        write_text_atomic(args.csv, csv_text(row for r in results for row in _csv_rows(r)))
    if args.json:
        print(json.dumps({"notebooks": [r.to_json() for r in results],
                          "students": _totals(results), "not_graded": not_graded},
                         indent=1, ensure_ascii=False))
    else:
        _print_scores(results)
    if not results[-1].tampered:
        return 0
    print(f"numpy-seq2seq: error: grading stopped: the package's files changed while "
          f"{results[-1].path} was graded ({', '.join(results[-1].tampered)}); it scores 0, "
          f"and the {len(not_graded)} notebook(s) after it were not graded, since the grader's "
          f"own code may now be the student's. Restore the package (git checkout "
          f"numpy_seq2seq/ in a checkout, else reinstall it) and grade again.", file=sys.stderr)
    return EXIT_TAMPERED


def _csv_rows(r: Graded) -> list[tuple]:
    """One row per exercise, then one per written answer (points "pending" or 0)."""
    rows = [(r.student, r.assignment, e.grade_id, f"{e.points:g}", f"{e.max_points:g}",
             e.message) for e in r.exercises]
    return rows + [(r.student, r.assignment, w.grade_id, _points(w.points), f"{w.max_points:g}",
                    w.message) for w in r.written]


def _points(points: float | None) -> str:
    return "pending" if points is None else f"{points:g}"


def _totals(results: list[Graded]) -> dict[str, dict]:
    """student -> {points, max_points, written_max_points, written_pending_points, assignments},
    over the notebooks graded; ``points`` are the automatic points only."""
    totals: dict[str, dict] = {}
    for r in results:
        t = totals.setdefault(r.student, {"points": 0.0, "max_points": 0.0,
                                          "written_max_points": 0.0,
                                          "written_pending_points": 0.0, "assignments": []})
        t["points"] += r.points
        t["max_points"] += r.max_points
        t["written_max_points"] += r.written_max_points
        t["written_pending_points"] += r.written_pending_points
        t["assignments"].append(r.assignment)
    return totals


def _written_note(max_points: float, pending: float) -> str:
    """``; written answers: 3 of 3 points to grade by hand`` (empty without written answers)."""
    if not max_points:
        return ""
    if not pending:
        return f"; written answers: none answered (0 of {max_points:g} points)"
    return f"; written answers: {pending:g} of {max_points:g} points to grade by hand"


def _print_scores(results: list[Graded]) -> None:
    for r in results:
        tampered = f"; the package's files changed meanwhile: {', '.join(r.tampered)}" \
            if r.tampered else ""
        print(f"{r.path}: {r.points:g} / {r.max_points:g} points ({r.seconds:.1f} s; graded "
              f"as {r.source}{tampered})"
              + _written_note(r.written_max_points, r.written_pending_points))
        width = max(len(e.grade_id) for e in [*r.exercises, *r.written])
        for e in r.exercises:
            print(f"  {e.grade_id:<{width}}  {e.points:g} / {e.max_points:g}  {e.message}")
        for w in r.written:
            print(f"  {w.grade_id:<{width}}  {_points(w.points)} / {w.max_points:g}  "
                  f"{w.message}")
    totals = _totals(results)
    if len(results) > 1:
        for student, t in totals.items():
            print(f"total for {student}: {t['points']:g} / {t['max_points']:g} points "
                  f"({', '.join(sorted(t['assignments']))})"
                  + _written_note(t["written_max_points"], t["written_pending_points"]))
