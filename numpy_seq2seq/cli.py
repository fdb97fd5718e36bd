"""The ``numpy-seq2seq`` command: train, translate, evaluate.

::

    numpy-seq2seq train                       # the default: dates task, LSTM, general attention
    numpy-seq2seq train --task reverse --cell gru --attention dot --out runs/rev
    numpy-seq2seq train --resume runs/rev --epochs 20   # continue a run (stopped or finished)
    numpy-seq2seq train --data pairs.tsv --tokenize word --epochs 20
    numpy-seq2seq translate --checkpoint runs/rev/checkpoint.npz --show-attention abcdef
    numpy-seq2seq evaluate --checkpoint runs/rev/best.npz

Bad input (a missing or malformed file, an unknown option value, characters the vocabulary has
never seen) ends with one line ``numpy-seq2seq: error: …`` on stderr and exit status 2; no
traceback. Ctrl-C or SIGTERM during training stops at a step boundary, writes the run's files,
prints the command that resumes it and exits with status 130. ``main(argv)`` returns the exit
status instead of exiting, so tests call it directly.

The train options, their defaults and their help come from the config dataclasses
(``config.py``); every numeric option of every command is read by `_number_type`, whose message
names the flag and what it expected.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import __version__
from .checkpoint import load_checkpoint, read_extra
from .checks import Number
from .config import NON_NEGATIVE_INT, POSITIVE_INT, DataConfig, ModelConfig, TrainConfig
from .data import (
    TASKS,
    TOKENIZERS,
    Vocab,
    encode_pairs,
    load_tsv,
    make_task,
    pad_sequences,
    split_pairs,
)
from .decoding import Hypothesis, beam_search, greedy_decode
from .history import History, TrainState
from .model import ATTENTION_CHOICES, CELL_CHOICES, Seq2Seq
from .optim import OPTIMIZERS
from .runs import RUN_FILES, claim_run_dir, new_run_dir, write_metrics
from .threads import DEFAULT_THREADS, blas_threads
from .training import (
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
EXIT_INTERRUPTED = 130  # the shell's status for a process stopped by SIGINT (128 + 2)
ATTENTION_NAMES = tuple("none" if a is None else a for a in ATTENTION_CHOICES)
RESUME_OPTIONS = (*RESUME_CHANGES, "quiet")  # what may be given with --resume


class CLIError(Exception):
    """Bad input: reported as one ``numpy-seq2seq: error: …`` line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the usage and exits; we want one line and a return value instead
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CLIError(message)


def _number_type(number: Number) -> Callable[[str], Any]:
    """The argparse ``type=`` of every numeric option: argparse names the flag, e.g.
    ``argument --clip: expected a number >= 0, got 'nan'``."""

    def parse(text: str) -> Any:
        try:
            return number.parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parse


_positive_int = _number_type(POSITIVE_INT)
_nonneg_int = _number_type(NON_NEGATIVE_INT)
_nonneg_float = _number_type(Number(float, low=0))


def _config_option(group: Any, cls: type, name: str, **kwargs: Any) -> None:
    """Add ``--name`` for the config field ``name``: help and shown default from the config,
    a numeric value read by `_number_type`; absent from the namespace unless given (so a
    resumed run can tell what the user asked to change)."""
    spec = cls.spec(name)  # type: ignore[attr-defined]
    if spec.metadata["number"] is not None:
        kwargs.setdefault("type", _number_type(spec.metadata["number"]))
    shown = ""
    if spec.type == "bool":
        kwargs["action"] = "store_true"
    elif spec.default is not None:
        shown = f" (default {spec.default})"
    group.add_argument(_flag(name), default=argparse.SUPPRESS,
                       help=(spec.metadata["help"] + shown).replace("%", "%%"), **kwargs)


# ---------------------------------------------------------------------------------------------
# argument parsing

