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
    TASK_DEFAULTS,
    TASKS,
    TOKENIZERS,
    TRANSLATION_TASKS,
    UNKNOWN_MODES,
    Tokenizer,
    Vocab,
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
from .data.numbers import NUMBER_LANGUAGES
from .data.tokenize import DEFAULT_BPE_VOCAB_SIZE, show_token
from .decoding import Hypothesis, beam_search, default_max_len, greedy_decode
from .model import CELL_CHOICES, Seq2Seq
from .optim import OPTIMIZERS
from .threads import DEFAULT_THREADS, blas_threads
from .training import TrainingDiverged, evaluate, train

PROG = "numpy-seq2seq"
EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 1
ATTENTION_NAMES = ("none", "dot", "general", "concat", "bahdanau")

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
_fraction = _checked(float, lambda v: 0 < v < 1, "a number between 0 and 1 (exclusive)")
_bpe_size = _checked(int, lambda v: v >= 2, "an integer >= 2")
_probability = _checked(float, lambda v: 0 <= v < 1, "a probability in [0, 1)")
# Above this share of unknown tokens, evaluate says the data may not suit the model.
UNKNOWN_WARNING_FRACTION = 0.2


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
                     help="shortest toy-task input, in digits for numbers (not for dates)")
    src.add_argument("--max-len", type=_positive_int, metavar="L",
                     help="longest toy-task input, in digits for numbers (not for dates); with "
                     "--data: drop pairs with a side longer than L tokens")
    _add_text_options(t)
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
    m.add_argument("--num-layers", type=_positive_int, default=1, metavar="K",
                   help="stacked recurrent layers in encoder and decoder (default %(default)s)")
    m.add_argument("--dropout", type=_probability, default=0.0, metavar="P",
                   help="dropout on embeddings, between layers and before the output layer "
                        "(default %(default)s)")
    o = t.add_argument_group("optimisation")
    o.add_argument("--batch-size", type=_positive_int, default=d["batch_size"],
                   help="(default %(default)s)")
    o.add_argument("--epochs", type=_positive_int,
                   help=f"(default {d['epochs']}; numbers: {TASK_DEFAULTS['numbers']['epochs']})")
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
                    help="most output steps (default 2 x source length + 10, or the longest "
                    "training target + 10 if that is more)")
    tr.add_argument("--show-attention", action="store_true",
                    help="print each attention matrix as a table of percentages")
    tr.add_argument("--plot", type=Path, metavar="FILE.png",
                    help="save the attention maps as an image")
    _add_unknown_option(tr)
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
    _add_language_options(ev)
    ev.add_argument("--batch-size", type=_positive_int, default=256)
    _add_unknown_option(ev)
    ev.set_defaults(func=cmd_evaluate)
    for command in (t, tr, ev):
        command.add_argument("--threads", type=_positive_int, default=DEFAULT_THREADS,
                             metavar="K", help="BLAS threads (default %(default)s: fastest for "
                             "these small products, see numpy_seq2seq/threads.py)")
    add_course_parser(sub)
    return parser


def _add_language_options(parser: argparse.ArgumentParser) -> None:
    langs = tuple(NUMBER_LANGUAGES)
    parser.add_argument("--source-lang", choices=langs,
                        help="numbers task: language of the inputs (default en)")
    parser.add_argument("--target-lang", choices=langs,
                        help="numbers task: language of the outputs (default fr)")


def _add_text_options(train_parser: argparse.ArgumentParser) -> None:
    """train's options for translation data: languages, tokenizers, corpus selection."""
    g = train_parser.add_argument_group("text and corpora")
    _add_language_options(g)
    g.add_argument("--src-tokenize", choices=TOKENIZERS,
                   help="tokenizer of the --data sources (default: --tokenize)")
    g.add_argument("--tgt-tokenize", choices=TOKENIZERS,
                   help="tokenizer of the --data targets (default: --tokenize)")
    g.add_argument("--lowercase", action="store_true", help="lowercase --data text")
    g.add_argument("--vocab-size", type=_bpe_size, metavar="N",
                   help=f"subword pieces per bpe side (default {DEFAULT_BPE_VOCAB_SIZE})")
    g.add_argument("--max-pairs", type=_positive_int, metavar="N",
                   help="use at most N pairs of --data (a seeded random sample)")
    g.add_argument("--valid-fraction", type=_fraction, metavar="F",
                   help=f"share held out for scoring (default {DEFAULTS['valid_fraction']})")
    g.add_argument("--min-freq", type=_positive_int, metavar="N",
                   help="tokens seen fewer than N times in training become <unk> (default 1)")


