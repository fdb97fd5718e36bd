"""A training run, start to finish: the library's use case that ``numpy-seq2seq train`` prints.

::

    from numpy_seq2seq import run

    r = run.prepare({"task": "reverse", "num_examples": 2000}, {"hidden_dim": 32},
                    {"epochs": 3}, out="runs/rev")   # pairs, split, vocabularies, model, folder
    summary = run.fit(r, progress=False)            # train, then write metrics.json and figures
    summary.files, summary.metrics["best"]
    r = run.resume("runs/rev", epochs=5)             # epochs 4 and 5, as if never stopped
    run.fit(r)
    train_pairs, valid_pairs, _ = run.load_pairs(r.data)   # the exact split the run used

`prepare` makes a `Run`: the pairs its `config.DataConfig` describes and their split, both
vocabularies, a fresh model, the `config.TrainConfig` and an empty run folder (``runs/<time>``
by default; a folder holding another run is refused unless ``force``). `resume` makes the `Run`
of a folder written before, with its own settings. `fit` trains a `Run` (`training.train`) and
calls `finish`, which writes ``metrics.json``, ``training.png`` and ``attention.png`` (held-out
examples decoded greedily) and returns a `Summary`. A run stopped by Ctrl-C or SIGTERM, or one
that diverged, is finished too (status "interrupted" or "diverged") before `fit` raises
`training.TrainingInterrupted` or `training.TrainingDiverged` on.

Settings: each config may be given as the config itself or as a dict of its fields. A dict takes
a built-in task's own defaults (`config.TASK_DEFAULTS`) under the values it gives, as the command
line does; the model's is always a dict, since its vocabulary sizes come from the vocabularies.
With dicts, ``seed`` seeds only the config it is in (the command line's ``--seed`` goes to all
three).

Errors are plain and one line, naming the field (the command line turns the names into flags):
ValueError for settings or data that cannot make a run, FileExistsError for an ``out`` folder
holding another run, FileNotFoundError for a corpus or run folder that is not there.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .checkpoint import load_checkpoint, read_extra
from .config import DataConfig, ModelConfig, TrainConfig
from .data import (
    HELDOUT_NAME,
    LANGUAGE_TASKS,
    SPECIAL_TOKENS,
    TRANSLATION_TASKS,
    Tokenizer,
    Vocab,
    describe_selection,
    encode_pairs,
    file_sha256,
    load_tsv,
    make_task,
    pad_sequences,
    read_tsv,
    select_pairs,
    split_pairs,
    task_tokenizers,
    write_heldout,
)
from .data.tatoeba import NOTICE as TATOEBA_NOTICE
from .decoding import Hypothesis, default_max_len, greedy_decode
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
from .threads import blas_threads
from .training import (
    BEST_NAME,
    CHECKPOINT_NAME,
    TrainingDiverged,
    TrainingInterrupted,
    train,
)

__all__ = ["Examples", "Run", "Split", "Summary", "attention_example", "data_config_from",
           "finish", "fit", "is_translation", "load_pairs", "load_trained", "pair_tokenizers",
           "prepare", "recorded_data", "resume", "split_record", "step_limit", "trained_on",
           "write_figure"]

StrPath = str | os.PathLike[str]
# DataConfig fields that only some data take (data_config refuses them elsewhere)
CORPUS_FIELDS = ("tokenize", "src_tokenize", "tgt_tokenize", "lowercase", "vocab_size", "valid",
                 "max_pairs", "swap")
TASK_FIELDS = ("num_examples", "min_len")
LANGUAGE_FIELDS = ("source_lang", "target_lang")  # the LANGUAGE_TASKS' (numbers, tatoeba)
SHOWN_EXAMPLES = 5  # held-out examples decoded at the end (the first 4 drawn in attention.png)


class Split(NamedTuple):
    """The pairs of a run: (train, valid, summary), summary saying where they came from."""

    train: list[tuple[str, str]]
    valid: list[tuple[str, str]]
    summary: str  # one line: the source of the pairs and what was dropped


@dataclasses.dataclass
class Run:
    """A run ready to train: what `prepare` or `resume` made, what `fit` and `finish` read."""

    out: Path  # the run folder
    data: DataConfig
    split: Split
    src_vocab: Vocab
    tgt_vocab: Vocab
    model: Seq2Seq  # fresh, or a resumed run's last parameters
    config: TrainConfig
    resumed: TrainState | None = None  # the stored state of a resumed run
    changes: dict[str, Any] = dataclasses.field(default_factory=dict)  # epochs/threads resumed
    sessions: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # earlier ones
    made_out: bool = False  # this run made its folder (one the user made is never removed)
    started: float = dataclasses.field(default_factory=time.perf_counter)  # this session's start

    @property
    def train_pairs(self) -> list[tuple[str, str]]:
        return self.split.train

    @property
    def valid_pairs(self) -> list[tuple[str, str]]:
        return self.split.valid

    @functools.cached_property
    def train_ids(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(source ids, target ids ``<s> … </s>``) of the training pairs."""
        return encode_pairs(self.train_pairs, self.src_vocab, self.tgt_vocab)

    @functools.cached_property
    def valid_ids(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(source ids, target ids) of the held-out pairs."""
        return encode_pairs(self.valid_pairs, self.src_vocab, self.tgt_vocab)

    @property
    def longest_target(self) -> int:
        """Decoder steps of the longest training target (its tokens and ``</s>``)."""
        return max(len(t) for t in self.train_ids[1]) - 1

    def files(self) -> list[str]:
        """The run files (`runs.RUN_FILES`) its folder holds."""
        return [name for name in RUN_FILES if (self.out / name).is_file()]


class Examples(NamedTuple):
    """The first held-out examples, decoded greedily once for attention.png and the caller."""

    src: np.ndarray  # (n, S) padded sources
    hyps: list[Hypothesis]
    pairs: list[tuple[str, str]]  # their (source, reference) texts


class Summary(NamedTuple):
    """What `finish` wrote and measured."""

    status: str  # complete, interrupted or diverged
    history: History
    files: list[str]  # the run files in the folder
    seconds: float  # this session's wall time, figures included (metrics.json holds it too)
    metrics: dict[str, Any]  # what metrics.json holds
    examples: Examples | None  # None for a diverged run


# ---------------------------------------------------------------------------------------------
# the data

def data_config_from(given: Mapping[str, Any], *,
                     name: Callable[[str], str] = str) -> DataConfig:
    """The `DataConfig` of a new run from the fields ``given``: a task's own defaults under them,
    corpus paths made absolute (so a checkpoint finds its data from any working directory).

    A field set (not None or False) that does not apply to the data chosen is refused rather
    than ignored: ``tokenize`` with a task, ``num_examples`` with a corpus, ``source_lang`` with
    a task other than numbers and tatoeba. ``name`` spells a field in these messages (the
    command line passes one that spells its flag).

    Raises
    ------
    ValueError
        Naming the fields that do not apply, or a value the config refuses.
    """
    task = None if given.get("data") is not None else given.get("task", DataConfig.task)

    def refuse(names: Sequence[str], where: str) -> None:
        misplaced = [name(n) for n in names if given.get(n) is not None
                     and given.get(n) is not False]
        if misplaced:
            verb = "applies" if len(misplaced) == 1 else "apply"
            raise ValueError(f"{', '.join(misplaced)} {verb} to {where}")

    if task not in LANGUAGE_TASKS:
        refuse(LANGUAGE_FIELDS, f"{name('task')} numbers and {name('task')} tatoeba only")
    if task is not None:
        refuse(CORPUS_FIELDS, f"{name('data')} only (built-in tasks choose their own tokenizers "
               "and make their own split)")
        languages = DataConfig(task=task, **{k: given.get(k) for k in LANGUAGE_FIELDS})
        return DataConfig.for_task(task, languages.direction(), **given)
    refuse(TASK_FIELDS, f"{name('task')} only")
    if given.get("valid") is not None and "valid_fraction" in given:
        raise ValueError(f"{name('valid_fraction')} splits {name('data')}; with {name('valid')} "
                         "FILE nothing is split")
    valid = given.get("valid")
    cfg = DataConfig.for_task(None, **{"task": None, **given,  # both given: DataConfig refuses
                                       "data": str(Path(given["data"]).resolve()),
                                       "valid": None if valid is None else
                                       str(Path(valid).resolve())})
    if "vocab_size" in given and "bpe" not in cfg.tokenizer_kinds():
        raise ValueError(f"{name('vocab_size')} applies to the bpe tokenizer "
                         f"({name('tokenize')} bpe)")
    return cfg


def load_pairs(data: DataConfig) -> Split:
    """The pairs ``data`` describes and their split: the exact pairs a run with it trained and
    was scored on (same seed, same library versions: ``metrics.json`` lists them).

    Raises
    ------
    ValueError
        If the selection leaves no pairs, or too few to hold any out.
    FileNotFoundError
        If a corpus file is not there.
    """
    if data.task is not None:
        pairs = make_task(data.task, data.num_examples, seed=data.seed, min_len=data.min_len,
                          max_len=data.max_len, source_lang=data.source_lang,
                          target_lang=data.target_lang)
        made = f"{len(pairs):,} generated pairs"
        if data.task == "tatoeba":
            made = f"{len(pairs):,} shipped pairs ({TATOEBA_NOTICE})"
        return _checked_split(*_split(data, pairs), made)
    corpus = read_tsv(data.data, swap=data.swap)
    pairs, dropped = select_pairs(corpus.pairs, *pair_tokenizers(data), max_len=data.max_len,
                                  max_pairs=data.max_pairs, seed=data.seed)
    summary = f"{data.data}: {describe_selection(len(corpus.pairs), dropped, len(pairs))}"
    if corpus.attributed:
        summary += (f"; {corpus.attributed:,} lines carry an attribution column (read, not "
                    "trained on: keep it with the data)")
    if not pairs:  # the selection, not the corpus, left nothing: say which field did it
        raise ValueError(f"no pairs left to train on: {summary}; raise max_len (or max_pairs)")
    if data.valid is not None:
        return _checked_split(pairs, load_tsv(data.valid, swap=data.swap), summary)
    return _checked_split(*_split(data, pairs), summary)


def _split(data: DataConfig, pairs: list) -> tuple[list, list]:
    """Hold out ``data.valid_fraction`` of ``pairs``, keeping together the pairs its split mode
    says (data.split: "either" for corpora and tatoeba, "source" for generated tasks)."""
    return split_pairs(pairs, data.valid_fraction, seed=data.seed, together=data.split_mode(),
                       tokenizers=pair_tokenizers(data))


def split_record(run: Run) -> dict[str, Any]:
    """What metrics.json says of the split: how pairs were kept together, the held-out file
    (`data.HELDOUT_NAME`, written by `finish`) and the corpus fingerprint (SHA-256 of the
    data and valid files), so a later reader can tell whether rebuilding the split from the
    corpus still gives the same pairs."""
    data = run.data
    return {"together": data.split_mode() if data.valid is None else None,
            "heldout": HELDOUT_NAME, "n_train": len(run.train_pairs),
            "n_valid": len(run.valid_pairs),
            "sha256": corpus_sha256(data)}


def corpus_sha256(data: DataConfig) -> dict[str, str]:
    """The SHA-256 of each corpus file ``data`` reads (none for a built-in task)."""
    return {f: file_sha256(f) for f in (data.data, data.valid)
            if f is not None and Path(f).is_file()}


def _checked_split(train_pairs: list, valid_pairs: list, summary: str) -> Split:
    if not valid_pairs:
        n = len(train_pairs)
        raise ValueError(f"no held-out pairs: {summary}; {n:,} pair{'s' * (n != 1)} are too few "
                         "to split; give more data, or valid=FILE.tsv")
    return Split(train_pairs, valid_pairs, summary)


def pair_tokenizers(data: DataConfig) -> tuple[Tokenizer, Tokenizer]:
    """The (source, target) tokenizers the data asks for, before any bpe model is learnt."""
    if data.task is not None:
        return task_tokenizers(data.task, data.source_lang, data.target_lang)
    src, tgt = (Tokenizer(kind, lowercase=data.lowercase, vocab_size=data.vocab_size)
                for kind in data.tokenizer_kinds())
    return src, tgt


def _build_vocabs(data: DataConfig, train_pairs: list) -> tuple[Vocab, Vocab]:
    """Both vocabularies; a ValueError naming min_freq if it left a side without tokens."""
    vocabs = tuple(Vocab.from_texts(texts, tokenizer=tok, min_freq=data.min_freq)
                   for texts, tok in zip(zip(*train_pairs, strict=True), pair_tokenizers(data),
                                         strict=True))
    for side, vocab in zip(("source", "target"), vocabs, strict=True):
        if len(vocab) <= len(SPECIAL_TOKENS):
            n = len(train_pairs)
            raise ValueError(f"no {side} token occurs min_freq={data.min_freq} times in the "
                             f"{n:,} training pair{'s' * (n != 1)}; lower min_freq")
    return vocabs  # type: ignore[return-value]


def is_translation(data: DataConfig) -> bool:
    """Score with BLEU and chrF: corpora and the translation tasks."""
    return data.data is not None or data.task in TRANSLATION_TASKS


def trained_on(extra: Mapping[str, Any]) -> DataConfig | None:
    """The data a checkpoint's ``extra`` records having been trained on, if it does."""
    return DataConfig.from_dict(extra["data"]) if "data" in extra else None


def recorded_data(extra: Mapping[str, Any], path: StrPath, advice: str) -> DataConfig:
    """The data the checkpoint at ``path`` was trained on, checked to be still there; the
    errors end with ``advice``.

    Raises
    ------
    ValueError
        If the checkpoint does not record its data.
    FileNotFoundError
        If a corpus file it names is not there any more.
    """
    data = trained_on(extra)
    if data is None:
        raise ValueError(f"{path} does not record its training data; {advice}")
    for file in (data.data, data.valid):
        if file is not None and not Path(file).is_file():
            raise FileNotFoundError(f"{path} was trained on {file}, which is not there any more "
                                    f"(moved or deleted?); {advice}")
    return data


def stored_heldout(path: StrPath, extra: Mapping[str, Any], advice: str) -> tuple[list, str]:
    """The held-out pairs of the run whose checkpoint is at ``path``, and where they came from.

    The run folder's ``heldout.tsv`` if it is there: exactly the pairs the run held out. Else
    the split rebuilt from the data the checkpoint records, which is refused (ValueError
    ending with ``advice``) when a corpus file's SHA-256 is not the one recorded at training:
    an edited corpus would give another split, and a score on pairs seen in training.
    """
    stored = Path(path).parent / HELDOUT_NAME
    if stored.is_file():
        return load_tsv(stored), f"the held-out pairs the run stored ({stored})"
    data = recorded_data(extra, path, advice)
    now = corpus_sha256(data)
    changed = [f for f, sha in (extra.get("sha256") or {}).items() if now.get(f) != sha]
    if changed:
        raise ValueError(f"{changed[0]} has changed since the model was trained on it (its "
                         "SHA-256 differs), so the split rebuilt from it is not the run's "
                         f"held-out set; {advice}")
    return load_pairs(data).valid, "the held-out split used in training (rebuilt from the data)"


def load_trained(path: StrPath) -> tuple[Seq2Seq, Vocab, Vocab, dict[str, Any]]:
    """(model, source vocabulary, target vocabulary, extra) of a checkpoint a run wrote.

    Raises
    ------
    ValueError
        If it holds no vocabularies (it was saved by hand, not by a run).
    """
    model, src_vocab, tgt_vocab, extra = load_checkpoint(path)
    if src_vocab is None or tgt_vocab is None:
        raise ValueError(f"{path} holds no vocabularies; it was not written by a training run "
                         "(numpy-seq2seq train, or run.fit)")
    return model, src_vocab, tgt_vocab, extra or {}


# ---------------------------------------------------------------------------------------------
# a new run, a resumed run

def prepare(data_config: DataConfig | Mapping[str, Any] | None = None,
            model_config: Mapping[str, Any] | None = None,
            train_config: TrainConfig | Mapping[str, Any] | None = None,
            out: StrPath | None = None, force: bool = False) -> Run:
    """A new run: its pairs and split, vocabularies, a fresh model, its config and its folder.

    Parameters
    ----------
    data_config : DataConfig or dict of its fields, optional
        Default: the dates task.
    model_config : dict of `config.ModelConfig` fields, optional
        All but the vocabulary sizes, which the vocabularies give.
    train_config : TrainConfig or dict of its fields, optional
        A dict scores BLEU and chrF after each epoch for translation data unless it says
        otherwise (``bleu``).
    out : path, optional
        The run folder: made if missing, refused if it holds anything (unless ``force``).
        Default: a new ``runs/<YYYYmmdd-HHMMSS>``.
    force : bool
        Accept a folder that is not empty, removing the files of the run in it (`runs.RUN_FILES`).

    Returns
    -------
    Run
        Ready for `fit`. The folder is claimed last, so a refusal leaves nothing behind.
    """
    started = time.perf_counter()
    if out is not None and not force:
        _check_out(Path(out))  # before the data is made: a refusal should not take seconds
    data = (data_config if isinstance(data_config, DataConfig)
            else data_config_from(data_config or {}))
    # a generated task has one right answer per input: exact match picks its best epoch
    task_select = {"select": "exact"} if data.is_generated() else {}
    config = (train_config if isinstance(train_config, TrainConfig) else
              TrainConfig.for_task(data.task, data.direction(),
                                   **{"bleu": is_translation(data), **task_select,
                                      **(train_config or {})}))
    split = load_pairs(data)
    src_vocab, tgt_vocab = _build_vocabs(data, split.train)
    model_fields = dict(model_config or {})
    decided = sorted({"src_vocab_size", "tgt_vocab_size"} & set(model_fields))
    if decided:
        raise ValueError(f"model_config gives {', '.join(decided)}; the vocabularies decide "
                         "them: leave them out")
    model = Seq2Seq.from_config(ModelConfig.for_task(
        data.task, data.direction(), src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab),
        **model_fields).to_dict())
    made_out = out is None or not Path(out).exists()
    folder = new_run_dir() if out is None else claim_run_dir(out, replace=force)
    return Run(folder, data, split, src_vocab, tgt_vocab, model, config, made_out=made_out,
               started=started)