def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all three subcommands."""
    parser = _Parser(prog=PROG, description="Sequence-to-sequence RNNs with Luong attention, "
                     "written by hand in NumPy.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{train,translate,evaluate}")
    _add_train_parser(sub)

    tr = sub.add_parser("translate", help="translate text with a trained model",
                        description="Translate each TEXT (or each line of stdin).")
    tr.add_argument("--checkpoint", type=Path, required=True, metavar="FILE")
    tr.add_argument("--beam", type=_positive_int, default=1, metavar="K",
                    help="beam size; 1 is greedy decoding (default %(default)s)")
    tr.add_argument("--length-penalty", type=_nonneg_float, default=1.0, metavar="ALPHA",
                    help="beam score = log p / length**ALPHA (default %(default)s)")
    tr.add_argument("--max-len", type=_positive_int, metavar="L",
                    help="most output steps (default 2 x source length + 10)")
    tr.add_argument("--show-attention", action="store_true",
                    help="print each attention matrix as a table of percentages")
    tr.add_argument("--plot", type=Path, metavar="FILE.png",
                    help="save the attention maps as an image (written exactly there)")
    tr.add_argument("text", nargs="*", metavar="TEXT", help="inputs (default: lines of stdin)")
    tr.set_defaults(func=cmd_translate)

    ev = sub.add_parser("evaluate", help="score a trained model on held-out pairs",
                        description="Exact match, token accuracy and (word-level) BLEU. Default "
                        "data: the held-out split the checkpoint was trained with.")
    ev.add_argument("--checkpoint", type=Path, required=True, metavar="FILE")
    which = ev.add_mutually_exclusive_group()
    which.add_argument("--data", type=Path, metavar="FILE.tsv",
                       help="pairs to score, 'source<TAB>target' per line")
    which.add_argument("--task", choices=TASKS, help="score on fresh pairs of a built-in task")
    ev.add_argument("--num-examples", type=_positive_int, default=1000, metavar="N",
                    help="pairs to generate with --task (default %(default)s)")
    ev.add_argument("--seed", type=_nonneg_int, default=12345,
                    help="seed for --task pairs (default %(default)s)")
    ev.add_argument("--min-len", type=_positive_int, metavar="L")
    ev.add_argument("--max-len", type=_positive_int, metavar="L")
    ev.add_argument("--batch-size", type=_positive_int, default=TrainConfig.eval_batch_size)
    ev.set_defaults(func=cmd_evaluate)
    for command in (tr, ev):
        command.add_argument("--threads", type=_positive_int, default=DEFAULT_THREADS,
                             metavar="K", help="BLAS threads (default %(default)s: fastest for "
                             "these small products, see numpy_seq2seq/threads.py)")
    return parser


def _add_train_parser(sub: Any) -> None:
    t = sub.add_parser("train", help="train a model and write a run directory",
                       description="Train a model on a built-in task or a TSV corpus, or resume "
                       "a run. With no options: the dates task, LSTM, general attention.")
    src = t.add_argument_group("data")
    which = src.add_mutually_exclusive_group()
    _config_option(which, DataConfig, "task", choices=TASKS)
    _config_option(which, DataConfig, "data", metavar="FILE.tsv")
    _config_option(src, DataConfig, "tokenize", choices=TOKENIZERS)
    _config_option(src, DataConfig, "valid", metavar="FILE.tsv")
    _config_option(src, DataConfig, "num_examples", metavar="N")
    _config_option(src, DataConfig, "min_len", metavar="L")
    _config_option(src, DataConfig, "max_len", metavar="L")
    m = t.add_argument_group("model")
    _config_option(m, ModelConfig, "cell", choices=CELL_CHOICES)
    _config_option(m, ModelConfig, "attention", choices=ATTENTION_NAMES)
    for flag in ("bidirectional", "reverse_source", "input_feeding"):
        _config_option(m, ModelConfig, flag)
    _config_option(m, ModelConfig, "embed_dim", metavar="E")
    _config_option(m, ModelConfig, "hidden_dim", metavar="H")
    o = t.add_argument_group("optimisation")
    for name in ("batch_size", "epochs", "lr", "clip", "lr_decay", "seed"):
        _config_option(o, TrainConfig, name)
    _config_option(o, TrainConfig, "optimizer", choices=tuple(OPTIMIZERS))
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 2 bad input, 1 divergence,
    130 interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise CLIError("choose a command: train, translate or evaluate (see --help)")
        with blas_threads(getattr(args, "threads", DEFAULT_THREADS)):
            return args.func(args)
    except SystemExit as e:  # --help, --version
        return 0 if e.code is None else int(e.code)
    except TrainingDiverged as e:
        return _fail(str(e), EXIT_DIVERGED)
    except (CLIError, ValueError, OSError) as e:
        # OSError covers a missing file (FileNotFoundError) and unwritable output paths
        return _fail(str(e), EXIT_BAD_INPUT)
    except KeyboardInterrupt:  # before training started, or a second Ctrl-C
        return _fail("interrupted", EXIT_INTERRUPTED)


def _fail(message: str, status: int) -> int:
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
    return status


# ---------------------------------------------------------------------------------------------
# data

def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line (train's options have no namespace defaults)."""
    return {k: v for k, v in vars(args).items() if k not in ("command", "func")}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _pick(cls: type, given: dict[str, Any], **fixed: Any) -> Any:
    """A config of class ``cls`` from the given options its fields name (and ``fixed``)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in given.items() if k in names and k not in fixed}, **fixed)


def _data_config(given: dict[str, Any]) -> DataConfig:
    """The data a new run trains on; a corpus path is stored absolute (evaluate finds it from
    any working directory)."""
    if "data" not in given:
        for option in ("tokenize", "valid"):
            if option in given:
                raise CLIError(f"--{option} applies to --data only (built-in tasks are "
                               "char-level and make their own split)")
        return _pick(DataConfig, given)
    for option in ("min_len", "max_len", "num_examples"):
        if option in given:
            raise CLIError("--min-len, --max-len and --num-examples apply to --task only")
    valid = given.get("valid")
    return _pick(DataConfig, given, task=None, data=str(Path(given["data"]).resolve()),
                 valid=None if valid is None else str(Path(valid).resolve()))


def _load_pairs(cfg: DataConfig) -> tuple[list, list]:
    """(train pairs, held-out pairs) described by a `DataConfig`."""
    if cfg.task is not None:
        pairs = make_task(cfg.task, cfg.num_examples, seed=cfg.seed, min_len=cfg.min_len,
                          max_len=cfg.max_len)
        train_pairs, valid_pairs = split_pairs(pairs, cfg.valid_fraction, seed=cfg.seed)
    elif cfg.valid is not None:
        train_pairs, valid_pairs = load_tsv(cfg.data), load_tsv(cfg.valid)
    else:
        train_pairs, valid_pairs = split_pairs(load_tsv(cfg.data), cfg.valid_fraction,
                                               seed=cfg.seed)
    if not valid_pairs:
        raise CLIError(f"no held-out pairs: {len(train_pairs)} pair(s) are too few to split; "
                       "give more data or --valid FILE")
    return train_pairs, valid_pairs


def _recorded_data(extra: dict[str, Any], path: Path, advice: str) -> DataConfig:
    """The data a checkpoint was trained on, checked to be still there (else ``advice``)."""
    if "data" not in extra:
        raise CLIError(f"{path} does not record its training data; {advice}")
    cfg = DataConfig.from_dict(extra["data"])
    for file in (cfg.data, cfg.valid):
        if file is not None and not Path(file).is_file():
            raise CLIError(f"{path} was trained on {file}, which is not there any more "
                           f"(moved or deleted?); {advice}")
    return cfg


def _describe(cfg: DataConfig) -> str:
    if cfg.task is not None:
        return f"task {cfg.task} (char)"
    return f"data {cfg.data} ({cfg.tokenize})"


# ---------------------------------------------------------------------------------------------
# train

class _TrainRun(NamedTuple):
    """What `cmd_train` trains, new or resumed."""

    out: Path
    data: DataConfig
    train_pairs: list
    valid_pairs: list
    src_vocab: Vocab
    tgt_vocab: Vocab
    model: Seq2Seq
    config: TrainConfig
    resumed: TrainState | None  # the stored state of a resumed run
    changes: dict[str, Any]  # what --resume changes in its config (RESUME_CHANGES)


def cmd_train(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    given = _given(args)
    run = _resumed_run(given) if "resume" in given else _new_run(given)
    say = (lambda *a, **k: None) if "quiet" in given else print
    _print_header(run, say)
    train_ids = encode_pairs(run.train_pairs, run.src_vocab, run.tgt_vocab)
    valid_ids = encode_pairs(run.valid_pairs, run.src_vocab, run.tgt_vocab)
    how = ({"resume": run.out, **run.changes} if run.resumed else
           {"config": run.config, "out_dir": run.out,
            "checkpoint_extra": {"data": run.data.to_dict()}})
    try:
        history = train(run.model, train_ids, valid_ids, progress="quiet" not in given,
                        src_vocab=run.src_vocab, tgt_vocab=run.tgt_vocab,
                        on_epoch_end=_epoch_reporter(run.config.epochs, say), **how)
    except TrainingInterrupted as stop:
        files = _finish(run, stop.history, valid_ids, started, "interrupted")
        print(f"{PROG}: {stop}; saved {run.out}/: {', '.join(files)}", file=sys.stderr)
        print(f"resume with: {PROG} train --resume {shlex.quote(str(run.out))}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except TrainingDiverged as diverged:
        _finish(run, diverged.history, None, started, "diverged")
        raise
    files = _finish(run, history, valid_ids, started, "complete")
    _print_summary(run, history, files, valid_ids, started, "quiet" not in given)
    return 0


def _new_run(given: dict[str, Any]) -> _TrainRun:
    """Data, vocabularies, model, config and an empty run folder for a new run."""
    out, force = given.get("out"), given.get("force", False)
    if out is not None and not force:
        _refuse_non_empty(out)  # before the data is made: a refusal should not take seconds
    data = _data_config(given)
    config = _pick(TrainConfig, given)
    train_pairs, valid_pairs = _load_pairs(data)
    src_vocab = Vocab.from_texts([s for s, _ in train_pairs], tokenizer=data.tokenize)
    tgt_vocab = Vocab.from_texts([t for _, t in train_pairs], tokenizer=data.tokenize)
    attention = given.get("attention", ModelConfig.attention)
    model_config = _pick(ModelConfig, given, src_vocab_size=len(src_vocab),
                         tgt_vocab_size=len(tgt_vocab),
                         attention=None if attention == "none" else attention)
    model = Seq2Seq.from_config(model_config.to_dict())
    out = new_run_dir() if out is None else claim_run_dir(out, replace=force)
    return _TrainRun(out, data, train_pairs, valid_pairs, src_vocab, tgt_vocab, model, config,
                     None, {})


def _refuse_non_empty(out: Path) -> None:
    try:
        claim_run_dir(out)
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
    train_pairs, valid_pairs = _load_pairs(data)
    return _TrainRun(out, data, train_pairs, valid_pairs, src_vocab, tgt_vocab, model, config,
                     state, changes)


def _print_header(run: _TrainRun, say: Callable[..., None]) -> None:
    c, cfg = run.model.config, run.config
    features = [f for f, on in (("bidirectional", c["bidirectional"]),
                                ("reversed source", c["reverse_source"]),
                                ("input feeding", c["input_feeding"])) if on]
    say(f"{PROG} train: {_describe(run.data)}, {len(run.train_pairs):,} training / "
        f"{len(run.valid_pairs):,} held-out pairs, vocabulary {len(run.src_vocab)} -> "
        f"{len(run.tgt_vocab)}")
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
        bleu = "" if m["bleu"] is None else f"  BLEU {m['bleu']:5.2f}"
        say(f"epoch {epoch:>2}/{epochs}  train loss {m['train_loss']:.4f}  held-out loss "
            f"{m['valid_loss']:.4f}  exact match {100 * m['exact_match']:6.2f} %  token accuracy "
            f"{100 * m['token_accuracy']:6.2f} %{bleu}  lr {m['lr']:.3g}  ({m['time']:.1f} s)",
            flush=True)

    return report


def _finish(run: _TrainRun, history: History, valid_ids: tuple | None, started: float,
            status: str) -> list[str]:
    """Write metrics.json and the figures (attention.png needs ``valid_ids``); return the
    names of the run's files."""
    write_metrics(run.out, _metrics(run, history, started, status))
    if history.steps_done:
        _save(_plots().plot_training(history.to_dict()), run.out / "training.png")
    if valid_ids is not None and run.model.attention is not None:
        src, hyps = _decoded_examples(run.model, valid_ids, 4)
        examples = [_attention_example(h, row, run.src_vocab, run.tgt_vocab)
                    for h, row in zip(hyps, src, strict=True)]
        _save(_plots().plot_attention_grid(examples, ncols=2,
                                           suptitle="Attention on held-out examples"),
              run.out / "attention.png")
    return [name for name in RUN_FILES if (run.out / name).is_file()]


