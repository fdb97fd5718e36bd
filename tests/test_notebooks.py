"""The teaching notebooks: stored clean, shaped alike, and runnable top to bottom.

Each notebook is executed on a fresh kernel with the small seeded budget
(``NUMPY_SEQ2SEQ_BUDGET=ci``) and the non-interactive Agg backend. The kernel is the
interpreter running these tests (tests/kernels.py), whatever kernelspecs the user has, so it
imports the same numpy_seq2seq. Notebooks assert their own claims (e.g. 06's gradient-norm
ratios), so a claim that stops holding fails here.

Every notebook has the same frame: a first markdown cell with "What you will learn", the
prerequisites, the measured run time at both budgets and links to the library source it uses;
then the lesson; then a "## Exercises" cell and, last, a "## References" cell of linked papers.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager

from kernels import notebook_client

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
NAMES = [p.stem for p in NOTEBOOKS]
WITH_FIGURES = [n for n in NAMES if n[:2] in ("03", "04", "05", "06", "07", "08", "09", "10")]
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")  # the target of [text](target)
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
        notebook_client(nb, NOTEBOOK_DIR, timeout=CELL_TIMEOUT).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def _links(nb: nbformat.NotebookNode) -> list[str]:
    return [m for c in nb.cells if c.cell_type == "markdown"
            for m in MARKDOWN_LINK.findall(c.source)]


def bogus_user_kernelspec(folder: Path) -> Path:
    """A user-level "python3" kernelspec under ``folder`` that starts a Python which does not
    exist; returns that Python's path."""
    elsewhere = folder / "no-such-python"
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": [str(elsewhere), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
         "display_name": "Python 3", "language": "python"}), encoding="utf-8")
    return elsewhere


def test_the_kernel_is_this_interpreter_whatever_the_user_kernelspecs(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "0")  # the user's folders before this env's
    elsewhere = bogus_user_kernelspec(tmp_path)
    # the twin: a kernel started by its name would be that other Python
    assert KernelSpecManager().get_kernel_spec("python3").argv[0] == str(elsewhere)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import sys\nprint(sys.executable)")])
    notebook_client(nb, tmp_path, timeout=120).execute()
    assert nb.cells[0].outputs[0]["text"].strip() == sys.executable


def test_the_ten_notebooks_exist():
    assert [n[:2] for n in NAMES] == ["01", "02", "03", "04", "05", "06", "07", "08", "09",
                                      "10"], NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    nb = _read(name)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{name}: code cells {dirty} have stored outputs or execution counts; " \
                      "clear them (e.g. nbstripout) before committing"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_opens_with_goals_prerequisites_run_time_and_library_links(name):
    first = _read(name).cells[0]
    assert first.cell_type == "markdown"
    for heading in ("## What you will learn", "**Prerequisites:**", "**Library code used:**"):
        assert heading in first.source, f"{name}: the first cell lacks {heading!r}"
    # the run time is measured, at both budgets: "about 12 s with ...ci..., 40 s with ...full"
    assert re.search(r"\*\*Run time:\*\* about [\d.]+ (s|min) with `NUMPY_SEQ2SEQ_BUDGET=ci`, "
                     r"[\d.]+ (s|min) with `full`", first.source), f"{name}: no measured run time"
    library = [t for t in MARKDOWN_LINK.findall(first.source) if t.startswith("../numpy_seq2seq/")]
    assert library, f"{name}: the first cell links to no library source"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_ends_with_exercises_then_linked_references(name):
    cells = _read(name).cells
    assert cells[-2].cell_type == "markdown" and cells[-2].source.startswith("## Exercises")
    assert cells[-1].cell_type == "markdown" and cells[-1].source.startswith("## References")
    papers = [t for t in MARKDOWN_LINK.findall(cells[-1].source) if t.startswith("https://")]
    items = [line for line in cells[-1].source.splitlines() if line.startswith("* ")]
    assert papers and len(papers) == len(items), f"{name}: every reference needs one link"


@pytest.mark.parametrize("name", NAMES)
def test_relative_links_point_to_files_that_exist(name):
    relative = [t.split("#")[0] for t in _links(_read(name)) if "://" not in t and t[0] != "#"]
    missing = [t for t in relative if not (NOTEBOOK_DIR / t).exists()]
    assert not missing, f"{name}: links to missing files {missing}"


@pytest.mark.parametrize("name", [n for n in NAMES if n[:2] >= "03"])
def test_notebook_asserts_its_lesson(name):
    code = "\n".join(c.source for c in _read(name).cells if c.cell_type == "code")
    assert re.search(r"^\s*assert ", code, re.MULTILINE), f"{name} asserts nothing"


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
