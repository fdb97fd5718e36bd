"""The decoder: target embedding, stacked recurrent layers, attention and the output layer.

Teacher forcing: the decoder reads y_0 … y_{T-2} (``tgt[:, :-1]``) and produces logits for
y_1 … y_{T-1}. One decoder step runs k stacked layers, s_t = stack(x_t, s_{t-1}), where s is
every layer's state, layer 0 reads x_t and layer l >= 1 reads layer l-1's new h; h_t is the top
layer's new h::

    no attention:  x_t = E y_{t-1}                                   out_t = h_t
    Luong:         x_t = E y_{t-1},                h̃_t = attend(h_t)  out_t = h̃_t
    Luong with input feeding (§3.3):
                   x_t = [E y_{t-1}; h̃_{t-1}], h̃_0 = 0, h̃_t = attend(h_t)  out_t = h̃_t
    Bahdanau:      c_t = attend(h_{t-1}),  x_t = [E y_{t-1}; c_t]    out_t = h_t

    logits_t = dropout(out_t) W_s + b_s

The two variants that feed a vector back make step t depend on step t-1's attention, so they
run step by step: ``decoder_step_forward`` is that one step, called by the teacher-forced loop
below and by ``Seq2Seq.decode_step`` at inference. Without a fed-back vector nothing in attention
is sequential, so each layer runs over all steps at once (``stacked_forward``) and attention
scores all T-1 steps in one batch: the same numbers, fewer and larger matrix products.

Dropout (``masks``): on the target embeddings, between stacked layers and on out_t before W_s;
never on the vector fed back.

``decoder_forward`` and ``decoder_backward`` check their inputs once per call (with the
attention and output layers checking their own weights); ``decoder_step_forward``, run once per
step inside the loop and by ``Seq2Seq.decode_step`` (which checks its arguments), trusts them.

Letters: N batch, T decoder steps, S source length, E embedding, H hidden units, A attention
size, V vocabulary, G gates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..checks import (
    check_arrays,
    check_cache,
    check_choice,
    check_grads,
    check_ids,
    check_keys,
    refuse,
)
from .attention import SCORES, AttentionCache
from .bahdanau import (
    BAHDANAU,
    BahdanauCache,
    BahdanauKeysCache,
    bahdanau_keys_backward,
    bahdanau_keys_forward,
    bahdanau_step_backward,
    bahdanau_step_forward,
)
from .kernels import KERNELS
from .layers import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    embedding_backward,
    embedding_forward,
    matmul,
)
from .params import layer_params, layer_prefix, sub_params, with_prefix
from .recurrent import (
    Cell,
    check_cell,
    check_state,
    current_cell,
    grad_buffers,
    hidden_weights,
    padded_keep,
    step_backward,
    step_forward,
    weight_grads,
)
from .stacked import (
    StackedCache,
    check_masks,
    layer_states,
    stack_specs,
    stacked_backward,
    stacked_forward,
)


def _add_into(total: dict[str, np.ndarray], part: dict[str, np.ndarray]) -> None:
    for k, v in part.items():
        if k in total:
            total[k] += v
        else:
            total[k] = v.copy()


def _dec(layer: int) -> str:
    """The prefix of decoder layer ``layer``'s parameters: "dec_", "dec_l1_", …"""
    return "dec_" + layer_prefix(layer)


# ---------------------------------------------------------------------------------------------
# one step through every layer: the teacher-forced loop and inference both run this

class DecoderStepCache(NamedTuple):
    """What ``decoder_step_forward`` keeps for ``decoder_step_backward``."""

    cell_type: Cell  # the cell as run (``recurrent.current_cell``)
    score: str | None
    p: dict  # the model's parameters
    state: tuple  # the flat state s_{t-1} the step started from
    keep: np.ndarray | None  # (N, 1) rows to update, None if no row is padded
    feed: np.ndarray | None  # (N, H), what layer 0 read after the embedding (h̃_{t-1} or c_t)
    inputs: tuple  # per layer l >= 1, its input (N, H) after dropout
    masks: tuple  # per layer l >= 1, the dropout mask on its input, (N, H) or None
    cells: tuple  # per layer, the cell step's cache
    attention: AttentionCache | BahdanauCache | None


class DecoderStep(NamedTuple):
    """What ``decoder_step_forward`` returns."""

    out: np.ndarray  # (N, H), what the output layer reads: h̃_t (Luong) or the top layer's h_t
    state: tuple  # the new flat state s_t, k·n arrays of shape (N, H)
    weights: np.ndarray | None  # (N, S), the attention weights, None without attention
    cache: DecoderStepCache  # for ``decoder_step_backward``