def _check_out(out: Path) -> None:
    try:
        check_run_dir(out)  # creates nothing: a run that fails later leaves no empty folder
    except FileExistsError as err:
        raise FileExistsError(f"{err}; force=True replaces the run in it, resume(out) "
                              "continues it") from None


def resume(out: StrPath, epochs: int | None = None, threads: int | None = None) -> Run:
    """The run in the folder ``out``, to continue (stopped or finished) with its own settings:
    its data made again, its model and training state read from ``checkpoint.npz``.

    Parameters
    ----------
    out : path
        A folder written by `fit` (or ``numpy-seq2seq train``).
    epochs : int, optional
        The epochs to reach in all (more than it has done). Default: the run's own.
    threads : int, optional
        BLAS threads. Default: the run's own; another number warns, since it may change the
        float32 sums and so the numbers of a run never stopped.

    Raises
    ------
    FileNotFoundError
        If ``out`` holds no checkpoint.npz, or the corpus the run read is gone.
    ValueError
        If the checkpoint holds no training state, or the run has done ``epochs`` already.
    """
    started, out = time.perf_counter(), Path(out)
    if not (out / CHECKPOINT_NAME).is_file():
        raise FileNotFoundError(f"{out}: no {CHECKPOINT_NAME} there; give the folder of a run "
                                "written by numpy-seq2seq train (or run.fit)")
    model, src_vocab, tgt_vocab, extra = load_trained(out / CHECKPOINT_NAME)
    if "training" not in extra:
        raise ValueError(f"{out / CHECKPOINT_NAME} holds no training state (it was written "
                         "before numpy_seq2seq could resume); it still works for translate and "
                         "evaluate, but training must start anew")
    state = TrainState.from_dict(extra["training"])
    changes = {k: v for k, v in (("epochs", epochs), ("threads", threads)) if v is not None}
    config = dataclasses.replace(state.config, **changes)
    if config.epochs <= state.epoch:
        raise ValueError(f"{out} has done {state.epoch} epoch(s); give epochs=N > {state.epoch} "
                         "to train longer")
    data = recorded_data(extra, out / CHECKPOINT_NAME,
                         "put it back there: resuming needs the same pairs")
    split = load_pairs(data)
    if config.threads != state.config.threads:
        warnings.warn(f"threads={config.threads}: the run used {state.config.threads}; another "
                      "number of BLAS threads can sum float32 products in another order, so the "
                      "numbers may differ from a run never stopped", stacklevel=2)
    return Run(out, data, split, src_vocab, tgt_vocab, model, config, state, changes,
               earlier_sessions(out), started=started)


