"""The decoder: target embedding, recurrent layer, optional attention and the output layer.

Teacher forcing: the decoder reads y_0 … y_{T-2} (``tgt[:, :-1]``) and produces logits for
y_1 … y_{T-1}. Without input feeding nothing in attention is sequential, so the recurrent layer
runs first over all steps and attention scores all T-1 decoder steps at once. With input
feeding (Luong et al. 2015, §3.3) the decoder input at step t is [E y_t; h̃_{t-1}] (h̃_0 = 0),
so attention must run inside the time loop, one step at a time.

Output layer: logits_t = h̃_t W_s + b_s with attention, logits_t = h_t W_s + b_s without.

Letters: N batch, T decoder steps, S source length, E embedding, H hidden units, V vocabulary,
G gates.
"""

from __future__ import annotations

import numpy as np

from .attention import attention_backward, attention_forward
from .layers import (
    affine_backward,
    affine_forward,
    embedding_backward,
    embedding_forward,
    matmul,
)
from .params import sub_params, with_prefix
from .recurrent import (
    CELLS,
    grad_buffers,
    padded_keep,
    recurrent_backward,
    recurrent_forward,
    step_backward,
    step_forward,
    weight_grads,
)


def _add_into(total: dict[str, np.ndarray], part: dict[str, np.ndarray]) -> None:
    for k, v in part.items():
        if k in total:
            total[k] += v
        else:
            total[k] = v.copy()


# ---------------------------------------------------------------------------------------------
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
) -> tuple[np.ndarray, np.ndarray | None, tuple]:
    """Run the decoder over every target step with teacher forcing.

    Parameters
    ----------
    cell : {"rnn", "gru", "lstm"}
    score : {"dot", "general", "concat"} or None for no attention
    tgt_in : int ndarray of shape (N, T), the tokens read (start token first)
    mask : bool ndarray of shape (N, T), False where the step's label is padding
    state0 : tuple of ndarrays of shape (N, H), the encoder's final state
    hs : ndarray of shape (N, S, H), encoder states
    src_mask : bool ndarray of shape (N, S)
    p : parameters "tgt_embed", "dec_*", "W_s", "b_s" and, with attention, "W_c", "W_a", "v_a"
    input_feeding : feed h̃_{t-1} into step t (needs attention)

    Returns
    -------
    logits : ndarray of shape (N, T, V)
    weights : ndarray of shape (N, T, S), or None without attention
    cache : for ``decoder_backward``
    """
    y, emb_cache = embedding_forward(tgt_in, p["tgt_embed"])  # (N, T, E)
    if input_feeding:
        out, weights, rec_cache = _input_feeding_forward(
            cell, score, y, mask, state0, hs, src_mask, p
        )
        att_cache = None
    else:
        hd, _, rec_cache = recurrent_forward(cell, y, state0, mask, sub_params(p, "dec_"))
        out, weights, att_cache = hd, None, None
        if score is not None:
            out, weights, att_cache = attention_forward(score, hd, hs, src_mask, p)
    logits, out_cache = affine_forward(out, p["W_s"], p["b_s"])  # (N, T, V)
    cache = (cell, score, input_feeding, hs.shape, emb_cache, rec_cache, att_cache, out_cache)
    return logits, weights, cache


def decoder_backward(dlogits: np.ndarray, cache: tuple) -> tuple[tuple, np.ndarray, dict]:
    """Backward of ``decoder_forward``.

    Returns
    -------
    dstate0 : tuple of ndarrays of shape (N, H)
    dhs : ndarray of shape (N, S, H)
    grads : dict with the decoder's parameters
    """
    cell, score, input_feeding, hs_shape, emb_cache, rec_cache, att_cache, out_cache = cache
    dout, dW_s, db_s = affine_backward(dlogits, out_cache)
    grads = {"W_s": dW_s, "b_s": db_s}
    if input_feeding:
        dy, dstate0, dhs, g = _input_feeding_backward(dout, rec_cache)
        grads.update(g)
    else:
        dhs = np.zeros(hs_shape, dtype=dlogits.dtype)
        dhd = dout
        if score is not None:
            dhd, dhs, g = attention_backward(dout, att_cache)
            grads.update(g)
        dy, dstate0, g = recurrent_backward(dhd, None, rec_cache)
        grads.update(with_prefix(g, "dec_"))
    grads["tgt_embed"] = embedding_backward(dy, emb_cache)
    return dstate0, dhs, grads


