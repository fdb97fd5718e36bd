"""The ``numpy-seq2seq`` command: train, translate, evaluate, and the course kit.

::

    numpy-seq2seq train                       # the default: dates task, LSTM, general attention
    numpy-seq2seq train --task reverse --cell gru --attention dot --out runs/rev
    numpy-seq2seq train --resume runs/rev --epochs 20   # continue a run (stopped or finished)
    numpy-seq2seq train --task numbers --source-lang en --target-lang de
    numpy-seq2seq train --data pairs.tsv --tokenize word --max-len 20 --epochs 20
    numpy-seq2seq translate --checkpoint runs/rev/checkpoint.npz --show-attention abcdef
    numpy-seq2seq evaluate --checkpoint runs/rev/best.npz
    numpy-seq2seq course release --out release/

Bad input (a missing or malformed file, an unknown option value) ends with one line
``numpy-seq2seq: error: …`` on stderr and exit status 2; no traceback. ``translate`` is the
exception that keeps going: an input it cannot read gets an error line of its own while the
others are translated, and the exit status is 1. Ctrl-C or SIGTERM during training stops at a
step boundary, writes the run's files, prints the command that resumes it and exits with status
130; a second one stops at once and says which step the last checkpoint holds. ``main(argv)``
returns the exit status instead of exiting, so tests call it directly.

The train options, their defaults and their help come from the config dataclasses
(``config.py``), a built-in task's own defaults from ``data.tasks.TASK_DEFAULTS``; every numeric
option of every command is read by ``checks.Number.argument_type``, whose message names the flag
and what it expected.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import re
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import __version__
from .checkpoint import load_checkpoint, read_extra
from .checks import NON_NEGATIVE_INT, POSITIVE_INT, Number
from .config import (
    ATTENTION_CHOICES,
    CELL_CHOICES,
    OPTIMIZER_CHOICES,
    DataConfig,
    ModelConfig,
    TrainConfig,
    task_defaults,
)
from .course.commands import add_course_parser
from .data import (
    LANGUAGE_TASKS,
    SPECIAL_TOKENS,
    TASKS,
    TOKENIZERS,
    TRANSLATION_TASKS,
    UNKNOWN_MODES,
    Tokenizer,
    Vocab,
    count_overlap,
    count_unknown,
    describe_selection,
    encode_pairs,
    load_tsv,
    make_task,
    pad_sequences,
    read_tsv,
    select_pairs,
    split_pairs,
    task_tokenizers,
)
from .data.numbers import DEFAULT_SOURCE_LANG, DEFAULT_TARGET_LANG, NUMBER_LANGUAGES
from .data.tatoeba import NOTICE as TATOEBA_NOTICE
from .data.tokenize import display_width, show_token
from .decoding import Hypothesis, beam_search, default_max_len, greedy_decode
from .history import History, TrainState
from .model import Seq2Seq
from .runs import (
    RUN_FILES,
    check_run_dir,
    claim_run_dir,
    earlier_sessions,
    new_run_dir,
    session,
    write_metrics,
)
from .threads import DEFAULT_THREADS, blas_threads
from .training import (
    BEST_NAME,
    CHECKPOINT_NAME,
    RESUME_CHANGES,
    TrainingDiverged,
    TrainingInterrupted,
    evaluate,
    train,
)

PROG = "numpy-seq2seq"
EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 1
EXIT_SOME_FAILED = 1  # translate could not read some of its inputs
EXIT_INTERRUPTED = 130  # the shell's status for a process stopped by SIGINT (128 + 2)
ATTENTION_NAMES = tuple("none" if a is None else a for a in ATTENTION_CHOICES)
RESUME_OPTIONS = (*RESUME_CHANGES, "quiet")  # what may be given with --resume
# DataConfig fields that only some data take (train refuses them elsewhere)
CORPUS_OPTIONS = ("tokenize", "src_tokenize", "tgt_tokenize", "lowercase", "vocab_size",
                  "valid", "max_pairs", "swap")
TASK_OPTIONS = ("num_examples", "min_len")
LANGUAGE_OPTIONS = ("source_lang", "target_lang")  # the LANGUAGE_TASKS' (numbers, tatoeba)
# Above this share of unknown tokens, evaluate says the data may not suit the model.
UNKNOWN_WARNING_FRACTION = 0.2

_positive_int = POSITIVE_INT.argument_type()
_nonneg_int = NON_NEGATIVE_INT.argument_type()
_nonneg_float = Number(float, low=0).argument_type()


class CLIError(Exception):
    """Bad input: reported as one ``numpy-seq2seq: error: …`` line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the usage and exits; we want one line and a return value instead
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CLIError(message)


def _config_option(group: Any, cls: type, name: str, **kwargs: Any) -> None:
    """Add ``--name`` for the config field ``name``: help and shown default (a task's own too)
    from the config, a numeric value read by its `checks.Number`; absent from the namespace
    unless given (so a resumed run can tell what the user asked to change)."""
    spec = cls.spec(name)  # type: ignore[attr-defined]
    if spec.metadata["number"] is not None:
        kwargs.setdefault("type", spec.metadata["number"].argument_type())
    shown = ""
    if spec.type == "bool":
        kwargs["action"] = "store_true"
    elif spec.default is not None:
        own = "".join(f"; {task}: {task_defaults(cls, task)[name]}" for task in TASKS
                      if name in task_defaults(cls, task))
        shown = f" (default {spec.default}{own})"
    group.add_argument(_flag(name), default=argparse.SUPPRESS,
                       help=(spec.metadata["help"] + shown).replace("%", "%%"), **kwargs)


# ---------------------------------------------------------------------------------------------
# argument parsing