def _add_unknown_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--unknown", choices=UNKNOWN_MODES, default="unk",
                        help="a token the model's vocabulary lacks: 'unk' reads it as <unk> "
                        "and says so on stderr, 'error' refuses the input (translate: that "
                        "line; evaluate: the data) (default %(default)s)")


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
    valid_fraction = args.valid_fraction or DEFAULTS["valid_fraction"]
    if args.data is None:
        _reject_data_options(args)
        task = args.task or DEFAULTS["task"]
        if task != "numbers" and (args.source_lang or args.target_lang):
            raise CLIError("--source-lang and --target-lang apply to --task numbers only")
        return {"task": task,
                "num_examples": args.num_examples or _task_default(task, "num_examples"),
                "min_len": args.min_len, "max_len": args.max_len, "seed": args.seed,
                "valid_fraction": valid_fraction, "min_freq": args.min_freq or 1,
                "source_lang": args.source_lang, "target_lang": args.target_lang}
    if args.min_len is not None or args.num_examples is not None:
        raise CLIError("--min-len and --num-examples apply to --task only")
    if args.source_lang or args.target_lang:
        raise CLIError("--source-lang and --target-lang apply to --task numbers only")
    if args.valid is not None and args.valid_fraction is not None:
        raise CLIError("--valid-fraction splits --data; with --valid FILE nothing is split")
    src_tok, tgt_tok = (_tokenizer_spec(args, side) for side in (args.src_tokenize,
                                                                  args.tgt_tokenize))
    if args.vocab_size is not None and "bpe" not in (src_tok["kind"], tgt_tok["kind"]):
        raise CLIError("--vocab-size applies to the bpe tokenizer (--tokenize bpe)")
    return {"data": str(args.data), "valid": None if args.valid is None else str(args.valid),
            "src_tokenize": src_tok, "tgt_tokenize": tgt_tok, "seed": args.seed,
            "valid_fraction": valid_fraction, "max_pairs": args.max_pairs,
            "max_len": args.max_len, "min_freq": args.min_freq or 1}


def _reject_data_options(args: argparse.Namespace) -> None:
    given = [flag for flag, value in (
        ("--tokenize", args.tokenize), ("--src-tokenize", args.src_tokenize),
        ("--tgt-tokenize", args.tgt_tokenize), ("--lowercase", args.lowercase or None),
        ("--vocab-size", args.vocab_size), ("--valid", args.valid),
        ("--max-pairs", args.max_pairs)) if value is not None]
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        raise CLIError(f"{', '.join(given)} {verb} to --data only (built-in tasks choose their "
                       "own tokenizers and make their own split)")


def _tokenizer_spec(args: argparse.Namespace, side: str | None) -> dict[str, Any]:
    kind = side or args.tokenize or "char"
    return {"kind": kind, "lowercase": args.lowercase,
            "vocab_size": args.vocab_size or DEFAULT_BPE_VOCAB_SIZE}


def _tokenizers(spec: dict[str, Any]) -> tuple[Tokenizer, Tokenizer]:
    """The (source, target) tokenizers a data spec asks for, before any bpe model is learnt."""
    if "task" in spec:
        return task_tokenizers(spec["task"], spec.get("source_lang"), spec.get("target_lang"))
    if "src_tokenize" in spec:
        return Tokenizer.from_dict(spec["src_tokenize"]), Tokenizer.from_dict(spec["tgt_tokenize"])
    old = Tokenizer.from_dict(spec.get("tokenize", "char"))  # a checkpoint from before
    return old, old


def _is_translation(spec: dict[str, Any]) -> bool:
    """Score with BLEU and chrF: corpora and the translation tasks."""
    return spec.get("task") in TRANSLATION_TASKS or "data" in spec


def _load_pairs(spec: dict[str, Any]) -> tuple[list, list, str]:
    """(train pairs, held-out pairs, one line saying where they came from) of a ``_data_spec``."""
    if "task" in spec:
        pairs = make_task(spec["task"], spec["num_examples"], seed=spec["seed"],
                          min_len=spec["min_len"], max_len=spec["max_len"],
                          source_lang=spec.get("source_lang"), target_lang=spec.get("target_lang"))
        train_pairs, valid_pairs = split_pairs(pairs, spec["valid_fraction"], seed=spec["seed"])
        return _check_split(train_pairs, valid_pairs, f"{len(pairs):,} generated pairs")
    corpus = read_tsv(spec["data"])
    pairs, dropped = select_pairs(corpus.pairs, *_tokenizers(spec), max_len=spec.get("max_len"),
                                  max_pairs=spec.get("max_pairs"), seed=spec["seed"])
    summary = f"{spec['data']}: {describe_selection(len(corpus.pairs), dropped, len(pairs))}"
    if corpus.attributed:
        summary += (f"; {corpus.attributed:,} lines carry an attribution column (read, not "
                    "trained on: keep it with the data)")
    if spec["valid"] is not None:
        return _check_split(pairs, load_tsv(spec["valid"]), summary)
    return _check_split(*split_pairs(pairs, spec["valid_fraction"], seed=spec["seed"]), summary)


