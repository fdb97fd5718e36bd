"""numpy_seq2seq: sequence-to-sequence RNNs with Luong attention in pure NumPy.

The public names below are imported when first used (PEP 562), so importing one layer loads
that layer and the ones beneath it, nothing above: ``import numpy_seq2seq.functional.lstm`` or
``import numpy_seq2seq.model`` needs NumPy alone (``tests/test_imports.py`` holds this).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the names are, for readers and type checkers
    from .checkpoint import load_checkpoint, save_checkpoint
    from .data import Vocab, make_task
    from .decoding import beam_search, greedy_decode
    from .model import Seq2Seq
    from .training import evaluate, train

__version__ = "0.1.0"

# public name -> the module that defines it
_HOME = {
    "Seq2Seq": "model",
    "Vocab": "data",
    "beam_search": "decoding",
    "evaluate": "training",
    "greedy_decode": "decoding",
    "load_checkpoint": "checkpoint",
    "make_task": "data",
    "save_checkpoint": "checkpoint",
    "train": "training",
}

__all__ = [
    "Seq2Seq",
    "Vocab",
    "beam_search",
    "evaluate",
    "greedy_decode",
    "load_checkpoint",
    "make_task",
    "save_checkpoint",
    "train",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # looked up in its module at every access, never copied here: while
    # `substitute.use_functions` replaces e.g. decoding.greedy_decode, numpy_seq2seq.greedy_decode
    # is the replacement, and the library's again after the block
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])
