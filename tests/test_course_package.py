"""No solutions in students' hands: what setuptools installs (``build_py``: the files a wheel
holds) and what it puts in an sdist carry the assignments' student versions
(numpy_seq2seq/course/released/) and no ``BEGIN SOLUTION`` anywhere, though the checkout they are
built from holds the sources with their solutions (course/source/). The shipped student versions
are exactly what ``course release`` makes of the sources, so grading from them is grading from
the sources."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from numpy_seq2seq.course.notebooks import RELEASED, SOURCES, release

ROOT = Path(__file__).resolve().parent.parent
MARKER = " ".join(("BEGIN", "SOLUTION"))  # joined at run time, like notebooks.BEGIN
SHIPPED = sorted(p.relative_to(RELEASED).as_posix() for p in RELEASED.rglob("*.ipynb"))


def test_the_shipped_student_versions_are_the_release_of_the_sources(tmp_path):
    release(tmp_path, root=SOURCES)
    made = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.ipynb"))
    assert made == SHIPPED and len(made) == 4
    stale = [p for p in made if (tmp_path / p).read_bytes() != (RELEASED / p).read_bytes()]
    assert not stale, (f"numpy_seq2seq/course/released/ is stale for {stale}: run numpy-seq2seq "
                       "course release --force --out numpy_seq2seq/course/released")


def test_releasing_the_shipped_versions_gives_the_same_notebooks(tmp_path):
    """What ``course release`` does in a non-editable install (no course/source/): the shipped
    student versions, unchanged, their stubbed functions kept (not replaced by bare stubs)."""
    release(tmp_path, root=RELEASED)
    again = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.ipynb"))
    assert again == SHIPPED
    assert all((tmp_path / p).read_bytes() == (RELEASED / p).read_bytes() for p in again)
    from numpy_seq2seq.course.notebooks import read_notebook, release_notebook

    # the twin: nbgrader's rule applied to a student version replaces its `def` by a bare stub
    (a1,) = [p for p in SHIPPED if p.startswith("a1_rnn/")]
    assert release_notebook(read_notebook(RELEASED / a1)) != read_notebook(RELEASED / a1)


def _setup(folder: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", *args],
                   cwd=folder, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(the files setuptools installs, the extracted sdist), built from a copy of the checkout
    that includes course/source/."""
    root = tmp_path_factory.mktemp("checkout")
    for name in ("setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, root / name)
    for name in ("numpy_seq2seq", "course"):
        shutil.copytree(ROOT / name, root / name,
                        ignore=shutil.ignore_patterns("__pycache__", "runs", "*.egg-info"))
    _setup(root, "build_py", "-d", str(root / "lib"))
    # and the bytecode pip writes when it installs (a folded constant would hold the marker)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "lib")], check=True,
                   capture_output=True, timeout=120)
    _setup(root, "sdist", "-d", str(root / "dist"))
    (archive,) = (root / "dist").glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(root / "sdist", filter="data")
    return root / "lib", root / "sdist"


def _holding_the_marker(folder: Path) -> list[str]:
    return [p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and MARKER.encode() in p.read_bytes()]


def test_the_checkout_built_from_holds_solutions(built):
    """The twin: the search finds the marker where it is."""
    assert _holding_the_marker(built[0].parent / "course" / "source")


def test_twin_a_folded_marker_would_be_found_in_bytecode(tmp_path):
    """What notebooks.py once did: two literals added, which Python folds into the marker."""
    (tmp_path / "m.py").write_text('BEGIN = "BEGIN" + " SOLUTION"\n', encoding="utf-8")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tmp_path)], check=True,
                   capture_output=True, timeout=60)
    found = _holding_the_marker(tmp_path)
    assert found and all(p.endswith(".pyc") for p in found), found


def test_the_installed_files_carry_no_solution(built):
    lib, _ = built
    assert list(lib.rglob("*.pyc"))  # bytecode searched too
    assert _holding_the_marker(lib) == []
    shipped = sorted(p.relative_to(lib / "numpy_seq2seq/course/released").as_posix()
                     for p in lib.rglob("*.ipynb"))
    assert shipped == SHIPPED and (lib / "numpy_seq2seq/course/dates_model.npz").is_file()


def test_the_sdist_carries_no_solution(built):
    _, sdist = built
    assert _holding_the_marker(sdist) == []
    assert not list(sdist.rglob("course/source"))
    assert len(list(sdist.rglob("released/*/*.ipynb"))) == 4
