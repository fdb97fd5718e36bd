"""Run folders of the command line: their names, their files, their ``metrics.json``.

A run folder holds ``checkpoint.npz`` (the last state, resumable), ``best.npz`` (the epoch with
the best held-out exact match), ``metrics.json`` (configs, per-epoch scores, per-step loss and
gradient norm, which epoch each checkpoint holds) and the figures. Nothing here overwrites a run
silently: a default folder name is claimed with ``mkdir``, which fails if another run took it
first (two runs started in the same second get ``…-094121`` and ``…-094121-2``), and a folder
given by the user must be empty unless the caller says to replace the run in it.

``metrics.json`` lists the run's *sessions* (the first ``train`` and each ``--resume``): when
each started, its wall time, its BLAS threads and the versions of the libraries that define the
data and its scores (`library_versions`), since the same seed gives the same pairs only with the
same num2words, Babel, sentencepiece and NumPy.
"""

from __future__ import annotations

import json
import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from .files import write_text_atomic

__all__ = ["RUN_FILES", "check_run_dir", "claim_run_dir", "earlier_sessions", "library_versions",
           "new_run_dir", "read_metrics", "session", "write_metrics"]

RUN_FILES = ("checkpoint.npz", "best.npz", "metrics.json", "training.png", "attention.png",
             "heldout.tsv")
METRICS_NAME = "metrics.json"
# The distributions whose versions decide a run's data and scores: the tasks' text (Babel's
# month names, num2words' number words), bpe pieces, random draws, BLEU and chrF.
DATA_PACKAGES = ("numpy_seq2seq", "numpy", "babel", "num2words", "sentencepiece", "sacrebleu")


def new_run_dir(root: str | os.PathLike[str] = "runs", prefix: str = "") -> Path:
    """Create and return ``root/<prefix><YYYYmmdd-HHMMSS>``, or ``…-2``, ``…-3`` if that is
    taken."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = prefix + time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 10_000):
        path = root / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir()  # atomic: of two runs racing for a name, exactly one gets it
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free run folder name {root / stamp}-N")


def check_run_dir(path: str | os.PathLike[str], replace: bool = False) -> Path:
    """Check, without creating or changing anything, that `claim_run_dir` would accept ``path``.

    Raises
    ------
    FileExistsError
        If ``path`` is not empty and ``replace`` is False (the message lists what it holds).
    NotADirectoryError
        If ``path`` is a file.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} is a file, not a run folder")
    held = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    if held and not replace:
        shown = ", ".join(held[:4]) + (", …" if len(held) > 4 else "")
        raise FileExistsError(f"{path} is not empty ({shown})")
    return path


def claim_run_dir(path: str | os.PathLike[str], replace: bool = False) -> Path:
    """Make ``path`` ready for a new run: create it, or check it is empty (`check_run_dir`).

    With ``replace``, a non-empty folder is accepted and the files of a previous run in it
    (`RUN_FILES`) are removed first, so the new run's files are never mixed with the old ones';
    other files are left alone.
    """
    path = check_run_dir(path, replace)
    for name in RUN_FILES:
        (path / name).unlink(missing_ok=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def library_versions() -> dict[str, str | None]:
    """Python's version and those of `DATA_PACKAGES` (None for one that is not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in DATA_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def session(seconds: float, threads: int | None) -> dict[str, Any]:
    """One session's entry in ``metrics.json``: when it started (UTC), its wall time, its BLAS
    threads and `library_versions`."""
    began = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds))
    return {"started": began, "wall_time_s": seconds, "threads": threads,
            "versions": library_versions()}


def earlier_sessions(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The sessions a run folder's ``metrics.json`` lists, for a resumed run to add one to (an
    older file without sessions counts as one with only its wall time; no file: none)."""
    if not (Path(folder) / METRICS_NAME).is_file():
        return []
    metrics = read_metrics(folder)
    return metrics.get("sessions", [{"wall_time_s": metrics.get("wall_time_s", 0.0)}])


def write_metrics(folder: str | os.PathLike[str], metrics: dict[str, Any]) -> Path:
    """Write ``folder/metrics.json`` atomically: indented, with lists of numbers on one line."""
    return write_text_atomic(Path(folder) / METRICS_NAME, _dumps(metrics) + "\n")


def read_metrics(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``metrics.json`` of a run folder."""
    return json.loads((Path(folder) / METRICS_NAME).read_text(encoding="utf-8"))


def _dumps(obj: Any, indent: int = 0) -> str:
    # json.dumps(indent=2) would put each of thousands of per-step numbers on its own line
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(obj, dict) and obj:
        items = [f"{inner}{json.dumps(str(k))}: {_dumps(v, indent + 2)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return "[\n" + ",\n".join(inner + _dumps(v, indent + 2) for v in obj) + f"\n{pad}]"
    return json.dumps(obj, ensure_ascii=False)
