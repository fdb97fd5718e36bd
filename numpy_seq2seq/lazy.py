"""Public names imported when first used (PEP 562), for the package ``__init__`` files.

A package lists its public names and the module defining each; ``lazy_names`` returns the
module-level ``__getattr__`` and ``__dir__`` that look a name up in its module at every access.
Nothing is copied into the package, so importing it loads no layer (``tests/test_imports.py``
checks what ``import numpy_seq2seq.model`` loads).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(package: str, home: Mapping[str, str],
               defined: Callable[[], dict[str, Any]]) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package`` whose public name ``n`` lives in the module
    ``package + "." + home[n]``; ``defined`` is the package's ``globals``."""

    def __getattr__(name: str) -> Any:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f".{home[name]}", package), name)

    def __dir__() -> list[str]:
        return sorted([*defined(), *home])

    return __getattr__, __dir__
