"""The ``numpy-seq2seq`` command: train, translate, evaluate.

::

    numpy-seq2seq train                       # the default: dates task, LSTM, general attention
    numpy-seq2seq train --task reverse --cell gru --attention dot --out runs/rev
    numpy-seq2seq train --data pairs.tsv --tokenize word --epochs 20
    numpy-seq2seq translate --checkpoint runs/rev/checkpoint.npz --show-attention abcdef
    numpy-seq2seq evaluate --checkpoint runs/rev/checkpoint.npz

Bad input (a missing or malformed file, an unknown option value, characters the vocabulary has
never seen) ends with one line ``numpy-seq2seq: error: …`` on stderr and exit status 2; no
traceback. ``main(argv)`` returns the exit status instead of exiting, so tests call it directly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import load_checkpoint
from .course.commands import add_course_parser
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
from .model import CELL_CHOICES, Seq2Seq
from .optim import OPTIMIZERS
from .threads import DEFAULT_THREADS, blas_threads
from .training import TrainingDiverged, evaluate, train

PROG = "numpy-seq2seq"
EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 1
ATTENTION_NAMES = ("none", "dot", "general", "concat")

# The defaults reach >= 99 % held-out exact match on the dates task in about 30 s on a 2-core
# machine (seeds 0-7 measured: see README.md); every one can be overridden on the command line.
DEFAULTS = {
    "task": "dates",
    "num_examples": 20000,
    "valid_fraction": 0.1,
    "cell": "lstm",
    "attention": "general",
    "embed_dim": 32,
    "hidden_dim": 64,
    "batch_size": 64,
    "epochs": 15,
    "lr": 0.005,
    "optimizer": "adam",
    "clip": 5.0,
    "lr_decay": 0.5,
    "seed": 0,
}


class CLIError(Exception):
    """Bad input: reported as one ``numpy-seq2seq: error: …`` line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the usage and exits; we want one line and a return value instead
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CLIError(message)


