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

and four small experiments of the teaching notebooks:

* `accuracy_by_position` — how often each output position is right (notebook 04);
* `teacher_forced_accuracy_by_position` — the same when the decoder reads the reference prefix
  instead of its own outputs: the exposure-bias gap (notebook 04);
* `input_gradient_norms` — ‖∂y_S/∂x_s‖ from the last output of an RNN, an RNN with attention
  and a self-attention layer back to every input: the path-length argument (notebook 08);
* `layer_cost` — time and peak memory of one RNN layer and one self-attention layer against
  the length (notebook 08).

Letters: N batch, S source length, T target length, E embedding, H hidden, D input features.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Sequence
from typing import Any

import numpy as np

from .checks import NON_NEGATIVE_INT, POSITIVE_INT, check_choice
from .config import TrainConfig
from .data import Vocab, encode_pairs, make_task, pad_sequences
from .data.toy import TOY_ALPHABET
from .data.vocab import EOS_ID
from .functional.attention import attention_backward, attention_forward
from .functional.layers import matmul
from .functional.recurrent import cell_param_shapes, recurrent_backward, recurrent_forward
from .functional.self_attention import (
    scaled_dot_product_attention_backward,
    scaled_dot_product_attention_forward,
)
from .model import ATTENTION_CHOICES, CELL_CHOICES, Seq2Seq
from .optim import clip_grad_norm, make_optimizer

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
    bidirectional: bool = False,
) -> list[dict[str, Any]]:
    """Measure the gradient reaching each source position for every cell × score × length.

    For each combination a float64 ``Seq2Seq`` is initialised with ``seed`` (the same seed for
    every combination, so attention modes of one cell differ only in what attention adds) and a
    batch of ``n`` examples of the toy ``task`` with sources of exactly that length is drawn
    (the same batch for every model of that length). The batch-averaged ‖∂L/∂h̄_s‖ and ‖∂L/∂x_s‖
    are recorded at initialisation and, with ``train_steps`` > 0, again after that many
    optimizer steps on fresh batches of the same task and length, taken as `train` takes them
    (`config.TrainConfig`'s optimizer, Adam, and clipping, global norm at most 5) at the
    learning rate ``lr``.

    Parameters
    ----------
    cells : names from ``model.CELL_CHOICES``
    attentions : entries from ``model.ATTENTION_CHOICES`` (None is the plain encoder–decoder)
    lengths : source lengths S, each >= 1
    n : examples per measured batch
    hidden_dim, embed_dim : H and E of every model
    seed : seeds the models, the measured batches and the training batches
    train_steps : optimizer steps before the second measurement (0: measure at initialisation
        only)
    lr : the learning rate of those steps (smaller than training's default: a few steps from
        initialisation, measured, not a run to convergence)
    task : one of ``FLOW_TASKS``
    bidirectional : build every model with a bidirectional encoder (H/2 units per direction)

    Returns
    -------
    list of dict, one per (cell, attention, length), in loop order cell → attention → length:
        "cell", "attention" (None or a score), "mode" ("none" or the score; a label for plots),
        "bidirectional", "length", "init" and, with train_steps > 0, "trained": each a dict
        with "loss", "state_norms" (S,), "embedding_norms" (S,), "first", "last", "ratio"
        (first / last of the state norms) and "first_embedding", "last_embedding",
        "ratio_embedding".
    """
    for cell in cells:
        check_choice("each of cells", cell, CELL_CHOICES)
    for a in attentions:
        check_choice("each of attentions", a, ATTENTION_CHOICES)
    for length in lengths:
        POSITIVE_INT.check("each of lengths", length)
    POSITIVE_INT.check("n", n)
    check_choice("task", task, FLOW_TASKS)
    NON_NEGATIVE_INT.check("train_steps", train_steps)

    vocab_size = len(TOY_VOCAB)
    batches = {L: _task_batch(task, n, int(L), seed) for L in lengths}
    records = []
    for cell in cells:
        for attention in attentions:
            for L in lengths:
                model = Seq2Seq(vocab_size, vocab_size, embed_dim=embed_dim,
                                hidden_dim=hidden_dim, cell=cell, attention=attention,
                                bidirectional=bidirectional, dtype=np.float64, seed=seed)
                src, tgt = batches[L]
                record = {
                    "cell": cell,
                    "attention": attention,
                    "mode": "none" if attention is None else attention,
                    "bidirectional": bool(bidirectional),
                    "length": int(L),
                    "init": _summary(source_gradient_norms(model, src, tgt)),
                }
                if train_steps:
                    rule = TrainConfig(lr=lr)  # the trainer's optimizer and clipping
                    opt = make_optimizer(rule.optimizer, model.params, rule.lr)
                    for step in range(int(train_steps)):
                        # distinct data seeds per step, disjoint from the measured batch's seed
                        bs, bt = _task_batch(task, n, int(L), seed + 1 + step)
                        _, grads = model.loss_and_grads(bs, bt)
                        clip_grad_norm(grads, rule.clip or None)
                        opt.step(grads)
                    record["trained"] = _summary(source_gradient_norms(model, src, tgt))
                records.append(record)
    return records


