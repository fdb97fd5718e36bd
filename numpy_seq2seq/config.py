"""Every default of a run, written once: one small config dataclass per concern.

In the manner of nanoGPT's ``GPTConfig``, one frozen dataclass per concern, one line per field:

* `ModelConfig`: the architecture. `Seq2Seq`'s constructor takes the same names and its defaults
  from here; ``model.config`` holds the same keys.
* `TrainConfig`: how `train` runs (it takes one, or any of its fields as keywords).
* `DataConfig`: which pairs a command-line run trains on, how their text is split into tokens,
  which pairs are kept and how they are split.

A built-in task may differ from these defaults in a few settings (the numbers task trains 10
epochs): `TASK_DEFAULTS` lists them by field name, and `for_task` applies them under the values
given.

Each field is ``name: type = option(default, help, number or choices)``. Building a config is
the one place these values are checked (`Seq2Seq` builds a `ModelConfig` from its arguments):
a numeric field by its `checks.Number`, a field with choices against them, a ``bool`` field must
be a bool (``bidirectional="no"`` is an error, not True), and each class checks its
combinations; every message names the field. The command line builds its options from these
fields (help text and printed default come from here, and a numeric option's type check is the
field's `Number`); `train` runs on a `TrainConfig`; a checkpoint and ``metrics.json`` store all
three with ``asdict``. ``from_dict`` reads such a dict back: a key the dict lacks (it was written
before the field existed) takes today's default, a key this version does not know is refused
with the list of known ones.

The constants the data and optimizer modules share with the configs live here too (the task
defaults, the held-out share, the bpe size, the optimizer names), so that this module imports
nothing above the functional core: ``import numpy_seq2seq.model`` needs NumPy alone.
"""

from __future__ import annotations

from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from typing import Any

import numpy as np

from .checks import (
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    UNIT_INTERVAL,
    Number,
    check_choice,
)
from .functional.attention import SCORES
from .functional.bahdanau import BAHDANAU
from .functional.recurrent import CELLS
from .schedule import SCHEDULES
from .threads import DEFAULT_THREADS

__all__ = ["DataConfig", "ModelConfig", "TrainConfig", "option", "task_defaults"]

DEFAULT_SEED = 0  # one seed for data, split, initialisation and batch order on the command line

CELL_CHOICES = tuple(CELLS)  # ("rnn", "gru", "lstm")
# (None, "dot", "general", "concat", "bahdanau"): no attention, Luong's three scores, Bahdanau
ATTENTION_CHOICES = (None, *SCORES, BAHDANAU)
DTYPE_CHOICES = ("float32", "float64")
OPTIMIZER_CHOICES = ("sgd", "momentum", "adam")  # optim.OPTIMIZERS maps them to the classes
SCHEDULE_CHOICES = tuple(SCHEDULES)  # ("constant", "plateau", "cosine", "linear")
# The held-out scores that can pick best.npz and drive early stopping, by name: the History
# list that holds them, +1 if higher is better (-1: the loss), and how they are printed. BLEU is
# char-BLEU for character targets (History.bleu_name). Adding one here is all a new metric needs.
SELECT_METRICS: dict[str, tuple[str, int, str]] = {
    "exact": ("valid_exact_match", 1, "exact match"),
    "chrf": ("valid_chrf", 1, "chrF"),
    "bleu": ("valid_bleu", 1, "BLEU"),
    "loss": ("valid_loss", -1, "held-out loss"),
}
SELECT_CHOICES = tuple(SELECT_METRICS)

DEFAULT_TASK = "dates"
DEFAULT_SOURCE_LANG, DEFAULT_TARGET_LANG = "en", "fr"  # the numbers and tatoeba tasks'