def _metrics(run: _TrainRun, history: History, started: float, status: str) -> dict[str, Any]:
    """metrics.json: configs, sizes, which epoch each checkpoint holds, per-epoch records and
    the history (per-step loss and gradient norm: ``plot_training(metrics["history"])``);
    ``wall_time_s`` is this command's (a resumed run adds one), the epochs' own in ``epochs``."""
    best = history.best_epoch()
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
        "wall_time_s": time.perf_counter() - started,
    }


def _checkpoint_epochs(out: Path, history: History) -> dict[str, Any]:
    """Which epoch and step each checkpoint file holds, read from the files themselves."""
    held = {}
    for name in ("checkpoint.npz", "best.npz"):
        if (out / name).is_file():
            extra = read_extra(out / name)
            epoch, step = extra["epoch"], extra["step"]
            ended = history.epoch_end_steps[epoch - 1] if epoch else 0
            held[name] = {"epoch": epoch, "step": step, "steps_into_next_epoch": step - ended}
    return held


def _print_summary(run: _TrainRun, history: History, files: list[str], valid_ids: tuple,
                   started: float, examples: bool) -> None:
    final, best = history.epoch_record(-1), history.best_epoch()
    bleu = "" if final["bleu"] is None else f", BLEU {final['bleu']:.2f}"
    print(f"held-out after epoch {final['epoch']}: exact match "
          f"{100 * final['exact_match']:.2f} %, token accuracy "
          f"{100 * final['token_accuracy']:.2f} %{bleu} on {len(run.valid_pairs):,} pairs; "
          f"best: epoch {best}, {100 * history.valid_exact_match[best - 1]:.2f} % (best.npz); "
          f"wall time {time.perf_counter() - started:.0f} s")
    print(f"wrote {run.out}/: {', '.join(files)}")
    if examples:
        print("examples (held-out):")
        _, hyps = _decoded_examples(run.model, valid_ids, 5)
        for (s, t), hyp in zip(run.valid_pairs[:5], hyps, strict=True):
            out_text = run.tgt_vocab.decode_text(hyp.tokens)
            mark = "ok" if out_text == t else f"wrong, expected {t!r}"
            print(f"  {s!r} -> {out_text!r}  ({mark})")


