"""The teaching notebooks: stored clean, shaped alike, and runnable top to bottom.

Each notebook is executed on a fresh ``python3`` kernel with the small seeded budget
(``NUMPY_SEQ2SEQ_BUDGET=ci``) and the non-interactive Agg backend. jupyter_client starts the
``python3`` kernel with the interpreter running these tests, so the kernel imports the same
numpy_seq2seq. Notebooks assert their own claims (e.g. 06's gradient-norm ratios), so a claim
that stops holding fails here.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
NAMES = [p.stem for p in NOTEBOOKS]
WITH_FIGURES = [n for n in NAMES if n[:2] in ("04", "05", "06", "07")]
CELL_TIMEOUT = 600  # seconds per cell; the ci budget needs well under a minute per notebook
KERNEL_ENV = {
    "NUMPY_SEQ2SEQ_BUDGET": "ci",
    "MPLBACKEND": "Agg",
    # small matrices: several BLAS threads only contend with each other (and with other tests)
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)


@functools.lru_cache(maxsize=None)
def _executed(name: str) -> nbformat.NotebookNode:
    """Run a notebook once per test session on a fresh kernel; later calls reuse the result."""
    nb = _read(name)
    saved = {k: os.environ.get(k) for k in KERNEL_ENV}
    os.environ.update(KERNEL_ENV)  # the kernel process inherits the environment
    try:
        NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def test_the_seven_notebooks_exist():
    assert [n[:2] for n in NAMES] == ["01", "02", "03", "04", "05", "06", "07"], NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    nb = _read(name)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{name}: code cells {dirty} have stored outputs or execution counts; " \
                      "clear them (e.g. nbstripout) before committing"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_starts_with_what_you_will_learn_and_ends_with_exercises(name):
    cells = _read(name).cells
    assert cells[0].cell_type == "markdown" and "What you will learn" in cells[0].source
    assert cells[-1].cell_type == "markdown" and "Exercises" in cells[-1].source


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name):
    nb = _executed(name)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("name", WITH_FIGURES)
def test_notebook_draws_figures(name):
    images = [o for c in _executed(name).cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert images, f"{name} produced no figure"
