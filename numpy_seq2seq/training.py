"""The training loop and held-out evaluation.

Metrics (``evaluate``)
----------------------
Outputs are decoded greedily (``decoding.greedy_decode``). With reference y_1 … y_k (the target
without ``<s>`` and ``</s>``) and output ŷ_1 … ŷ_m (without ``</s>``):

* **exact match**: the fraction of examples with ŷ == y (same length, every token equal);
* **token accuracy**: Σ_examples #{i ≤ k : i ≤ m and ŷ_i = y_i} / Σ_examples k, i.e. position-wise
  agreement counted over the reference length (an output that is too short loses the missing
  positions; extra tokens beyond k are not counted, exact match catches them);
* **loss**: the teacher-forced cross-entropy per target token (``</s>`` included), averaged over
  all tokens of the set, as ``Seq2Seq.loss`` computes it per batch;
* **bleu** and **chrf** (optional, for translation): sacreBLEU's corpus BLEU and chrF on the
  detokenized strings, 0–100 (``metrics.translation_scores``).

A reference token the vocabulary does not know is ``<unk>`` in the reference ids; it never counts
as matched, so an output that says ``<unk>`` there is not rewarded.

Training (``train``)
--------------------
``train`` runs mini-batch gradient descent over encoded id sequences, with its settings in a
`config.TrainConfig`. `_train_epoch` is one pass: per batch, the loss and gradients (a model
with dropout draws its masks from the run's ``"dropout"`` generator, see `_generators`), the
global gradient norm *before* clipping, one optimizer step, a record in the `history.History`.
Before each step the learning rate comes from the run's `schedule.Schedule` (a cosine decay
after a warm-up by default). `_end_epoch` closes the epoch: held-out scores, the schedule's epoch
end (the plateau rule listens to the held-out loss), the checkpoints (``checkpoint.npz``, the last
state; ``best.npz``, the best epoch by the selection metric, `selection_metric`, ties to the
lower loss), early stopping (``patience``), ``on_epoch_end``.

Resuming and stopping
---------------------
``checkpoint.npz`` carries a `history.TrainState` (in ``extra["training"]``): the optimizer's
moments and step count, the schedule's state, the random generators' states, the history.
``train(..., resume=RUN_DIR)`` (``numpy-seq2seq train --resume RUN_DIR``) continues from it, and
ends with the parameters and numbers of a run that never stopped (given the epochs it planned;
more epochs re-plan the schedule, see schedule.py). While ``train`` runs in the main thread,
SIGINT (Ctrl-C) and SIGTERM stop it at the next step boundary: it writes ``checkpoint.npz`` and
raises `TrainingInterrupted` (a KeyboardInterrupt); a second signal stops at once. A run stopped
in the middle of an epoch is resumed in the middle: the state holds the generators' states at
the epoch's start, from which the same batch order is drawn again, and the number of batches
done, which are skipped (the alternative, redoing the epoch, would discard the work and need the
epoch's starting weights).

Letters: N batch, S source length, T target length.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data.batching import iterate_batches
from .data.vocab import UNK_ID
from .decoding import greedy_decode
from .history import History, TrainState, data_fingerprint
from .metrics import translation_scores
from .optim import Optimizer, clip_grad_norm, grad_norms, make_optimizer
from .schedule import Schedule, make_schedule
from .threads import blas_threads

if TYPE_CHECKING:
    from .data.vocab import Vocab
    from .model import Seq2Seq

__all__ = ["History", "TrainingDiverged", "TrainingInterrupted", "evaluate", "scores_bleu",
           "selection_metric", "train"]

Seqs = Sequence[Sequence[int]]
Generators = dict[str, np.random.Generator]
CHECKPOINT_NAME = "checkpoint.npz"  # the last state, resumable
BEST_NAME = "best.npz"  # the epoch with the best held-out exact match
_TRAINER_KEYS = ("epoch", "step", "metrics", "training")  # what train adds to a checkpoint's extra
RESUME_CHANGES = ("epochs", "threads")  # what a resumed run may change and still end the same


class TrainingDiverged(RuntimeError):
    """The loss or the gradient norm became NaN or infinite; no update was applied.

    Attributes
    ----------
    step : int
        The optimizer step (1-based) whose batch produced the non-finite value.
    history : History
        Everything recorded up to the previous step.
    checkpoint : Path or None
        The last checkpoint written, left untouched.
    """

    def __init__(self, message: str, step: int, history: History,
                 checkpoint: Path | None) -> None:
        super().__init__(message)
        self.step, self.history, self.checkpoint = step, history, checkpoint


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped `train` at a step boundary, after the checkpoint was written.

    A KeyboardInterrupt, so code that does not catch it stops as it always did on Ctrl-C.

    Attributes
    ----------
    signal : str
        ``"SIGINT"`` or ``"SIGTERM"``.
    history : History
        Everything recorded, the unfinished epoch's steps included.
    checkpoint : Path or None
        The ``checkpoint.npz`` just written (None without ``out_dir``); resume from it.
    """

    def __init__(self, message: str, signal: str, history: History,
                 checkpoint: Path | None) -> None:
        super().__init__(message)
        self.signal, self.history, self.checkpoint = signal, history, checkpoint