class DecoderStepGrads(NamedTuple):
    """What ``decoder_step_backward`` returns."""

    dcells: tuple  # per layer (dxw, dhw), each (N, G·H), summed into weight grads by the caller
    dstate: tuple  # flat, the gradient of s_{t-1}
    dfeed: np.ndarray | None  # (N, H), gradient of the fed h̃_{t-1} (input feeding), else None
    dhs: np.ndarray | None  # (N, S, H), what reaches the encoder states at this step
    dkeys: np.ndarray | None  # (N, S, A), what reaches Bahdanau's keys at this step
    grads: dict  # the attention's parameter gradients at this step


def _plus_dh(state: tuple, dh: np.ndarray) -> tuple:
    """One layer's state gradient (dh,) or (dh, dc) with ``dh`` added to its h part."""
    return (state[0] + dh, *state[1:])


def decoder_step_forward(
    cell: str,
    score: str | None,
    xw: np.ndarray,
    state: tuple,
    feed: np.ndarray | None,
    hs: np.ndarray,
    keys: np.ndarray | None,
    src_mask: np.ndarray,
    p: dict[str, np.ndarray],
    keep: np.ndarray | None = None,
    masks: Sequence[np.ndarray | None] | None = None,
) -> DecoderStep:
    """One decoder step through every layer (the equations are in the module docstring).

    Parameters
    ----------
    cell : {"rnn", "gru", "lstm"}
    score : None, "dot", "general", "concat" (Luong) or "bahdanau"
    xw : ndarray of shape (N, G·H), E y_{t-1} W_x[:E] + b of layer 0: the part of its input
        projection that nothing fed back changes (precomputed for all steps when training)
    state : flat tuple of k·n ndarrays of shape (N, H), s_{t-1} of every layer
    feed : ndarray of shape (N, H) or None; h̃_{t-1} with Luong input feeding (None at the
        first step, where h̃_0 = 0), else None (Bahdanau computes its c_t here)
    hs : ndarray of shape (N, S, H), encoder states
    keys : ndarray of shape (N, S, A), h̄_s W_k for Bahdanau, else None
    src_mask : bool ndarray of shape (N, S)
    p : the model's parameters
    keep : (N, 1) bool rows to update (False carries a padded row's state), or None for all
    masks : k-1 dropout masks of shape (N, H) on the inputs of layers 1 … k-1, or None

    Returns
    -------
    DecoderStep(out, state, weights, cache)
    """
    cell_type = current_cell(cell)
    H = state[0].shape[1]
    previous = layer_states(state, cell_type.n_states)
    masks = tuple(masks) if masks is not None else (None,) * (len(previous) - 1)
    weights = att_cache = None
    if score == BAHDANAU:  # attend from the top layer's previous h, before the step
        feed, weights, att_cache = bahdanau_step_forward(
            previous[-1][0], hs, keys, src_mask, p["W_q"], p["v_a"])
    if feed is not None:
        xw = xw + feed @ p["dec_Wx"][-H:]  # [E y; feed] W_x = E y W_x[:E] + feed W_x[E:]
    new_state, inputs, cells = [], [], []
    for layer, s_prev in enumerate(previous):
        lp = layer_params(p, _dec(layer))
        if layer > 0:
            below = new_state[-cell_type.n_states]  # (N, H), h_t of the layer below
            x = dropout_forward(below, masks[layer - 1])
            inputs.append(x)
            xw = x @ lp["Wx"] + lp["b"]
        s, cell_cache = step_forward(cell_type, xw, s_prev, keep, hidden_weights(cell_type, lp))
        new_state.extend(s)
        cells.append(cell_cache)
    out = h = new_state[-cell_type.n_states]  # (N, H), the top layer's h_t
    if score is not None and score != BAHDANAU:  # Luong: attend from h_t, after the step
        h_tilde, w, att_cache = KERNELS["attention_forward"](score, h[:, None], hs, src_mask, p)
        out, weights = h_tilde[:, 0], w[:, 0]
    cache = DecoderStepCache(cell_type, score, p, state, keep, feed, tuple(inputs), masks,
                             tuple(cells), att_cache)
    return DecoderStep(out, tuple(new_state), weights, cache)


