"""Jupyter kernels started with this very interpreter, whatever the user has installed.

jupyter_client starts a kernel named "python3" from the first kernelspec of that name on its
search path, and a user's own ``python3`` spec (``~/.local/share/jupyter/kernels/python3``, or
under ``JUPYTER_DATA_DIR``) comes before the one of this environment: the tests would then run
the notebooks with another Python and another numpy_seq2seq. ``notebook_client`` starts
``sys.executable -m ipykernel_launcher`` instead. nbgrader starts its kernels by name itself,
so ``isolated_jupyter_env`` gives it Jupyter folders of its own (no user configuration) holding
one kernelspec, "python3", that is this interpreter.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from nbclient import NotebookClient

ARGV = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


class _ThisPython(KernelSpecManager):
    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(argv=ARGV, display_name=f"Python ({sys.executable})",
                          language="python", resource_dir="")


def notebook_client(nb, folder: Path, **kwargs) -> NotebookClient:
    """An nbclient ``NotebookClient`` for ``nb`` whose kernel is ``sys.executable``, run in
    ``folder``."""
    km = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=_ThisPython())
    return NotebookClient(nb, km=km, resources={"metadata": {"path": str(folder)}}, **kwargs)


def isolated_jupyter_env(root: Path) -> dict[str, str]:
    """Environment variables for a Jupyter tool (nbgrader) that reads no user configuration
    and finds exactly one "python3" kernel: this interpreter. Folders are made under ``root``."""
    folders = {name: root / name.lower() for name in
               ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR")}
    spec = folders["JUPYTER_DATA_DIR"] / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": ARGV, "display_name": "Python 3", "language": "python"}), encoding="utf-8")
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **{k: str(v) for k, v in folders.items()}}
    env["JUPYTER_PATH"] = str(folders["JUPYTER_DATA_DIR"])
    env["JUPYTER_CONFIG_PATH"] = str(folders["JUPYTER_CONFIG_DIR"])
    env.pop("JUPYTER_PLATFORM_DIRS", None)
    return env