# ---------------------------------------------------------------------------------------------
# evaluation

def evaluate(
    model: Seq2Seq,
    src_seqs: Seqs,
    tgt_seqs: Seqs,
    batch_size: int = TrainConfig.eval_batch_size,
    tgt_vocab: Vocab | None = None,
    bleu: bool = False,
    max_len: int | None = None,
    references: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Score greedy outputs against references (metrics defined in the module docstring).

    Parameters
    ----------
    model : Seq2Seq
    src_seqs : sequence of id sequences, no special tokens
    tgt_seqs : sequence of id sequences ``<s> y_1 … y_k </s>``
    batch_size : int
        Rows decoded at once.
    tgt_vocab : Vocab, optional
        Needed for ``bleu`` (to detokenize).
    bleu : bool
        Also compute corpus BLEU and chrF with sacreBLEU.
    max_len : int, optional
        Decoder steps allowed; default: the longest reference (with ``</s>``) + 10.
    references : sequence of str, optional
        The reference texts for BLEU and chrF (canonicalised with ``tgt_vocab.canonical``);
        default: the reference ids decoded, where unknown tokens read ``<unk>``.

    Returns
    -------
    dict with ``exact_match``, ``token_accuracy``, ``loss`` (floats), ``n`` (examples),
    ``bleu`` (word BLEU) or ``char_bleu`` (for a char-level ``tgt_vocab``) and ``chrf`` (floats,
    or None when not computed) and ``hypotheses`` (list of id arrays, in input order)
    """
    if len(src_seqs) != len(tgt_seqs):
        raise ValueError(f"src_seqs and tgt_seqs must have the same length, got "
                         f"{len(src_seqs)} and {len(tgt_seqs)}")
    if len(src_seqs) == 0:
        raise ValueError("nothing to evaluate: src_seqs is empty")
    if bleu and tgt_vocab is None:
        raise ValueError("bleu=True needs tgt_vocab to turn ids back into text")
    refs = [np.asarray(t)[1:-1] for t in tgt_seqs]  # strip <s> and </s>
    if max_len is None:
        max_len = max(len(r) for r in refs) + 11
    hyps: list[np.ndarray] = []
    loss_sum, n_tokens = 0.0, 0
    for src, tgt in iterate_batches(src_seqs, tgt_seqs, batch_size, shuffle=False):
        labels = int((tgt[:, 1:] != 0).sum())
        loss_sum += model.loss(src, tgt) * labels
        n_tokens += labels
        hyps.extend(h.tokens for h in greedy_decode(model, src, max_len=max_len))
    exact = correct = 0
    for h, r in zip(hyps, refs, strict=True):
        k = min(len(h), len(r))
        matched = (h[:k] == r[:k]) & (r[:k] != UNK_ID)  # an <unk> reference is never matched
        correct += int(matched.sum())
        exact += len(h) == len(r) and bool(matched.all())  # every reference token matched
    n_ref = sum(len(r) for r in refs)
    result: dict[str, Any] = {
        "exact_match": exact / len(refs),
        "token_accuracy": correct / n_ref if n_ref else float(exact == len(refs)),
        "loss": loss_sum / n_tokens,
        "bleu": None,
        "char_bleu": None,
        "chrf": None,
        "n": len(refs),
        "hypotheses": hyps,
    }
    if bleu:
        hyp_text = [tgt_vocab.decode_text(h) for h in hyps]
        ref_text = references or [tgt_vocab.decode_text(r) for r in refs]
        result.update(translation_scores(hyp_text, ref_text,
                                         char_level=tgt_vocab.tokenizer.kind == "char"))
    return result


# ---------------------------------------------------------------------------------------------
# training

def train(
    model: Seq2Seq,
    train_data: tuple[Seqs, Seqs],
    valid_data: tuple[Seqs, Seqs] | None = None,
    config: TrainConfig | None = None,
    *,
    progress: bool = True,
    out_dir: str | PathLike[str] | None = None,
    src_vocab: Vocab | None = None,
    tgt_vocab: Vocab | None = None,
    on_epoch_end: Callable[[int, dict[str, Any], History], None] | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
    resume: str | PathLike[str] | None = None,
    valid_references: Sequence[str] | None = None,
    **overrides: Any,
) -> History:
    """Train ``model`` in place with mini-batches; score ``valid_data`` after each epoch.

    Parameters
    ----------
    model : Seq2Seq
    train_data : (src_seqs, tgt_seqs)
        Id sequences; sources without special tokens, targets ``<s> … </s>``.
    valid_data : (src_seqs, tgt_seqs), optional
        Held-out pairs scored with `evaluate` after every epoch; they drive the learning-rate
        decay and the choice of ``best.npz``.
    config : TrainConfig, optional
        Epochs, batch size, learning rate, optimizer, clipping, decay, seed, threads (default
        ``TrainConfig()``).
    progress : bool
        Show a tqdm bar (loss, tokens/s) where it redraws in place: a terminal or a notebook.
    out_dir : path, optional
        Write ``checkpoint.npz`` there after every epoch and when stopped (the last state, which
        can be resumed), and ``best.npz`` whenever an epoch has the best held-out exact match so
        far (ties: the lower held-out loss). Refused if it holds another run's checkpoint.
    src_vocab, tgt_vocab : Vocab, optional
        Stored in the checkpoints; ``tgt_vocab`` is needed for BLEU.
    on_epoch_end : callable, optional
        Called as ``on_epoch_end(epoch, record, history)`` after each epoch, with
        ``record = history.epoch_record(-1)`` (train and held-out loss, exact match, …).
    checkpoint_extra : dict, optional
        More entries for the checkpoints' ``extra`` (e.g. how the data was made).
    valid_references : sequence of str, optional
        The held-out pairs' reference texts, for BLEU and chrF (default: the reference ids
        decoded, where unknown tokens read ``<unk>``); with them the per-epoch scores equal
        `evaluate`'s on the same pairs.
    resume : path, optional
        A run folder (or its ``checkpoint.npz``) written by ``train(..., out_dir=...)``:
        continue that run with its own config; only ``epochs`` (the total to reach) and
        ``threads`` may be given. ``model`` must have the run's architecture; it gets the run's
        parameters. The result equals that of a run that never stopped. ``out_dir``, the
        vocabularies and ``checkpoint_extra`` default to the run's.
    **overrides
        Any `TrainConfig` field, e.g. ``train(model, train_ids, valid_ids, epochs=5, lr=1e-2)``.

    Returns
    -------
    History
        The whole run's (a resumed run's earlier epochs included).

    Raises
    ------
    TrainingDiverged
        If a loss or gradient norm is NaN or infinite; the update is not applied and the last
        checkpoint is left as it was.
    TrainingInterrupted
        After SIGINT (Ctrl-C) or SIGTERM, at the next step boundary, once the checkpoint is
        written.
    """
    if len(train_data[0]) == 0:
        raise ValueError("train_data is empty")
    if resume is None:
        state = _new_state(_config(config, overrides), train_data)
    else:
        stored = _load_run(resume, model, config, overrides, train_data)
        state = stored.state
        out_dir = stored.folder if out_dir is None else out_dir
        src_vocab = stored.src_vocab if src_vocab is None else src_vocab
        tgt_vocab = stored.tgt_vocab if tgt_vocab is None else tgt_vocab
        checkpoint_extra = stored.extra if checkpoint_extra is None else checkpoint_extra
    cfg = state.config
    opt = make_optimizer(cfg.optimizer, model.params, cfg.lr)
    schedule = make_schedule(cfg.schedule, cfg.lr, cfg.epochs * _batches(train_data, cfg),
                             cfg.min_lr, cfg.warmup, cfg.lr_decay)
    rngs = _generators(cfg.seed)
    if resume is not None:
        opt.load_state_dict(state.optimizer)
        schedule.load_state_dict(state.schedule)
        _set_states(rngs, state.rng_states)
    saver = _Saver(out_dir, model, src_vocab, tgt_vocab, checkpoint_extra, resume)
    bleu = scores_bleu(cfg, tgt_vocab)
    state.history.bleu_name = "char_bleu" if _char_level(tgt_vocab) else "bleu"
    state.history.select = None if valid_data is None else selection_metric(cfg, tgt_vocab)
    run = _Run(model, opt, schedule, rngs, state, train_data, valid_data, valid_references,
               tgt_vocab, bleu, saver, on_epoch_end, progress and _bar_redraws())
    with blas_threads(cfg.threads), _stop_requests() as stop:
        while state.epoch < cfg.epochs and state.history.stopped_early is None:
            _train_epoch(run, stop)
            _end_epoch(run)
        if stop:  # a signal came while the last epoch ended: the caller must still hear of it
            _interrupt(run, stop[0])
    return state.history


def _batches(train_data: tuple[Seqs, Seqs], cfg: TrainConfig) -> int:
    """Optimizer steps per epoch."""
    return math.ceil(len(train_data[0]) / cfg.batch_size)


def _char_level(tgt_vocab: Vocab | None) -> bool:
    return tgt_vocab is not None and tgt_vocab.tokenizer.kind == "char"


def scores_bleu(config: TrainConfig, tgt_vocab: Vocab | None) -> bool:
    """Does `train` score BLEU and chrF after each epoch? ``config.bleu``, by default yes
    unless the target vocabulary is char-level or missing."""
    if config.bleu is not None:
        return config.bleu
    return tgt_vocab is not None and not _char_level(tgt_vocab)


def selection_metric(config: TrainConfig, tgt_vocab: Vocab | None) -> str:
    """The held-out score that picks best.npz and drives early stopping: ``config.select``, or
    by default chrF where it is scored on word or subword targets (exact match is near 0 on
    real sentences, so it would pick by noise) and exact match elsewhere."""
    bleu = scores_bleu(config, tgt_vocab)
    if config.select is None:
        return "chrf" if bleu and not _char_level(tgt_vocab) else "exact"
    if config.select in ("chrf", "bleu") and not bleu:
        raise ValueError(f"select={config.select!r} needs BLEU and chrF after each epoch: pass "
                         "tgt_vocab (and bleu=True), or select 'exact' or 'loss'")
    return config.select


def _bar_redraws() -> bool:
    """Is stderr a terminal or a Jupyter notebook, where a progress bar redraws in place? (A
    log file would get a new line at every update.)"""
    if sys.stderr.isatty():
        return True
    ipython = sys.modules.get("IPython")  # imported by every notebook kernel
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


@dataclass
class _Run:
    """What the loop of one `train` call works on."""

    model: Seq2Seq
    opt: Optimizer
    schedule: Schedule
    rngs: Generators
    state: TrainState
    train_data: tuple[Seqs, Seqs]
    valid_data: tuple[Seqs, Seqs] | None
    valid_references: Sequence[str] | None  # held-out reference texts for BLEU and chrF
    tgt_vocab: Vocab | None
    bleu: bool  # score BLEU after each epoch
    saver: _Saver
    on_epoch_end: Callable[[int, dict[str, Any], History], None] | None
    show_bar: bool  # a progress bar where it redraws in place (terminal, notebook)


def _train_epoch(run: _Run, stop: list[str]) -> None:
    """One pass over the training pairs (or the rest of an unfinished one), a step per batch."""
    # lazy imports, as they cost a moment; tqdm.auto (a widget in notebooks) only for a bar
    # that is shown, as it warns in a notebook that lacks ipywidgets
    if run.show_bar:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm

    state, cfg = run.state, run.state.config
    if stop:  # a signal came while the last epoch ended: stop before drawing this one's order
        _interrupt(run, stop[0])
    loss_sum, labels_sum, seconds = state.epoch_sums  # of the steps done before a resume
    start, tokens = time.perf_counter(), 0
    with tqdm(total=_batches(run.train_data, cfg), initial=state.batch,
              desc=f"epoch {state.epoch + 1}/{cfg.epochs}", unit="batch",
              disable=not run.show_bar, leave=False, dynamic_ncols=True) as bar:
        for src, tgt in _epoch_batches(run):
            if stop and state.batch:  # a signal came during the last step: stop between two
                # (before an epoch's first step, the check above stopped with the order undrawn)
                _interrupt(run, stop[0])
            loss = _step(run, src, tgt)
            labels = int((tgt[:, 1:] != 0).sum())
            loss_sum, labels_sum = loss_sum + loss * labels, labels_sum + labels
            elapsed = time.perf_counter() - start
            state.epoch_sums = [loss_sum, labels_sum, seconds + elapsed]
            tokens += int((src != 0).sum()) + int((tgt != 0).sum())
            bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{tokens / elapsed:,.0f}", refresh=False)
            bar.update(1)


def _epoch_batches(run: _Run) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The epoch's batches still to do, in the order drawn from the generators at its start.

    Resuming in the middle of an epoch puts the generators back to their states at its start,
    draws the same order, returns them to their states at the stop (for generators drawn from
    at every step) and skips the batches already done.
    """
    state, cfg = run.state, run.state.config
    if state.batch:
        _set_states(run.rngs, state.epoch_rng_states)
    else:
        state.epoch_rng_states = _states(run.rngs)
    batches = iterate_batches(*run.train_data, cfg.batch_size, seed=run.rngs["data_order"],
                              bucket=cfg.bucket)
    if state.batch:
        _set_states(run.rngs, state.rng_states)
    return itertools.islice(batches, state.batch, None)