# The settings in which a built-in task differs from the defaults below, by field name (applied
# by `for_task` and the command line; an option given explicitly still wins).
# numbers: held-out exact match is >= 99.9 % after 3-4 epochs for en -> fr and by epoch 10 for
# the slower character-level targets (de, ko, ja); 10 epochs keep en -> fr under 2 minutes and
# every direction under 5 on 2 cores (README.md, "The numbers task").
# tatoeba: the recipe for real sentences (README.md, "A recipe for real text"), chosen from the
# runs of benchmarks/text_recipe_sweep.py kept in benchmarks/text_recipe/. English <-> French
# (50,000 pairs): a bidirectional GRU encoder with Bahdanau attention, dropout 0.2, and the
# words seen fewer than 3 times as <unk> (which shrinks the French output layer from 13,083 to
# 5,598 rows, the largest matrix); sentences of at most 8 words; 10 epochs, about 12 minutes.
# English <-> Korean has 2,300 training pairs: every sentence and every token, and, as measured,
# a wider model (E 256, H 512) with more dropout (0.5) for 40 epochs, about 10 minutes; best.npz
# by chrF in both directions (a character target would otherwise choose by exact match, near 0).
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "numbers": {"epochs": 10},
    "tatoeba": {"cell": "gru", "attention": "bahdanau", "bidirectional": True,
                "embed_dim": 128, "hidden_dim": 256, "dropout": 0.2, "min_freq": 3,
                "num_examples": 60000, "max_len": 8, "epochs": 10, "eval_every": 2,
                "eval_max": 1000},
    "tatoeba en-ko": {"max_len": 10, "min_freq": 1, "embed_dim": 256, "hidden_dim": 512,
                      "dropout": 0.5, "epochs": 40, "select": "chrf"},
}
TASK_DEFAULTS["tatoeba ko-en"] = TASK_DEFAULTS["tatoeba en-ko"]
DEFAULT_VALID_FRACTION = 0.1  # share of a corpus held out without a valid file (data.split)
# which pairs a held-out split keeps on one side (data.split): one source, or linked by either side
SPLIT_MODES = ("source", "either")
DEFAULT_BPE_VOCAB_SIZE = 8000  # subword pieces per bpe side (data.tokenize)


def option(default: Any, help: str, number: Number | None = None,
           choices: tuple | None = None) -> Any:
    """A dataclass field with its default (``MISSING``: required), a one-line help text and,
    if numeric, the values it accepts, or the choices it takes."""
    return field(default=default, metadata={"help": help, "number": number,
                                            "choices": choices})


class _Config:
    """What the three configs share: checking the fields, and reading a stored dict."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is not None or "None" not in str(f.type):
                object.__setattr__(self, f.name, _checked(f, value))

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
    def for_task(cls, task: str | None, /, direction: str | None = None, **given: Any) -> Any:
        """The config with the ``given`` values; a field not given takes the task's own default
        (`TASK_DEFAULTS`, for ``direction`` "source-target" where it has one of its own) if it
        has one, else the class's."""
        return cls(**{**task_defaults(cls, task, direction), **given})

    @classmethod
    def spec(cls, name: str) -> Field:
        """The dataclass field ``name``: its ``default`` and ``metadata`` (help, number)."""
        return next(f for f in fields(cls) if f.name == name)  # type: ignore[arg-type]


def _checked(f: Field, value: Any) -> Any:
    """A field's value, checked and as a plain Python int, float or bool (JSON-ready)."""
    number, choices = f.metadata.get("number"), f.metadata.get("choices")
    if number is not None:
        return number.check(f.name, value)
    if choices is not None:
        return check_choice(f.name, value, choices)
    if str(f.type).startswith("bool"):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{f.name} must be True or False, got {value!r}")
        return bool(value)
    return value


def task_defaults(cls: type, task: str | None, direction: str | None = None) -> dict[str, Any]:
    """The fields of config class ``cls`` in which built-in ``task`` has a default of its own:
    the task's, then those of its ``direction`` ("ko-en": key "tatoeba ko-en") over them."""
    names = {f.name for f in fields(cls)}
    own = {**TASK_DEFAULTS.get(task or "", {}),
           **TASK_DEFAULTS.get(f"{task} {direction}" if task and direction else "", {})}
    return {k: v for k, v in own.items() if k in names}


# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelConfig(_Config):
    """The architecture: `Seq2Seq` builds one from its arguments, and this checks them all.

    ``attention`` may also be given as the string "none", ``dtype`` as a NumPy dtype
    (``np.float64``); both are stored as the names listed.
    """

    src_vocab_size: int = option(MISSING, "V of the source side, the 4 reserved ids included",
                                 POSITIVE_INT)
    tgt_vocab_size: int = option(MISSING, "V of the target side", POSITIVE_INT)
    embed_dim: int = option(32, "E, the size of both embeddings", POSITIVE_INT)
    hidden_dim: int = option(64, "H, the size of the decoder state and of the encoder states "
                             "it attends to", POSITIVE_INT)
    cell: str = option("lstm", "the recurrent cell of encoder and decoder",
                       choices=CELL_CHOICES)
    attention: str | None = option("general", "Luong's score (dot, general, concat) or "
                                   "bahdanau (none: the decoder sees only the encoder's final "
                                   "state)", choices=ATTENTION_CHOICES)
    bidirectional: bool = option(False, "the encoder reads both ways, H/2 units each")
    reverse_source: bool = option(False, "read each source backwards (Sutskever et al. 2014)")
    input_feeding: bool = option(False, "feed the attentional state to the next decoder step "
                                 "(Luong et al. 2015)")
    attention_dim: int | None = option(None, "A, the concat and bahdanau scores' hidden size "
                                       "(None: H)", POSITIVE_INT)
    dtype: str = option("float32", "float32 to train, float64 for gradient checks",
                        choices=DTYPE_CHOICES)
    seed: int = option(DEFAULT_SEED, "seeds the initialisation", NON_NEGATIVE_INT)
    num_layers: int = option(1, "stacked recurrent layers in the encoder and in the decoder",
                             POSITIVE_INT)
    dropout: float = option(0.0, "dropout on the embeddings, between stacked layers and before "
                            "the output layer, while training", UNIT_INTERVAL)  # 1 drops all

    def __post_init__(self) -> None:
        if isinstance(self.attention, str) and self.attention.lower() == "none":
            object.__setattr__(self, "attention", None)  # the command line's spelling
        object.__setattr__(self, "dtype", _dtype_name(self.dtype))
        super().__post_init__()
        if min(self.src_vocab_size, self.tgt_vocab_size) < 5:
            raise ValueError(
                "vocabulary sizes must be at least 5 (4 reserved ids + 1 token), got "
                f"src_vocab_size={self.src_vocab_size}, tgt_vocab_size={self.tgt_vocab_size}")
        if self.bidirectional and self.hidden_dim % 2:
            raise ValueError(
                "a bidirectional encoder splits hidden_dim into two halves, so it must be even; "
                f"got hidden_dim={self.hidden_dim}")
        if self.input_feeding and self.attention not in SCORES:
            raise ValueError("input_feeding feeds Luong's attentional state h̃ back, so it needs "
                             f"attention in {SCORES}, got attention={self.attention!r}"
                             + (" (which already feeds its context into the decoder's input)"
                                if self.attention == BAHDANAU else ""))


def _dtype_name(dtype: Any) -> Any:
    """"float32" for np.float32, np.dtype("float32") or "float32"; anything NumPy cannot read
    as a dtype is returned as given (and refused by the choices with its value)."""
    if dtype is None:
        return None
    try:
        return np.dtype(dtype).name
    except (TypeError, ValueError):
        return dtype


