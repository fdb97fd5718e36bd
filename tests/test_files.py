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


def _save_vocab(path):
    from numpy_seq2seq.data import Vocab

    Vocab.from_texts(["abc"]).save(path)


def _save_figure(path):
    import matplotlib.pyplot as plt

    from numpy_seq2seq.plots import save_figure

    fig = plt.figure()
    try:
        save_figure(fig, path)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("save, name", [(_save_vocab, "vocab.json"),
                                        (_save_figure, "attention.png")])
def test_the_package_writers_are_atomic(save, name, monkeypatch, tmp_path):
    (tmp_path / name).write_bytes(b"the user's old file")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # the write fails before the rename
    with pytest.raises(OSError, match="No space left"):
        save(tmp_path / name)
    assert (tmp_path / name).read_bytes() == b"the user's old file"
    assert os.listdir(tmp_path) == [name]
    monkeypatch.undo()
    save(tmp_path / name)
    assert (tmp_path / name).read_bytes() != b"the user's old file"