def decoder_step_backward(dout: np.ndarray, dstate: tuple, cache: DecoderStepCache
                          ) -> DecoderStepGrads:
    """Backward of ``decoder_step_forward``.

    Parameters
    ----------
    dout : ndarray of shape (N, H), gradient of out
    dstate : flat tuple, gradient of the new state (from the next step)
    """
    cell_type, n = cache.cell_type, cache.cell_type.n_states
    dhs = dkeys = None
    grads: dict[str, np.ndarray] = {}
    dh = dout  # into the top layer's h_t
    if cache.score is not None and cache.score != BAHDANAU:
        dhd, dhs, grads = KERNELS["attention_backward"](dout[:, None], cache.attention)
        dh = dhd[:, 0]
    dnext = layer_states(dstate, n)
    dprev: list[tuple] = [()] * len(cache.cells)
    dcells: list[tuple] = [()] * len(cache.cells)
    for layer in reversed(range(len(cache.cells))):
        ds = _plus_dh(dnext[layer], dh)  # h_t is output and state
        dxw, dhw, dprev[layer] = step_backward(cell_type, ds, cache.cells[layer], cache.keep)
        dcells[layer] = (dxw, dhw)
        if layer > 0:  # into the layer below's h_t, through W_x and the dropout mask
            dh = dropout_backward(dxw @ cache.p[_dec(layer) + "Wx"].T, cache.masks[layer - 1])
    dfeed = None
    if cache.feed is not None:  # into the fed vector, through the rows of W_x that read it
        dfeed = dcells[0][0] @ cache.p["dec_Wx"][-dout.shape[-1]:].T
    if cache.score == BAHDANAU:  # c_t came from s_{t-1}: its gradient goes there and to h̄_s
        ds_top, dhs, dkeys, grads = bahdanau_step_backward(dfeed, cache.attention)
        dprev[-1] = _plus_dh(dprev[-1], ds_top)
        dfeed = None
    flat = tuple(s for layer in dprev for s in layer)
    return DecoderStepGrads(tuple(dcells), flat, dfeed, dhs, dkeys, grads)


# ---------------------------------------------------------------------------------------------
# the teacher-forced step-by-step loop (input feeding, Bahdanau)

class SteppedCache(NamedTuple):
    """What ``_stepped_forward`` keeps for ``_stepped_backward``."""

    y: np.ndarray  # (N, T, E), the embeddings the decoder read (after dropout)
    fed: bool  # layer 0 read [y_t; feed_t] (input feeding or Bahdanau), not y_t alone
    hs_shape: tuple
    keys: BahdanauKeysCache | None
    steps: list  # per step, a DecoderStepCache


def _stepped_forward(cell, score, y, mask, state0, hs, src_mask, p, input_feeding, masks):
    N, T, E = y.shape
    H = state0[0].shape[1]
    yw = matmul(y, p["dec_Wx"][:E]) + p["dec_b"]  # (N, T, G·H), the embeddings' share at once
    keys, keys_cache = None, None
    if score == BAHDANAU:
        keys, keys_cache = bahdanau_keys_forward(hs, p["W_k"])  # (N, S, A), once for all steps
    keep = padded_keep(mask)
    out = np.empty((N, T, H), dtype=y.dtype)
    weights = None if score is None else np.empty((N, T, hs.shape[1]), dtype=y.dtype)
    state, feed, steps = tuple(state0), None, []
    for t in range(T):
        masks_t = [None if m is None else m[:, t] for m in masks]
        step = decoder_step_forward(cell, score, yw[:, t], state, feed, hs, keys, src_mask, p,
                                    keep[t], masks_t)
        out[:, t], state = step.out, step.state
        if weights is not None:
            weights[:, t] = step.weights
        steps.append(step.cache)
        feed = out[:, t] if input_feeding else None  # h̃_t, read by step t+1
    fed = input_feeding or score == BAHDANAU
    return out, weights, SteppedCache(y, fed, hs.shape, keys_cache, steps)