@dataclass(frozen=True)
class TrainConfig(_Config):
    """How `train` runs. The same config, data and seed give the same numbers, resumed or not.

    The defaults end the default dates task at >= 99.5 % held-out exact match for every seed
    tried, on both BLAS kernel settings (README.md, "Quick start").
    """

    epochs: int = option(15, "passes over the training pairs", POSITIVE_INT)
    batch_size: int = option(64, "pairs per optimizer step", POSITIVE_INT)
    lr: float = option(0.005, "learning rate at the start", POSITIVE)
    optimizer: str = option("adam", "the update rule (optim.py)")
    clip: float = option(5.0, "clip the global gradient norm to this; 0 turns clipping off",
                         Number(float, low=0))
    schedule: str = option("cosine", "how the learning rate moves over the planned steps "
                           "(schedule.py): cosine or linear decay to min_lr after a warm-up, "
                           "plateau decay, or constant", choices=SCHEDULE_CHOICES)
    min_lr: float = option(5e-5, "the floor the learning rate decays to (cosine, linear) or "
                           "never goes below (plateau)", Number(float, low=0))
    warmup: float = option(0.02, "share of the planned steps over which the learning rate "
                           "rises linearly from 0 (cosine, linear)",
                           Number(float, low=0, high=1, high_open=True))
    lr_decay: float = option(0.5, "plateau schedule: multiply the learning rate by this after "
                             "an epoch whose held-out loss is not the lowest so far",
                             Number(float, low=0, high=1, low_open=True))
    select: str | None = option(None, "the held-out score that picks best.npz and drives early "
                                "stopping (if not given: exact for generated tasks and character "
                                "targets, chrf for word or subword targets)",
                                choices=SELECT_CHOICES)
    patience: int | None = option(None, "stop when the selection score has not improved for "
                                  "this many epochs (None: never stop early)", POSITIVE_INT)
    seed: int = option(DEFAULT_SEED, "seeds the batch order and the dropout masks (on the "
                       "command line also the data, the split and the initialisation)",
                       NON_NEGATIVE_INT)
    bucket: bool = option(True, "batch pairs of similar length together (less padding)")
    eval_batch_size: int = option(256, "rows decoded at once when scoring held-out pairs",
                                  POSITIVE_INT)
    bleu: bool | None = option(None, "score BLEU and chrF after each epoch (None: unless the "
                               "target vocabulary is char-level)")
    # Decoding the held-out pairs for exact match, BLEU and chrF costs a quarter to a third of a
    # text run's epoch; these two spend less of it (the final figures of `evaluate` are unchanged)
    eval_every: int = option(1, "score the held-out pairs after every K-th epoch and after the "
                             "last; best.npz, the plateau schedule and patience see only these",
                             POSITIVE_INT)
    eval_max: int | None = option(None, "score only N held-out pairs after an epoch, spread "
                                  "evenly over the held-out list (None: all of them)",
                                  POSITIVE_INT)
    threads: int | None = option(DEFAULT_THREADS, "BLAS threads while training, see "
                                 "threads.py (None: leave the process's setting)", POSITIVE_INT)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.optimizer not in OPTIMIZER_CHOICES:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of "
                             f"{sorted(OPTIMIZER_CHOICES)}")
        if self.schedule != "constant" and self.min_lr >= self.lr:
            raise ValueError(f"min_lr must be below lr (the {self.schedule} schedule decays "
                             f"towards it), got min_lr={self.min_lr:g}, lr={self.lr:g}")