# ---------------------------------------------------------------------------------------------
def accuracy_by_position(hypotheses: Sequence[Any], tgt_seqs: Sequence[Any]) -> dict[str, Any]:
    """How often output position i is right, for i = 1, 2, … up to the longest reference.

    Position i counts as right when the output has an i-th token equal to the reference's, the
    per-position view of ``training.evaluate``'s token accuracy (an output that stops early is
    wrong at the positions it lacks).

    Parameters
    ----------
    hypotheses : sequence of id arrays without ``<s>`` and ``</s>``, e.g.
        ``evaluate(...)["hypotheses"]``
    tgt_seqs : sequence of reference id sequences ``<s> y_1 … y_k </s>``, in the same order

    Returns
    -------
    dict with "accuracy" (P,) floats (NaN where no reference is that long) and "counts" (P,)
    ints, the references of at least i tokens; P is the longest reference
    """
    if len(hypotheses) != len(tgt_seqs) or not len(tgt_seqs):
        raise ValueError(f"need as many hypotheses as references, at least one; got "
                         f"{len(hypotheses)} and {len(tgt_seqs)}")
    refs = [np.asarray(t)[1:-1] for t in tgt_seqs]  # strip <s> and </s>
    P = max(len(r) for r in refs)
    right, counts = np.zeros(P), np.zeros(P, dtype=np.int64)
    for h, r in zip(hypotheses, refs, strict=True):
        k = min(len(h), len(r))
        right[:k] += np.asarray(h[:k]) == r[:k]
        counts[: len(r)] += 1
    accuracy = np.divide(right, counts, out=np.full(P, np.nan), where=counts > 0)
    return {"accuracy": accuracy, "counts": counts}



def teacher_forced_accuracy_by_position(model: Seq2Seq, src: Any, tgt: Any) -> np.ndarray:
    """How often the model's most probable next token is right at output position i when the
    decoder reads the *reference* prefix (teacher forcing), not its own outputs.

    Training scores exactly these predictions; greedy decoding (``accuracy_by_position``) feeds
    the model its own previous outputs instead, so one mistake changes every later input. The
    difference between the two, position by position, is the cost of that exposure bias.

    Parameters
    ----------
    model : Seq2Seq
    src : int array of shape (N, S), right-padded with 0
    tgt : int array of shape (N, T), ``<s> y_1 … y_k </s>`` right-padded with 0

    Returns
    -------
    ndarray of shape (T - 2,): position i (from 1) is right when argmax p(y | y_<i, x) = y_i;
    NaN where no reference has an i-th token (``</s>`` is not counted, as in
    ``accuracy_by_position``)
    """
    src, tgt = model.check_src(src), np.asarray(tgt)
    if tgt.ndim != 2 or tgt.shape[0] != src.shape[0] or tgt.shape[1] < 3:
        raise ValueError(f"tgt must be an int array of shape (N, T) with N = {src.shape[0]} "
                         f"and T >= 3, got shape {tgt.shape}")
    enc = model.encode(src)
    state, h_tilde = enc.state0, None
    labels = tgt[:, 1:-1]  # (N, T - 2): the tokens y_1 … scored at positions 1 …
    real = (labels != 0) & (labels != EOS_ID)  # neither padding nor </s>
    right = np.zeros(labels.shape, dtype=bool)
    for t in range(labels.shape[1]):
        logits, state, h_tilde, _ = model.decode_step(tgt[:, t], state, h_tilde, enc)  # reads y_t
        right[:, t] = logits.argmax(axis=-1) == labels[:, t]
    counts = real.sum(axis=0)
    return np.divide((right & real).sum(axis=0), counts, out=np.full(labels.shape[1], np.nan),
                     where=counts > 0)


