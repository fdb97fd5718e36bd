"""numpy_seq2seq: sequence-to-sequence RNNs with Luong attention in pure NumPy."""

from .checkpoint import load_checkpoint, save_checkpoint
from .data import Vocab, make_task
from .decoding import beam_search, greedy_decode
from .model import Seq2Seq
from .training import evaluate, train

__version__ = "0.1.0"

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