def _step(run: _Run, src: np.ndarray, tgt: np.ndarray) -> float:
    """One optimizer step on one batch, recorded in the history; returns the batch's loss."""
    state, history = run.state, run.state.history
    loss, grads = run.model.loss_and_grads(src, tgt, rng=run.rngs["dropout"])
    norms = grad_norms(grads)
    norm = clip_grad_norm(grads, state.config.clip or None, norms)  # the norm before clipping
    if not (math.isfinite(loss) and math.isfinite(norm)):
        last = run.saver.last_written
        kept = (f"the last checkpoint {last} is kept unchanged" if last
                else "no checkpoint was written")
        raise TrainingDiverged(
            f"training diverged at step {state.step + 1} (epoch {state.epoch + 1}): "
            f"loss={loss}, gradient norm={norm}; the update was not applied and {kept}. "
            "Try a smaller learning rate or a lower --clip.", state.step + 1, history, last)
    run.opt.lr = run.schedule.lr(state.step + 1)
    run.opt.step(grads)
    history.step.append(state.step + 1)
    history.loss.append(float(loss))
    history.grad_norm.append(norm)
    history.lr.append(run.opt.lr)
    for name, value in norms.items():
        history.param_grad_norms.setdefault(name, []).append(value)
    return float(loss)


def _end_epoch(run: _Run) -> None:
    """Close an epoch: held-out scores, the schedule's epoch end, best.npz if it is the best by
    the selection metric, early stopping, checkpoint.npz, then ``on_epoch_end``."""
    state, history = run.state, run.state.history
    start = time.perf_counter()
    loss_sum, labels_sum, seconds = state.epoch_sums
    state.epoch_sums = [0.0, 0, 0.0]
    history.epoch_end_steps.append(state.step)
    history.epoch_time.append(seconds)
    history.train_loss.append(loss_sum / labels_sum)
    scored = _scores_now(run)
    if scored:
        _score(run)
    run.schedule.epoch_end(history.valid_loss[-1] if scored else None)
    history.epoch_lr.append(run.schedule.lr(state.step + 1))  # the next step's rate
    # the checkpoints hold this epoch's end time as far as it is known: scoring and best.npz
    history.epoch_end_time.append(time.perf_counter() - start)
    if scored and history.select is not None and \
            history.best_epoch(history.select) == state.epoch:
        run.saver.save(BEST_NAME, run)
    patience = state.config.patience
    if (patience and scored and history.select is not None and state.epoch < state.config.epochs
            and history.epochs_without_improvement(history.select) >= patience):
        history.stopped_early = state.epoch
    run.saver.save(CHECKPOINT_NAME, run)
    history.epoch_end_time[-1] = time.perf_counter() - start
    if run.on_epoch_end is not None:
        run.on_epoch_end(state.epoch, history.epoch_record(-1), history)