def _stepped_backward(dout, cache):
    y, steps = cache.y, cache.steps
    cell_type, p = steps[0].cell_type, steps[0].p
    N, T, _ = y.shape
    H, k, n = dout.shape[-1], len(steps[0].cells), cell_type.n_states
    buffers = [grad_buffers(cell_type, N, T, p["dec_Wh"].shape[1], y.dtype) for _ in range(k)]
    dstate = tuple(np.zeros((N, H), dtype=y.dtype) for _ in range(k * n))
    dfeed = np.zeros((N, H), dtype=y.dtype)  # gradient reaching out_t from step t+1's input
    dhs = np.zeros(cache.hs_shape, dtype=y.dtype)
    dkeys = None if cache.keys is None else \
        np.zeros((*cache.hs_shape[:2], p["W_k"].shape[1]), y.dtype)
    grads: dict[str, np.ndarray] = {}
    for t in reversed(range(T)):
        step = decoder_step_backward(dout[:, t] + dfeed, dstate, steps[t])
        for (dxw, dhw), (dxw_t, dhw_t) in zip(buffers, step.dcells):
            dxw[:, t] = dxw_t
            if cell_type.has_bhn:
                dhw[:, t] = dhw_t
        if step.dhs is not None:
            dhs += step.dhs
        if step.dkeys is not None:
            dkeys += step.dkeys
        _add_into(grads, step.grads)
        dstate, dfeed = step.dstate, 0 if step.dfeed is None else step.dfeed
    grads.update(_stepped_weight_grads(cache, buffers))
    if cache.keys is not None:
        dhs_keys, g = bahdanau_keys_backward(dkeys, cache.keys)
        dhs += dhs_keys
        grads.update(g)
    dy = matmul(buffers[0][0], p["dec_Wx"][: y.shape[-1]].T)  # (N, T, E)
    return dy, dstate, dhs, grads


def _stepped_weight_grads(cache: SteppedCache, buffers: list) -> dict[str, np.ndarray]:
    """Every decoder layer's weight gradients from its per-step (dxw, dhw), one product each."""
    y, steps = cache.y, cache.steps
    cell_type, n = steps[0].cell_type, steps[0].cell_type.n_states
    N, T, _ = y.shape
    grads = {}
    for layer, (dxw, dhw) in enumerate(buffers):
        h_prev = np.stack([s.state[layer * n] for s in steps], axis=1)  # (N, T, H)
        if layer > 0:
            x = np.stack([s.inputs[layer - 1] for s in steps], axis=1)  # (N, T, H)
        elif cache.fed:  # step t read [y_t; feed_t] (feed_0 = h̃_0 = 0 with input feeding)
            H = h_prev.shape[-1]
            feeds = [np.zeros((N, H), y.dtype) if s.feed is None else s.feed for s in steps]
            x = np.concatenate([y, np.stack(feeds, axis=1)], axis=-1)  # (N, T, E + H)
        else:  # nothing fed back
            x = y
        grads.update(with_prefix(weight_grads(cell_type, x, h_prev, dxw, dhw), _dec(layer)))
    return grads


# ---------------------------------------------------------------------------------------------
class DecoderCache(NamedTuple):
    """What ``decoder_forward`` keeps for ``decoder_backward``."""

    stepped: bool  # True: the step-by-step loop ran (input feeding, Bahdanau)
    hs_shape: tuple  # (N, S, H)
    embedding: tuple  # the embedding lookup's cache
    embed_mask: np.ndarray | None  # (N, T, E) dropout mask on the embeddings
    recurrence: StackedCache | SteppedCache
    attention: AttentionCache | None  # Luong attention over all steps (layer-by-layer run)
    out_mask: np.ndarray | None  # (N, T, H) dropout mask on the output layer's input
    output: tuple  # the output layer's cache