def _decoded_examples(model: Seq2Seq, valid_ids: tuple, n: int) -> tuple[np.ndarray, list]:
    """The first ``n`` held-out sources, padded, and their greedy outputs."""
    src = pad_sequences(valid_ids[0][:n])
    return src, greedy_decode(model, src)


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


def _attention_example(hyp: Hypothesis, src_row: np.ndarray, src_vocab: Vocab,
                       tgt_vocab: Vocab) -> tuple[np.ndarray, list[str], list[str]]:
    """(weights, source labels, output labels) for one hypothesis; the ``</s>`` step included."""
    src_tokens = [src_vocab.id_to_token(int(i)) for i in src_row[src_row != 0]]
    out_tokens = [tgt_vocab.id_to_token(int(i)) for i in hyp.tokens]
    if hyp.finished:
        out_tokens.append("</s>")
    return hyp.attention, src_tokens, out_tokens


# ---------------------------------------------------------------------------------------------
# translate and evaluate

def _load(path: Path) -> tuple[Seq2Seq, Vocab, Vocab, dict]:
    model, src_vocab, tgt_vocab, extra = load_checkpoint(path)
    if src_vocab is None or tgt_vocab is None:
        raise CLIError(f"{path} holds no vocabularies; it was not written by '{PROG} train'")
    return model, src_vocab, tgt_vocab, extra or {}