def _check_split(train_pairs: list, valid_pairs: list, summary: str) -> tuple[list, list, str]:
    if not valid_pairs:
        raise CLIError(f"no held-out pairs: {len(train_pairs)} pair(s) are too few to split; "
                       "give more data or --valid FILE")
    return train_pairs, valid_pairs, summary


def _task_default(task: str | None, key: str) -> Any:
    """A training setting: the task's own default (TASK_DEFAULTS) or the general one."""
    return TASK_DEFAULTS.get(task or "", {}).get(key, DEFAULTS[key])


def _describe(spec: dict[str, Any], src_vocab: Vocab, tgt_vocab: Vocab) -> str:
    return (f"{_task_label(spec)}, vocabulary {len(src_vocab)} "
            f"({src_vocab.tokenizer.describe()}) -> {len(tgt_vocab)} "
            f"({tgt_vocab.tokenizer.describe()})")


def _build_vocabs(spec: dict[str, Any], train_pairs: list) -> tuple[Vocab, Vocab]:
    src_tok, tgt_tok = _tokenizers(spec)
    min_freq = spec.get("min_freq", 1)
    return (Vocab.from_texts([s for s, _ in train_pairs], tokenizer=src_tok, min_freq=min_freq),
            Vocab.from_texts([t for _, t in train_pairs], tokenizer=tgt_tok, min_freq=min_freq))


def _scores(m: dict[str, Any], sep: str) -> str:
    """``{sep}BLEU 12.34{sep}chrF 56.78`` when the metrics hold them, else ""."""
    return "" if m.get("bleu") is None else f"{sep}BLEU {m['bleu']:.2f}{sep}chrF {m['chrf']:.2f}"


def _verdict(output: str, reference: str, tgt_vocab: Vocab) -> str:
    """"ok" or "wrong, expected '…'": the reference in the vocabulary's canonical form."""
    expected = tgt_vocab.canonical(reference)
    return "ok" if output == expected else f"wrong, expected {expected!r}"


# ---------------------------------------------------------------------------------------------
# train