def _scores_now(run: _Run) -> bool:
    """Is this epoch scored? With held-out data, every ``eval_every``-th epoch and the last
    planned one."""
    epoch, cfg = run.state.epoch, run.state.config
    return run.valid_data is not None and (epoch % cfg.eval_every == 0 or epoch == cfg.epochs)


def _score(run: _Run) -> None:
    """Score the held-out pairs (``eval_max`` of them, spread evenly) into the history."""
    state, history = run.state, run.state.history
    src, tgt = run.valid_data
    references = run.valid_references
    if state.config.eval_max is not None and state.config.eval_max < len(src):
        keep = np.unique(np.linspace(0, len(src) - 1, state.config.eval_max).round().astype(int))
        src, tgt = [src[i] for i in keep], [tgt[i] for i in keep]
        references = None if references is None else [references[i] for i in keep]
    res = evaluate(run.model, src, tgt, state.config.eval_batch_size, run.tgt_vocab,
                   bleu=run.bleu, references=references)
    history.valid_epochs.append(state.epoch)
    history.valid_loss.append(res["loss"])
    history.valid_exact_match.append(res["exact_match"])
    history.valid_token_accuracy.append(res["token_accuracy"])
    if res["chrf"] is not None:
        history.valid_bleu.append(res[history.bleu_name])
        history.valid_chrf.append(res["chrf"])