# ---------------------------------------------------------------------------------------------
def _input_feeding_forward(cell, score, y, mask, state0, hs, src_mask, p):
    """The recurrence with h̃_{t-1} fed back: x_t W_x = y_t W_x[:E] + h̃_{t-1} W_x[E:]."""
    c = CELLS[cell]
    N, T, E = y.shape
    H = state0[0].shape[1]
    Wf = p["dec_Wx"][E:]
    yw = matmul(y, p["dec_Wx"][:E]) + p["dec_b"]  # (N, T, G·H), the embedding half at once
    h_tilde = np.zeros((N, T, H), dtype=y.dtype)
    weights = np.zeros((N, T, hs.shape[1]), dtype=y.dtype)
    h_prev = np.empty((N, T, H), dtype=y.dtype)
    keep = padded_keep(mask)
    state, ht_prev, steps = tuple(state0), np.zeros((N, H), dtype=y.dtype), []
    for t in range(T):
        h_prev[:, t] = state[0]
        xw = yw[:, t] + ht_prev @ Wf  # (N, G·H)
        state, cell_cache = step_forward(c, xw, state, keep[t], p["dec_Wh"], p.get("dec_bhn"))
        ht, w, att_cache = attention_forward(score, state[0][:, None], hs, src_mask, p)
        h_tilde[:, t], weights[:, t] = ht[:, 0], w[:, 0]
        steps.append((cell_cache, att_cache))
        ht_prev = ht[:, 0]
    return h_tilde, weights, (c, y, p, keep, h_prev, h_tilde, steps)


def _input_feeding_backward(dh_tilde, cache):
    c, y, p, keep, h_prev, h_tilde, steps = cache
    N, T, E = y.shape
    H = h_prev.shape[2]
    Wf = p["dec_Wx"][E:]
    dxw, dhw = grad_buffers(c, N, T, Wf.shape[1], y.dtype)
    dhs = 0
    grads: dict[str, np.ndarray] = {}
    dstate = tuple(np.zeros((N, H), dtype=y.dtype) for _ in range(c.n_states))
    dfeed = np.zeros((N, H), dtype=y.dtype)  # gradient reaching h̃_t from step t+1's input
    for t in reversed(range(T)):
        cell_cache, att_cache = steps[t]
        dhd, dhs_t, g = attention_backward((dh_tilde[:, t] + dfeed)[:, None], att_cache)
        dhs = dhs + dhs_t
        _add_into(grads, g)
        dstate = (dstate[0] + dhd[:, 0],) + tuple(dstate[1:])
        dxw[:, t], dhw_t, dstate = step_backward(c, dstate, cell_cache, keep[t])
        if c.has_bhn:
            dhw[:, t] = dhw_t
        dfeed = dxw[:, t] @ Wf.T  # into h̃_{t-1}
    fed = np.zeros_like(h_tilde)  # h̃_{t-1} at every step, h̃_0 = 0
    fed[:, 1:] = h_tilde[:, :-1]
    x = np.concatenate([y, fed], axis=-1)  # (N, T, E + H), step t's input [y_t; h̃_{t-1}]
    grads.update(with_prefix(weight_grads(c, x, h_prev, dxw, dhw), "dec_"))
    dy = matmul(dxw, p["dec_Wx"][:E].T)  # (N, T, E)
    return dy, dstate, dhs, grads