def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all subcommands."""
    parser = _Parser(prog=PROG, description="Sequence-to-sequence RNNs with Luong or Bahdanau "
                     "attention, written by hand in NumPy.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{train,translate,evaluate,course}")
    _add_train_parser(sub)

    tr = sub.add_parser("translate", help="translate text with a trained model",
                        description="Translate each TEXT (or each line of stdin).")
    tr.add_argument("--checkpoint", type=Path, required=True, metavar="FILE",
                    help="a model written by train: DIR/best.npz or DIR/checkpoint.npz")
    tr.add_argument("--beam", type=_positive_int, default=1, metavar="K",
                    help="beam size; 1 is greedy decoding (default %(default)s)")
    tr.add_argument("--length-penalty", type=_nonneg_float, default=1.0, metavar="ALPHA",
                    help="beam score = log p / length**ALPHA (default %(default)s)")
    tr.add_argument("--max-len", type=_positive_int, metavar="L",
                    help="most output steps (default 2 x source length + 10, or the longest "
                    "training target + 10 if that is more)")
    tr.add_argument("--max-ratio", type=_nonneg_float, metavar="R",
                    help="also stop each output after ceil(R x its source tokens) + 1 steps")
    tr.add_argument("--no-repeat-ngram", type=_nonneg_int, default=0, metavar="K",
                    help="never output one K-gram twice, which ends loops such as 'the the "
                    "the'; 0 turns the guard off (default %(default)s; 2 or 3 suit word and bpe "
                    "outputs, see numpy_seq2seq/decoding.py)")
    tr.add_argument("--show-attention", action="store_true",
                    help="print each attention matrix as a table of percentages")
    tr.add_argument("--plot", type=Path, metavar="FILE.png",
                    help="save the attention maps as an image (written exactly there, in a "
                    "folder that exists)")
    tr.add_argument("--force", action="store_true",
                    help="replace an existing --plot file")
    _add_unknown_option(tr)
    tr.add_argument("text", nargs="*", metavar="TEXT", help="inputs (default: lines of stdin)")
    tr.set_defaults(func=cmd_translate)

    ev = sub.add_parser("evaluate", help="score a trained model on held-out pairs",
                        description="Exact match, token accuracy and (for translation) BLEU and "
                        "chrF. Default data: the held-out split the checkpoint was trained with.")
    ev.add_argument("--checkpoint", type=Path, required=True, metavar="FILE",
                    help="a model written by train: DIR/best.npz or DIR/checkpoint.npz")
    which = ev.add_mutually_exclusive_group()
    which.add_argument("--data", type=Path, metavar="FILE.tsv",
                       help="pairs to score, 'source<TAB>target' per line")
    which.add_argument("--task", choices=TASKS, help="score on fresh pairs of a built-in task")
    ev.add_argument("--num-examples", type=_positive_int, default=1000,
                    metavar="N", help="pairs to generate with --task (default %(default)s)")
    ev.add_argument("--seed", type=_nonneg_int, default=12345, metavar="N",
                    help="seed for --task pairs (default %(default)s)")
    ev.add_argument("--min-len", type=_positive_int, metavar="L",
                    help="with --task: shortest input (default: the task's own)")
    ev.add_argument("--max-len", type=_positive_int, metavar="L",
                    help="with --task: longest input (default: the task's own)")
    for name, side in zip(LANGUAGE_OPTIONS, ("inputs", "outputs"), strict=True):
        ev.add_argument(_flag(name), choices=tuple(NUMBER_LANGUAGES),
                        help=f"with --task numbers: the {side}' language (default: the one the "
                        "model learnt)")
    ev.add_argument("--batch-size", type=_positive_int, metavar="N",
                    default=TrainConfig.eval_batch_size,
                    help="pairs decoded at once (default %(default)s)")
    _add_unknown_option(ev)
    ev.set_defaults(func=cmd_evaluate)
    for command in (tr, ev):
        command.add_argument("--threads", type=_positive_int,
                             default=DEFAULT_THREADS, metavar="K", help="BLAS threads (default "
                             "%(default)s: fastest for these small products, see "
                             "numpy_seq2seq/threads.py)")
    add_course_parser(sub)
    return parser


def _add_train_parser(sub: Any) -> None:
    t = sub.add_parser("train", help="train a model and write a run directory",
                       description="Train a model on a built-in task or a TSV corpus, or resume "
                       "a run. With no options: the dates task, LSTM, general attention.")
    src = t.add_argument_group("data")
    which = src.add_mutually_exclusive_group()
    _config_option(which, DataConfig, "task", choices=TASKS)
    _config_option(which, DataConfig, "data", metavar="FILE.tsv")
    _config_option(src, DataConfig, "valid", metavar="FILE.tsv")
    _config_option(src, DataConfig, "swap")
    _config_option(src, DataConfig, "num_examples", metavar="N")
    _config_option(src, DataConfig, "min_len", metavar="L")
    _config_option(src, DataConfig, "max_len", metavar="L")
    text = t.add_argument_group("text and corpora")
    for name in LANGUAGE_OPTIONS:
        _config_option(text, DataConfig, name, choices=tuple(NUMBER_LANGUAGES))
    for name in ("tokenize", "src_tokenize", "tgt_tokenize"):
        _config_option(text, DataConfig, name, choices=TOKENIZERS)
    _config_option(text, DataConfig, "lowercase")
    _config_option(text, DataConfig, "vocab_size", metavar="N")
    _config_option(text, DataConfig, "max_pairs", metavar="N")
    _config_option(text, DataConfig, "valid_fraction", metavar="F")
    _config_option(text, DataConfig, "min_freq", metavar="N")
    m = t.add_argument_group("model")
    _config_option(m, ModelConfig, "cell", choices=CELL_CHOICES)
    _config_option(m, ModelConfig, "attention", choices=ATTENTION_NAMES)
    for flag in ("bidirectional", "reverse_source", "input_feeding"):
        _config_option(m, ModelConfig, flag)
    _config_option(m, ModelConfig, "embed_dim", metavar="E")
    _config_option(m, ModelConfig, "hidden_dim", metavar="H")
    _config_option(m, ModelConfig, "num_layers", metavar="K")
    _config_option(m, ModelConfig, "dropout", metavar="P")
    o = t.add_argument_group("optimisation")
    for name, metavar in (("batch_size", "N"), ("epochs", "N"), ("lr", "LR"), ("clip", "NORM"),
                          ("lr_decay", "F"), ("seed", "N")):
        _config_option(o, TrainConfig, name, metavar=metavar)
    _config_option(o, TrainConfig, "optimizer", choices=OPTIMIZER_CHOICES)
    r = t.add_argument_group("run")
    r.add_argument("--out", type=Path, default=argparse.SUPPRESS, metavar="DIR",
                   help="run directory, which must be empty (default runs/<YYYYmmdd-HHMMSS>)")
    r.add_argument("--force", action="store_true", default=argparse.SUPPRESS,
                   help="train into a non-empty --out, replacing the run files in it")
    r.add_argument("--resume", type=Path, default=argparse.SUPPRESS, metavar="DIR",
                   help="continue the run in DIR (stopped or finished) to --epochs in all, "
                   "with its own settings; only --epochs, --threads and --quiet may be given")
    r.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="no progress bar or per-epoch lines")
    _config_option(r, TrainConfig, "threads", metavar="K")
    t.set_defaults(func=cmd_train)
    names = {a.dest for a in t._actions if a.option_strings}
    for action in t._actions:  # the configs' help speaks of fields; here they are flags
        if action.help:
            action.help = as_flags(re.sub(r" \(None: [^)]*\)", "", action.help), names)
            action.help = re.sub(r"if not given: (\w+)\)", lambda m: "if not given: " + (
                _flag(m[1]) if m[1] in names else m[1]) + ")", action.help)


def _add_unknown_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--unknown", choices=UNKNOWN_MODES, default="unk",
                        help="a token the model's vocabulary lacks: 'unk' reads it as <unk> "
                        "and says so on stderr, 'error' refuses the input (translate: that "
                        "line; evaluate: the data) (default %(default)s)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 2 bad input, 1 divergence or
    untranslatable inputs, 130 interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise CLIError("choose a command: train, translate, evaluate or course (see --help)")
        with blas_threads(getattr(args, "threads", DEFAULT_THREADS)):
            return args.func(args)
    except SystemExit as e:  # --help, --version
        return 0 if e.code is None else int(e.code)
    except TrainingDiverged as e:
        return _fail(str(e), EXIT_DIVERGED)
    except (CLIError, ValueError, OSError) as e:
        # OSError covers a missing file (FileNotFoundError) and unwritable output paths
        return _fail(as_flags(str(e), _option_names(parser, argv)), EXIT_BAD_INPUT)
    except KeyboardInterrupt:  # before training started, or a second Ctrl-C
        return _fail("interrupted", EXIT_INTERRUPTED)


def as_flags(text: str, names: set[str]) -> str:
    """``text`` (a config's help or error) in the command line's words: ``hidden_dim=15`` reads
    ``--hidden-dim 15``, ``attention='bahdanau'`` reads ``--attention bahdanau`` and a bare
    ``min_len`` reads ``--min-len``, for the option names in ``names``. Bare names without an
    underscore (data, task, cell) stay words, since the help uses them as words too."""
    def assignment(m: re.Match) -> str:
        return f"{_flag(m[1])} {m[3]}" if m[1] in names else m[0]

    def bare(m: re.Match) -> str:
        return _flag(m[0]) if m[0] in names else m[0]

    text = re.sub(r"(?<![\w-])(\w+)=(['\"]?)([^\s'\",;)]+)\2", assignment, text)
    # not inside a file name: data/min_len.tsv stays
    return re.sub(r"(?<![\w/\\.-])[a-z]+(?:_[a-z]+)+\b(?![=/\\]|\.\w)", bare, text)


def _option_names(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> set[str]:
    """The option names (``hidden_dim``) of the command in ``argv``, for `as_flags`."""
    words = sys.argv[1:] if argv is None else argv
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command = next((sub.choices[w] for w in words if w in sub.choices), None)
    if command is None:
        return set()
    return {a.dest for a in command._actions if any(o.startswith("--") for o in a.option_strings)}


def _fail(message: str, status: int) -> int:
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
    return status


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# data

def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line (train's options have no namespace defaults)."""
    return {k: v for k, v in vars(args).items() if k not in ("command", "func")}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _pick(cls: type, given: dict[str, Any], task: str | None, /, **fixed: Any) -> Any:
    """A config of class ``cls`` from the given options its fields name (and ``fixed``); a field
    not given takes ``task``'s own default, else the class's."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls.for_task(task, **{k: v for k, v in given.items()  # type: ignore[attr-defined]
                                 if k in names and k not in fixed}, **fixed)


def _refuse(given: dict[str, Any], names: Sequence[str], where: str) -> None:
    """A CLIError if any of the options ``names`` was given: they apply to ``where`` only."""
    flags = [_flag(name) for name in names if name in given]
    if flags:
        raise CLIError(f"{', '.join(flags)} {'applies' if len(flags) == 1 else 'apply'} to "
                       f"{where}")


def _data_config(given: dict[str, Any]) -> DataConfig:
    """The data a new run trains on; corpus paths are stored absolute (evaluate finds them from
    any working directory)."""
    task = None if "data" in given else given.get("task", DataConfig.task)
    if task not in LANGUAGE_TASKS:
        _refuse(given, LANGUAGE_OPTIONS, "--task numbers and --task tatoeba only")
    if task is not None:
        _refuse(given, CORPUS_OPTIONS, "--data only (built-in tasks choose their own tokenizers "
                "and make their own split)")
        return _pick(DataConfig, given, task)
    _refuse(given, TASK_OPTIONS, "--task only")
    if "valid" in given and "valid_fraction" in given:
        raise CLIError("--valid-fraction splits --data; with --valid FILE nothing is split")
    valid = given.get("valid")
    cfg = _pick(DataConfig, given, None, task=None, data=str(Path(given["data"]).resolve()),
                valid=None if valid is None else str(Path(valid).resolve()))
    if "vocab_size" in given and "bpe" not in cfg.tokenizer_kinds():
        raise CLIError("--vocab-size applies to the bpe tokenizer (--tokenize bpe)")
    return cfg


def _tokenizers(cfg: DataConfig) -> tuple[Tokenizer, Tokenizer]:
    """The (source, target) tokenizers the data asks for, before any bpe model is learnt."""
    if cfg.task is not None:
        return task_tokenizers(cfg.task, cfg.source_lang, cfg.target_lang)
    src, tgt = (Tokenizer(kind, lowercase=cfg.lowercase, vocab_size=cfg.vocab_size)
                for kind in cfg.tokenizer_kinds())
    return src, tgt


def _load_pairs(cfg: DataConfig) -> tuple[list, list, str]:
    """(train pairs, held-out pairs, one line saying where they came from) of a `DataConfig`."""
    if cfg.task is not None:
        pairs = make_task(cfg.task, cfg.num_examples, seed=cfg.seed, min_len=cfg.min_len,
                          max_len=cfg.max_len, source_lang=cfg.source_lang,
                          target_lang=cfg.target_lang)
        made = f"{len(pairs):,} generated pairs"
        if cfg.task == "tatoeba":
            made = f"{len(pairs):,} shipped pairs ({TATOEBA_NOTICE})"
        return _check_split(*_split(cfg, pairs), made)
    corpus = read_tsv(cfg.data, swap=cfg.swap)
    pairs, dropped = select_pairs(corpus.pairs, *_tokenizers(cfg), max_len=cfg.max_len,
                                  max_pairs=cfg.max_pairs, seed=cfg.seed)
    summary = f"{cfg.data}: {describe_selection(len(corpus.pairs), dropped, len(pairs))}"
    if corpus.attributed:
        summary += (f"; {corpus.attributed:,} lines carry an attribution column (read, not "
                    "trained on: keep it with the data)")
    if not pairs:  # the selection, not the corpus, left nothing: say which option did it
        raise CLIError(f"no pairs left to train on: {summary}; raise --max-len (or --max-pairs)")
    if cfg.valid is not None:
        return _check_split(pairs, load_tsv(cfg.valid, swap=cfg.swap), summary)
    return _check_split(*_split(cfg, pairs), summary)


def _split(cfg: DataConfig, pairs: list) -> tuple[list, list]:
    return split_pairs(pairs, cfg.valid_fraction, seed=cfg.seed, together=cfg.split_mode(),
                       tokenizers=_tokenizers(cfg))


def _check_split(train_pairs: list, valid_pairs: list, summary: str) -> tuple[list, list, str]:
    if not valid_pairs:
        raise CLIError(f"no held-out pairs: {summary}; {_plural(len(train_pairs), 'pair')} "
                       "are too few to split; give more data or --valid FILE")
    return train_pairs, valid_pairs, summary


def _plural(n: int, noun: str) -> str:
    """"1 pair", "2 pairs", "1,000 pairs"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _build_vocabs(cfg: DataConfig, train_pairs: list) -> tuple[Vocab, Vocab]:
    """Both vocabularies; a CLIError naming --min-freq if it left a side without tokens."""
    vocabs = tuple(Vocab.from_texts(texts, tokenizer=tok, min_freq=cfg.min_freq)
                   for texts, tok in zip(zip(*train_pairs, strict=True), _tokenizers(cfg),
                                         strict=True))
    for side, vocab in zip(("source", "target"), vocabs, strict=True):
        if len(vocab) <= len(SPECIAL_TOKENS):
            raise CLIError(f"no {side} token occurs --min-freq {cfg.min_freq} times in the "
                           f"{_plural(len(train_pairs), 'training pair')}; lower --min-freq")
    return vocabs  # type: ignore[return-value]


def _is_translation(cfg: DataConfig) -> bool:
    """Score with BLEU and chrF: corpora and the translation tasks."""
    return cfg.data is not None or cfg.task in TRANSLATION_TASKS


def _trained_on(extra: dict[str, Any]) -> DataConfig | None:
    """The data a checkpoint records having been trained on, if it does."""
    return DataConfig.from_dict(extra["data"]) if "data" in extra else None


def _recorded_data(extra: dict[str, Any], path: Path, advice: str) -> DataConfig:
    """The data a checkpoint was trained on, checked to be still there (else ``advice``)."""
    cfg = _trained_on(extra)
    if cfg is None:
        raise CLIError(f"{path} does not record its training data; {advice}")
    for file in (cfg.data, cfg.valid):
        if file is not None and not Path(file).is_file():
            raise CLIError(f"{path} was trained on {file}, which is not there any more "
                           f"(moved or deleted?); {advice}")
    return cfg


def _task_label(cfg: DataConfig) -> str:
    if cfg.task in LANGUAGE_TASKS:
        return (f"task {cfg.task} {cfg.source_lang or DEFAULT_SOURCE_LANG} -> "
                f"{cfg.target_lang or DEFAULT_TARGET_LANG}")
    if cfg.task is None:
        return f"data {cfg.data}{' (columns swapped)' * cfg.swap}"
    return f"task {cfg.task}"


def _describe(cfg: DataConfig, src_vocab: Vocab, tgt_vocab: Vocab) -> str:
    return (f"{_task_label(cfg)}, vocabulary {len(src_vocab)} "
            f"({src_vocab.tokenizer.describe()}) -> {len(tgt_vocab)} "
            f"({tgt_vocab.tokenizer.describe()})")


def _unknown_note(pairs: Sequence[tuple[str, str]], src_vocab: Vocab, tgt_vocab: Vocab) -> str:
    """"; 3.20 % of the held-out tokens are not in the vocabularies …" for train's data line."""
    counted = count_unknown(pairs, src_vocab, tgt_vocab)
    if not counted.unknown:
        return ""
    return (f"; {100 * counted.fraction:.2f} % of the held-out tokens are not in the "
            "vocabularies (read as <unk>)")


def _scores(m: dict[str, Any], sep: str) -> str:
    """``{sep}BLEU 12.34{sep}chrF 56.78`` when the metrics hold them, else ""."""
    return "" if m.get("bleu") is None else f"{sep}BLEU {m['bleu']:.2f}{sep}chrF {m['chrf']:.2f}"


def _verdict(output: str, reference: str, tgt_vocab: Vocab) -> str:
    """"ok" or "wrong, expected '…'": the reference in the vocabulary's canonical form."""
    expected = tgt_vocab.canonical(reference)
    return "ok" if output == expected else f"wrong, expected {expected!r}"


# ---------------------------------------------------------------------------------------------
# train

class _TrainRun(NamedTuple):
    """What `cmd_train` trains, new or resumed."""

    out: Path
    data: DataConfig
    train_pairs: list
    valid_pairs: list
    summary: str  # where the pairs came from and what was dropped, one line
    src_vocab: Vocab
    tgt_vocab: Vocab
    model: Seq2Seq
    config: TrainConfig
    resumed: TrainState | None  # the stored state of a resumed run
    changes: dict[str, Any]  # what --resume changes in its config (RESUME_CHANGES)
    sessions: list[dict[str, Any]]  # the earlier sessions of a resumed run (metrics.json)
    made_out: bool = False  # this run made its folder (one the user made is never removed)


class _Shown(NamedTuple):
    """The first held-out examples, decoded once for attention.png and the printout."""

    src: np.ndarray  # (n, S) padded sources
    hyps: list[Hypothesis]
    pairs: list[tuple[str, str]]  # their (source, reference) texts


def cmd_train(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    given = _given(args)
    run = _resumed_run(given) if "resume" in given else _new_run(given)
    try:
        return _train(run, given, started)
    except KeyboardInterrupt:  # a second Ctrl-C, or one while the files were being written
        _stopped_at_once(run.out, run.made_out)
        return EXIT_INTERRUPTED


def _stopped_at_once(out: Path, made_out: bool) -> None:
    """Say what a run stopped at once holds: the last checkpoint written (atomically, so whole)
    and how to resume from it; a folder this run made and left empty is removed."""
    if not (out / CHECKPOINT_NAME).is_file():
        if made_out and out.is_dir() and not any(out.iterdir()):
            with contextlib.suppress(OSError):  # e.g. busy: an empty folder is harmless
                out.rmdir()
        print(f"{PROG}: stopped at once, before the first checkpoint: nothing was saved",
              file=sys.stderr)
        return
    extra = read_extra(out / CHECKPOINT_NAME)
    print(f"{PROG}: stopped at once; {out / CHECKPOINT_NAME} holds the run up to step "
          f"{extra['step']} ({extra['epoch']} epoch(s) done); later steps are lost",
          file=sys.stderr)
    print(f"resume with: {PROG} train --resume {shlex.quote(str(out))}", file=sys.stderr)


def _train(run: _TrainRun, given: dict[str, Any], started: float) -> int:
    """Train ``run``, write its files and report; the exit status."""
    say = (lambda *a, **k: None) if "quiet" in given else print
    _print_header(run, say)
    train_ids = encode_pairs(run.train_pairs, run.src_vocab, run.tgt_vocab)
    valid_ids = encode_pairs(run.valid_pairs, run.src_vocab, run.tgt_vocab)
    longest = _longest(train_ids[1])
    how = ({"resume": run.out, **run.changes} if run.resumed else
           {"config": run.config, "out_dir": run.out,
            "checkpoint_extra": {"data": run.data.to_dict(), "longest_target": longest}})
    try:
        history = train(run.model, train_ids, valid_ids, progress="quiet" not in given,
                        src_vocab=run.src_vocab, tgt_vocab=run.tgt_vocab,
                        on_epoch_end=_epoch_reporter(run.config.epochs, say), **how)
    except TrainingInterrupted as stop:
        files, _ = _finish(run, stop.history, started, "interrupted",
                           _shown(run, valid_ids, longest))
        print(f"{PROG}: {stop}; saved {run.out}/: {', '.join(files)}", file=sys.stderr)
        print(f"resume with: {PROG} train --resume {shlex.quote(str(run.out))}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except TrainingDiverged as diverged:
        _finish(run, diverged.history, started, "diverged", None)
        raise
    shown = _shown(run, valid_ids, longest)
    files, seconds = _finish(run, history, started, "complete", shown)
    _print_summary(run, history, files, seconds, shown if "quiet" not in given else None)
    return 0


def _new_run(given: dict[str, Any]) -> _TrainRun:
    """Data, vocabularies, model, config and an empty run folder for a new run."""
    out, force = given.get("out"), given.get("force", False)
    if out is not None and not force:
        _refuse_non_empty(out)  # before the data is made: a refusal should not take seconds
    data = _data_config(given)
    config = _pick(TrainConfig, given, data.task, bleu=_is_translation(data))
    train_pairs, valid_pairs, summary = _load_pairs(data)
    src_vocab, tgt_vocab = _build_vocabs(data, train_pairs)
    model_config = _pick(ModelConfig, given, data.task, src_vocab_size=len(src_vocab),
                         tgt_vocab_size=len(tgt_vocab))  # it reads --attention none as None
    model = Seq2Seq.from_config(model_config.to_dict())
    made_out = out is None or not out.exists()
    out = new_run_dir() if out is None else claim_run_dir(out, replace=force)
    return _TrainRun(out, data, train_pairs, valid_pairs, summary, src_vocab, tgt_vocab, model,
                     config, None, {}, [], made_out)


def _refuse_non_empty(out: Path) -> None:
    try:
        check_run_dir(out)  # nothing created yet: a run that fails later leaves no empty folder
    except FileExistsError as err:
        raise CLIError(f"--out {err}: add --force to replace the run in it, --resume {out} to "
                       "continue it, or choose another folder") from None


def _resumed_run(given: dict[str, Any]) -> _TrainRun:
    """The run in ``--resume DIR``, with its data rebuilt and --epochs/--threads applied."""
    out = given["resume"]
    others = sorted(set(given) - {"resume", *RESUME_OPTIONS})
    if others:
        allowed, flags = (", ".join(_flag(k) for k in names) for names in (RESUME_OPTIONS, others))
        raise CLIError(f"--resume continues a run with its own settings; only {allowed} may be "
                       f"given with it, not {flags}")
    if not (out / CHECKPOINT_NAME).is_file():
        raise CLIError(f"--resume {out}: no {CHECKPOINT_NAME} there; give the folder of a run "
                       f"written by '{PROG} train'")
    model, src_vocab, tgt_vocab, extra = _load(out / CHECKPOINT_NAME)
    if "training" not in extra:
        raise CLIError(f"{out / CHECKPOINT_NAME} holds no training state (it was written "
                       "before numpy_seq2seq could resume); it still works for translate and "
                       "evaluate, but training must start anew")
    state = TrainState.from_dict(extra["training"])
    changes = {k: given[k] for k in RESUME_CHANGES if k in given}
    config = dataclasses.replace(state.config, **changes)
    if config.epochs <= state.epoch:
        raise CLIError(f"{out} has done {state.epoch} epoch(s); give --epochs N > "
                       f"{state.epoch} to train longer")
    data = _recorded_data(extra, out / CHECKPOINT_NAME,
                          "put it back there: resuming needs the same pairs")
    train_pairs, valid_pairs, summary = _load_pairs(data)
    if config.threads != state.config.threads:
        _warn(f"--threads {config.threads}: the run used {state.config.threads}; another number "
              "of BLAS threads can sum float32 products in another order, so the numbers may "
              "differ from a run never stopped")
    return _TrainRun(out, data, train_pairs, valid_pairs, summary, src_vocab, tgt_vocab, model,
                     config, state, changes, earlier_sessions(out))


def _print_header(run: _TrainRun, say: Callable[..., None]) -> None:
    c, cfg = run.model.config, run.config
    features = [f for f, on in (("bidirectional", c["bidirectional"]),
                                ("reversed source", c["reverse_source"]),
                                ("input feeding", c["input_feeding"]),
                                (f"{c['num_layers']} layers", c["num_layers"] > 1),
                                (f"dropout {c['dropout']:g}", c["dropout"] > 0)) if on]
    say(f"{PROG} train: {_describe(run.data, run.src_vocab, run.tgt_vocab)}")
    say(f"data: {run.summary}; {len(run.train_pairs):,} training / {len(run.valid_pairs):,} "
        f"held-out pairs{_unknown_note(run.valid_pairs, run.src_vocab, run.tgt_vocab)}")
    say(f"model: {c['cell']} encoder-decoder, {c['attention'] or 'no'} attention"
        f"{''.join(', ' + f for f in features)}, E={c['embed_dim']} H={c['hidden_dim']}, "
        f"{run.model.num_params():,} parameters ({run.model.dtype})")
    say(f"training: {cfg.epochs} epoch(s), batch {cfg.batch_size}, {cfg.optimizer} "
        f"lr {cfg.lr:g}, clip {cfg.clip:g}, lr decay on plateau {cfg.lr_decay:g}, seed "
        f"{cfg.seed}; writing to {run.out}")
    if run.resumed is not None:
        state = run.resumed
        within = f" and {state.batch} step(s) of epoch {state.epoch + 1}" if state.batch else ""
        say(f"resuming after {state.epoch} epoch(s){within} (step {state.step})")


def _epoch_reporter(epochs: int, say: Callable[..., None]) -> Callable[..., None]:
    def report(epoch: int, m: dict[str, Any], _history: History) -> None:
        say(f"epoch {epoch:>2}/{epochs}  train loss {m['train_loss']:.4f}  held-out loss "
            f"{m['valid_loss']:.4f}  exact match {100 * m['exact_match']:6.2f} %  token accuracy "
            f"{100 * m['token_accuracy']:6.2f} %{_scores(m, '  ')}  lr {m['lr']:.3g}  "
            f"({m['time']:.1f} s + {m['end_time']:.1f} s scoring and saving)", flush=True)

    return report


def _shown(run: _TrainRun, valid_ids: tuple, longest_target: int, n: int = 5) -> _Shown:
    """The first ``n`` held-out examples and the model's greedy outputs for them."""
    src = pad_sequences(valid_ids[0][:n])
    hyps = greedy_decode(run.model, src, max_len=_step_limit(src, longest_target))
    return _Shown(src, hyps, run.valid_pairs[:n])


def _finish(run: _TrainRun, history: History, started: float, status: str,
            shown: _Shown | None) -> tuple[list[str], float]:
    """Write metrics.json and the figures (attention.png of the ``shown`` examples); return the
    names of the run's files and this session's wall time, the one metrics.json holds."""
    metrics = _metrics(run, history, started, status)
    write_metrics(run.out, metrics)  # first: the numbers are kept if a figure fails
    if history.steps_done:
        _save(_plots().plot_training(history.to_dict()), run.out / "training.png")
    if shown is not None and run.model.attention is not None:
        examples = [_attention_example(h, row, run.src_vocab, run.tgt_vocab, source, reference)
                    for h, row, (source, reference) in zip(shown.hyps[:4], shown.src[:4],
                                                           shown.pairs[:4], strict=True)]
        _save(_plots().plot_attention_grid(examples, ncols=2,
                                           suptitle="Attention on held-out examples"),
              run.out / "attention.png")
    seconds = time.perf_counter() - started  # the figures included: written again
    metrics["sessions"][-1]["wall_time_s"] = seconds
    metrics["wall_time_s"] = sum(s["wall_time_s"] for s in metrics["sessions"])
    write_metrics(run.out, metrics)
    return [name for name in RUN_FILES if (run.out / name).is_file()], seconds


def _metrics(run: _TrainRun, history: History, started: float, status: str) -> dict[str, Any]:
    """metrics.json: configs, sizes, which epoch each checkpoint holds, per-epoch records and
    the history (per-step loss and gradient norm: ``plot_training(metrics["history"])``);
    ``sessions`` (the first command and each resume: start, wall time, threads, library
    versions) and ``wall_time_s``, their sum; the epochs' own times are in ``epochs``."""
    best = history.best_epoch()
    sessions = [*run.sessions, session(time.perf_counter() - started, run.config.threads)]
    return {
        "status": status,  # complete, interrupted or diverged
        "data": run.data.to_dict(), "n_train": len(run.train_pairs),
        "n_valid": len(run.valid_pairs), "src_vocab_size": len(run.src_vocab),
        "tgt_vocab_size": len(run.tgt_vocab),
        "model": run.model.config, "num_params": run.model.num_params(),
        "training": run.config.to_dict(),
        "checkpoints": _checkpoint_epochs(run.out, history),
        "final": history.epoch_record(-1) if history.epochs_done else None,
        "best": None if best is None else history.epoch_record(best - 1),
        "epochs": history.epoch_records(),
        "history": history.to_dict(param_grad_norms=False),
        "sessions": sessions,
        "wall_time_s": sum(s["wall_time_s"] for s in sessions),
    }


def _checkpoint_epochs(out: Path, history: History) -> dict[str, Any]:
    """Which epoch and step each checkpoint file holds, read from the files themselves."""
    held = {}
    for name in (CHECKPOINT_NAME, BEST_NAME):
        if (out / name).is_file():
            extra = read_extra(out / name)
            epoch, step = extra["epoch"], extra["step"]
            ended = history.epoch_end_steps[epoch - 1] if epoch else 0
            held[name] = {"epoch": epoch, "step": step, "steps_into_next_epoch": step - ended}
    return held


def _print_summary(run: _TrainRun, history: History, files: list[str], seconds: float,
                   shown: _Shown | None) -> None:
    """The final and best held-out scores, this session's wall time (``seconds``), the files
    written and (unless None) ``shown``."""
    final, best = history.epoch_record(-1), history.best_epoch()
    print(f"held-out after epoch {final['epoch']}: exact match "
          f"{100 * final['exact_match']:.2f} %, token accuracy "
          f"{100 * final['token_accuracy']:.2f} %{_scores(final, ', ')} on "
          f"{len(run.valid_pairs):,} pairs; best: epoch {best}, "
          f"{100 * history.valid_exact_match[best - 1]:.2f} % (best.npz); "
          f"wall time {_wall_times(run, seconds)}")
    print(f"wrote {run.out}/: {', '.join(files)}")
    if shown is not None:
        print("examples (held-out):")
        for (s, t), hyp in zip(shown.pairs, shown.hyps, strict=True):
            out_text = run.tgt_vocab.decode_text(hyp.tokens)
            print(f"  {s!r} -> {out_text!r}  ({_verdict(out_text, t, run.tgt_vocab)})")


def _wall_times(run: _TrainRun, seconds: float) -> str:
    """"31 s", or after a resume "12 s (40 s in all 2 sessions)"."""
    if not run.sessions:
        return f"{seconds:.0f} s"
    total = seconds + sum(s["wall_time_s"] for s in run.sessions)
    return f"{seconds:.0f} s ({total:.0f} s in all {len(run.sessions) + 1} sessions)"


def _plots():
    """The plots module on matplotlib's Agg backend: a command line never opens windows.

    Imported lazily because importing matplotlib costs a second that translate rarely needs.
    """
    import matplotlib

    matplotlib.use("Agg")
    from . import plots

    return plots


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    try:
        return _plots().save_figure(fig, path)
    finally:
        plt.close(fig)  # a long-lived process (tests, notebooks) must not pile up figures


def _attention_example(hyp: Hypothesis, src_row: np.ndarray, src_vocab: Vocab, tgt_vocab: Vocab,
                       source: str, reference: str | None = None) -> tuple:
    """The fields of a ``plots.AttentionExample``: (weights, source labels, output labels, source
    text, output text, canonical reference or None); the ``</s>`` step included."""
    src_tokens = [src_vocab.id_to_token(int(i)) for i in src_row[src_row != 0]]
    out_tokens = [tgt_vocab.id_to_token(int(i)) for i in hyp.tokens]
    if hyp.finished:
        out_tokens.append("</s>")
    ref = None if reference is None else tgt_vocab.canonical(reference)
    return (hyp.attention, src_tokens, out_tokens, src_vocab.canonical(source),
            tgt_vocab.decode_text(hyp.tokens), ref)


# ---------------------------------------------------------------------------------------------
# translate and evaluate

def _load(path: Path) -> tuple[Seq2Seq, Vocab, Vocab, dict]:
    model, src_vocab, tgt_vocab, extra = load_checkpoint(path)
    if src_vocab is None or tgt_vocab is None:
        raise CLIError(f"{path} holds no vocabularies; it was not written by '{PROG} train'")
    return model, src_vocab, tgt_vocab, extra or {}


def cmd_translate(args: argparse.Namespace) -> int:
    """Translate each input; a bad input gets an error line and an empty output line in its
    place, so outputs stay in line with inputs; exit status 1 if any input failed."""
    if args.plot is not None:
        _check_new_file(args.plot, "--plot", args.force)
    model, src_vocab, tgt_vocab, extra = _load(args.checkpoint)
    texts = args.text if args.text else [line.rstrip("\r\n") for line in sys.stdin]
    if not texts:  # blank inputs are inputs: each gets its blank output line
        raise CLIError("no input text: give TEXT arguments or lines on stdin")
    if (args.show_attention or args.plot) and model.attention is None:
        raise CLIError("this model has no attention to show (it was trained with "
                       "--attention none)")
    ids, problems = _read_inputs(texts, src_vocab, args.unknown)
    hyps = {}
    if ids:
        src = pad_sequences(list(ids.values()))
        max_len = args.max_len or _step_limit(src, extra.get("longest_target"))
        hyps = dict(zip(ids, _decode(model, src, max_len, args), strict=True))
    examples = []
    for i, text in enumerate(texts, start=1):
        if i in problems:
            print(f"{PROG}: {problems[i]}", file=sys.stderr, flush=True)
        if i not in hyps:
            print(flush=True)  # a blank or failed input keeps its line
            continue
        print(tgt_vocab.decode_text(hyps[i].tokens), flush=True)
        if args.show_attention or args.plot:
            examples.append(_attention_example(hyps[i], ids[i], src_vocab, tgt_vocab, text))
        if args.show_attention:
            print(attention_table(*examples[-1][:3]))
            print()
    if args.plot and examples:
        written = _save(_plots().plot_attention_grid(examples, ncols=2), args.plot)
        print(f"wrote {written}", file=sys.stderr)
    failed = sum(i not in ids for i in problems)
    return EXIT_SOME_FAILED if failed else 0


def _check_new_file(path: Path, flag: str, force: bool) -> None:
    """A CLIError unless ``path`` can be written without replacing a file silently (``force``
    allows that) or creating folders."""
    if path.is_dir():
        raise CLIError(f"{flag} {path} is a folder; give a file name such as {path / 'x.png'}")
    if path.exists() and not force:
        raise CLIError(f"{flag} {path} exists: add --force to replace it, or choose another name")
    if not path.parent.is_dir():
        raise CLIError(f"{flag} {path}: the folder {path.parent} does not exist; create it first")


def _read_inputs(texts: Sequence[str], src_vocab: Vocab,
                 unknown: str) -> tuple[dict[int, np.ndarray], dict[int, str]]:
    """Ids of each readable input (1-based), and a warning or error message per input that has
    unknown tokens; blank inputs have neither."""
    ids, problems = {}, {}
    for i, text in enumerate(texts, start=1):
        if not text.strip():
            continue
        missing = src_vocab.unknown(text)
        shown = ", ".join(repr(t) for t in missing)
        if missing and unknown == "error":
            problems[i] = (f"error: input {i} ({text!r}): {len(missing)} token(s) not in the "
                           f"vocabulary: {shown}; the model cannot read it")
            continue
        if missing:
            problems[i] = (f"warning: input {i}: {len(missing)} token(s) not in the vocabulary, "
                           f"read as <unk>: {shown}")
        ids[i] = src_vocab.encode(text)
    return ids, problems


def _decode(model: Seq2Seq, src: np.ndarray, max_len: int,
            args: argparse.Namespace) -> list[Hypothesis]:
    stop = {"max_ratio": args.max_ratio, "no_repeat_ngram": args.no_repeat_ngram}
    if args.beam == 1:
        return greedy_decode(model, src, max_len=max_len, **stop)
    return beam_search(model, src, beam=args.beam, max_len=max_len,
                       length_penalty=args.length_penalty, **stop)


def _longest(tgt_ids: Sequence[np.ndarray]) -> int:
    """Decoder steps of the longest training target (its tokens and ``</s>``)."""
    return max(len(t) for t in tgt_ids) - 1


def _step_limit(src: np.ndarray, longest_target: int | None) -> int:
    """Decoder steps allowed: 2·S + 10, or more when training targets were longer (word sources
    with character targets, e.g. numbers en -> de: 10 words, 60 letters)."""
    return max(default_max_len(src), (longest_target or 0) + 10)


def attention_table(weights: np.ndarray, src_tokens: Sequence[str],
                    out_tokens: Sequence[str]) -> str:
    """Attention as text: one row per output token, one column per source token, in percent.

    Columns are aligned by how many terminal cells a label takes, so wide (CJK) characters,
    which take two, line up with the numbers below them; a space token reads ``␣``.
    """
    src_labels = [show_token(repr(t)[1:-1]) for t in src_tokens]
    out_labels = [show_token(t) for t in out_tokens]
    width = max(3, *(display_width(s) for s in src_labels))
    first = max(4, *(display_width(t) for t in out_labels))
    lines = [" " * first + " " + " ".join(_pad(s, width, right=True) for s in src_labels)]
    for label, row in zip(out_labels, weights, strict=True):
        cells = [f"{round(100 * w):d}".rjust(width) if w >= 0.005 else ".".rjust(width)
                 for w in row]
        lines.append(_pad(label, first) + " " + " ".join(cells))
    return "\n".join(lines)


def _pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def cmd_evaluate(args: argparse.Namespace) -> int:
    model, src_vocab, tgt_vocab, extra = _load(args.checkpoint)
    trained_on = _trained_on(extra)
    if args.task not in LANGUAGE_TASKS and (args.source_lang or args.target_lang):
        raise CLIError("--source-lang and --target-lang apply to --task numbers and --task "
                       "tatoeba only")
    if args.data is not None:
        swap = trained_on is not None and trained_on.swap  # read as the model was trained
        pairs, translation = load_tsv(args.data, swap=swap), True
        what = f"{args.data}{' (columns swapped, as in training)' * swap}"
        _warn_overlap(pairs, trained_on)
    elif args.task is not None:
        asked = DataConfig(task=args.task, **_evaluation_languages(args, trained_on))
        pairs = make_task(args.task, args.num_examples, seed=args.seed, min_len=args.min_len,
                          max_len=args.max_len, source_lang=asked.source_lang,
                          target_lang=asked.target_lang)
        what = f"fresh {args.task} pairs (seed {args.seed})"
        if args.task == "tatoeba":  # drawn from the sentences the model was trained on
            what = f"{args.task} pairs sampled with seed {args.seed}"
            _warn_overlap(pairs, trained_on)
        translation = _is_translation(asked)
        if trained_on is not None and _task_label(trained_on) != _task_label(asked):
            _warn(f"the model was trained on {_task_label(trained_on)}, not on "
                  f"{_task_label(asked)}")
    else:
        data = _recorded_data(extra, args.checkpoint, "give the pairs to score with --data "
                              "FILE.tsv (or --task)")
        pairs, what = _load_pairs(data)[1], "the held-out split used in training"
        translation = _is_translation(data)
    _check_unknown(pairs, src_vocab, tgt_vocab, args.unknown)
    src_ids, tgt_ids = encode_pairs(pairs, src_vocab, tgt_vocab)  # unknown tokens -> <unk>
    res = evaluate(model, src_ids, tgt_ids, batch_size=args.batch_size, tgt_vocab=tgt_vocab,
                   bleu=translation, references=[tgt_vocab.canonical(t) for _, t in pairs])
    print(f"evaluated on {what}: {_plural(res['n'], 'pair')}")
    print(f"exact match     {100 * res['exact_match']:.2f} %")
    print(f"token accuracy  {100 * res['token_accuracy']:.2f} %")
    print(f"loss            {res['loss']:.4f} nats/token")
    if res["bleu"] is not None:
        print(f"BLEU            {res['bleu']:.2f}")
        print(f"chrF            {res['chrf']:.2f}")
    return 0


def _warn_overlap(pairs: Sequence[tuple[str, str]], trained_on: DataConfig | None) -> None:
    """Warn when pairs to score share sources or targets with the model's training pairs
    (rebuilt from the data the checkpoint records, if it is still there)."""
    if trained_on is None or any(f is not None and not Path(f).is_file()
                                 for f in (trained_on.data, trained_on.valid)):
        return
    overlap = count_overlap(pairs, _load_pairs(trained_on)[0], _tokenizers(trained_on))
    if overlap.either:
        _warn(f"{overlap.describe()}: scores on them are flattered by what the model saw in "
              "training")


def _evaluation_languages(args: argparse.Namespace,
                          trained_on: DataConfig | None) -> dict[str, Any]:
    """numbers languages for ``evaluate --task``: the options, else those the model learnt."""
    if args.task not in LANGUAGE_TASKS:
        return {}
    same = trained_on is not None and trained_on.task == args.task
    return {"source_lang": args.source_lang or (trained_on.source_lang if same else None),
            "target_lang": args.target_lang or (trained_on.target_lang if same else None)}


def _check_unknown(pairs: Sequence[tuple[str, str]], src_vocab: Vocab, tgt_vocab: Vocab,
                   mode: str) -> None:
    """Say (or, with ``--unknown error``, refuse) when the data holds tokens the model lacks."""
    counted = count_unknown(pairs, src_vocab, tgt_vocab)
    if not counted.unknown:
        return
    common = ", ".join(f"{t!r} ({n})" for t, n in counted.counts.most_common(5))
    share = (f"{counted.unknown:,} of {counted.total:,} tokens ({100 * counted.fraction:.1f} %) "
             f"are not in the model's vocabularies, most often {common}")
    if mode == "error":
        raise CLIError(f"{share}; --unknown unk would read them as <unk>")
    _warn(f"{share}; read as <unk>, and a reference token the model cannot write is never "
          "counted right")
    if counted.fraction > UNKNOWN_WARNING_FRACTION:
        _warn(f"more than {100 * UNKNOWN_WARNING_FRACTION:.0f} % of the tokens are unknown: this "
              "data is probably not what the model was trained for")
