"""Atomic file writes with the user's usual permissions.

A file is written to a temporary name in its destination's directory, flushed and fsynced, then
renamed over the destination with ``os.replace``. A crash, an exception or Ctrl-C mid-write
therefore leaves either the old file or the new one, never a truncated one.

The temporary file is created with ``os.open(..., 0o666)``, which the process's umask filters
exactly as it filters ``open(path, "w")``: ``-rw-r--r--`` (0644) under the usual umask 022.
(``tempfile`` would create it 0600, and the rename would keep that, so a checkpoint would be
unreadable to the rest of a class sharing the machine.)
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "write_text_atomic"]


@contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a binary file that replaces ``path`` when the block ends without an exception.

    Parent directories are created. On an exception (KeyboardInterrupt included) the temporary
    file is removed and ``path`` is left as it was.

    Examples
    --------
    >>> with atomic_write("runs/x/model.npz") as f:  # doctest: +SKIP
    ...     np.savez(f, a=np.arange(3))
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:  # O_EXCL: never open a file another writer just created
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_write(path) as f:
        f.write(text.encode("utf-8"))
    return Path(path)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
