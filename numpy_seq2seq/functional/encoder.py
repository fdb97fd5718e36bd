"""The encoder: source embedding and a (bi)directional recurrent layer, forward and backward.

How the encoder meets the decoder:

* **States for attention.** h̄_s of shape (N, S, H), one per source position, in the *original*
  source order even when the source is read reversed, so attention weights line up with the
  tokens the user gave.
* **Bidirectional.** Each direction has H/2 units and h̄_s = [→h_s; ←h_s] has H units, so the
  decoder, the dot score (which needs equal sizes) and W_c all see size H, with no extra bridge
  layer (as in OpenNMT). The backward direction reads each row's real tokens right to left;
  padding stays at the right.
* **The decoder's initial state** is the encoder's final state: the state after each row's last
  real token (padding carries it unchanged), [→h_final; ←h_final] when bidirectional (←h_final is
  the backward direction's state after reading the first token), and the same for the LSTM's c.
* **reverse_source** (Sutskever et al. 2014) reverses each row's real tokens before encoding, so
  the first source words end up next to the first target words in time.

Letters: N batch, S source length, E embedding, H hidden units.
"""

from __future__ import annotations

import numpy as np

from .layers import embedding_backward, embedding_forward
from .params import sub_params, with_prefix
from .recurrent import CELLS, recurrent_backward, recurrent_forward, reverse_padded_index


# ---------------------------------------------------------------------------------------------
def encoder_forward(
    cell: str,
    src: np.ndarray,
    p: dict[str, np.ndarray],
    bidirectional: bool = False,
    reverse_source: bool = False,
) -> tuple[np.ndarray, tuple, tuple]:
    """Encode a right-padded batch of source ids.

    Parameters
    ----------
    cell : {"rnn", "gru", "lstm"}
    src : int ndarray of shape (N, S), 0 = padding, at least one real token per row
    p : parameters "src_embed" (V, E) and "enc_*" (or "enc_fwd_*" and "enc_bwd_*")
    bidirectional, reverse_source : see the module docstring

    Returns
    -------
    hs : ndarray of shape (N, S, H), encoder states in original source order
    state : tuple of ndarrays of shape (N, H), the decoder's initial state
    cache : for ``encoder_backward``
    """
    N, S = src.shape
    mask = src != 0  # (N, S)
    rows, cols = reverse_padded_index(mask.sum(axis=1), S)
    ids = src[rows, cols] if reverse_source else src
    x, emb_cache = embedding_forward(ids, p["src_embed"])  # (N, S, E)
    n_states = CELLS[cell].n_states
    directions = []
    if bidirectional:
        H2 = p["enc_fwd_Wh"].shape[0]
        zeros = tuple(np.zeros((N, H2), dtype=x.dtype) for _ in range(n_states))
        hf, sf, cf = recurrent_forward(cell, x, zeros, mask, sub_params(p, "enc_fwd_"))
        hb, sb, cb = recurrent_forward(cell, x[rows, cols], zeros, mask, sub_params(p, "enc_bwd_"))
        hs = np.concatenate([hf, hb[rows, cols]], axis=-1)  # (N, S, H), ← states realigned
        state = tuple(np.concatenate([a, b], axis=-1) for a, b in zip(sf, sb))
        directions = [cf, cb]
    else:
        H = p["enc_Wh"].shape[0]
        zeros = tuple(np.zeros((N, H), dtype=x.dtype) for _ in range(n_states))
        hs, state, c1 = recurrent_forward(cell, x, zeros, mask, sub_params(p, "enc_"))
        directions = [c1]
    if reverse_source:
        hs = hs[rows, cols]  # back to the order of the tokens the user gave
    return hs, state, (bidirectional, reverse_source, rows, cols, emb_cache, directions)


def encoder_backward(
    dhs: np.ndarray, dstate: tuple, cache: tuple, return_dstates: bool = False
) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
    """Backward of ``encoder_forward``.

    Parameters
    ----------
    dhs : ndarray of shape (N, S, H)
    dstate : tuple of ndarrays of shape (N, H), gradient of the final state
    return_dstates : also collect the total gradient reaching every encoder state

    Returns
    -------
    dx : ndarray of shape (N, S, E), gradient of each source embedding, in original source order
    dstates : ndarray of shape (N, S, H), the total ∂L/∂h̄_s (through attention and through the
        recurrence) in original source order, or None without return_dstates
    grads : dict with "src_embed" and the encoder's recurrent parameters
    """
    bidirectional, reverse_source, rows, cols, emb_cache, directions = cache
    if reverse_source:
        dhs = dhs[rows, cols]  # the permutation is its own inverse
    dstates = np.empty_like(dhs) if return_dstates else None
    grads = {}
    if bidirectional:
        H2 = dhs.shape[-1] // 2
        dh_b = None if dstates is None else np.empty_like(dhs[..., H2:])
        dx_f, _, gf = recurrent_backward(
            dhs[..., :H2], tuple(d[:, :H2] for d in dstate), directions[0],
            None if dstates is None else dstates[..., :H2],
        )
        dx_b, _, gb = recurrent_backward(
            dhs[..., H2:][rows, cols], tuple(d[:, H2:] for d in dstate), directions[1], dh_b
        )
        dx = dx_f + dx_b[rows, cols]
        if dstates is not None:
            dstates[..., H2:] = dh_b[rows, cols]  # ← states back in source order
        grads.update(with_prefix(gf, "enc_fwd_"))
        grads.update(with_prefix(gb, "enc_bwd_"))
    else:
        dx, _, g = recurrent_backward(dhs, dstate, directions[0], dstates)
        grads.update(with_prefix(g, "enc_"))
    grads["src_embed"] = embedding_backward(dx, emb_cache)
    if reverse_source:  # report per position of the source as given
        dx = dx[rows, cols]
        dstates = None if dstates is None else dstates[rows, cols]
    return dx, dstates, grads
