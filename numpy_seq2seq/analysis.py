"""Gradient-flow instrumentation: how much of the loss's gradient reaches each source position.

Without attention the decoder sees the source only through the encoder's final state, so the
gradient reaching an early encoder state h̄_s has to travel back through S - s recurrent steps
and, for a tanh RNN, shrinks roughly geometrically with that distance. Attention adds a direct
path from every decoder step to every h̄_s. This module measures both:

* `source_gradient_norms` — ‖∂L/∂h̄_s‖ and ‖∂L/∂x_s‖ per example and per source position, and
  their averages over the examples that really have a token at s (padding is left out);
* `gradient_flow_experiment` — the same for every cell × attention score × source length, at
  initialisation and optionally after a few Adam steps, as plain records for tables and plots
  (``plots.plot_grad_norm_by_position``, ``plots.plot_norm_ratio_vs_length``).

Letters: N batch, S source length, T target length, E embedding, H hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .checks import check_int
from .data import Vocab, encode_pairs, make_task, pad_sequences
from .data.toy import TOY_ALPHABET
from .model import ATTENTION_CHOICES, CELL_CHOICES, Seq2Seq
from .optim import Adam, clip_grad_norm

FLOW_TASKS = ("copy", "reverse", "sort")
TOY_VOCAB = Vocab(TOY_ALPHABET)  # one vocabulary for both sides of every toy task


# ---------------------------------------------------------------------------------------------
def source_gradient_norms(model: Seq2Seq, src: Any, tgt: Any) -> dict[str, Any]:
    """Norm of the gradient reaching every source position, per example and batch-averaged.

    ‖∂L/∂h̄_s‖ is the L2 norm over H of the *total* gradient at encoder state s (through
    attention and back along the recurrence, see ``Seq2Seq.source_gradients``); ‖∂L/∂x_s‖ the
    norm over E of the gradient at the s-th source embedding. L is the model's loss on the whole
    batch (a mean over its labels).

    Parameters
    ----------
    model : Seq2Seq
    src : int array of shape (N, S), right-padded with 0
    tgt : int array of shape (N, T)

    Returns
    -------
    dict with
        "loss" : float
        "state_norms" : ndarray of shape (N, S), ‖∂L/∂h̄_s‖, 0 at padded positions
        "embedding_norms" : ndarray of shape (N, S), ‖∂L/∂x_s‖, 0 at padded positions
        "mean_state_norms", "mean_embedding_norms" : ndarrays of shape (S,), the mean over the
            examples with a real token at s (0 where no example has one, never NaN)
        "counts" : int ndarray of shape (S,), how many examples have a real token at s
        "lengths" : int ndarray of shape (N,), real source tokens per example
    """
    g = model.source_gradients(src, tgt)  # validates src and tgt
    mask = np.asarray(src) != 0  # (N, S)
    counts = mask.sum(axis=0)  # (S,)
    out: dict[str, Any] = {"loss": float(g.loss)}
    for name, grad in (("state", g.states), ("embedding", g.embeddings)):
        norms = np.linalg.norm(grad.astype(np.float64), axis=-1) * mask  # (N, S)
        out[f"{name}_norms"] = norms
        # divide only where some example is real, so an all-padding column gives 0, not 0/0
        out[f"mean_{name}_norms"] = np.divide(
            norms.sum(axis=0), counts, out=np.zeros(mask.shape[1]), where=counts > 0
        )
    out["counts"] = counts
    out["lengths"] = mask.sum(axis=1)
    return out


# ---------------------------------------------------------------------------------------------
def _task_batch(task: str, n: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n pairs of a toy task with every source exactly ``length`` letters, as id arrays.

    The toy tasks use the letters of TOY_ALPHABET on both sides, so one fixed vocabulary
    (reserved ids, then the letters) serves every length and every seed.
    """
    pairs = make_task(task, n, seed=seed, min_len=length, max_len=length)
    src_ids, tgt_ids = encode_pairs(pairs, TOY_VOCAB, TOY_VOCAB, unknown="error")
    return pad_sequences(src_ids), pad_sequences(tgt_ids)  # (N, S), (N, S + 2)