def _check_inputs(cell, score, tgt_in, mask, state0, hs, src_mask, p, input_feeding,
                  masks) -> tuple[int, list]:
    """``decoder_forward``'s arguments, checked; returns k and the k + 1 dropout masks."""
    cell_type = check_cell(cell)
    check_choice("score", score, (None, *SCORES, BAHDANAU))
    if input_feeding and score not in SCORES:
        raise refuse(f"input_feeding needs a Luong score {SCORES}, got score={score!r}")
    k = max(1, len(state0) // cell_type.n_states) if isinstance(state0, tuple) else 1
    check_state("state0", state0, cell_type, k)
    masks, mask_specs = check_masks(masks, k + 1, ["N T E"] + ["N T H"] * k,
                                    "on the embeddings, between the layers and on the output")
    check_keys("p", p, ["tgt_embed", "W_s", "b_s"], "the target embeddings and output layer")
    fed = input_feeding or score == BAHDANAU  # layer 0 reads [E y; h̃ or c]
    check_arrays(tgt_in=(tgt_in, "N T", int), mask=(mask, "N T", bool), state0=(state0, "N H"),
                 hs=(hs, "N S H"), src_mask=(src_mask, "N S", bool),
                 tgt_embed=(p["tgt_embed"], "V E"), W_s=(p["W_s"], "H V"), b_s=(p["b_s"], "V"),
                 **stack_specs(cell_type, p, "dec_", k, False, "E+H" if fed else "E"), **mask_specs)
    check_ids("tgt_in", tgt_in, p["tgt_embed"].shape[0], "the rows of tgt_embed")
    return k, masks


def decoder_forward(
    cell: str,
    score: str | None,
    tgt_in: np.ndarray,
    mask: np.ndarray,
    state0: tuple,
    hs: np.ndarray,
    src_mask: np.ndarray,
    p: dict[str, np.ndarray],
    input_feeding: bool = False,
    masks: Sequence[np.ndarray | None] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, DecoderCache]:
    """Run the decoder over every target step with teacher forcing.

    Parameters
    ----------
    cell : {"rnn", "gru", "lstm"}
    score : None (no attention), "dot", "general", "concat" (Luong) or "bahdanau"
    tgt_in : int ndarray of shape (N, T), the tokens read (start token first)
    mask : bool ndarray of shape (N, T), False where the step's label is padding
    state0 : flat tuple of k·n ndarrays of shape (N, H), the encoder's final states; its length
        gives the number of layers k
    hs : ndarray of shape (N, S, H), encoder states
    src_mask : bool ndarray of shape (N, S)
    p : parameters "tgt_embed", "dec_*", "W_s", "b_s" and the attention's
    input_feeding : feed h̃_{t-1} into step t (needs Luong attention)
    masks : None (no dropout) or k + 1 dropout masks: masks[0] of shape (N, T, E) on the
        embeddings, masks[l] of shape (N, T, H) on layer l-1's output for l = 1 … k-1, and
        masks[k] of shape (N, T, H) on out_t before the output layer

    Returns
    -------
    logits : ndarray of shape (N, T, V)
    weights : ndarray of shape (N, T, S), or None without attention
    cache : DecoderCache, for ``decoder_backward``
    """
    k, masks = _check_inputs(cell, score, tgt_in, mask, state0, hs, src_mask, p, input_feeding,
                             masks)
    y, emb_cache = embedding_forward(tgt_in, p["tgt_embed"])  # (N, T, E)
    y = dropout_forward(y, masks[0])
    stepped = input_feeding or score == BAHDANAU
    att_cache = None
    if stepped:
        out, weights, rec_cache = _stepped_forward(
            cell, score, y, mask, state0, hs, src_mask, p, input_feeding, masks[1:k])
    else:
        out, _, rec_cache = stacked_forward(cell, y, state0, mask, sub_params(p, "dec_"), k,
                                            masks=masks[1:k], trusted=True)
        weights = None
        if score is not None:
            out, weights, att_cache = KERNELS["attention_forward"](score, out, hs, src_mask, p)
    out = dropout_forward(out, masks[k])
    logits, out_cache = affine_forward(out, p["W_s"], p["b_s"])  # (N, T, V)
    cache = DecoderCache(stepped, hs.shape, emb_cache, masks[0], rec_cache, att_cache, masks[k],
                         out_cache)
    return logits, weights, cache


def decoder_backward(
    dlogits: np.ndarray, cache: DecoderCache
) -> tuple[tuple, np.ndarray, dict[str, np.ndarray]]:
    """Backward of ``decoder_forward``.

    Returns
    -------
    dstate0 : flat tuple of ndarrays of shape (N, H)
    dhs : ndarray of shape (N, S, H)
    grads : dict with the decoder's parameters
    """
    check_cache(cache, DecoderCache, "decoder_forward")
    x, W_s = cache.output
    check_grads(dlogits=(dlogits, (*x.shape[:-1], W_s.shape[1]), "logits"))
    stepped, hs_shape, emb_cache, embed_mask, rec_cache, att_cache, out_mask, out_cache = cache
    dout, dW_s, db_s = affine_backward(dlogits, out_cache)
    dout = dropout_backward(dout, out_mask)
    grads = {"W_s": dW_s, "b_s": db_s}
    if stepped:
        dy, dstate0, dhs, g = _stepped_backward(dout, rec_cache)
        grads.update(g)
    else:
        dhs = np.zeros(hs_shape, dtype=dlogits.dtype)
        dhd = dout
        if att_cache is not None:
            dhd, dhs, g = KERNELS["attention_backward"](dout, att_cache)
            grads.update(g)
        dy, dstate0, g = stacked_backward(dhd, None, rec_cache, trusted=True)
        grads.update(with_prefix(g, "dec_"))
    grads["tgt_embed"] = embedding_backward(dropout_backward(dy, embed_mask), emb_cache)
    return dstate0, dhs, grads