def _interrupt(run: _Run, signame: str) -> None:
    """Write checkpoint.npz for the steps done so far and raise TrainingInterrupted."""
    state = run.state
    path = run.saver.save(CHECKPOINT_NAME, run)
    where = f"epoch {state.epoch + 1}, {state.batch} batch(es) in" if state.batch else \
        f"the end of epoch {state.epoch}"
    raise TrainingInterrupted(f"{signame}: training stopped at step {state.step} ({where})",
                              signame, state.history, path)


# ---------------------------------------------------------------------------------------------
# run state: new, saved, resumed

def _config(config: TrainConfig | None, overrides: dict[str, Any]) -> TrainConfig:
    """``config`` (default ``TrainConfig()``) with the keyword overrides applied."""
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise TypeError(f"train() got unknown keyword(s) {unknown}; the TrainConfig fields "
                        f"are {names}")
    return dataclasses.replace(TrainConfig() if config is None else config, **overrides)


def _new_state(config: TrainConfig, train_data: tuple[Seqs, Seqs]) -> TrainState:
    return TrainState(config, History(max_norm=config.clip or None),
                      data_fingerprint(*train_data))


def _generators(seed: int) -> Generators:
    """Every random generator of a run, by name; their states go into the checkpoint.

    Two streams, so that one never shifts the other: the batch order (drawn once per epoch)
    and the dropout masks (drawn at every step, none with dropout 0). Evaluation and decoding
    draw from neither: they run without dropout.
    """
    return {"data_order": np.random.default_rng(seed),
            "dropout": np.random.default_rng([seed, 1])}


