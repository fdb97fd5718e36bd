"""The functional core: pure forward/backward pairs, no state (the course kit's contract).

The contract's names are importable from here, ``from numpy_seq2seq.functional import
lstm_step_backward, attention_backward``, and each from its own module
(``numpy_seq2seq.functional.lstm``). They are imported when first used (PEP 562, ``lazy.py``), so
``import numpy_seq2seq.functional.rnn`` still loads the rnn module alone (with the kernel table,
``KERNELS``, that its step functions register in: ``kernels.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

if TYPE_CHECKING:  # what the names are, for readers and type checkers
    from .attention import (
        SCORE_BACKWARD,
        SCORE_FORWARD,
        SCORE_PARAMS,
        AttentionCache,
        ConcatCache,
        DotCache,
        GeneralCache,
        attention_backward,
        attention_forward,
        concat_score_backward,
        concat_score_forward,
        dot_score_backward,
        dot_score_forward,
        general_score_backward,
        general_score_forward,
    )
    from .gru import GRUCache, gru_step_backward, gru_step_forward
    from .kernels import KERNELS
    from .lstm import LSTMCache, lstm_step_backward, lstm_step_forward
    from .recurrent import CELLS, rnn_backward, rnn_forward
    from .rnn import RNNCache, rnn_step_backward, rnn_step_forward
    from .softmax import (
        CrossEntropyCache,
        SoftmaxCache,
        cross_entropy_backward,
        cross_entropy_forward,
        masked_softmax_backward,
        masked_softmax_forward,
    )

# public name -> the module (in this package) that defines it
_HOME = {
    **dict.fromkeys(("rnn_step_forward", "rnn_step_backward", "RNNCache"), "rnn"),
    **dict.fromkeys(("lstm_step_forward", "lstm_step_backward", "LSTMCache"), "lstm"),
    **dict.fromkeys(("gru_step_forward", "gru_step_backward", "GRUCache"), "gru"),
    **dict.fromkeys(("CELLS", "rnn_forward", "rnn_backward"), "recurrent"),
    "KERNELS": "kernels",
    **dict.fromkeys((f"{score}_score_{way}" for score in ("dot", "general", "concat")
                     for way in ("forward", "backward")), "attention"),
    **dict.fromkeys(("SCORE_FORWARD", "SCORE_BACKWARD", "SCORE_PARAMS", "DotCache",
                     "GeneralCache", "ConcatCache", "attention_forward", "attention_backward",
                     "AttentionCache"), "attention"),
    **dict.fromkeys(("masked_softmax_forward", "masked_softmax_backward", "SoftmaxCache",
                     "cross_entropy_forward", "cross_entropy_backward", "CrossEntropyCache"),
                    "softmax"),
}

__all__ = [
    "AttentionCache", "CELLS", "ConcatCache", "CrossEntropyCache", "DotCache", "GRUCache",
    "GeneralCache", "KERNELS", "LSTMCache", "RNNCache", "SCORE_BACKWARD", "SCORE_FORWARD",
    "SCORE_PARAMS", "SoftmaxCache", "attention_backward", "attention_forward",
    "concat_score_backward", "concat_score_forward", "cross_entropy_backward",
    "cross_entropy_forward", "dot_score_backward", "dot_score_forward", "general_score_backward",
    "general_score_forward", "gru_step_backward", "gru_step_forward", "lstm_step_backward",
    "lstm_step_forward", "masked_softmax_backward", "masked_softmax_forward", "rnn_backward",
    "rnn_forward", "rnn_step_backward", "rnn_step_forward",
]

__getattr__, __dir__ = lazy_names(__name__, _HOME, lambda: globals())