def cmd_train(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    spec = _data_spec(args)
    if args.clip < 0 or not 0 < args.lr_decay <= 1:
        raise CLIError(f"--clip must be >= 0 and --lr-decay in (0, 1]; got --clip {args.clip} "
                       f"and --lr-decay {args.lr_decay}")
    out = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    args.epochs = args.epochs or _task_default(spec.get("task"), "epochs")
    train_pairs, valid_pairs, data_summary = _load_pairs(spec)
    src_vocab, tgt_vocab = _build_vocabs(spec, train_pairs)
    train_ids = encode_pairs(train_pairs, src_vocab, tgt_vocab)
    valid_ids = encode_pairs(valid_pairs, src_vocab, tgt_vocab)
    attention = None if args.attention == "none" else args.attention
    model = Seq2Seq(len(src_vocab), len(tgt_vocab), args.embed_dim, args.hidden_dim,
                    cell=args.cell, attention=attention, bidirectional=args.bidirectional,
                    reverse_source=args.reverse_source, input_feeding=args.input_feeding,
                    num_layers=args.num_layers, dropout=args.dropout, seed=args.seed)
    clip = args.clip or None
    lr_decay = None if args.lr_decay == 1 else args.lr_decay
    say = (lambda *a, **k: None) if args.quiet else print
    features = [f for f, on in (("bidirectional", args.bidirectional),
                                ("reversed source", args.reverse_source),
                                ("input feeding", args.input_feeding),
                                (f"{args.num_layers} layers", args.num_layers > 1),
                                (f"dropout {args.dropout}", args.dropout > 0)) if on]
    say(f"{PROG} train: {_describe(spec, src_vocab, tgt_vocab)}")
    say(f"data: {data_summary}; {len(train_pairs):,} training / {len(valid_pairs):,} held-out "
        f"pairs{_unknown_note(valid_pairs, src_vocab, tgt_vocab)}")
    say(f"model: {args.cell} encoder-decoder, {args.attention} attention"
        f"{''.join(', ' + f for f in features)}, E={args.embed_dim} H={args.hidden_dim}, "
        f"{model.num_params():,} parameters ({model.dtype})")
    say(f"training: {args.epochs} epoch(s), batch {args.batch_size}, {args.optimizer} "
        f"lr {args.lr:g}, clip {clip}, lr decay on plateau {lr_decay}, seed {args.seed}; "
        f"writing to {out}")

    def report(epoch: int, m: dict[str, Any], _history: Any) -> None:
        say(f"epoch {epoch:>2}/{args.epochs}  train loss {m['train_loss']:.4f}  held-out loss "
            f"{m['valid_loss']:.4f}  exact match {100 * m['exact_match']:6.2f} %  token accuracy "
            f"{100 * m['token_accuracy']:6.2f} %{_scores(m, '  ')}  lr {m['lr']:.3g}  "
            f"({m['time']:.1f} s)", flush=True)

    history = train(
        model, train_ids, valid_ids, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        optimizer=args.optimizer, clip=clip, seed=args.seed, lr_decay=lr_decay,
        progress=not args.quiet, out_dir=out, src_vocab=src_vocab, tgt_vocab=tgt_vocab,
        on_epoch_end=report, threads=args.threads,
        checkpoint_extra={"data": spec, "longest_target": _longest(train_ids[1])},
        bleu=_is_translation(spec),
    )
    train_time = time.perf_counter() - t_start

    # the last epoch already scored the final model on the held-out set
    final = {"exact_match": history.valid_exact_match[-1],
             "token_accuracy": history.valid_token_accuracy[-1],
             "loss": history.valid_loss[-1],
             "bleu": history.valid_bleu[-1] if history.valid_bleu else None,
             "chrf": history.valid_chrf[-1] if history.valid_chrf else None,
             "n": len(valid_pairs)}
    # the first held-out examples, decoded once for attention.png and for the printout below
    shown_src = pad_sequences(valid_ids[0][:5])
    shown_hyps = greedy_decode(model, shown_src,
                               max_len=_step_limit(shown_src, _longest(train_ids[1])))
    _write_figures(out, model, history, shown_src[:4], shown_hyps[:4], src_vocab, tgt_vocab,
                   valid_pairs[:4])
    epochs = [
        {"epoch": i + 1, "train_loss": history.train_loss[i], "valid_loss": history.valid_loss[i],
         "exact_match": history.valid_exact_match[i],
         "token_accuracy": history.valid_token_accuracy[i],
         "bleu": history.valid_bleu[i] if history.valid_bleu else None,
         "chrf": history.valid_chrf[i] if history.valid_chrf else None,
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

    print(f"held-out: exact match {100 * final['exact_match']:.2f} %, token accuracy "
          f"{100 * final['token_accuracy']:.2f} %{_scores(final, ', ')} on {final['n']:,} pairs; "
          f"wall time {metrics['wall_time_s']:.0f} s")
    figures = "attention.png, training.png" if model.attention else "training.png"
    print(f"wrote {out}/: checkpoint.npz, metrics.json, {figures}")
    if not args.quiet:
        print("examples (held-out):")
        for (s, t), hyp in zip(valid_pairs[:5], shown_hyps, strict=True):
            out_text = tgt_vocab.decode_text(hyp.tokens)
            print(f"  {s!r} -> {out_text!r}  ({_verdict(out_text, t, tgt_vocab)})")
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
                   hyps: Sequence[Hypothesis], src_vocab: Vocab, tgt_vocab: Vocab,
                   pairs: Sequence[tuple[str, str]]) -> None:
    plots = _plots()
    _save(plots.plot_training(history.to_dict()), out / "training.png")
    if model.attention is None:
        return
    examples = [_attention_example(h, row, src_vocab, tgt_vocab, source, reference)
                for h, row, (source, reference) in zip(hyps, src, pairs, strict=True)]
    _save(plots.plot_attention_grid(examples, ncols=2,
                                    suptitle="Attention on held-out examples"),
          out / "attention.png")


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
    model, src_vocab, tgt_vocab, extra = _load(args.checkpoint)
    texts = args.text if args.text else [line.rstrip("\r\n") for line in sys.stdin]
    if not any(t.strip() for t in texts):
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
            row = pad_sequences([ids[i]])[0]
            examples.append(_attention_example(hyps[i], row, src_vocab, tgt_vocab, text))
        if args.show_attention:
            print(attention_table(*examples[-1][:3]))
            print()
    if args.plot and examples:
        _save(_plots().plot_attention_grid(examples, ncols=2), args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    failed = sum(i not in ids for i in problems)
    return 1 if failed else 0


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
    if args.beam == 1:
        return greedy_decode(model, src, max_len=max_len)
    return beam_search(model, src, beam=args.beam, max_len=max_len,
                       length_penalty=args.length_penalty)


def _longest(tgt_ids: Sequence[np.ndarray]) -> int:
    """Decoder steps of the longest training target (its tokens and ``</s>``)."""
    return max(len(t) for t in tgt_ids) - 1


def _step_limit(src: np.ndarray, longest_target: int | None) -> int:
    """Decoder steps allowed: 2·S + 10, or more when training targets were longer (word sources
    with character targets, e.g. numbers en -> de: 10 words, 60 letters)."""
    return max(default_max_len(src), (longest_target or 0) + 10)


def attention_table(weights: np.ndarray, src_tokens: Sequence[str],
                    out_tokens: Sequence[str]) -> str:
    """Attention as text: one row per output token, one column per source token, in percent."""
    src_labels = [show_token(repr(t)[1:-1]) for t in src_tokens]
    out_labels = [show_token(t) for t in out_tokens]
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
    trained_on = extra.get("data", {})
    if args.task != "numbers" and (args.source_lang or args.target_lang):
        raise CLIError("--source-lang and --target-lang apply to --task numbers only")
    if args.data is not None:
        pairs, what, translation = load_tsv(args.data), str(args.data), True
    elif args.task is not None:
        langs = _evaluation_languages(args, trained_on)
        pairs = make_task(args.task, args.num_examples, seed=args.seed, min_len=args.min_len,
                          max_len=args.max_len, **langs)
        what = f"fresh {args.task} pairs (seed {args.seed})"
        translation = args.task in TRANSLATION_TASKS
        if trained_on and _task_label(trained_on) != _task_label({"task": args.task, **langs}):
            _warn(f"the model was trained on {_task_label(trained_on)}, not on "
                  f"{_task_label({'task': args.task, **langs})}")
    elif trained_on:
        pairs, what = _load_pairs(trained_on)[1], "the held-out split used in training"
        translation = _is_translation(trained_on)
    else:
        raise CLIError(f"{args.checkpoint} does not record its training data; give --data or "
                       "--task")
    _check_unknown(pairs, src_vocab, tgt_vocab, args.unknown)
    src_ids, tgt_ids = encode_pairs(pairs, src_vocab, tgt_vocab)  # unknown tokens -> <unk>
    res = evaluate(model, src_ids, tgt_ids, batch_size=args.batch_size, tgt_vocab=tgt_vocab,
                   bleu=translation, references=[tgt_vocab.canonical(t) for _, t in pairs])
    print(f"evaluated on {what}: {res['n']:,} pairs")
    print(f"exact match     {100 * res['exact_match']:.2f} %")
    print(f"token accuracy  {100 * res['token_accuracy']:.2f} %")
    print(f"loss            {res['loss']:.4f} nats/token")
    if res["bleu"] is not None:
        print(f"BLEU            {res['bleu']:.2f}")
        print(f"chrF            {res['chrf']:.2f}")
    return 0


def _evaluation_languages(args: argparse.Namespace, trained_on: dict[str, Any]) -> dict[str, Any]:
    """numbers languages for ``evaluate --task``: the options, else those the model learnt."""
    if args.task != "numbers":
        return {}
    same = trained_on.get("task") == "numbers"
    return {"source_lang": args.source_lang or (trained_on.get("source_lang") if same else None),
            "target_lang": args.target_lang or (trained_on.get("target_lang") if same else None)}


def _task_label(spec: dict[str, Any]) -> str:
    if spec.get("task") == "numbers":
        langs = f"{spec.get('source_lang') or 'en'} -> {spec.get('target_lang') or 'fr'}"
        return f"task numbers {langs}"
    return f"task {spec['task']}" if "task" in spec else f"data {spec.get('data')}"


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _unknown_note(pairs: Sequence[tuple[str, str]], src_vocab: Vocab, tgt_vocab: Vocab) -> str:
    """"; 3.20 % of their tokens are unknown to the vocabularies" for train's data line."""
    counted = count_unknown(pairs, src_vocab, tgt_vocab)
    if not counted.unknown:
        return ""
    return (f"; {100 * counted.fraction:.2f} % of the held-out tokens are not in the "
            "vocabularies (read as <unk>)")


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
