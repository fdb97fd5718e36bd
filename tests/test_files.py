"""Atomic writes: the old file survives a failed write, no temp file is left, and new files get
the permissions the user's umask gives (0644 under 022, not tempfile's 0600)."""

import os
import stat

import pytest

from numpy_seq2seq.files import atomic_write, write_text_atomic


@pytest.fixture
def umask():
    """Set the process umask for one test, and put the old one back."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_get_the_umask_permissions(mask, mode, umask, tmp_path):
    umask(mask)
    path = write_text_atomic(tmp_path / "sub" / "metrics.json", "{}\n")
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert path.read_text() == "{}\n"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = write_text_atomic(tmp_path / "a.txt", "old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(path) as f:
            f.write(b"half of the new")
            raise KeyboardInterrupt
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]
