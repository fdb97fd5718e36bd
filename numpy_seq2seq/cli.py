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
(``config.py``), a built-in task's own defaults from ``config.TASK_DEFAULTS`` (by task, and by
direction for tatoeba); every numeric
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
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .checkpoint import read_extra
from .checks import NON_NEGATIVE_INT, POSITIVE_INT, Number
from .config import (
    ATTENTION_CHOICES,
    CELL_CHOICES,
    OPTIMIZER_CHOICES,
    SCHEDULE_CHOICES,
    SELECT_CHOICES,
    SELECT_METRICS,
    SPLIT_MODES,
    TASK_DEFAULTS,
    DataConfig,
    ModelConfig,
    TrainConfig,
    task_defaults,
)
from .data import (
    LANGUAGE_TASKS,
    TASKS,
    TOKENIZERS,
    UNKNOWN_MODES,
    Vocab,
    count_overlap,
    count_unknown,
    encode_pairs,
    load_tsv,
    make_task,
    pad_sequences,
)
from .data.numbers import DEFAULT_SOURCE_LANG, DEFAULT_TARGET_LANG, NUMBER_LANGUAGES
from .data.tokenize import display_width, show_token
from .decoding import Hypothesis, beam_search, greedy_decode
from .history import History
from .model import Seq2Seq
from .run import (
    LANGUAGE_FIELDS,
    Run,
    Summary,
    attention_example,
    data_config_from,
    fit,
    is_translation,
    load_pairs,
    load_trained,
    pair_tokenizers,
    prepare,
    resume,
    step_limit,
    stored_heldout,
    trained_on,
    write_figure,
)
from .runs import check_run_dir
from .threads import DEFAULT_THREADS, blas_threads
from .training import (
    CHECKPOINT_NAME,
    RESUME_CHANGES,
    TrainingDiverged,
    TrainingInterrupted,
    evaluate,
    selection_metric,
)

PROG = "numpy-seq2seq"
EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 1
EXIT_SOME_FAILED = 1  # translate could not read some of its inputs
EXIT_INTERRUPTED = 130  # the shell's status for a process stopped by SIGINT (128 + 2)
ATTENTION_NAMES = tuple("none" if a is None else a for a in ATTENTION_CHOICES)
RESUME_OPTIONS = (*RESUME_CHANGES, "quiet")  # what may be given with --resume
# How the selection metrics and scores are named in what the command prints
METRIC_LABELS = {**{k: label for k, (_, _, label) in SELECT_METRICS.items()},
                 "char_bleu": "char-BLEU"}
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
    own = "".join(f"; {key}: {TASK_DEFAULTS[key][name]}" for key in TASK_DEFAULTS
                  if name in TASK_DEFAULTS[key] and name in task_defaults(cls, key))
    if spec.type == "bool":  # --no-X turns off what a task's defaults turn on
        kwargs["action"] = argparse.BooleanOptionalAction
        shown = f" ({own[2:]})" if own else ""
    else:
        if spec.default is not None:
            shown = f" (default {spec.default}{own})"
        elif own:
            shown = f" ({own[2:]})"
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
                        "chrF. Default data: the held-out pairs of the checkpoint's run (its "
                        "heldout.tsv, else its split rebuilt from the corpus if that is "
                        "unchanged).")
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
    for name, side in zip(LANGUAGE_FIELDS, ("inputs", "outputs"), strict=True):
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
    _add_course_parser(sub)
    return parser


def _add_course_parser(sub: Any) -> None:
    """``course``: a name here, the words after it read by the course kit's own parser
    (`course.commands`), which is imported only when this command runs: the kit (notebooks,
    sandbox, grader) is not loaded by train, translate or evaluate."""
    # prefix_chars no option can start with: every word after "course", --help included,
    # is left for the kit's parser
    course = sub.add_parser("course", help="release and grade the course's assignments",
                            add_help=False, prefix_chars="\0")
    course.add_argument("words", nargs=argparse.REMAINDER)
    course.set_defaults(func=cmd_course, threads=None)  # grade limits BLAS threads itself