def cmd_translate(args: argparse.Namespace) -> int:
    model, src_vocab, tgt_vocab, _ = _load(args.checkpoint)
    texts = args.text if args.text else [line.rstrip("\r\n") for line in sys.stdin]
    texts = [t.strip() for t in texts]
    if not args.text:
        texts = [t for t in texts if t]  # blank stdin lines are skipped
    if not texts:
        raise CLIError("no input text: give TEXT arguments or lines on stdin")
    ids = []
    for i, text in enumerate(texts, start=1):
        if not text:
            raise CLIError(f"input {i} is empty")
        try:
            ids.append(src_vocab.encode(text, unknown="error"))
        except ValueError as e:
            raise CLIError(f"input {i} ({text!r}): {e}; the model cannot read it") from None
        if len(ids[-1]) == 0:
            raise CLIError(f"input {i} ({text!r}) has no tokens")
    if (args.show_attention or args.plot) and model.attention is None:
        raise CLIError("this model has no attention to show (it was trained with "
                       "--attention none)")
    src = pad_sequences(ids)
    if args.beam == 1:
        hyps = greedy_decode(model, src, max_len=args.max_len)
    else:
        hyps = beam_search(model, src, beam=args.beam, max_len=args.max_len,
                           length_penalty=args.length_penalty)
    examples = []
    for hyp, row in zip(hyps, src, strict=True):
        print(tgt_vocab.decode_text(hyp.tokens))
        if args.show_attention or args.plot:
            examples.append(_attention_example(hyp, row, src_vocab, tgt_vocab))
        if args.show_attention:
            print(attention_table(*examples[-1]))
            print()
    if args.plot:
        written = _save(_plots().plot_attention_grid(examples, ncols=2), args.plot)
        print(f"wrote {written}", file=sys.stderr)
    return 0