# ---------------------------------------------------------------------------------------------
# training and finishing

def fit(run: Run, *, progress: bool = True,
        on_epoch_end: Callable[[int, dict[str, Any], History], None] | None = None) -> Summary:
    """Train ``run`` (`training.train`, into its folder) and `finish` it.

    Parameters
    ----------
    run : Run
        From `prepare` or `resume`.
    progress : bool
        A progress bar where it redraws in place (a terminal, a notebook).
    on_epoch_end : callable, optional
        Called as ``on_epoch_end(epoch, record, history)`` after each epoch (`training.train`).

    Raises
    ------
    TrainingInterrupted, TrainingDiverged
        As `training.train`, once the run's files are written (status "interrupted" or
        "diverged"): ``run.files()`` lists them.
    """
    how = ({"resume": run.out, **run.changes} if run.resumed else
           {"config": run.config, "out_dir": run.out,
            "checkpoint_extra": {"data": run.data.to_dict(),
                                 "longest_target": run.longest_target,
                                 "sha256": corpus_sha256(run.data)}})
    with blas_threads(run.config.threads):  # the examples decoded at the end too
        try:
            history = train(run.model, run.train_ids, run.valid_ids, progress=progress,
                            src_vocab=run.src_vocab, tgt_vocab=run.tgt_vocab,
                            valid_references=[run.tgt_vocab.canonical(t)
                                              for _, t in run.valid_pairs],
                            on_epoch_end=on_epoch_end, **how)
        except TrainingInterrupted as stop:
            finish(run, stop.history, "interrupted")
            raise
        except TrainingDiverged as diverged:
            finish(run, diverged.history, "diverged")
            raise
        return finish(run, history, "complete")


