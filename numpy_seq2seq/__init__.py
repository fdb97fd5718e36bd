"""numpy_seq2seq: sequence-to-sequence RNNs with Luong attention in pure NumPy.

The public names below are imported when first used (PEP 562), so importing one layer loads
that layer and the ones beneath it, nothing above: ``import numpy_seq2seq.functional.lstm`` or
``import numpy_seq2seq.model`` needs NumPy alone (``tests/test_imports.py`` holds this).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_names

if TYPE_CHECKING:  # what the names are, for readers and type checkers
    from .checkpoint import load_checkpoint, save_checkpoint
    from .data import Vocab, make_task
    from .decoding import beam_search, greedy_decode
    from .model import Seq2Seq
    from .plots import plot_training
    from .training import TrainingDiverged, TrainingInterrupted, evaluate, train

__version__ = "0.1.0"

# public name -> the module that defines it
_HOME = {
    "Seq2Seq": "model",
    "TrainingDiverged": "training",
    "TrainingInterrupted": "training",
    "Vocab": "data",
    "beam_search": "decoding",
    "evaluate": "training",
    "greedy_decode": "decoding",
    "load_checkpoint": "checkpoint",
    "make_task": "data",
    "plot_training": "plots",
    "save_checkpoint": "checkpoint",
    "train": "training",
}

__all__ = [
    "Seq2Seq",
    "TrainingDiverged",
    "TrainingInterrupted",
    "Vocab",
    "beam_search",
    "evaluate",
    "greedy_decode",
    "load_checkpoint",
    "make_task",
    "plot_training",
    "save_checkpoint",
    "train",
    "__version__",
]


# looked up in its module at every access (lazy.py): substitutions show through
__getattr__, __dir__ = lazy_names(__name__, _HOME, lambda: globals())
