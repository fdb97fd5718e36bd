"""Assignment notebooks in nbgrader's format, read and written with the standard library only.

nbgrader's conventions, which the course follows and this module implements:

* cell metadata ``{"nbgrader": {"schema_version": 3, "grade": …, "solution": …, "locked": …,
  "task": false, "grade_id": …, "points": …}}``: a *solution* cell holds the student's answer,
  a *grade* cell (code, not solution) checks it and is worth ``points``, a *locked* cell is
  read-only (nbgrader restores it before grading);
* a *written answer* (markdown, ``solution`` and ``grade`` true) is graded by hand; the student
  version replaces it by ``YOUR ANSWER HERE``;
* a solution region runs from a line containing ``BEGIN`` then `` SOLUTION`` (``BEGIN`` below)
  to one containing ``END`` then `` SOLUTION``; the student version replaces it by
  ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the indentation of the ``BEGIN``
  line (a solution cell without a region is replaced whole), and drops every output;
* the layout ``source/<assignment>/<notebook>.ipynb``, released as
  ``release/<assignment>/<notebook>.ipynb`` with the assignment's other files beside it.

``release_notebook`` reproduces ``nbgrader generate_assignment``'s cell sources (a test compares
the two where nbgrader is installed); it does not add nbgrader's checksums, which only
nbgrader's own database uses.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..files import write_text_atomic

# joined at run time, so that no installed file holds the marker a solution starts with, not
# even the .pyc pip compiles (Python folds "BEGIN" + " SOLUTION" into one constant there):
# tests/test_course_package.py searches the installed package, bytecode included
BEGIN, END = (" ".join((word, "SOLUTION")) for word in ("BEGIN", "END"))
CODE_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
TEXT_STUB = "YOUR ANSWER HERE"
# the instructor's sources, solutions included: course/source/ of a checkout, never installed
SOURCES = Path(__file__).resolve().parents[2] / "course" / "source"
# their student versions, shipped as package data: all that grading needs (the graded cells, the
# answer cells' grade ids, the import cells) and no solution. In a checkout,
# `numpy-seq2seq course release --force --out numpy_seq2seq/course/released` writes them;
# tests/test_course_package.py keeps them equal to the sources' release
RELEASED = Path(__file__).resolve().parent / "released"


def default_sources() -> Path:
    """What ``release`` reads: the sources in a checkout, else the shipped student versions
    (releasing those again gives the same notebooks)."""
    return SOURCES if SOURCES.is_dir() else RELEASED

Notebook = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# reading and writing

def read_notebook(path: str | os.PathLike) -> Notebook:
    """A notebook as a dict; ValueError (one line) if the file is not a Jupyter notebook."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such notebook: {path}")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"{path} is not a notebook (not JSON)") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or "nbformat" not in nb:
        raise ValueError(f"{path} is not a Jupyter notebook (no 'cells' and 'nbformat')")
    return nb


