"""A student's answers: which cells of a notebook hold them, and running them into a namespace.

What runs is decided by the course's *source* of the notebook, never by the student's copy:

* the answer cells are the student's cells carrying the grade ids of the source's solution cells
  (``rnn_step_forward_answer``, …; Jupyter keeps a cell's metadata however it is edited), in the
  source's order; a cell the student added is not run, so helpers belong inside an answer cell;
* before them, the import statements of the source's other code cells (its setup and imports;
  the rest of those cells is not run).

IPython's syntax (``%time``, ``!ls``) is turned into plain Python first. Output is discarded. A
cell that raises loses what comes after it in that cell, not the other cells.
"""

from __future__ import annotations

import ast
import contextlib
import io
import linecache
from dataclasses import dataclass

from .notebooks import Notebook, is_solution, meta, source


@dataclass(frozen=True)
class AnswerCode:
    """The code that defines a student's functions, in the order it runs."""

    label: str  # where it comes from, e.g. "a1_rnn/rnn_and_bptt.ipynb"
    blocks: tuple[str, ...]  # import statements of the source, then the answer cells
    missing: tuple[str, ...]  # grade ids of answer cells not in the student's notebook

    def problem(self) -> str | None:
        if not self.missing:
            return None
        return f"{self.label} has no cell {', '.join(self.missing)} (an answer cell was deleted)"


def answer_code(nb: Notebook, src: Notebook, label: str) -> AnswerCode:
    """The answer code of ``nb``, a student's copy of the source notebook ``src``."""
    by_id = {meta(c).get("grade_id"): c for c in nb["cells"] if c.get("cell_type") == "code"}
    code = [c for c in src["cells"] if c.get("cell_type") == "code"]
    blocks = [_imports(source(c)) for c in code if not is_solution(c)]
    wanted = [meta(c)["grade_id"] for c in code if is_solution(c)]
    blocks += [source(by_id[gid]) for gid in wanted if gid in by_id]
    return AnswerCode(label, tuple(b for b in blocks if b.strip()),
                      tuple(gid for gid in wanted if gid not in by_id))


def run_answers(code: AnswerCode) -> tuple[dict, str | None]:
    """Run the answer code in a fresh namespace; (namespace, the first problem or None)."""
    namespace: dict = {"__name__": f"answers_of_{code.label.replace('/', '_')}"}
    problem = code.problem()
    for number, block in enumerate(code.blocks):
        text = python(block)
        filename = f"<{code.label}, block {number}>"
        # as IPython does for a cell: tracebacks can then quote the student's line
        linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
        try:  # the student's output is not the grader's: keep it off stdout and stderr
            with contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                exec(compile(text, filename, "exec"), namespace)  # noqa: S102
        except (Exception, SystemExit) as e:  # a broken cell loses its own functions only
            problem = problem or f"{code.label}: a cell raised {type(e).__name__}: {e}"
    return namespace, problem


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