def attention_table(weights: np.ndarray, src_tokens: Sequence[str],
                    out_tokens: Sequence[str]) -> str:
    """Attention as text: one row per output token, one column per source token, in percent.

    Columns are aligned by how many terminal cells a label takes, so wide (CJK) characters,
    which take two, line up with the numbers below them.
    """
    src_labels = [repr(t)[1:-1] if t.strip() else "␣" for t in src_tokens]
    out_labels = [t if t.strip() else "␣" for t in out_tokens]
    width = max(3, *(display_width(s) for s in src_labels))
    first = max(4, *(display_width(t) for t in out_labels))
    lines = [" " * first + " " + " ".join(_pad(s, width, right=True) for s in src_labels)]
    for label, row in zip(out_labels, weights, strict=True):
        cells = [f"{round(100 * w):d}".rjust(width) if w >= 0.005 else ".".rjust(width)
                 for w in row]
        lines.append(_pad(label, first) + " " + " ".join(cells))
    return "\n".join(lines)


def display_width(text: str) -> int:
    """Terminal cells ``text`` takes: 2 for East Asian wide and fullwidth characters (Hangul,
    kana, kanji), 0 for combining marks, 1 otherwise."""
    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def cmd_evaluate(args: argparse.Namespace) -> int:
    model, src_vocab, tgt_vocab, extra = _load(args.checkpoint)
    if args.data is not None:
        pairs, what = load_tsv(args.data), str(args.data)
    elif args.task is not None:
        pairs = make_task(args.task, args.num_examples, seed=args.seed, min_len=args.min_len,
                          max_len=args.max_len)
        what = f"fresh {args.task} pairs (seed {args.seed})"
    else:
        data = _recorded_data(extra, args.checkpoint, "give the pairs to score with --data "
                              "FILE.tsv (or --task)")
        pairs = _load_pairs(data)[1]
        what = "the held-out split used in training"
    src_ids, tgt_ids = encode_pairs(pairs, src_vocab, tgt_vocab)  # unseen tokens -> <unk>
    res = evaluate(model, src_ids, tgt_ids, batch_size=args.batch_size, tgt_vocab=tgt_vocab,
                   bleu=tgt_vocab.tokenizer == "word")
    print(f"evaluated on {what}: {res['n']:,} pairs")
    print(f"exact match     {100 * res['exact_match']:.2f} %")
    print(f"token accuracy  {100 * res['token_accuracy']:.2f} %")
    print(f"loss            {res['loss']:.4f} nats/token")
    if res["bleu"] is not None:
        print(f"BLEU            {res['bleu']:.2f}")
    return 0