def finish(run: Run, history: History, status: str = "complete") -> Summary:
    """Write ``metrics.json`` (first: the numbers are kept if a figure fails), ``heldout.tsv``
    (the held-out pairs, which ``evaluate --data`` or any other tool can score), ``training.png``
    and, for a model with attention, ``attention.png`` of the first held-out examples (not
    decoded for a diverged run); ``metrics.json`` again with the wall time, figures included."""
    metrics = _metrics(run, history, status)
    write_metrics(run.out, metrics)
    write_heldout(run.out / HELDOUT_NAME, run.valid_pairs)  # the held-out pairs, for any tool
    if history.steps_done:
        write_figure(_plots().plot_training(history.to_dict()), run.out / "training.png")
    examples = None if status == "diverged" else _examples(run)
    if examples is not None and run.model.attention is not None:
        drawn = [attention_example(h, row, run.src_vocab, run.tgt_vocab, source, reference)
                 for h, row, (source, reference) in zip(examples.hyps[:4], examples.src[:4],
                                                        examples.pairs[:4], strict=True)]
        write_figure(_plots().plot_attention_grid(drawn, ncols=2,
                                           suptitle="Attention on held-out examples"),
              run.out / "attention.png")
    seconds = time.perf_counter() - run.started
    metrics["sessions"][-1]["wall_time_s"] = seconds
    metrics["wall_time_s"] = sum(s["wall_time_s"] for s in metrics["sessions"])
    write_metrics(run.out, metrics)
    return Summary(status, history, run.files(), seconds, metrics, examples)