def _states(rngs: Generators) -> dict[str, dict]:
    return {name: g.bit_generator.state for name, g in rngs.items()}


def _set_states(rngs: Generators, states: dict[str, dict]) -> None:
    # a generator the stored run did not have yet (added in a later version) keeps its seeded
    # start, which is where that run would have had it
    for name, g in rngs.items():
        if name in states:
            g.bit_generator.state = states[name]


class _Saver:
    """Writes a run's checkpoints into its folder; does nothing without a folder."""

    def __init__(self, folder: str | PathLike[str] | None, model: Seq2Seq,
                 src_vocab: Vocab | None, tgt_vocab: Vocab | None,
                 extra: dict[str, Any] | None, resume: str | PathLike[str] | None) -> None:
        self.folder = None if folder is None else Path(folder)
        self.model, self.src_vocab, self.tgt_vocab = model, src_vocab, tgt_vocab
        self.extra = dict(extra or {})
        self.last_written: Path | None = None
        clash = sorted(set(self.extra) & set(_TRAINER_KEYS))
        if clash:
            raise ValueError(f"checkpoint_extra may not use the keys {clash}: train writes them")
        last = None if self.folder is None else self.folder / CHECKPOINT_NAME
        resumed = resume is not None and last.resolve() == _checkpoint_path(resume).resolve()
        if last is not None and last.exists() and not resumed:
            raise FileExistsError(f"{self.folder} already holds a run ({CHECKPOINT_NAME}); "
                                  f"resume it (resume={str(self.folder)!r}) or choose another "
                                  "out_dir")

    def save(self, name: str, run: _Run) -> Path | None:
        """Write ``name`` (checkpoint.npz: with the training state; best.npz: without)."""
        if self.folder is None:
            return None
        state = run.state
        extra = {**self.extra, "epoch": state.epoch, "step": state.step,
                 "metrics": state.history.epoch_record(-1) if state.epoch else None}
        if name == CHECKPOINT_NAME:
            state.optimizer, state.rng_states = run.opt.state_dict(), _states(run.rngs)
            state.schedule = run.schedule.state_dict()
            extra["training"] = state.to_dict()
        else:  # best.npz says what chose it
            metric = state.history.select
            extra["selected_by"] = {"metric": metric,
                                    "value": state.history.recorded(metric)[-1]}
        path = save_checkpoint(self.folder / name, self.model, self.src_vocab, self.tgt_vocab,
                               extra=extra)
        if name == CHECKPOINT_NAME:
            self.last_written = path
        return path


