"""Grade notebooks: run each on a fresh kernel, then score its graded cells as nbgrader does.

The steps, for one notebook:

1. If it is (a copy of) one of the course's assignments, recognised by its grade ids, its graded
   and locked cells are put back as the source has them, with the source's points, so that an
   edited check cannot pass; a graded cell the student deleted scores 0.
2. It runs top to bottom on a fresh ``python3`` kernel in its own folder (so the last assignment
   finds the earlier ones beside it), errors or not, within a time limit for the whole notebook;
   cells the limit leaves unrun score 0.
3. Each graded cell scores with nbgrader's rule: 0 if it raised or wrote to stderr, its output
   if that is a number (partial credit), else its points. The message is what the check said
   (stderr or the error, else its last line of output).

Nothing is written: the notebook on disk is left as it is.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from unittest import mock

from .notebooks import Notebook, is_grade, meta, read_notebook, source, source_notebooks

DEFAULT_TIMEOUT = 600  # seconds per notebook


@dataclass
class Exercise:
    grade_id: str
    points: float
    max_points: float
    message: str


@dataclass
class Graded:
    path: str
    points: float
    max_points: float
    exercises: list[Exercise] = field(default_factory=list)
    seconds: float = 0.0  # wall time to run and score
    complete: bool = True  # every code cell ran (False after the time limit)

    def to_json(self) -> dict:
        """The keys ``course grade --json`` prints, and no others."""
        return {"path": self.path, "points": self.points, "max_points": self.max_points,
                "exercises": [asdict(e) for e in self.exercises]}


# ---------------------------------------------------------------------------------------------
def load_for_grading(path: str | os.PathLike) -> Notebook:
    """Read a notebook and make sure it has something to grade (else ValueError, one line)."""
    nb = read_notebook(path)
    if not any(is_grade(c) and c.get("cell_type") == "code" for c in nb["cells"]):
        raise ValueError(f"{path} has no graded cells (no cell with nbgrader metadata "
                         "grade: true)")
    return nb


def matching_source(nb: Notebook) -> Notebook | None:
    """The course's source notebook that ``nb`` was released from, found by its grade ids."""
    ids = {meta(c).get("grade_id") for c in nb["cells"] if is_grade(c)}
    best, best_shared = None, 0
    for path in source_notebooks():
        src = read_notebook(path)
        shared = len(ids & {meta(c).get("grade_id") for c in src["cells"] if is_grade(c)})
        if shared > best_shared:
            best, best_shared = src, shared
    return best


def restore_locked_cells(nb: Notebook, src: Notebook) -> list[str]:
    """Put back the source's graded and locked cells (by grade id); returns the grade ids of
    graded cells missing from ``nb``."""
    by_id = {meta(c)["grade_id"]: c for c in src["cells"]
             if meta(c).get("locked") or is_grade(c)}
    seen = set()
    for cell in nb["cells"]:
        original = by_id.get(meta(cell).get("grade_id"))
        if original is None or is_solution_cell(original):
            continue
        seen.add(meta(cell)["grade_id"])
        cell["source"] = source(original)
        cell["metadata"]["nbgrader"] = dict(meta(original))
        cell["cell_type"] = original["cell_type"]
    return [gid for gid, c in by_id.items() if is_grade(c) and gid not in seen]


def is_solution_cell(cell: dict) -> bool:
    return bool(meta(cell).get("solution"))