def scheduled_sampling_inputs(model: Seq2Seq, src: Any, tgt: Any, eps: float,
                              rng: np.random.Generator) -> np.ndarray:
    """The decoder inputs of scheduled sampling (Bengio et al. 2015): tgt[:, :-1] with each
    token after ``<s>`` replaced, with probability ``eps``, by the model's own prediction there.

    The decoder runs step by step on the inputs chosen so far, so a replaced token feeds the
    predictions after it, as in free running; Bengio et al. sample the replacement from the
    model's distribution, this takes its most probable token (greedy decoding's choice). No
    gradient flows through the choice. eps = 0 is teacher forcing, eps = 1 free running (with
    the reference's length). Pass the result to ``model.loss_and_grads(src, tgt,
    decoder_inputs=...)``.

    Parameters
    ----------
    model : Seq2Seq
    src : int array of shape (N, S), right-padded with 0
    tgt : int array of shape (N, T), ``<s> y_1 … y_k </s>`` right-padded with 0
    eps : float in [0, 1], the probability of reading the model's own token
    rng : numpy Generator, draws which tokens are replaced

    Returns
    -------
    int ndarray of shape (N, T - 1); padding stays padding
    """
    src, tgt = model.check_src(src), np.asarray(tgt)
    if tgt.ndim != 2 or tgt.shape[0] != src.shape[0] or tgt.shape[1] < 2:
        raise ValueError(f"tgt must be an int array of shape (N, T) with N = {src.shape[0]} "
                         f"and T >= 2, got shape {tgt.shape}")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"eps must be a probability in [0, 1], got {eps!r}")
    inputs = tgt[:, :-1].astype(np.int64)  # (N, T - 1), a copy: tgt is never written into
    enc = model.encode(src)
    state, h_tilde = enc.state0, None
    for t in range(1, inputs.shape[1]):
        logits, state, h_tilde, _ = model.decode_step(inputs[:, t - 1], state, h_tilde, enc)
        own = logits.argmax(axis=-1)  # (N,), what free running would read next
        swap = (rng.random(len(own)) < eps) & (inputs[:, t] != 0)  # padding stays
        inputs[:, t] = np.where(swap, own, inputs[:, t])
    return inputs

# ---------------------------------------------------------------------------------------------
# one layer over a sequence x (N, S, D) -> y (N, S, H): the recurrent layer of the library and
# one self-attention layer (Q, K, V projections and scaled dot-product attention), each returned
# with a function that backpropagates dy into dx

LAYERS = ("rnn", "rnn+attention", "self-attention")


def _layer_params(layer: str, D: int, H: int, rng: np.random.Generator, dtype) -> dict:
    """U(±1/√fan) weights, PyTorch's rule (as ``Seq2Seq`` initialises)."""
    if layer == "self-attention":
        shapes = {"W_q": (D, H), "W_k": (D, H), "W_v": (D, H)}
    else:
        shapes = cell_param_shapes("rnn", D, H)
        if layer == "rnn+attention":
            shapes["W_c"] = (2 * H, H)
    return {k: (rng.uniform(-1, 1, s) / np.sqrt(s[0] if k.startswith("W_") else H)).astype(dtype)
            for k, s in shapes.items()}


def _layer_forward(layer: str, x: np.ndarray, p: dict) -> tuple[np.ndarray, Any]:
    """y (N, S, H) and a function dy -> dx.

    ``rnn+attention`` returns one output, y of shape (N, 1, H): the last state h_S attends to
    every state h_s (dot score) and y = h̃ = tanh(W_c [c; h_S]), as a Luong decoder step would.
    """
    N, S, _ = x.shape
    if layer == "self-attention":
        q, k, v = matmul(x, p["W_q"]), matmul(x, p["W_k"]), matmul(x, p["W_v"])  # (N, S, H)
        y, _, cache = scaled_dot_product_attention_forward(q, k, v)

        def backward(dy):
            dq, dk, dv = scaled_dot_product_attention_backward(dy, cache)
            return matmul(dq, p["W_q"].T) + matmul(dk, p["W_k"].T) + matmul(dv, p["W_v"].T)

        return y, backward
    H = p["Wh"].shape[0]
    mask = np.ones((N, S), dtype=bool)
    hs, _, rcache = recurrent_forward("rnn", x, (np.zeros((N, H), dtype=x.dtype),), mask, p)
    if layer == "rnn":
        return hs, lambda dy: recurrent_backward(dy, None, rcache)[0]
    y, _, acache = attention_forward("dot", hs[:, -1:], hs, mask, p)  # (N, 1, H)

    def backward(dy):
        dhd, dhs, _ = attention_backward(dy, acache)
        dhs[:, -1:] += dhd  # the query h_S is also the last state
        return recurrent_backward(dhs, None, rcache)[0]

    return y, backward


