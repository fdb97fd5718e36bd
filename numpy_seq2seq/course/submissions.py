"""Where the submissions are, and whose each one is, for ``course grade``.

``course grade`` takes notebooks and folders. A folder is searched for ``*.ipynb`` (checkpoints
and hidden folders left out); the notebooks found in it that are not the course's are skipped
with a note, where a notebook named on the command line would be an error. Each notebook is
graded as the course notebook its metadata names (``notebooks.source_of``), whatever its file
name, and is credited to a student read from its path:

* ``<student>/<assignment>/<notebook>.ipynb`` (nbgrader's ``submitted/``, a collection of
  folders): the folder above the assignment's;
* ``<student>/<notebook>.ipynb``, the course's file name: the folder;
* any other file name, as a learning platform names downloads
  (``alice_12345_67890_rnn_and_bptt.ipynb``): the file name up to its first ``_``.

Assignment 4 trains with the student's answers to the earlier assignments: ``earlier_notebooks``
finds, for each assignment 4 notebook, the same student's notebooks of those assignments among
the ones graded in the same run (a platform's flat downloads hold them side by side, under any
names); nbgrader's layout has them in folders beside it anyway.

``csv_text`` lays the grades out for a spreadsheet: one CSV row per exercise.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

CSV_COLUMNS = ("student", "assignment", "exercise", "points", "max", "message")


def find_notebooks(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[Path]]:
    """(the notebooks named, the notebooks found in the folders named), each in order."""
    named, found = [], []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if not any(
                part.startswith(".") for part in p.relative_to(path).parts))
        else:
            named.append(path)
    return named, found


def student_of(path: Path, assignment: str, notebook_name: str) -> str:
    """The student a notebook belongs to (see the module docstring); "?" if the path says
    nothing."""
    folder = path.resolve().parent
    if path.name != notebook_name:
        return path.stem.split("_")[0] or "?"
    if folder.name == assignment:
        folder = folder.parent
    return folder.name or "?"


def earlier_notebooks(assignment_of: Mapping[Path, str], student_of: Mapping[Path, str],
                      later: str, earlier: Iterable[str]) -> dict[Path, dict[str, Path | str]]:
    """For each notebook of assignment ``later``: assignment -> that student's notebook of it in
    the run, or why none is used (two of them); students read as "?" are not matched.

    Parameters
    ----------
    assignment_of : notebook -> its assignment, as graded (by metadata)
    student_of : notebook -> its student (``student_of``)
    later : the assignment that needs the others, "a4_translator"
    earlier : the assignments it needs
    """
    by_student: dict[tuple[str, str], list[Path]] = {}
    for path, assignment in assignment_of.items():
        by_student.setdefault((student_of[path], assignment), []).append(path)
    out: dict[Path, dict[str, Path | str]] = {}
    for path, assignment in assignment_of.items():
        student = student_of[path]
        if assignment != later or student == "?":
            continue
        found: dict[str, Path | str] = {}
        for name in earlier:
            mine = by_student.get((student, name), [])
            if len(mine) == 1:
                found[name] = mine[0]
            elif mine:
                found[name] = (f"{len(mine)} {name} notebooks of {student} in this run "
                               f"({', '.join(p.name for p in mine)}): grade it with one")
        out[path] = found
    return out


def csv_text(rows: Iterable[tuple]) -> str:
    """``rows`` under the header ``CSV_COLUMNS``, as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return out.getvalue()
