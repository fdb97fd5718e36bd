"""Whether the package's files changed while a notebook was graded.

The student's process (sandbox.py) is a separate process, not a separate user or filesystem: an
answer cell can write into the installed package, the checks' own source included, and every
later grade would run what it wrote. ``course grade`` cannot stop that (a read-only install can,
course/README.md), but it notices: it records every file under the package directory before
grading and compares after each notebook (``autograde.grade_all``).
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent  # the numpy_seq2seq directory the grader runs

Fingerprint = dict[str, tuple[int, str]]  # path (from the package's parent) -> (size, sha256)


def fingerprint(package: Path = PACKAGE) -> Fingerprint:
    """Size and SHA-256 of every file under ``package``, ``.pyc`` files included (Python would
    run an edited one), following links."""
    found: Fingerprint = {}
    for folder, _, names in os.walk(package, followlinks=True):
        for name in names:
            path = Path(folder, name)
            found[path.relative_to(package.parent).as_posix()] = _digest(path)
    return found


def _digest(path: Path) -> tuple[int, str]:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a pipe would block the read: record, don't open
            return -1, f"not a regular file (mode {info.st_mode:o})"
        return info.st_size, hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as e:  # a dangling link, a file made unreadable
        return -1, f"unreadable ({e.strerror})"


def changed(before: Fingerprint, after: Fingerprint) -> list[str]:
    """The files added, removed or changed between two fingerprints, sorted."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