def _summary(norms: dict[str, Any]) -> dict[str, Any]:
    """The per-position averages and the first/last numbers of one measurement."""
    states, embeds = norms["mean_state_norms"], norms["mean_embedding_norms"]
    tiny = np.finfo(np.float64).tiny  # keeps the ratio finite if the last norm underflows
    return {
        "loss": norms["loss"],
        "state_norms": states,
        "embedding_norms": embeds,
        "first": float(states[0]),
        "last": float(states[-1]),
        "ratio": float(states[0] / max(states[-1], tiny)),
        "first_embedding": float(embeds[0]),
        "last_embedding": float(embeds[-1]),
        "ratio_embedding": float(embeds[0] / max(embeds[-1], tiny)),
    }


def gradient_flow_experiment(
    cells: Sequence[str] = ("rnn", "gru", "lstm"),
    attentions: Sequence[str | None] = (None, "dot", "general", "concat"),
    lengths: Sequence[int] = (5, 10, 20, 40, 80),
    n: int = 16,
    hidden_dim: int = 32,
    embed_dim: int = 16,
    seed: int = 0,
    train_steps: int = 0,
    lr: float = 3e-3,
    task: str = "copy",
) -> list[dict[str, Any]]:
    """Measure the gradient reaching each source position for every cell × score × length.

    For each combination a float64 ``Seq2Seq`` is initialised with ``seed`` (the same seed for
    every combination, so attention modes of one cell differ only in what attention adds) and a
    batch of ``n`` examples of the toy ``task`` with sources of exactly that length is drawn
    (the same batch for every model of that length). The batch-averaged ‖∂L/∂h̄_s‖ and ‖∂L/∂x_s‖
    are recorded at initialisation and, with ``train_steps`` > 0, again after that many Adam
    steps (on fresh batches of the same task and length, global norm clipped at 5).

    Parameters
    ----------
    cells : names from ``model.CELL_CHOICES``
    attentions : entries from ``model.ATTENTION_CHOICES`` (None is the plain encoder–decoder)
    lengths : source lengths S, each >= 1
    n : examples per measured batch
    hidden_dim, embed_dim : H and E of every model
    seed : seeds the models, the measured batches and the training batches
    train_steps : Adam steps before the second measurement (0: measure at initialisation only)
    lr : Adam's learning rate
    task : one of ``FLOW_TASKS``

    Returns
    -------
    list of dict, one per (cell, attention, length), in loop order cell → attention → length:
        "cell", "attention" (None or a score), "mode" ("none" or the score; a label for plots),
        "length", "init" and, with train_steps > 0, "trained": each a dict with "loss",
        "state_norms" (S,), "embedding_norms" (S,), "first", "last", "ratio" (first / last of
        the state norms) and "first_embedding", "last_embedding", "ratio_embedding".
    """
    for cell in cells:
        if cell not in CELL_CHOICES:
            raise ValueError(f"cells must be drawn from {CELL_CHOICES}, got {cell!r}")
    for a in attentions:
        if a not in ATTENTION_CHOICES:
            raise ValueError(f"attentions must be drawn from {ATTENTION_CHOICES}, got {a!r}")
    for length in lengths:
        check_int("each of lengths", length)
    check_int("n", n)
    if task not in FLOW_TASKS:
        raise ValueError(f"task must be one of {FLOW_TASKS}, got {task!r}")
    check_int("train_steps", train_steps, minimum=0)

    vocab_size = len(TOY_VOCAB)
    batches = {L: _task_batch(task, n, int(L), seed) for L in lengths}
    records = []
    for cell in cells:
        for attention in attentions:
            for L in lengths:
                model = Seq2Seq(vocab_size, vocab_size, embed_dim=embed_dim,
                                hidden_dim=hidden_dim, cell=cell, attention=attention,
                                dtype=np.float64, seed=seed)
                src, tgt = batches[L]
                record = {
                    "cell": cell,
                    "attention": attention,
                    "mode": "none" if attention is None else attention,
                    "length": int(L),
                    "init": _summary(source_gradient_norms(model, src, tgt)),
                }
                if train_steps:
                    opt = Adam(model.params, lr=lr)
                    for step in range(int(train_steps)):
                        # distinct data seeds per step, disjoint from the measured batch's seed
                        bs, bt = _task_batch(task, n, int(L), seed + 1 + step)
                        _, grads = model.loss_and_grads(bs, bt)
                        clip_grad_norm(grads, 5.0)
                        opt.step(grads)
                    record["trained"] = _summary(source_gradient_norms(model, src, tgt))
                records.append(record)
    return records
