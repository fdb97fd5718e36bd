"""The training loop and held-out evaluation.

``train`` runs mini-batch gradient descent over encoded id sequences, records what the teaching
notebooks plot (per-step loss, global and per-parameter gradient norms before clipping), and
evaluates on the held-out set after every epoch with ``evaluate``.

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

Letters: N batch, S source length, T target length.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .checkpoint import save_checkpoint
from .checks import check_int
from .data.batching import iterate_batches
from .data.vocab import UNK_ID
from .decoding import greedy_decode
from .metrics import translation_scores
from .optim import clip_grad_norm, grad_norms, make_optimizer
from .threads import DEFAULT_THREADS, blas_threads

if TYPE_CHECKING:
    from .data.vocab import Vocab
    from .model import Seq2Seq

__all__ = ["History", "TrainingDiverged", "train", "evaluate"]

Seqs = Sequence[Sequence[int]]
CHECKPOINT_NAME = "checkpoint.npz"


class TrainingDiverged(RuntimeError):
    """The loss or the gradient norm became NaN or infinite; no update was applied.

    Attributes
    ----------
    step : int
        The optimizer step (1-based) whose batch produced the non-finite value.
    history : History
        Everything recorded up to the previous step.
    checkpoint : Path or None
        The last checkpoint written (from the last completed epoch), left untouched.
    """

    def __init__(self, message: str, step: int, history: History,
                 checkpoint: Path | None) -> None:
        super().__init__(message)
        self.step, self.history, self.checkpoint = step, history, checkpoint


@dataclass
class History:
    """What happened during training. Per-step lists share one index; per-epoch lists another.

    ``to_dict()`` gives the keys ``plots.plot_training`` reads.
    """

    step: list[int] = field(default_factory=list)  # optimizer step, 1-based
    loss: list[float] = field(default_factory=list)  # training loss of that step's batch
    grad_norm: list[float] = field(default_factory=list)  # global L2 norm, before clipping
    param_grad_norms: dict[str, list[float]] = field(default_factory=dict)  # name -> per step
    lr: list[float] = field(default_factory=list)  # learning rate used at each step
    epoch_end_steps: list[int] = field(default_factory=list)  # last step of each epoch
    epoch_time: list[float] = field(default_factory=list)  # seconds per epoch (training only)
    train_loss: list[float] = field(default_factory=list)  # token-weighted mean per epoch
    valid_loss: list[float] = field(default_factory=list)
    valid_exact_match: list[float] = field(default_factory=list)
    valid_token_accuracy: list[float] = field(default_factory=list)
    valid_bleu: list[float] = field(default_factory=list)  # empty unless BLEU was computed
    valid_chrf: list[float] = field(default_factory=list)  # computed with BLEU
    max_norm: float | None = None  # the clipping threshold

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (JSON-serialisable); empty per-epoch validation lists become None."""
        d = asdict(self)
        for key in ("valid_loss", "valid_exact_match", "valid_token_accuracy", "valid_bleu",
                    "valid_chrf"):
            if not d[key]:
                d[key] = None
        return d


# ---------------------------------------------------------------------------------------------
# evaluation