def cmd_course(args: argparse.Namespace) -> int:
    from .course.commands import add_course_parser

    parser = _Parser(prog=PROG)
    add_course_parser(parser.add_subparsers(dest="command"))
    inner = parser.parse_args(["course", *args.words])
    return inner.func(inner)


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
    for name in LANGUAGE_FIELDS:
        _config_option(text, DataConfig, name, choices=tuple(NUMBER_LANGUAGES))
    for name in ("tokenize", "src_tokenize", "tgt_tokenize"):
        _config_option(text, DataConfig, name, choices=TOKENIZERS)
    _config_option(text, DataConfig, "lowercase")
    _config_option(text, DataConfig, "vocab_size", metavar="N")
    _config_option(text, DataConfig, "max_pairs", metavar="N")
    _config_option(text, DataConfig, "valid_fraction", metavar="F")
    _config_option(text, DataConfig, "min_freq", metavar="N")
    _config_option(text, DataConfig, "split", choices=SPLIT_MODES)
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
                          ("min_lr", "LR"), ("warmup", "F"), ("lr_decay", "F"),
                          ("patience", "N"), ("seed", "N"), ("eval_every", "K"),
                          ("eval_max", "N")):
        _config_option(o, TrainConfig, name, metavar=metavar)
    _config_option(o, TrainConfig, "optimizer", choices=OPTIMIZER_CHOICES)
    _config_option(o, TrainConfig, "schedule", choices=SCHEDULE_CHOICES)
    _config_option(o, TrainConfig, "select", choices=SELECT_CHOICES)
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


def _plural(n: int, noun: str) -> str:
    """"1 pair", "2 pairs", "1,000 pairs"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


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
    """``{sep}BLEU 12.34{sep}chrF 56.78`` (``char-BLEU`` for BLEU over characters) when the
    metrics hold them, else ""."""
    if m.get("chrf") is None:
        return ""
    name = _bleu_key(m)
    return f"{sep}{METRIC_LABELS[name]} {m[name]:.2f}{sep}chrF {m['chrf']:.2f}"


def _bleu_key(scores: dict[str, Any]) -> str:
    """"char_bleu" where the scores hold BLEU over characters, else "bleu"."""
    return "char_bleu" if scores.get("char_bleu") is not None else "bleu"


def _verdict(output: str, reference: str, tgt_vocab: Vocab) -> str:
    """"ok" or "wrong, expected '…'": the reference in the vocabulary's canonical form."""
    expected = tgt_vocab.canonical(reference)
    return "ok" if output == expected else f"wrong, expected {expected!r}"


# ---------------------------------------------------------------------------------------------
# train

def cmd_train(args: argparse.Namespace) -> int:
    given = _given(args)
    run = _resumed_run(given) if "resume" in given else _new_run(given)
    try:
        return _train(run, "quiet" in given)
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


def _train(run: Run, quiet: bool) -> int:
    """Train ``run`` (the library writes its files), report; the exit status."""
    say = (lambda *a, **k: None) if quiet else print
    _print_header(run, say)
    _plots()  # the figures the run writes are drawn on Agg: a command line opens no windows
    try:
        summary = fit(run, progress=not quiet,
                      on_epoch_end=_epoch_reporter(run.config.epochs, say))
    except TrainingInterrupted as stop:
        print(f"{PROG}: {stop}; saved {run.out}/: {', '.join(run.files())}", file=sys.stderr)
        print(f"resume with: {PROG} train --resume {shlex.quote(str(run.out))}", file=sys.stderr)
        return EXIT_INTERRUPTED
    _print_summary(run, summary, shown=not quiet)
    return 0


def _new_run(given: dict[str, Any]) -> Run:
    """A new run from the options: each config takes the options that are its fields."""
    out, force = given.get("out"), given.get("force", False)
    if out is not None and not force:
        _refuse_non_empty(out)  # the library checks too; this says it in flags
    data = data_config_from(_fields(DataConfig, given), name=_flag)
    return prepare(data, _fields(ModelConfig, given), _fields(TrainConfig, given), out=out,
                   force=force)