def write_notebook(nb: Notebook, path: str | os.PathLike) -> None:
    """Write as Jupyter formats it, atomically and with the user's usual permissions
    (``files.write_text_atomic``)."""
    write_text_atomic(path, json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n")


def source(cell: dict) -> str:
    """A cell's source as one string (notebooks store it as a string or a list of lines)."""
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def meta(cell: dict) -> dict:
    """The cell's nbgrader metadata ({} for an ordinary cell)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def is_solution(cell: dict) -> bool:
    return bool(meta(cell).get("solution"))


def is_grade(cell: dict) -> bool:
    return bool(meta(cell).get("grade"))


def grade_cells(nb: Notebook) -> list[dict]:
    """The autograded cells (code cells with ``grade`` true), in order."""
    return [c for c in nb["cells"] if is_grade(c) and c.get("cell_type") == "code"]


def is_written(cell: dict) -> bool:
    """A written answer, graded by hand: nbgrader's manually graded answer cell (markdown,
    ``solution`` and ``grade`` true, worth ``points``)."""
    return cell.get("cell_type") == "markdown" and is_solution(cell) and is_grade(cell)


def written_cells(nb: Notebook) -> list[dict]:
    """The written answers, in order."""
    return [c for c in nb["cells"] if is_written(c)]


# ---------------------------------------------------------------------------------------------
# the student version

def strip_solution(text: str) -> tuple[str, bool]:
    """Replace every solution region of ``text`` by the code stub; (new text, replaced any)."""
    out, inside, replaced = [], False, False
    for line in text.split("\n"):
        if BEGIN in line:
            if inside:
                raise ValueError(f"nested '{BEGIN}' in:\n{text}")
            inside = replaced = True
            indent = re.match(r"\s*", line).group(0)
            out.extend(indent + stub for stub in CODE_STUB)
        elif END in line:
            if not inside:
                raise ValueError(f"'{END}' without '{BEGIN}' in:\n{text}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"'{BEGIN}' without '{END}' in:\n{text}")
    return "\n".join(out), replaced


def release_notebook(nb: Notebook) -> Notebook:
    """The student version of a source notebook (see the module docstring)."""
    nb = json.loads(json.dumps(nb))  # a deep copy
    for cell in nb["cells"]:
        text, replaced = strip_solution(source(cell))
        if replaced and not is_solution(cell):
            raise ValueError(f"a solution region outside a solution cell:\n{source(cell)}")
        if is_solution(cell) and not replaced:
            text = "\n".join(CODE_STUB) if cell["cell_type"] == "code" else TEXT_STUB
        cell["source"] = text
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def student_version(nb: Notebook) -> Notebook:
    """``release_notebook(nb)``, or ``nb`` itself, outputs cleared, when it is a student version
    already (no solution region anywhere, and its answer cells hold the code stub): releasing
    the shipped versions again must not replace the stubbed functions (``def …:`` around the
    stub) by bare stubs, as a solution cell without a region would be."""
    cells = nb["cells"]
    released = not any(BEGIN in source(c) for c in cells) and all(
        CODE_STUB[0] in source(c) for c in cells if is_solution(c) and c["cell_type"] == "code")
    if not released:
        return release_notebook(nb)
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def solution_lines(nb: Notebook) -> list[str]:
    """Every non-blank line inside a solution region (what must never reach a student)."""
    lines, inside = [], False
    for cell in nb["cells"]:
        for line in source(cell).split("\n"):
            if BEGIN in line:
                inside = True
            elif END in line:
                inside = False
            elif inside and line.strip():
                lines.append(line)
    return lines


# ---------------------------------------------------------------------------------------------
# the assignments

def assignments(root: Path = RELEASED) -> list[Path]:
    """The assignment folders under ``root`` (those holding a notebook), in name order."""
    if not root.is_dir():
        raise ValueError(f"no assignments at {root} (the sources, with their solutions, are "
                         "in a checkout's course/source/, never in the installed package)")
    return sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def notebooks(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.ipynb"))


def release(out: str | os.PathLike, names: list[str] | None = None, force: bool = False,
            root: Path | None = None) -> list[Path]:
    """Write the student version of each assignment to ``out/<assignment>/``.

    Parameters
    ----------
    out : the release folder (created if missing)
    names : the assignments to release (default: all)
    force : replace an assignment folder that already exists (otherwise ValueError: a release
        never overwrites what is there silently)
    root : the sources (default: ``default_sources()``)

    Returns
    -------
    the notebooks written
    """
    known = {p.name: p for p in assignments(root or default_sources())}
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise ValueError(f"unknown assignment {unknown[0]!r}; the assignments are "
                         f"{', '.join(known)}")
    chosen = [known[n] for n in names] if names else list(known.values())
    out = Path(out)
    if out.resolve() in {p.parent.resolve() for p in chosen}:
        raise ValueError(f"{out} holds the notebooks being released; release into another folder")
    existing = [out / p.name for p in chosen if (out / p.name).exists()]
    if existing and not force:
        raise ValueError(f"{existing[0]} already exists; give --force to replace it")
    written = []
    for folder in chosen:
        target = out / folder.name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for path in sorted(folder.iterdir()):
            if path.suffix == ".ipynb":
                write_notebook(student_version(read_notebook(path)), target / path.name)
                written.append(target / path.name)
            elif path.is_file():
                shutil.copy2(path, target / path.name)
    return written


def source_notebooks(root: Path = RELEASED) -> Iterator[Path]:
    for folder in assignments(root):
        yield from notebooks(folder)


def source_of(path: str | os.PathLike, root: Path = RELEASED, nb: Notebook | None = None
              ) -> Path:
    """The course's notebook a student's notebook is graded as (by default its shipped student
    version, which has the source's graded cells and grade ids).

    By its metadata first, whatever the file is called (``alice_12345_rnn_and_bptt.ipynb``, as
    an LMS names downloads): the one course notebook whose answer cells' grade ids ``nb``
    carries most of. Else by name: the one of the same assignment (the notebook's folder) and
    name; else the one of that name; else the one notebook of the assignment the folder is named
    after. ValueError (one line) if none fits."""
    path = Path(path)
    sources = list(source_notebooks(root))
    if nb is not None and (by_metadata := _by_grade_ids(nb, sources)) is not None:
        return by_metadata
    same_name = [p for p in sources if p.name == path.name]
    in_folder = [p for p in sources if p.parent.name == path.resolve().parent.name]
    for found in ([p for p in same_name if p in in_folder], same_name, in_folder):
        if len(found) == 1:
            return found[0]
    raise ValueError(f"{path} is not one of the course's notebooks; expected one of "
                     f"{', '.join(map(label_of, sources))} (by the grade ids of its answer "
                     "cells, or by the assignment's folder and the notebook's name)")


def _by_grade_ids(nb: Notebook, sources: list[Path]) -> Path | None:
    """The one course notebook sharing the most answer-cell grade ids with ``nb``, or None."""
    have = {meta(c).get("grade_id") for c in nb.get("cells", []) if isinstance(c, dict)}
    shared = {p: len(have & {meta(c).get("grade_id") for c in read_notebook(p)["cells"]
                             if is_solution(c)}) for p in sources}
    best = max(shared.values(), default=0)
    found = [p for p, n in shared.items() if n == best]
    return found[0] if best > 0 and len(found) == 1 else None


def label_of(path: Path) -> str:
    """``a1_rnn/rnn_and_bptt.ipynb``: a notebook by its folder and name."""
    return f"{path.parent.name}/{path.name}"