def input_gradient_norms(layer: str, length: int, n: int = 8, dim: int = 32,
                         seed: int = 0) -> np.ndarray:
    """‖∂L/∂x_s‖ for every input position s, with L = ⟨y_S, g⟩ on the last output only.

    How much of a loss on the last output reaches each input, in float64 at initialisation:
    through S - s recurrent steps for ``rnn``, through one attention step (and one recurrent
    step) for ``rnn+attention``, through one attention step for ``self-attention``.

    Parameters
    ----------
    layer : one of ``LAYERS``
    length : S, the number of inputs
    n : sequences averaged over (random N(0, 1) inputs, one random g per sequence)
    dim : D = H, input and output size
    seed : seeds the weights, the inputs and g

    Returns
    -------
    ndarray of shape (S,), the mean over the n sequences of ‖∂L/∂x_s‖
    """
    check_choice("layer", layer, LAYERS)
    S, n, dim = (POSITIVE_INT.check("length", length), POSITIVE_INT.check("n", n),
                 POSITIVE_INT.check("dim", dim))
    rng = np.random.default_rng(seed)
    p = _layer_params(layer, dim, dim, rng, np.float64)
    x = rng.standard_normal((n, S, dim))
    y, backward = _layer_forward(layer, x, p)
    dy = np.zeros_like(y)
    dy[:, -1] = rng.standard_normal((n, dim))  # the loss sees only the last output
    return np.linalg.norm(backward(dy), axis=-1).mean(axis=0)


def layer_cost(layer: str, length: int, n: int = 1, dim: int = 64, repeats: int = 3,
               seed: int = 0) -> dict[str, float]:
    """Time and peak memory of one forward + backward of one layer over ``length`` inputs.

    Parameters
    ----------
    layer : "rnn" (the library's tanh layer, H = ``dim``) or "self-attention" (projections to
        Q, K, V of size ``dim`` and scaled dot-product attention), float32 as in training
    length : S
    n : N, sequences in the batch
    dim : D = H
    repeats : timed runs after one untimed warm-up; the *fastest* is reported, the run least
        disturbed by other processes (the usual rule for timing on a shared machine). The
        garbage collector is paused while timing, as ``timeit`` does: otherwise its sweeps over
        the RNN's S step caches add a cost that grows faster than S
    seed : seeds the weights and inputs

    Returns
    -------
    dict with "seconds" (fastest forward + backward) and "peak_bytes" (``tracemalloc``'s peak
    above what was allocated before the forward: the layer's caches, temporaries and gradients;
    NumPy reports its buffers to tracemalloc, so this is deterministic)
    """
    check_choice("layer", layer, ("rnn", "self-attention"))
    S, n = POSITIVE_INT.check("length", length), POSITIVE_INT.check("n", n)
    repeats = POSITIVE_INT.check("repeats", repeats)
    rng = np.random.default_rng(seed)
    p = _layer_params(layer, dim, dim, rng, np.float32)
    x = rng.standard_normal((n, S, dim)).astype(np.float32)
    dy = np.ones((n, S, dim), dtype=np.float32)

    def run():
        _, backward = _layer_forward(layer, x, p)
        backward(dy)

    run()  # warm-up
    times = []
    gc_was_enabled = gc.isenabled()
    gc.collect()  # garbage from before is freed now, not by a collection inside the traced run
    gc.disable()  # (whether one starts there depends on what the process allocated earlier)
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        tracing = tracemalloc.is_tracing()
        if not tracing:
            tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        run()
        peak = tracemalloc.get_traced_memory()[1] - base
        if not tracing:
            tracemalloc.stop()
    finally:
        if gc_was_enabled:
            gc.enable()
    return {"seconds": min(times), "peak_bytes": float(peak)}