def _checked(convert: Callable[[str], Any], ok: Callable[[Any], bool], what: str):
    """An argparse ``type=`` that converts a value and names what was expected if it is bad."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_int = _checked(int, lambda v: v >= 1, "a positive integer")
_nonneg_int = _checked(int, lambda v: v >= 0, "an integer >= 0")
_positive_float = _checked(float, lambda v: v > 0 and np.isfinite(v), "a positive number")


# ---------------------------------------------------------------------------------------------
# argument parsing

def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all three subcommands."""
    parser = _Parser(prog=PROG, description="Sequence-to-sequence RNNs with Luong attention, "
                     "written by hand in NumPy.")
    sub = parser.add_subparsers(dest="command", metavar="{train,translate,evaluate,course}")

    d = DEFAULTS
    t = sub.add_parser("train", help="train a model and write a run directory",
                       description="Train a model on a built-in task or a TSV corpus. With no "
                       "options: the dates task, LSTM, general attention.")
    src = t.add_argument_group("data")
    which = src.add_mutually_exclusive_group()
    which.add_argument("--task", choices=TASKS, help=f"built-in task (default {d['task']})")
    which.add_argument("--data", type=Path, metavar="FILE.tsv",
                       help="corpus of 'source<TAB>target' lines")
    src.add_argument("--tokenize", choices=TOKENIZERS,
                     help="how to split --data text into tokens (default char)")
    src.add_argument("--valid", type=Path, metavar="FILE.tsv",
                     help="held-out pairs for --data (default: hold out 10%% of --data)")
    src.add_argument("--num-examples", type=_positive_int, metavar="N",
                     help=f"pairs to generate for a built-in task (default {d['num_examples']})")
    src.add_argument("--min-len", type=_positive_int, metavar="L",
                     help="shortest toy-task input (not for dates)")
    src.add_argument("--max-len", type=_positive_int, metavar="L",
                     help="longest toy-task input (not for dates)")
    m = t.add_argument_group("model")
    m.add_argument("--cell", choices=CELL_CHOICES, default=d["cell"], help="(default %(default)s)")
    m.add_argument("--attention", choices=ATTENTION_NAMES, default=d["attention"],
                   help="(default %(default)s)")
    m.add_argument("--bidirectional", action="store_true", help="bidirectional encoder")
    m.add_argument("--reverse-source", action="store_true", help="read sources backwards")
    m.add_argument("--input-feeding", action="store_true",
                   help="feed the attentional state to the next decoder step")
    m.add_argument("--embed-dim", type=_positive_int, default=d["embed_dim"], metavar="E",
                   help="(default %(default)s)")
    m.add_argument("--hidden-dim", type=_positive_int, default=d["hidden_dim"], metavar="H",
                   help="(default %(default)s)")
    o = t.add_argument_group("optimisation")
    o.add_argument("--batch-size", type=_positive_int, default=d["batch_size"],
                   help="(default %(default)s)")
    o.add_argument("--epochs", type=_positive_int, default=d["epochs"],
                   help="(default %(default)s)")
    o.add_argument("--lr", type=_positive_float, default=d["lr"],
                   help="learning rate (default %(default)s)")
    o.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default=d["optimizer"],
                   help="(default %(default)s)")
    o.add_argument("--clip", type=float, default=d["clip"],
                   help="clip the global gradient norm; 0 disables (default %(default)s)")
    o.add_argument("--lr-decay", type=float, default=d["lr_decay"],
                   help="multiply lr by this when the held-out loss stops improving; "
                   "1 disables (default %(default)s)")
    o.add_argument("--seed", type=_nonneg_int, default=d["seed"],
                   help="seeds data, split, initialisation and batch order (default %(default)s)")
    t.add_argument("--out", type=Path, metavar="DIR",
                   help="run directory (default runs/<YYYYmmdd-HHMMSS>)")
    t.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    t.set_defaults(func=cmd_train)

    tr = sub.add_parser("translate", help="translate text with a trained model",
                        description="Translate each TEXT (or each line of stdin).")
    tr.add_argument("--checkpoint", type=Path, required=True, metavar="FILE")
    tr.add_argument("--beam", type=_positive_int, default=1, metavar="K",
                    help="beam size; 1 is greedy decoding (default %(default)s)")
    tr.add_argument("--length-penalty", type=float, default=1.0, metavar="ALPHA",
                    help="beam score = log p / length**ALPHA (default %(default)s)")
    tr.add_argument("--max-len", type=_positive_int, metavar="L",
                    help="most output steps (default 2 x source length + 10)")
    tr.add_argument("--show-attention", action="store_true",
                    help="print each attention matrix as a table of percentages")
    tr.add_argument("--plot", type=Path, metavar="FILE.png",
                    help="save the attention maps as an image")
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
    ev.add_argument("--batch-size", type=_positive_int, default=256)
    ev.set_defaults(func=cmd_evaluate)
    for command in (t, tr, ev):
        command.add_argument("--threads", type=_positive_int, default=DEFAULT_THREADS,
                             metavar="K", help="BLAS threads (default %(default)s: fastest for "
                             "these small products, see numpy_seq2seq/threads.py)")
    add_course_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 2 bad input, 1 divergence)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise CLIError("choose a command: train, translate, evaluate or course (see --help)")
        with blas_threads(args.threads):
            return args.func(args)
    except SystemExit as e:  # --help
        return 0 if e.code is None else int(e.code)
    except TrainingDiverged as e:
        return _fail(str(e), EXIT_DIVERGED)
    except (CLIError, ValueError, OSError) as e:
        # OSError covers a missing file (FileNotFoundError) and unwritable output paths
        return _fail(str(e), EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _fail(message: str, status: int) -> int:
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
    return status


# ---------------------------------------------------------------------------------------------
# data

def _data_spec(args: argparse.Namespace) -> dict[str, Any]:
    """A JSON description of the data, stored in the checkpoint so evaluate can rebuild it."""
    if args.data is None:
        if args.tokenize is not None:
            raise CLIError("--tokenize applies to --data only (built-in tasks are char-level)")
        if args.valid is not None:
            raise CLIError("--valid applies to --data only (built-in tasks make their own split)")
        return {"task": args.task or DEFAULTS["task"],
                "num_examples": args.num_examples or DEFAULTS["num_examples"],
                "min_len": args.min_len, "max_len": args.max_len, "seed": args.seed,
                "valid_fraction": DEFAULTS["valid_fraction"]}
    if args.min_len is not None or args.max_len is not None or args.num_examples is not None:
        raise CLIError("--min-len, --max-len and --num-examples apply to --task only")
    return {"data": str(args.data), "valid": None if args.valid is None else str(args.valid),
            "tokenize": args.tokenize or "char", "seed": args.seed,
            "valid_fraction": DEFAULTS["valid_fraction"]}


def _load_pairs(spec: dict[str, Any]) -> tuple[list, list]:
    """(train pairs, held-out pairs) described by a ``_data_spec``."""
    if "task" in spec:
        pairs = make_task(spec["task"], spec["num_examples"], seed=spec["seed"],
                          min_len=spec["min_len"], max_len=spec["max_len"])
        train_pairs, valid_pairs = split_pairs(pairs, spec["valid_fraction"], seed=spec["seed"])
    elif spec["valid"] is not None:
        train_pairs, valid_pairs = load_tsv(spec["data"]), load_tsv(spec["valid"])
    else:
        train_pairs, valid_pairs = split_pairs(load_tsv(spec["data"]), spec["valid_fraction"],
                                               seed=spec["seed"])
    if not valid_pairs:
        raise CLIError(f"no held-out pairs: {len(train_pairs)} pair(s) are too few to split; "
                       "give more data or --valid FILE")
    return train_pairs, valid_pairs


def _describe(spec: dict[str, Any], tokenizer: str) -> str:
    if "task" in spec:
        return f"task {spec['task']} ({tokenizer})"
    return f"data {spec['data']} ({tokenizer})"


# ---------------------------------------------------------------------------------------------
# train

def cmd_train(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    spec = _data_spec(args)
    if args.clip < 0 or not 0 < args.lr_decay <= 1:
        raise CLIError(f"--clip must be >= 0 and --lr-decay in (0, 1]; got --clip {args.clip} "
                       f"and --lr-decay {args.lr_decay}")
    out = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    train_pairs, valid_pairs = _load_pairs(spec)
    tokenizer = spec.get("tokenize", "char")
    src_vocab = Vocab.from_texts([s for s, _ in train_pairs], tokenizer=tokenizer)
    tgt_vocab = Vocab.from_texts([t for _, t in train_pairs], tokenizer=tokenizer)
    train_ids = encode_pairs(train_pairs, src_vocab, tgt_vocab)
    valid_ids = encode_pairs(valid_pairs, src_vocab, tgt_vocab)
    attention = None if args.attention == "none" else args.attention
    model = Seq2Seq(len(src_vocab), len(tgt_vocab), args.embed_dim, args.hidden_dim,
                    cell=args.cell, attention=attention, bidirectional=args.bidirectional,
                    reverse_source=args.reverse_source, input_feeding=args.input_feeding,
                    seed=args.seed)
    clip = args.clip or None
    lr_decay = None if args.lr_decay == 1 else args.lr_decay
    say = (lambda *a, **k: None) if args.quiet else print
    features = [f for f, on in (("bidirectional", args.bidirectional),
                                ("reversed source", args.reverse_source),
                                ("input feeding", args.input_feeding)) if on]
    say(f"{PROG} train: {_describe(spec, tokenizer)}, {len(train_pairs):,} training / "
        f"{len(valid_pairs):,} held-out pairs, vocabulary {len(src_vocab)} -> {len(tgt_vocab)}")
    say(f"model: {args.cell} encoder-decoder, {args.attention} attention"
        f"{''.join(', ' + f for f in features)}, E={args.embed_dim} H={args.hidden_dim}, "
        f"{model.num_params():,} parameters ({model.dtype})")
    say(f"training: {args.epochs} epoch(s), batch {args.batch_size}, {args.optimizer} "
        f"lr {args.lr:g}, clip {clip}, lr decay on plateau {lr_decay}, seed {args.seed}; "
        f"writing to {out}")

    def report(epoch: int, m: dict[str, Any], _history: Any) -> None:
        bleu = "" if m["bleu"] is None else f"  BLEU {m['bleu']:5.2f}"
        say(f"epoch {epoch:>2}/{args.epochs}  train loss {m['train_loss']:.4f}  held-out loss "
            f"{m['valid_loss']:.4f}  exact match {100 * m['exact_match']:6.2f} %  token accuracy "
            f"{100 * m['token_accuracy']:6.2f} %{bleu}  lr {m['lr']:.3g}  ({m['time']:.1f} s)",
            flush=True)

    history = train(
        model, train_ids, valid_ids, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        optimizer=args.optimizer, clip=clip, seed=args.seed, lr_decay=lr_decay,
        progress=not args.quiet, out_dir=out, src_vocab=src_vocab, tgt_vocab=tgt_vocab,
        on_epoch_end=report, checkpoint_extra={"data": spec}, threads=args.threads,
    )
    train_time = time.perf_counter() - t_start

    # the last epoch already scored the final model on the held-out set
    final = {"exact_match": history.valid_exact_match[-1],
             "token_accuracy": history.valid_token_accuracy[-1],
             "loss": history.valid_loss[-1],
             "bleu": history.valid_bleu[-1] if history.valid_bleu else None,
             "n": len(valid_pairs)}
    # the first held-out examples, decoded once for attention.png and for the printout below
    shown_src = pad_sequences(valid_ids[0][:5])
    shown_hyps = greedy_decode(model, shown_src)
    _write_figures(out, model, history, shown_src[:4], shown_hyps[:4], src_vocab, tgt_vocab)
    epochs = [
        {"epoch": i + 1, "train_loss": history.train_loss[i], "valid_loss": history.valid_loss[i],
         "exact_match": history.valid_exact_match[i],
         "token_accuracy": history.valid_token_accuracy[i],
         "bleu": history.valid_bleu[i] if history.valid_bleu else None,
         "time_s": history.epoch_time[i], "step": history.epoch_end_steps[i]}
        for i in range(len(history.epoch_end_steps))
    ]
    metrics = {
        "data": spec, "n_train": len(train_pairs), "n_valid": len(valid_pairs),
        "src_vocab_size": len(src_vocab), "tgt_vocab_size": len(tgt_vocab),
        "config": model.config, "num_params": model.num_params(),
        "training": {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                     "optimizer": args.optimizer, "clip": clip, "lr_decay": lr_decay,
                     "seed": args.seed},
        "epochs": epochs,
        "final": final,
        "train_time_s": train_time,
        "wall_time_s": time.perf_counter() - t_start,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")

    bleu = "" if final["bleu"] is None else f", BLEU {final['bleu']:.2f}"
    print(f"held-out: exact match {100 * final['exact_match']:.2f} %, token accuracy "
          f"{100 * final['token_accuracy']:.2f} %{bleu} on {final['n']:,} pairs; "
          f"wall time {metrics['wall_time_s']:.0f} s")
    figures = "attention.png, training.png" if model.attention else "training.png"
    print(f"wrote {out}/: checkpoint.npz, metrics.json, {figures}")
    if not args.quiet:
        print("examples (held-out):")
        for (s, t), hyp in zip(valid_pairs[:5], shown_hyps, strict=True):
            out_text = tgt_vocab.decode_text(hyp.tokens)
            mark = "ok" if out_text == t else f"wrong, expected {t!r}"
            print(f"  {s!r} -> {out_text!r}  ({mark})")
    return 0


def _plots():
    """The plots module on matplotlib's Agg backend: a command line never opens windows.

    Imported lazily because importing matplotlib costs a second that translate rarely needs.
    """
    import matplotlib

    matplotlib.use("Agg")
    from . import plots

    return plots


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    _plots().save_figure(fig, path)
    plt.close(fig)  # a long-lived process (tests, notebooks) must not pile up figures


def _write_figures(out: Path, model: Seq2Seq, history: Any, src: np.ndarray,
                   hyps: Sequence[Hypothesis], src_vocab: Vocab, tgt_vocab: Vocab) -> None:
    plots = _plots()
    _save(plots.plot_training(history.to_dict()), out / "training.png")
    if model.attention is None:
        return
    examples = [_attention_example(h, row, src_vocab, tgt_vocab)
                for h, row in zip(hyps, src, strict=True)]
    _save(plots.plot_attention_grid(examples, ncols=2,
                                    suptitle="Attention on held-out examples"),
          out / "attention.png")


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
        _save(_plots().plot_attention_grid(examples, ncols=2), args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def attention_table(weights: np.ndarray, src_tokens: Sequence[str],
                    out_tokens: Sequence[str]) -> str:
    """Attention as text: one row per output token, one column per source token, in percent."""
    src_labels = [repr(t)[1:-1] if t.strip() else "␣" for t in src_tokens]
    out_labels = [t if t.strip() else "␣" for t in out_tokens]
    width = max(3, *(len(s) for s in src_labels))
    first = max(4, *(len(t) for t in out_labels))
    lines = [" " * first + " " + " ".join(s.rjust(width) for s in src_labels)]
    for label, row in zip(out_labels, weights, strict=True):
        cells = [f"{round(100 * w):d}".rjust(width) if w >= 0.005 else ".".rjust(width)
                 for w in row]
        lines.append(label.ljust(first) + " " + " ".join(cells))
    return "\n".join(lines)


def cmd_evaluate(args: argparse.Namespace) -> int:
    model, src_vocab, tgt_vocab, extra = _load(args.checkpoint)
    if args.data is not None:
        pairs, what = load_tsv(args.data), str(args.data)
    elif args.task is not None:
        pairs = make_task(args.task, args.num_examples, seed=args.seed, min_len=args.min_len,
                          max_len=args.max_len)
        what = f"fresh {args.task} pairs (seed {args.seed})"
    elif "data" in extra:
        pairs = _load_pairs(extra["data"])[1]
        what = "the held-out split used in training"
    else:
        raise CLIError(f"{args.checkpoint} does not record its training data; give --data or "
                       "--task")
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