def evaluate(
    model: Seq2Seq,
    src_seqs: Seqs,
    tgt_seqs: Seqs,
    batch_size: int = 256,
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
    ``bleu`` and ``chrf`` (floats or None) and ``hypotheses`` (list of id arrays, in input order)
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
    exact = sum(len(h) == len(r) and bool((h == r).all()) and UNK_ID not in r
                for h, r in zip(hyps, refs, strict=True))
    correct = 0
    for h, r in zip(hyps, refs, strict=True):
        k = min(len(h), len(r))
        correct += int(((h[:k] == r[:k]) & (r[:k] != UNK_ID)).sum())
    n_ref = sum(len(r) for r in refs)
    result: dict[str, Any] = {
        "exact_match": exact / len(refs),
        "token_accuracy": correct / n_ref if n_ref else float(exact == len(refs)),
        "loss": loss_sum / n_tokens,
        "bleu": None,
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

class _NoBar:
    """Stands in for tqdm when no progress bar is shown."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def train(
    model: Seq2Seq,
    train_data: tuple[Seqs, Seqs],
    valid_data: tuple[Seqs, Seqs] | None = None,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    optimizer: str = "adam",
    clip: float | None = 5.0,
    seed: int = 0,
    bucket: bool = True,
    lr_decay: float | None = None,
    progress: bool = True,
    out_dir: str | PathLike[str] | None = None,
    src_vocab: Vocab | None = None,
    tgt_vocab: Vocab | None = None,
    bleu: bool | None = None,
    eval_batch_size: int = 256,
    on_epoch_end: Callable[[int, dict[str, Any], History], None] | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
    threads: int | None = DEFAULT_THREADS,
) -> History:
    """Train ``model`` in place with mini-batches; evaluate on ``valid_data`` after each epoch.

    Parameters
    ----------
    model : Seq2Seq
    train_data : (src_seqs, tgt_seqs)
        Id sequences; sources without special tokens, targets ``<s> … </s>``.
    valid_data : (src_seqs, tgt_seqs), optional
        Held-out set scored with `evaluate` after every epoch.
    epochs, batch_size : int
    lr : float
        Initial learning rate.
    optimizer : {"sgd", "momentum", "adam"}
    clip : float or None
        Clip the global gradient norm to this value (None: no clipping). The recorded norms are
        always those *before* clipping.
    seed : int
        Seeds the batch order; the same model, data and seed give identical numbers.
    bucket : bool
        Group examples of similar length into batches (less padding, faster).
    lr_decay : float, optional
        Multiply the learning rate by this factor after each epoch whose validation loss is not
        lower than the best so far (decay on plateau). None keeps it constant.
    progress : bool
        Show a tqdm bar with the running loss and tokens/s (source + target tokens per second);
        it is also hidden when stderr is not a terminal.
    out_dir : path, optional
        Save ``checkpoint.npz`` there after every epoch (atomically), with the vocabularies and
        ``extra = {"epoch", "step", "metrics", **checkpoint_extra}``.
    src_vocab, tgt_vocab : Vocab, optional
        Stored in the checkpoint; ``tgt_vocab`` is needed for BLEU.
    bleu : bool, optional
        Compute BLEU and chrF each epoch; default: only if ``tgt_vocab`` is not char-level.
    eval_batch_size : int
        Rows decoded at once during evaluation.
    on_epoch_end : callable, optional
        Called as ``on_epoch_end(epoch, metrics, history)`` after each epoch's evaluation;
        ``metrics`` holds ``epoch``, ``train_loss``, ``lr``, ``time`` and, with validation data,
        ``exact_match``, ``token_accuracy``, ``valid_loss``, ``bleu``, ``chrf``.
    checkpoint_extra : dict, optional
        More entries for the checkpoint's ``extra`` (e.g. how the data was made).
    threads : int or None
        BLAS threads while training (default 1, see ``numpy_seq2seq.threads``); None leaves
        the process's setting alone.

    Returns
    -------
    History

    Raises
    ------
    TrainingDiverged
        If a loss or gradient norm is NaN or infinite. The message names the step; the update
        is not applied and the last epoch's checkpoint is left as it was.
    """
    with blas_threads(threads):  # one BLAS thread is fastest at these sizes (threads.py)
        for name, value in (("epochs", epochs), ("batch_size", batch_size)):
            check_int(name, value)
        if lr_decay is not None and not 0.0 < lr_decay <= 1.0:
            raise ValueError(f"lr_decay must be in (0, 1] or None, got {lr_decay!r}")
        train_src, train_tgt = train_data
        if len(train_src) == 0:
            raise ValueError("train_data is empty")
        if bleu is None:
            bleu = tgt_vocab is not None and tgt_vocab.tokenizer.kind != "char"
        opt = make_optimizer(optimizer, model.params, lr)
        rng = np.random.default_rng(seed)  # one generator: a fresh, reproducible order each epoch
        history = History(max_norm=None if clip is None else float(clip))
        ckpt_path = None if out_dir is None else Path(out_dir) / CHECKPOINT_NAME
        last_ckpt: Path | None = None
        best_valid = math.inf
        n_batches = math.ceil(len(train_src) / batch_size)
        # a bar only where it redraws in place: a terminal or a notebook, not a log file
        show = progress and (sys.stderr.isatty() or "ipykernel" in sys.modules)
        if show:
            from tqdm.auto import tqdm  # lazy: tqdm.auto looks for Jupyter, which takes a moment
        else:
            tqdm = _NoBar
        step = 0
        for epoch in range(1, int(epochs) + 1):
            bar = tqdm(total=n_batches, desc=f"epoch {epoch}/{epochs}", unit="batch",
                       disable=not show, leave=False, dynamic_ncols=True)
            start, tokens_seen, loss_sum, label_sum = time.perf_counter(), 0, 0.0, 0
            for src, tgt in iterate_batches(train_src, train_tgt, batch_size, seed=rng,
                                            bucket=bucket):
                step += 1
                loss, grads = model.loss_and_grads(src, tgt)
                param_norms = grad_norms(grads)
                norm = clip_grad_norm(grads, clip, param_norms)  # the norm before clipping
                if not (math.isfinite(loss) and math.isfinite(norm)):
                    bar.close()
                    kept = (f"the last good checkpoint {last_ckpt} is kept unchanged"
                            if last_ckpt else "no checkpoint was written")
                    raise TrainingDiverged(
                        f"training diverged at step {step} (epoch {epoch}): loss={loss}, "
                        f"gradient norm={norm}; the update was not applied and {kept}. "
                        "Try a smaller learning rate or a lower --clip.",
                        step, history, last_ckpt,
                    )
                opt.step(grads)
                labels = int((tgt[:, 1:] != 0).sum())
                loss_sum += loss * labels
                label_sum += labels
                tokens_seen += int((src != 0).sum()) + int((tgt != 0).sum())
                history.step.append(step)
                history.loss.append(float(loss))
                history.grad_norm.append(norm)
                history.lr.append(opt.lr)
                for k, v in param_norms.items():
                    history.param_grad_norms.setdefault(k, []).append(v)
                if show:
                    elapsed = time.perf_counter() - start
                    bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{tokens_seen / elapsed:,.0f}",
                                    refresh=False)
                    bar.update(1)
            bar.close()
            history.epoch_time.append(time.perf_counter() - start)
            history.epoch_end_steps.append(step)
            history.train_loss.append(loss_sum / label_sum)
            metrics: dict[str, Any] = {"epoch": epoch, "train_loss": loss_sum / label_sum,
                                       "lr": opt.lr, "time": history.epoch_time[-1]}
            if valid_data is not None:
                res = evaluate(model, valid_data[0], valid_data[1], eval_batch_size, tgt_vocab,
                               bleu=bleu)
                metrics.update(exact_match=res["exact_match"], token_accuracy=res["token_accuracy"],
                               valid_loss=res["loss"], bleu=res["bleu"], chrf=res["chrf"])
                history.valid_loss.append(res["loss"])
                history.valid_exact_match.append(res["exact_match"])
                history.valid_token_accuracy.append(res["token_accuracy"])
                if res["bleu"] is not None:
                    history.valid_bleu.append(res["bleu"])
                    history.valid_chrf.append(res["chrf"])
                if lr_decay is not None:
                    if res["loss"] < best_valid:
                        best_valid = res["loss"]
                    else:
                        opt.lr *= lr_decay
            if ckpt_path is not None:
                extra = {"epoch": epoch, "step": step, "metrics": metrics,
                         **(checkpoint_extra or {})}
                last_ckpt = save_checkpoint(ckpt_path, model, src_vocab, tgt_vocab, extra=extra)
            if on_epoch_end is not None:
                on_epoch_end(epoch, metrics, history)
        return history
