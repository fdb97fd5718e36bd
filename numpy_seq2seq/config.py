"""Every default of a run, written once: one small config dataclass per concern.

In the manner of nanoGPT's ``GPTConfig``, one frozen dataclass per concern, one line per field:

* `ModelConfig`: the architecture. `Seq2Seq`'s constructor takes the same names and its defaults
  from here; ``model.config`` holds the same keys.
* `TrainConfig`: how `train` runs (it takes one, or any of its fields as keywords).
* `DataConfig`: which pairs a command-line run trains on and how they are split.

Each field is ``name: type = option(default, help, number)``. The command line builds its
options from these fields (help text and printed default come from here, and a numeric option's
type check is the field's `Number`); `train` runs on a `TrainConfig`; a checkpoint and
``metrics.json`` store all three with ``asdict``. ``from_dict`` reads such a dict back: a key the
dict lacks (it was written before the field existed) takes today's default, a key this version
does not know is refused with the list of known ones.
"""

from __future__ import annotations

from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from typing import Any

from .checks import Number
from .data.corpus import DEFAULT_VALID_FRACTION
from .data.tasks import DEFAULT_TASK
from .optim import OPTIMIZERS
from .threads import DEFAULT_THREADS

__all__ = ["DataConfig", "ModelConfig", "TrainConfig", "option"]

POSITIVE_INT = Number(int, low=1)
NON_NEGATIVE_INT = Number(int, low=0)
POSITIVE = Number(float, low=0, low_open=True)
DEFAULT_SEED = 0  # one seed for data, split, initialisation and batch order on the command line


def option(default: Any, help: str, number: Number | None = None) -> Any:
    """A dataclass field with its default (``MISSING``: required), a one-line help text and,
    if numeric, the values it accepts."""
    return field(default=default, metadata={"help": help, "number": number})


class _Config:
    """What the three configs share: checking numeric fields, and reading a stored dict."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            number, value = f.metadata.get("number"), getattr(self, f.name)
            if number is not None and not (value is None and "None" in str(f.type)):
                number.check(f.name, value)

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> Any:
        """The config a stored dict describes; keys it lacks take today's defaults."""
        known = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(stored) - set(known))
        if unknown:
            raise ValueError(f"unknown {cls.__name__} key(s) {unknown} (written by a newer "
                             f"numpy_seq2seq?); this version knows {known}")
        return cls(**stored)

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-serialisable dict (``asdict``)."""
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def spec(cls, name: str) -> Field:
        """The dataclass field ``name``: its ``default`` and ``metadata`` (help, number)."""
        return next(f for f in fields(cls) if f.name == name)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelConfig(_Config):
    """The architecture, checked again by `Seq2Seq` (which names every bad value)."""

    src_vocab_size: int = option(MISSING, "V of the source side, the 4 reserved ids included",
                                 POSITIVE_INT)
    tgt_vocab_size: int = option(MISSING, "V of the target side", POSITIVE_INT)
    embed_dim: int = option(32, "E, the size of both embeddings", POSITIVE_INT)
    hidden_dim: int = option(64, "H, the size of the decoder state and of the encoder states "
                             "it attends to", POSITIVE_INT)
    cell: str = option("lstm", "the recurrent cell of encoder and decoder")
    attention: str | None = option("general", "Luong's score (none: the decoder sees only "
                                   "the encoder's final state)")
    bidirectional: bool = option(False, "the encoder reads both ways, H/2 units each")
    reverse_source: bool = option(False, "read each source backwards (Sutskever et al. 2014)")
    input_feeding: bool = option(False, "feed the attentional state to the next decoder step "
                                 "(Luong et al. 2015)")
    attention_dim: int | None = option(None, "A, the concat score's hidden size (None: H)",
                                       POSITIVE_INT)
    dtype: str = option("float32", "float32 to train, float64 for gradient checks")
    seed: int = option(DEFAULT_SEED, "seeds the initialisation", NON_NEGATIVE_INT)


@dataclass(frozen=True)
class TrainConfig(_Config):
    """How `train` runs. The same config, data and seed give the same numbers, resumed or not.

    The defaults reach >= 99.8 % held-out exact match on the default dates task in about 30 s
    on a 2-core machine (README.md, "Quick start").
    """

    epochs: int = option(15, "passes over the training pairs", POSITIVE_INT)
    batch_size: int = option(64, "pairs per optimizer step", POSITIVE_INT)
    lr: float = option(0.005, "learning rate at the start", POSITIVE)
    optimizer: str = option("adam", "the update rule (optim.py)")
    clip: float = option(5.0, "clip the global gradient norm to this; 0 turns clipping off",
                         Number(float, low=0))
    lr_decay: float = option(0.5, "multiply the learning rate by this after an epoch whose "
                             "held-out loss is not the lowest so far; 1 keeps it constant",
                             Number(float, low=0, high=1, low_open=True))
    seed: int = option(DEFAULT_SEED, "seeds the batch order (on the command line also the "
                       "data, the split and the initialisation)", NON_NEGATIVE_INT)
    bucket: bool = option(True, "batch pairs of similar length together (less padding)")
    eval_batch_size: int = option(256, "rows decoded at once when scoring held-out pairs",
                                  POSITIVE_INT)
    bleu: bool | None = option(None, "score BLEU after each epoch (None: only when the target "
                               "vocabulary is word-level)")
    threads: int | None = option(DEFAULT_THREADS, "BLAS threads while training, see "
                                 "threads.py (None: leave the process's setting)", POSITIVE_INT)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of "
                             f"{sorted(OPTIMIZERS)}")


@dataclass(frozen=True)
class DataConfig(_Config):
    """The pairs of a command-line run: a built-in task or a TSV corpus (exactly one)."""

    task: str | None = option(DEFAULT_TASK, "a built-in task, generated from the seed")
    data: str | None = option(None, "a corpus of 'source<TAB>target' lines (stored absolute)")
    valid: str | None = option(None, "held-out pairs for data (if not given: hold out "
                               "valid_fraction of data)")
    tokenize: str = option("char", "how data text is split into tokens (tasks are char-level)")
    num_examples: int = option(20000, "pairs to generate for a task", POSITIVE_INT)
    min_len: int | None = option(None, "shortest toy-task input (if not given: the task's own)",
                                 POSITIVE_INT)
    max_len: int | None = option(None, "longest toy-task input (if not given: the task's own)",
                                 POSITIVE_INT)
    valid_fraction: float = option(DEFAULT_VALID_FRACTION, "share of the pairs held out when "
                                   "there is no valid file", Number(float, low=0, high=1,
                                                                    low_open=True, high_open=True))
    seed: int = option(DEFAULT_SEED, "seeds the task's pairs and the split", NON_NEGATIVE_INT)

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.task is None) == (self.data is None):
            raise ValueError(f"DataConfig needs exactly one of task and data, got "
                             f"task={self.task!r}, data={self.data!r}")

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> DataConfig:
        # a corpus run of format version 1 stored no "task" key (today's default is a task)
        if "data" in stored and "task" not in stored:
            stored = {**stored, "task": None}
        return super().from_dict(stored)
