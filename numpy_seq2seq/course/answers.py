"""A student's answers: which cells of a notebook hold them, and running them into a namespace.

What runs, in the student's notebook order, as nbgrader would run it (minus the checks):

* first, the import statements of the course's own code cells (its setup and imports; the rest
  of those cells is not run), as the released notebook (``notebooks.RELEASED``) has them;
* the answer cells: the student's cells carrying the grade ids of the course's solution cells
  (``rnn_step_forward_answer``, …; Jupyter keeps a cell's metadata however it is edited);
* the code cells the student added (helpers, experiments): any code cell that is neither a
  course cell (by its cell id, grade id or unchanged text) nor a graded cell.

IPython's syntax (``%time``, ``!ls``) is turned into plain Python first. Output is discarded. A
cell that raises loses what comes after it in that cell, not the other cells. Under ``course
grade`` each cell runs with its own time limit (sandbox.py).
"""

from __future__ import annotations

import ast
import contextlib
import io
import linecache
from dataclasses import dataclass

from .notebooks import Notebook, is_grade, is_solution, meta, source


@dataclass(frozen=True)
class AnswerCode:
    """The code that defines a student's functions, in the order it runs."""

    label: str  # where it comes from, e.g. "a1_rnn/rnn_and_bptt.ipynb"
    blocks: tuple[str, ...]  # import statements of the source, then the student's cells
    missing: tuple[str, ...]  # grade ids of answer cells not in the student's notebook
    cells: tuple[str, ...] = ()  # each block's name for messages, e.g. "rnn_step_forward_answer"

    def cell(self, number: int) -> str:
        """The name of block ``number``: its grade id, or what it is."""
        return self.cells[number] if number < len(self.cells) else f"block {number}"

    def problem(self) -> str | None:
        if not self.missing:
            return None
        return f"{self.label} has no cell {', '.join(self.missing)} (an answer cell was deleted)"


def answer_code(nb: Notebook, src: Notebook, label: str) -> AnswerCode:
    """The answer code of ``nb``, a student's copy of the course notebook ``src``."""
    code = [c for c in src["cells"] if c.get("cell_type") == "code"]
    course_ids = {c.get("id") for c in code} - {None}
    course_grade_ids = {meta(c).get("grade_id") for c in code} - {None}
    course_texts = {source(c).strip() for c in code}
    wanted = [meta(c)["grade_id"] for c in code if is_solution(c)]
    blocks = [(_imports(source(c)), "the notebook's imports") for c in code
              if not is_solution(c)]
    for number, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "code":
            continue
        gid = meta(cell).get("grade_id")
        if gid in wanted:
            blocks.append((source(cell), gid))
        elif not (gid in course_grade_ids or is_grade(cell) or cell.get("id") in course_ids
                  or source(cell).strip() in course_texts):
            blocks.append((source(cell), f"the code cell you added (cell {number + 1})"))
    found = {meta(c).get("grade_id") for c in nb["cells"] if c.get("cell_type") == "code"}
    kept = [(b, name) for b, name in blocks if b.strip()]
    return AnswerCode(label, tuple(b for b, _ in kept),
                      tuple(gid for gid in wanted if gid not in found),
                      tuple(name for _, name in kept))


def run_answers(code: AnswerCode) -> tuple[dict, str | None]:
    """Run the answer code in a fresh namespace; (namespace, the first problem or None)."""
    namespace = new_namespace(code.label)
    problem = code.problem()
    for number in range(len(code.blocks)):
        raised = run_block(namespace, code, number)  # run every block, whatever came before
        problem = problem or raised
    return namespace, problem


def new_namespace(label: str) -> dict:
    return {"__name__": f"answers_of_{label.replace('/', '_')}"}


def run_block(namespace: dict, code: AnswerCode, number: int) -> str | None:
    """Run block ``number`` of ``code`` into ``namespace``; the problem it had, or None."""
    text = python(code.blocks[number])
    filename = f"<{code.label}, {code.cell(number)}>"
    # as IPython does for a cell: tracebacks can then quote the student's line
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    try:  # the student's output is not the grader's: keep it off stdout and stderr
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            exec(compile(text, filename, "exec"), namespace)  # noqa: S102
    except (Exception, SystemExit) as e:  # a broken cell loses its own functions only
        return f"{code.label}: {code.cell(number)} raised {type(e).__name__}: {e}"
    return None


def python(text: str) -> str:
    """Cell source as plain Python: IPython's magics (``%xmode``) become function calls."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return text
    return TransformerManager().transform_cell(text)


def _imports(text: str) -> str:
    """Only the top-level import statements of a cell."""
    try:
        tree = ast.parse(python(text))
    except SyntaxError:
        return ""
    keep = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return ast.unparse(ast.Module(body=keep, type_ignores=[]))