def _checkpoint_path(run: str | PathLike[str]) -> Path:
    """A run folder's checkpoint.npz, or the checkpoint file itself."""
    path = Path(run)
    return path / CHECKPOINT_NAME if path.is_dir() else path


class _Stored(NamedTuple):
    """A run loaded for resuming."""

    state: TrainState
    folder: Path
    src_vocab: Vocab | None
    tgt_vocab: Vocab | None
    extra: dict[str, Any]  # the caller's checkpoint_extra


def _load_run(resume: str | PathLike[str], model: Seq2Seq, config: TrainConfig | None,
              overrides: dict[str, Any], train_data: tuple[Seqs, Seqs]) -> _Stored:
    """The run to resume, its config with ``overrides`` (`RESUME_CHANGES` only) applied;
    ``model`` gets its parameters."""
    changed = sorted(set(overrides) - set(RESUME_CHANGES))
    if config is not None or changed:
        raise ValueError(f"a resumed run keeps its own config, so that it ends as if it never "
                         f"stopped; only {', '.join(RESUME_CHANGES)} may be given with resume, "
                         f"not {'config' if config is not None else ', '.join(changed)}")
    path = _checkpoint_path(resume)
    ckpt = load_checkpoint(path)
    extra = ckpt.extra or {}
    if "training" not in extra:
        raise ValueError(f"{path} holds no training state to resume (it was written by "
                         "save_checkpoint, or by a numpy_seq2seq that could not resume); it "
                         "still loads for translating and evaluating")
    differ = sorted(k for k in model.config  # the init seed does not matter: params are loaded
                    if k != "seed" and ckpt.model.config.get(k) != model.config[k])
    if differ:
        raise ValueError(f"model differs from the run in {path}: "
                         + ", ".join(f"{k}={model.config[k]!r} (run: {ckpt.model.config.get(k)!r})"
                                     for k in differ))
    state = TrainState.from_dict(extra["training"])
    state.config = _config(state.config, overrides)
    if state.fingerprint != data_fingerprint(*train_data):
        raise ValueError(f"the training pairs differ from those of the run in {path} "
                         f"(fingerprint {data_fingerprint(*train_data)}, run: "
                         f"{state.fingerprint}); resuming needs the same pairs and vocabularies")
    if state.config.epochs <= state.epoch:
        raise ValueError(f"the run in {path} has done {state.epoch} of its "
                         f"{state.config.epochs} epochs; ask for more (epochs=N > {state.epoch})")
    if state.history.stopped_early is not None:
        if "epochs" not in overrides:
            raise ValueError(f"the run in {path} stopped early after epoch {state.epoch} (no "
                             f"better held-out {state.history.select} for "
                             f"{state.config.patience} epochs); give epochs=N to train on")
        state.history.stopped_early = None
    for name, p in model.params.items():
        p[...] = ckpt.model.params[name]
    return _Stored(state, path.parent, ckpt.src_vocab, ckpt.tgt_vocab,
                   {k: v for k, v in extra.items() if k not in _TRAINER_KEYS})


@contextmanager
def _stop_requests() -> Iterator[list[str]]:
    """While the block runs, SIGINT and SIGTERM are noted (by name, in the yielded list) instead
    of interrupting, so the loop can stop at a step boundary.

    The first signal puts the previous handlers back: a second one acts at once (Ctrl-C twice
    raises KeyboardInterrupt wherever the program is). A signal the process ignores (e.g. SIGINT
    in a job started with ``&`` by a script) stays ignored. Signal handlers exist only in the
    main thread; elsewhere the list stays empty and signals act as usual.
    """
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(sig) is not signal.SIG_IGN}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)

    def note(signum: int, frame: Any) -> None:
        received.append(signal.Signals(signum).name)
        restore()

    for sig in previous:
        signal.signal(sig, note)
    try:
        yield received
    finally:
        restore()