# ---------------------------------------------------------------------------------------------
def grade(path: str | os.PathLike, timeout: float = DEFAULT_TIMEOUT,
          env: dict[str, str] | None = None) -> Graded:
    """Run and score one notebook (see the module docstring).

    Parameters
    ----------
    path : the notebook
    timeout : seconds for the whole notebook
    env : extra environment variables for the kernel (e.g. NUMPY_SEQ2SEQ_BUDGET)
    """
    start = time.perf_counter()
    nb = load_for_grading(path)
    src = matching_source(nb)
    deleted = restore_locked_cells(nb, src) if src is not None else []
    ran = _execute(nb, Path(path).resolve().parent, timeout, env or {})
    code_cells = [c for c in nb["cells"] if c.get("cell_type") == "code"]
    exercises = [_score(cell, ran.get(id(cell)), timeout) for cell in nb["cells"]
                 if is_grade(cell) and cell.get("cell_type") == "code"]
    for gid in deleted:
        cell = next(c for c in src["cells"] if meta(c).get("grade_id") == gid)
        exercises.append(Exercise(gid, 0.0, float(meta(cell)["points"]),
                                  "its check cell was deleted from the notebook"))
    return Graded(str(path), sum(e.points for e in exercises),
                  sum(e.max_points for e in exercises), exercises, time.perf_counter() - start,
                  all(id(c) in ran for c in code_cells))


def _execute(nb: Notebook, folder: Path, timeout: float, env: dict[str, str]) -> dict[int, bool]:
    """Run the code cells in order on a fresh kernel; id(cell) -> True once the cell has run."""
    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellTimeoutError, DeadKernelError
    except ImportError:
        raise ValueError("course grade needs nbclient, nbformat and ipykernel: "
                         "pip install 'numpy_seq2seq[course]'") from None
    node = nbformat.reads(json.dumps(nb), as_version=4)  # sources as strings, as nbclient needs
    # interrupt_on_timeout=False: a cell over the limit raises CellTimeoutError, and grading
    # stops there (True would interrupt it and carry on with the next cell)
    client = NotebookClient(node, kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=False,
                            resources={"metadata": {"path": str(folder)}})
    ran: dict[int, bool] = {}
    deadline = time.monotonic() + timeout
    # the kernel inherits the environment it is started in; its own log (e.g. a warning about
    # its transport) is not the student's output
    with mock.patch.dict(os.environ, env), client.setup_kernel(stderr=subprocess.DEVNULL):
        for index, cell in enumerate(node.cells):
            left = deadline - time.monotonic()
            if cell.cell_type != "code":
                continue
            if left <= 0:
                break
            client.timeout = max(1, math.ceil(left))
            try:
                client.execute_cell(cell, index)
            except (CellTimeoutError, DeadKernelError):
                break
            ran[index] = True
    # copy outputs back into the plain dicts, keyed by the original cells
    result = {}
    for index, (cell, done) in enumerate(zip(nb["cells"], node.cells)):
        if ran.get(index):
            cell["outputs"] = [dict(o) for o in done.outputs]
            result[id(cell)] = True
    return result


def _score(cell: dict, ran: bool | None, timeout: float) -> Exercise:
    points = float(meta(cell).get("points", 0))
    gid = meta(cell).get("grade_id", "?")
    if not ran:
        return Exercise(gid, 0.0, points, f"not run: the time limit of {timeout:g} s was "
                                          "reached first")
    outputs = cell.get("outputs", [])
    for out in outputs:
        if out.get("output_type") == "error":
            return Exercise(gid, 0.0, points, f"{out.get('ename')}: {out.get('evalue')}")
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            return Exercise(gid, 0.0, points, _text(out).strip().removeprefix("✘ "))
        if out.get("output_type") == "execute_result":  # nbgrader: a number is partial credit
            try:
                value = float(_text(out.get("data", {}).get("text/plain", "")))
            except ValueError:
                value = points  # anything else counts as full credit
            value = value if 0 <= value <= points else points
            return Exercise(gid, value, points, f"the cell's value, {value:g}, is its score")
    said = [line for o in outputs if o.get("output_type") == "stream"
            for line in _text(o).splitlines() if line.strip()]
    return Exercise(gid, points, points, said[-1].removeprefix("✔ ") if said else "passed")


def _text(out) -> str:
    text = out.get("text", "") if isinstance(out, dict) and "text" in out else out
    return "".join(text) if isinstance(text, list) else str(text)
