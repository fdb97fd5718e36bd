"""The encoder: source embedding and a stack of (bi)directional recurrent layers, forward and
backward.

How the encoder meets the decoder:

* **States for attention.** h̄_s of shape (N, S, H), the top layer's output at every source
  position, in the *original* source order even when the source is read reversed, so attention
  weights line up with the tokens the user gave.
* **Bidirectional.** Each direction has H/2 units and h̄_s = [→h_s; ←h_s] has H units, so the
  decoder, the dot score (which needs equal sizes) and W_c all see size H, with no extra bridge
  layer (as in OpenNMT). The backward direction reads each row's real tokens right to left;
  padding stays at the right.
* **The decoder's initial state** is the encoder's final state, layer by layer: decoder layer l
  starts from encoder layer l's state after each row's last real token (padding carries it
  unchanged), [→h_final; ←h_final] when bidirectional (←h_final is the backward direction's
  state after reading the first token), and the same for the LSTM's c. It is a flat tuple, layer
  after layer (``stacked.py``).
* **reverse_source** (Sutskever et al. 2014) reverses each row's real tokens before encoding, so
  the first source words end up next to the first target words in time.
* **Dropout** (``masks``): on the embeddings and between stacked layers, never on h̄_s.

Letters: N batch, S source length, E embedding, H hidden units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..checks import check_arrays, check_cache, check_grads, check_ids, check_keys
from .layers import dropout_backward, dropout_forward, embedding_backward, embedding_forward
from .params import layer_prefix, sub_params, with_prefix
from .recurrent import CELLS, reverse_padded_index
from .stacked import (
    StackedCache,
    check_masks,
    check_stack,
    hidden_letters,
    output_shape,
    stack_specs,
    stacked_backward,
    stacked_forward,
)


class EncoderCache(NamedTuple):
    """What ``encoder_forward`` keeps for ``encoder_backward``."""

    reverse_source: bool
    rows: np.ndarray  # (N, 1), with cols the index that reverses each row's real tokens
    cols: np.ndarray  # (N, S)
    embedding: tuple  # the embedding lookup's cache
    embed_mask: np.ndarray | None  # (N, S, E) dropout mask on the embeddings, or None
    stack: StackedCache


# ---------------------------------------------------------------------------------------------
def encoder_forward(
    cell: str,
    src: np.ndarray,
    p: dict[str, np.ndarray],
    bidirectional: bool = False,
    reverse_source: bool = False,
    num_layers: int = 1,
    masks: Sequence[np.ndarray | None] | None = None,
) -> tuple[np.ndarray, tuple, EncoderCache]:
    """Encode a right-padded batch of source ids.

    Parameters
    ----------
    cell : {"rnn", "gru", "lstm"}
    src : int ndarray of shape (N, S), 0 = padding, at least one real token per row
    p : parameters "src_embed" (V, E) and "enc_*" (names in ``params.py``)
    bidirectional, reverse_source : see the module docstring
    num_layers : k, the number of stacked layers
    masks : None (no dropout) or k dropout masks: masks[0] of shape (N, S, E) on the embeddings,
        masks[l] of shape (N, S, H) on layer l-1's output, in the order the encoder reads

    Returns
    -------
    hs : ndarray of shape (N, S, H), top-layer states in original source order
    state : flat tuple of k·n ndarrays of shape (N, H), the decoder's initial state
    cache : EncoderCache, for ``encoder_backward``
    """
    masks = _check_inputs(cell, src, p, bidirectional, num_layers, masks)
    N, S = src.shape
    mask = src != 0  # (N, S)
    rows, cols = reverse_padded_index(mask.sum(axis=1), S)
    ids = src[rows, cols] if reverse_source else src
    x, emb_cache = embedding_forward(ids, p["src_embed"])  # (N, S, E)
    x = dropout_forward(x, masks[0])
    enc = sub_params(p, "enc_")
    H = enc[layer_prefix(0, "fwd" if bidirectional else None) + "Wh"].shape[0]
    H = 2 * H if bidirectional else H
    zeros = tuple(np.zeros((N, H), dtype=x.dtype)
                  for _ in range(num_layers * CELLS[cell].n_states))
    hs, state, stack_cache = stacked_forward(cell, x, zeros, mask, enc, num_layers,
                                             bidirectional, masks[1:], trusted=True)
    if reverse_source:
        hs = hs[rows, cols]  # back to the order of the tokens the user gave
    return hs, state, EncoderCache(reverse_source, rows, cols, emb_cache, masks[0], stack_cache)


def _check_inputs(cell, src, p, bidirectional, num_layers, masks) -> list:
    """``encoder_forward``'s arguments, checked; returns the k dropout masks (None: no dropout)."""
    cell_type = check_stack(cell, num_layers)
    H = hidden_letters(bidirectional)
    masks, mask_specs = check_masks(masks, num_layers, ["N S E"] + [f"N S {H}"] * num_layers,
                                    "on the embeddings and between the layers")
    check_keys("p", p, ["src_embed"], "the source embeddings")
    check_arrays(src=(src, "N S", int), src_embed=(p["src_embed"], "V E"),
                 **stack_specs(cell_type, p, "enc_", num_layers, bidirectional, "E"), **mask_specs)
    check_ids("src", src, p["src_embed"].shape[0], "the rows of src_embed")
    return masks


def encoder_backward(
    dhs: np.ndarray, dstate: tuple, cache: EncoderCache, return_dstates: bool = False
) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
    """Backward of ``encoder_forward``.

    Parameters
    ----------
    dhs : ndarray of shape (N, S, H)
    dstate : flat tuple of ndarrays of shape (N, H), gradient of the final state
    return_dstates : also collect the total gradient reaching every top-layer encoder state

    Returns
    -------
    dx : ndarray of shape (N, S, E), gradient of each source embedding (before dropout), in
        original source order
    dstates : ndarray of shape (N, S, H), the total ∂L/∂h̄_s (through attention and through the
        recurrence) in original source order, or None without return_dstates
    grads : dict with "src_embed" and the encoder's recurrent parameters
    """
    check_cache(cache, EncoderCache, "encoder_forward")
    check_grads(dhs=(dhs, output_shape(cache.stack), "hs"))
    reverse_source, rows, cols, emb_cache, embed_mask, stack_cache = cache
    if reverse_source:
        dhs = dhs[rows, cols]  # the permutation is its own inverse
    dstates = np.empty_like(dhs) if return_dstates else None
    dx, _, g = stacked_backward(dhs, dstate, stack_cache, dstates, trusted=True)
    dx = dropout_backward(dx, embed_mask)
    grads = with_prefix(g, "enc_")
    grads["src_embed"] = embedding_backward(dx, emb_cache)
    if reverse_source:  # report per position of the source as given
        dx = dx[rows, cols]
        dstates = None if dstates is None else dstates[rows, cols]
    return dx, dstates, grads