def _metrics(run: Run, history: History, status: str) -> dict[str, Any]:
    """metrics.json: configs, sizes, which epoch each checkpoint holds, per-epoch records and
    the history (per-step loss and gradient norm: ``plot_training(metrics["history"])``);
    ``sessions`` (the first run and each resume: start, wall time, threads, library versions)
    and ``wall_time_s``, their sum; the epochs' own times are in ``epochs``."""
    best = history.best_epoch(history.select or "exact")
    sessions = [*run.sessions, session(time.perf_counter() - run.started, run.config.threads)]
    return {
        "status": status,  # complete, interrupted or diverged
        "data": run.data.to_dict(), "n_train": len(run.train_pairs),
        "n_valid": len(run.valid_pairs), "split": split_record(run),
        "src_vocab_size": len(run.src_vocab),
        "tgt_vocab_size": len(run.tgt_vocab),
        "model": run.model.config, "num_params": run.model.num_params(),
        "training": run.config.to_dict(),
        "checkpoints": _checkpoint_epochs(run.out, history),
        "final": history.epoch_record(-1) if history.epochs_done else None,
        "best": None if best is None else history.epoch_record(best - 1),
        "selected_by": None if best is None else {
            "metric": history.select, "epoch": best,
            "value": history.score_at(history.select, best)},
        "stopped_early": history.stopped_early,
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


def _examples(run: Run, n: int = SHOWN_EXAMPLES) -> Examples:
    """The first ``n`` held-out examples and the model's greedy outputs for them."""
    src = pad_sequences(run.valid_ids[0][:n])
    hyps = greedy_decode(run.model, src, max_len=step_limit(src, run.longest_target))
    return Examples(src, hyps, run.valid_pairs[:n])


def step_limit(src: np.ndarray, longest_target: int | None) -> int:
    """Decoder steps allowed for ``src`` (N, S): 2·S + 10, or more when training targets were
    longer (word sources with character targets, e.g. numbers en -> de: 10 words, 60 letters)."""
    return max(default_max_len(src), (longest_target or 0) + 10)


def attention_example(hyp: Hypothesis, src_row: np.ndarray, src_vocab: Vocab, tgt_vocab: Vocab,
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


def _plots():
    """The plots module, imported when a figure is drawn: matplotlib takes a second to load."""
    from . import plots

    return plots


def write_figure(fig: Any, path: Path) -> Path:
    """Save ``fig`` to ``path`` (atomically, as plots.save_figure does) and close it."""
    import matplotlib.pyplot as plt

    try:
        return _plots().save_figure(fig, path)
    finally:
        plt.close(fig)  # a long-lived process (tests, notebooks) must not pile up figures
