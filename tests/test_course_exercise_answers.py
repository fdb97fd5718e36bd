"""course/exercise_answers.py answers every exercise of notebooks/01–09: for each notebook, its
``nbXX`` function prints one "E<k> ·" block per numbered question of the notebook's
"## Exercises" cell, k = 1 … n. Read from the source only (running the answers takes an hour): a
question added to a notebook without its answer fails here."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "course" / "exercise_answers.py"
ANSWER = re.compile(r'^E(\d+) ·')


def _exercises(path: Path) -> list[str]:
    """The text of the notebook's "## Exercises" cells (one, or none yet)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"
            and "".join(c["source"]).startswith("## Exercises")]


# The notebooks that ask questions. That every notebook has an "## Exercises" cell is
# tests/test_notebooks.py's to check; here, that every question asked has its answer.
NOTEBOOKS = [p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) if _exercises(p)]


def _questions(path: Path) -> int:
    (text,) = _exercises(path)
    return len(re.findall(r"^\d+\. ", text, flags=re.MULTILINE))


def _answers() -> dict[str, list[int]]:
    """nbXX -> the k of every "E<k> ·" string its function prints, in order."""
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    found = {}
    for fn in tree.body:
        if isinstance(fn, ast.FunctionDef) and re.fullmatch(r"nb\d\d", fn.name):
            texts = [n.value for n in ast.walk(fn) if isinstance(n, ast.Constant)
                     and isinstance(n.value, str)]
            found[fn.name[2:]] = [int(m[1]) for t in texts if (m := ANSWER.match(t))]
    return found


def test_every_notebook_has_its_answers():
    assert sorted(_answers()) == [p.name[:2] for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name[:2] for p in NOTEBOOKS])
def test_every_question_has_an_answer(path):
    n = _questions(path)
    assert n >= 4
    assert sorted(_answers()[path.name[:2]]) == list(range(1, n + 1)), (
        f"{path.name} asks {n} questions; course/exercise_answers.py answers "
        f"{_answers()[path.name[:2]]}")