@dataclass(frozen=True)
class DataConfig(_Config):
    """The pairs of a command-line run: a built-in task or a TSV corpus (exactly one)."""

    task: str | None = option(DEFAULT_TASK, "a built-in task, generated from the seed")
    data: str | None = option(None, "a corpus of 'source<TAB>target[<TAB>attribution]' lines "
                              "(stored absolute)")
    valid: str | None = option(None, "held-out pairs for data (if not given: hold out "
                               "valid_fraction of data)")
    swap: bool = option(False, "read the second column of data (and valid) as the source and "
                        "the first as the target: one file trains both directions")
    # how corpus text becomes tokens (a task's tokenizers are its own: data.tasks)
    tokenize: str = option("char", "how data text is split into tokens, both sides")
    src_tokenize: str | None = option(None, "the sources' tokenizer (if not given: tokenize)")
    tgt_tokenize: str | None = option(None, "the targets' tokenizer (if not given: tokenize)")
    lowercase: bool = option(False, "lowercase data text (sources and targets)")
    vocab_size: int = option(DEFAULT_BPE_VOCAB_SIZE, "subword pieces per bpe side",
                             Number(int, low=2))
    # which pairs
    source_lang: str | None = option(None, "numbers and tatoeba tasks: the inputs' language "
                                     "(if not given: en)")
    target_lang: str | None = option(None, "numbers and tatoeba tasks: the outputs' language "
                                     "(if not given: fr)")
    num_examples: int = option(20000, "pairs to generate for a task (tatoeba: at most, a seeded "
                               "sample)", POSITIVE_INT)
    min_len: int | None = option(None, "shortest task input, in digits for numbers and "
                                 "addition, in words of each side for tatoeba (if not given: "
                                 "the task's own; dates has none)",
                                 POSITIVE_INT)
    max_len: int | None = option(None, "longest task input, as min_len; for data: drop pairs "
                                 "with a side of more tokens", POSITIVE_INT)
    max_pairs: int | None = option(None, "use at most this many pairs of data (a seeded random "
                                   "sample)", POSITIVE_INT)
    min_freq: int = option(1, "a token seen fewer times in the training pairs becomes <unk>",
                           POSITIVE_INT)
    valid_fraction: float = option(DEFAULT_VALID_FRACTION, "share of the pairs held out when "
                                   "there is no valid file", Number(float, low=0, high=1,
                                                                    low_open=True, high_open=True))
    seed: int = option(DEFAULT_SEED, "seeds the task's pairs, the max_pairs sample and the split",
                       NON_NEGATIVE_INT)
    split: str | None = option(None, "the pairs a held-out split keeps on one side: either (pairs "
                               "that share a source or a target sentence) or source (pairs with "
                               "one source) (if not given: either for data and tatoeba, source "
                               "for generated tasks)", choices=SPLIT_MODES)

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.task is None) == (self.data is None):
            raise ValueError(f"DataConfig needs exactly one of task and data, got "
                             f"task={self.task!r}, data={self.data!r}")

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> DataConfig:
        stored = dict(stored)
        # corpus runs stored before the field were split by source (tasks still are)
        if stored.get("data") is not None:
            stored.setdefault("split", "source")
        # a corpus run of numpy_seq2seq 0.1 stored no "task" key (today's default is a task)
        if "data" in stored and "task" not in stored:
            stored["task"] = None
        # before DataConfig, a side's tokenizer was stored as {"kind", "lowercase", "vocab_size"}
        for side in ("src_tokenize", "tgt_tokenize"):
            if isinstance(stored.get(side), dict):
                tokenizer = stored[side]
                stored[side] = tokenizer["kind"]
                for key in ("lowercase", "vocab_size"):
                    if key in tokenizer:
                        stored[key] = tokenizer[key]
        return super().from_dict(stored)

    def split_mode(self) -> str:
        """How the held-out split keeps pairs together (`SPLIT_MODES`, data.split): the
        ``split`` given, else "either" for a corpus (tatoeba too) and "source" for a generated
        task."""
        if self.split is not None:
            return self.split
        return "source" if self.is_generated() else "either"

    def is_generated(self) -> bool:
        """A task generated from the seed, with one right answer per input (all built-in tasks
        but tatoeba, a corpus shipped as a task)."""
        return self.task is not None and self.task != "tatoeba"

    def direction(self) -> str | None:
        """"source-target" of a built-in task, the default languages filling in (``en-fr``);
        None for a corpus. The key of a direction's own defaults in `TASK_DEFAULTS`."""
        if self.task is None:
            return None
        source = self.source_lang or DEFAULT_SOURCE_LANG
        return f"{source}-{self.target_lang or DEFAULT_TARGET_LANG}"

    def tokenizer_kinds(self) -> tuple[str, str]:
        """The (source, target) tokenizer kinds of a corpus."""
        return self.src_tokenize or self.tokenize, self.tgt_tokenize or self.tokenize
