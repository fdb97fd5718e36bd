"""``course grade``'s record of the package's files: every change to them is seen, including
one that keeps the size, and a pipe planted there is recorded without being read."""

from __future__ import annotations

import os
import shutil

import pytest

from numpy_seq2seq.course.fingerprint import PACKAGE, changed, fingerprint


def _edit_same_size(p):
    text = (p / "course" / "exercises.py").read_bytes()
    (p / "course" / "exercises.py").write_bytes(text.replace(b"a", b"b", 1))


@pytest.mark.parametrize("edit, expected", [
    (lambda p: None, []),
    (_edit_same_size, ["pkg/course/exercises.py"]),
    (lambda p: (p / "course" / "__pycache__").mkdir() or
     (p / "course" / "__pycache__" / "exercises.cpython-311.pyc").write_bytes(b"x"),
     ["pkg/course/__pycache__/exercises.cpython-311.pyc"]),
    (lambda p: (p / "course" / "grading.py").unlink(), ["pkg/course/grading.py"]),
    (lambda p: os.mkfifo(p / "pipe"), ["pkg/pipe"]),
], ids=["untouched", "same-size-edit", "new-pyc", "removed", "pipe"])
def test_every_change_to_the_package_is_seen(tmp_path, edit, expected):
    package = tmp_path / "pkg"
    shutil.copytree(PACKAGE / "course", package / "course",
                    ignore=shutil.ignore_patterns("__pycache__", "sources"))
    before = fingerprint(package)
    edit(package)
    assert changed(before, fingerprint(package)) == expected


def test_the_running_package_is_fingerprinted_with_its_released_notebooks():
    found = fingerprint()
    assert "numpy_seq2seq/course/exercises.py" in found
    assert any(p.startswith("numpy_seq2seq/course/released/a1_rnn/") for p in found)