def _fields(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """The options given that are fields of the config class ``cls`` (--seed is in all three)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in given.items() if k in names}


def _refuse_non_empty(out: Path) -> None:
    try:
        check_run_dir(out)  # nothing created yet: a run that fails later leaves no empty folder
    except FileExistsError as err:
        raise CLIError(f"--out {err}: add --force to replace the run in it, --resume {out} to "
                       "continue it, or choose another folder") from None


def _resumed_run(given: dict[str, Any]) -> Run:
    """The run in ``--resume DIR``, with --epochs/--threads applied; what the library warns of
    (other threads) is said as a warning line."""
    others = sorted(set(given) - {"resume", *RESUME_OPTIONS})
    if others:
        allowed, flags = (", ".join(_flag(k) for k in names) for names in (RESUME_OPTIONS, others))
        raise CLIError(f"--resume continues a run with its own settings; only {allowed} may be "
                       f"given with it, not {flags}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = resume(given["resume"], **{k: given[k] for k in RESUME_CHANGES if k in given})
    for warning in caught:
        _warn(as_flags(str(warning.message), set(RESUME_OPTIONS)))
    return run


def _print_header(run: Run, say: Callable[..., None]) -> None:
    c, cfg = run.model.config, run.config
    features = [f for f, on in (("bidirectional", c["bidirectional"]),
                                ("reversed source", c["reverse_source"]),
                                ("input feeding", c["input_feeding"]),
                                (f"{c['num_layers']} layers", c["num_layers"] > 1),
                                (f"dropout {c['dropout']:g}", c["dropout"] > 0)) if on]
    say(f"{PROG} train: {_describe(run.data, run.src_vocab, run.tgt_vocab)}")
    say(f"data: {run.split.summary}; {len(run.train_pairs):,} training / {len(run.valid_pairs):,} "
        f"held-out pairs{_unknown_note(run.valid_pairs, run.src_vocab, run.tgt_vocab)}")
    say(f"model: {c['cell']} encoder-decoder, {c['attention'] or 'no'} attention"
        f"{''.join(', ' + f for f in features)}, E={c['embed_dim']} H={c['hidden_dim']}, "
        f"{run.model.num_params():,} parameters ({run.model.dtype})")
    stop = f", early stop after {cfg.patience} epochs without a better one" if cfg.patience \
        else ""
    say(f"training: {cfg.epochs} epoch(s), batch {cfg.batch_size}, {cfg.optimizer} "
        f"lr {cfg.lr:g}, {_schedule_text(cfg)}, clip {cfg.clip:g}, best.npz by held-out "
        f"{METRIC_LABELS[selection_metric(cfg, run.tgt_vocab)]}{stop}, seed {cfg.seed}; "
        f"writing to {run.out}")
    if run.resumed is not None:
        state = run.resumed
        within = f" and {state.batch} step(s) of epoch {state.epoch + 1}" if state.batch else ""
        say(f"resuming after {state.epoch} epoch(s){within} (step {state.step})")


def _schedule_text(cfg: TrainConfig) -> str:
    """How the learning rate moves, in a few words."""
    if cfg.schedule == "plateau":
        return f"x{cfg.lr_decay:g} on a held-out loss plateau (floor {cfg.min_lr:g})"
    if cfg.schedule == "constant":
        return "constant"
    return f"{cfg.warmup:.0%} warm-up, {cfg.schedule} decay to {cfg.min_lr:g}"


def _epoch_reporter(epochs: int, say: Callable[..., None]) -> Callable[..., None]:
    def report(epoch: int, m: dict[str, Any], _history: History) -> None:
        held_out = ("held-out not scored this epoch" if m["valid_loss"] is None else
                    f"held-out loss {m['valid_loss']:.4f}  exact match "
                    f"{100 * m['exact_match']:6.2f} %  token accuracy "
                    f"{100 * m['token_accuracy']:6.2f} %{_scores(m, '  ')}")
        say(f"epoch {epoch:>2}/{epochs}  train loss {m['train_loss']:.4f}  {held_out}  "
            f"lr {m['lr']:.3g}  ({m['time']:.1f} s + {m['end_time']:.1f} s scoring and saving)",
            flush=True)

    return report


def _print_summary(run: Run, summary: Summary, shown: bool) -> None:
    """The final and best held-out scores, this session's wall time, the files written and
    (if ``shown``) the held-out examples decoded at the end."""
    history = summary.history
    metric = history.select or "exact"
    final = history.epoch_record(history.score_epochs()[-1] - 1)  # the last one scored
    scored = min(len(run.valid_pairs), run.config.eval_max or len(run.valid_pairs))
    among = f"{scored:,} of {len(run.valid_pairs):,}" if scored < len(run.valid_pairs) else \
        f"{scored:,}"
    best = history.best_epoch(metric)
    if history.stopped_early is not None:
        print(f"stopped early after epoch {history.stopped_early}: no better held-out "
              f"{METRIC_LABELS[metric]} in {run.config.patience} epochs")
    print(f"held-out after epoch {final['epoch']}: exact match "
          f"{100 * final['exact_match']:.2f} %, token accuracy "
          f"{100 * final['token_accuracy']:.2f} %{_scores(final, ', ')} on "
          f"{among} pairs; best by {METRIC_LABELS[metric]}: epoch {best}, "
          f"{_metric_text(history.epoch_record(best - 1), metric)} (best.npz); "
          f"wall time {_wall_times(run, summary.seconds)}")
    print(f"wrote {run.out}/: {', '.join(summary.files)}")
    if shown and summary.examples is not None:
        print("examples (held-out):")
        for (s, t), hyp in zip(summary.examples.pairs, summary.examples.hyps, strict=True):
            out_text = run.tgt_vocab.decode_text(hyp.tokens)
            print(f"  {s!r} -> {out_text!r}  ({_verdict(out_text, t, run.tgt_vocab)})")


def _metric_text(record: dict[str, Any], metric: str) -> str:
    """One epoch's ``metric`` as printed: "99.85 %", "chrF 41.20", "held-out loss 0.1234"."""
    if metric == "exact":
        return f"{100 * record['exact_match']:.2f} %"
    if metric == "loss":
        return f"{METRIC_LABELS['loss']} {record['valid_loss']:.4f}"
    name = _bleu_key(record) if metric == "bleu" else metric
    return f"{METRIC_LABELS[name]} {record[name]:.2f}"


def _wall_times(run: Run, seconds: float) -> str:
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


# ---------------------------------------------------------------------------------------------
# translate and evaluate

def cmd_translate(args: argparse.Namespace) -> int:
    """Translate each input; a bad input gets an error line and an empty output line in its
    place, so outputs stay in line with inputs; exit status 1 if any input failed."""
    if args.plot is not None:
        _check_new_file(args.plot, "--plot", args.force)
    model, src_vocab, tgt_vocab, extra = load_trained(args.checkpoint)
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
        max_len = args.max_len or step_limit(src, extra.get("longest_target"))
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
            examples.append(attention_example(hyps[i], ids[i], src_vocab, tgt_vocab, text))
        if args.show_attention:
            print(attention_table(*examples[-1][:3]))
            print()
    if args.plot and examples:
        written = write_figure(_plots().plot_attention_grid(examples, ncols=2), args.plot)
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
    model, src_vocab, tgt_vocab, extra = load_trained(args.checkpoint)
    learnt = trained_on(extra)
    if args.task not in LANGUAGE_TASKS and (args.source_lang or args.target_lang):
        raise CLIError("--source-lang and --target-lang apply to --task numbers and --task "
                       "tatoeba only")
    if args.data is not None:
        swap = learnt is not None and learnt.swap  # read as the model was trained
        pairs, translation = load_tsv(args.data, swap=swap), True
        what = f"{args.data}{' (columns swapped, as in training)' * swap}"
        _warn_overlap(pairs, learnt)
    elif args.task is not None:
        asked = DataConfig(task=args.task, **_evaluation_languages(args, learnt))
        pairs = make_task(args.task, args.num_examples, seed=args.seed, min_len=args.min_len,
                          max_len=args.max_len, source_lang=asked.source_lang,
                          target_lang=asked.target_lang)
        what = f"fresh {args.task} pairs (seed {args.seed})"
        if args.task == "tatoeba":  # drawn from the sentences the model was trained on
            what = f"{args.task} pairs sampled with seed {args.seed}"
            _warn_overlap(pairs, learnt)
        translation = is_translation(asked)
        if learnt is not None and _task_label(learnt) != _task_label(asked):
            _warn(f"the model was trained on {_task_label(learnt)}, not on "
                  f"{_task_label(asked)}")
    else:
        advice = "give the pairs to score with --data FILE.tsv (or --task)"
        pairs, what = stored_heldout(args.checkpoint, extra, advice)
        translation = learnt is None or is_translation(learnt)
    _check_unknown(pairs, src_vocab, tgt_vocab, args.unknown)
    src_ids, tgt_ids = encode_pairs(pairs, src_vocab, tgt_vocab)  # unknown tokens -> <unk>
    res = evaluate(model, src_ids, tgt_ids, batch_size=args.batch_size, tgt_vocab=tgt_vocab,
                   bleu=translation, references=[tgt_vocab.canonical(t) for _, t in pairs])
    print(f"evaluated on {what}: {_plural(res['n'], 'pair')}")
    print(f"exact match     {100 * res['exact_match']:.2f} %")
    print(f"token accuracy  {100 * res['token_accuracy']:.2f} %")
    print(f"loss            {res['loss']:.4f} nats/token")
    if res["chrf"] is not None:
        name = _bleu_key(res)
        print(f"{METRIC_LABELS[name]:<16}{res[name]:.2f}")
        print(f"chrF            {res['chrf']:.2f}")
    return 0


def _warn_overlap(pairs: Sequence[tuple[str, str]], learnt: DataConfig | None) -> None:
    """Warn when pairs to score share sources or targets with the model's training pairs
    (rebuilt from the data the checkpoint records, if it is still there)."""
    if learnt is None or any(f is not None and not Path(f).is_file()
                             for f in (learnt.data, learnt.valid)):
        return
    overlap = count_overlap(pairs, load_pairs(learnt).train, pair_tokenizers(learnt))
    if overlap.either:
        _warn(f"{overlap.describe()}: scores on them are flattered by what the model saw in "
              "training")


def _evaluation_languages(args: argparse.Namespace,
                          trained_on: DataConfig | None) -> dict[str, Any]:
    """Languages for ``evaluate --task numbers|tatoeba``: the options, else those the model
    learnt."""
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
