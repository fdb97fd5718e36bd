"""Stacked, optionally bidirectional recurrent layers, as ``torch.nn.LSTM(num_layers=k,
bidirectional=...)`` runs them, forward and backward.

* **Stacking.** Layer 0 reads the input sequence x; layer l >= 1 reads layer l-1's output
  sequence. Each layer has its own weights and its own initial and final state.
* **Bidirectional.** A bidirectional layer is two recurrent layers of H/2 units: → reads each
  row's real steps left to right, ← right to left (padding stays at the right, see
  ``reverse_padded_index``). Its output [→h_t; ←h_t] has H units, and that is what the next
  layer reads, as PyTorch feeds its next layer.
* **Dropout between layers** (inverted, Zaremba et al. 2014): layer l's output is multiplied by
  a mask before layer l+1 reads it; the top layer's output is returned as it is.
* **State layout.** A stack's state is one flat tuple: layer l's state sits at positions
  l·n … l·n + n - 1, with n = 1 for (h,) and n = 2 for (h, c); every array is (N, H), for a
  bidirectional layer [→s; ←s] (the → half first). With one layer this is one layer's state.

Parameter names inside a stack's dict: ``Wx``, ``Wh``, ``b`` (, ``bhn``) for layer 0, ``l1_Wx`` …
for layer 1, with ``fwd_`` / ``bwd_`` after the layer's prefix when bidirectional
(``functional/params.py``).

Letters: N batch, T time, D input features of layer 0, H hidden units (every layer's output),
U = H/2 units per direction of a bidirectional layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..checks import (
    POSITIVE_INT,
    check_arrays,
    check_cache,
    check_grads,
    optional,
    refuse,
)
from .layers import dropout_backward, dropout_forward
from .params import layer_params, layer_prefix, with_prefix
from .recurrent import (
    CELLS,
    Cell,
    check_cell,
    check_state,
    recurrent_backward,
    recurrent_forward,
    reverse_padded_index,
    weight_specs,
)


class StackedCache(NamedTuple):
    """What ``stacked_forward`` keeps for ``stacked_backward``."""

    n_states: int  # arrays per layer in the flat state: 1 (h,) or 2 (h, c)
    rows: np.ndarray | None  # (N, 1), with cols the ← direction's index; None if unidirectional
    cols: np.ndarray | None  # (N, T)
    layers: list  # per layer, a tuple of RecurrentCache: (one,) or (→, ←)
    masks: list  # per layer l < k-1, the dropout mask on its output, (N, T, H) or None


def layer_states(state: tuple, n_states: int) -> list[tuple]:
    """Split a stack's flat state into one tuple per layer."""
    return [tuple(state[i : i + n_states]) for i in range(0, len(state), n_states)]


# ---------------------------------------------------------------------------------------------
# the checks the stack and the encoder and decoder around it share

def check_stack(cell: str, num_layers: int) -> Cell:
    """The cell of a stack of ``num_layers`` >= 1 layers, both checked."""
    POSITIVE_INT.check("num_layers", num_layers)
    return check_cell(cell)


def hidden_letters(bidirectional: bool) -> str:
    """How a stack's output size H is written in the checks: "H", or "2U" when bidirectional."""
    return "2U" if bidirectional else "H"


def stack_specs(cell_type: Cell, p: dict[str, np.ndarray], prefix: str, num_layers: int,
                bidirectional: bool, inputs: str = "D") -> dict[str, tuple]:
    """``check_arrays`` specs of every weight of a stack, named as in ``p`` (``prefix`` "enc_"
    gives "enc_l1_Wx"): layer 0 reads ``inputs`` features, layer l >= 1 the H below it."""
    units = "U" if bidirectional else "H"
    specs: dict[str, tuple] = {}
    for layer in range(num_layers):
        for direction in (("fwd", "bwd") if bidirectional else (None,)):
            specs.update(weight_specs(cell_type, p, prefix + layer_prefix(layer, direction),
                                      inputs if layer == 0 else hidden_letters(bidirectional),
                                      units))
    return specs


def check_masks(masks: Sequence | None, count: int, letters: list[str],
                where: str) -> tuple[list, dict[str, tuple]]:
    """``masks`` as a list of ``count`` (None or an array), and their ``check_arrays`` specs
    (``letters[i]``: mask i's shape); ``where`` says what the masks are for."""
    masks = list(masks) if masks is not None else [None] * count
    if len(masks) != count:
        raise refuse(f"masks must hold {count} dropout masks or None ({where}), got "
                     f"{len(masks)}")
    specs = {f"masks[{i}]": (m, s) for i, (m, s) in enumerate(zip(masks, letters))}
    return masks, optional(**specs)


def output_shape(cache: StackedCache) -> tuple[int, int, int]:
    """(N, T, H) of the stack's output, from its cache."""
    top = cache.layers[-1]
    return (*top[0].h_prev.shape[:2], sum(c.h_prev.shape[2] for c in top))


# ---------------------------------------------------------------------------------------------
def _layer_forward(cell, x, state0, mask, p, layer, rows, cols):
    """One layer, uni- (rows is None) or bidirectional: (hs (N, T, H), state, caches)."""
    if rows is None:
        p_layer = layer_params(p, layer_prefix(layer))
        hs, state, cache = recurrent_forward(cell, x, state0, mask, p_layer, trusted=True)
        return hs, state, (cache,)
    H2 = state0[0].shape[1] // 2
    hf, sf, cf = recurrent_forward(cell, x, tuple(s[:, :H2] for s in state0), mask,
                                   layer_params(p, layer_prefix(layer, "fwd")), trusted=True)
    hb, sb, cb = recurrent_forward(cell, x[rows, cols], tuple(s[:, H2:] for s in state0), mask,
                                   layer_params(p, layer_prefix(layer, "bwd")), trusted=True)
    hs = np.concatenate([hf, hb[rows, cols]], axis=-1)  # (N, T, H), ← states realigned
    return hs, tuple(np.concatenate(pair, axis=-1) for pair in zip(sf, sb)), (cf, cb)


def _layer_backward(dhs, dstate, caches, rows, cols, dh_total):
    """Backward of ``_layer_forward``: (dx, dstate0, grads under the layer's short names)."""
    if rows is None:
        return recurrent_backward(dhs, dstate, caches[0], dh_total, trusted=True)
    H2 = dhs.shape[-1] // 2
    dh_b = None if dh_total is None else np.empty_like(dhs[..., H2:])
    dx_f, ds_f, g_f = recurrent_backward(
        dhs[..., :H2], tuple(d[:, :H2] for d in dstate), caches[0],
        None if dh_total is None else dh_total[..., :H2],  # a view: filled in place
        trusted=True,
    )
    dx_b, ds_b, g_b = recurrent_backward(
        dhs[..., H2:][rows, cols], tuple(d[:, H2:] for d in dstate), caches[1], dh_b,
        trusted=True,
    )
    if dh_total is not None:
        dh_total[..., H2:] = dh_b[rows, cols]  # ← states back in step order
    dstate0 = tuple(np.concatenate(pair, axis=-1) for pair in zip(ds_f, ds_b))
    grads = {**with_prefix(g_f, "fwd_"), **with_prefix(g_b, "bwd_")}
    return dx_f + dx_b[rows, cols], dstate0, grads


# ---------------------------------------------------------------------------------------------
def stacked_forward(
    cell: str,
    x: np.ndarray,
    state0: tuple,
    mask: np.ndarray,
    p: dict[str, np.ndarray],
    num_layers: int = 1,
    bidirectional: bool = False,
    masks: Sequence[np.ndarray | None] | None = None,
    *,
    trusted: bool = False,
) -> tuple[np.ndarray, tuple, StackedCache]:
    """Run ``num_layers`` recurrent layers over a right-padded batch, each reading the one below.

    Parameters
    ----------
    cell : {"rnn", "gru", "lstm"}
    x : ndarray of shape (N, T, D), layer 0's input
    state0 : flat tuple of num_layers·n ndarrays of shape (N, H) (see the module docstring)
    mask : bool ndarray of shape (N, T), False at padded steps
    p : the stack's parameters, named as in the module docstring
    num_layers : k >= 1
    bidirectional : every layer reads both ways with H/2 units per direction
    masks : k-1 dropout masks or None; masks[l] of shape (N, T, H) multiplies layer l's output
        before layer l+1 reads it
    trusted : the caller checked these arguments (the encoder and the decoder check their
        stack's weights under the model's names), so they are not checked again

    Returns
    -------
    hs : ndarray of shape (N, T, H), the top layer's output at every step
    state : flat tuple like ``state0``, every layer's final state
    cache : StackedCache, for ``stacked_backward``
    """
    if trusted:
        masks = list(masks) if masks is not None else [None] * (num_layers - 1)
    else:
        masks = _check_inputs(cell, x, state0, mask, p, num_layers, bidirectional, masks)
    n_states = CELLS[cell].n_states
    rows = cols = None
    if bidirectional:
        rows, cols = reverse_padded_index(mask.sum(axis=1), mask.shape[1])
    state, caches = [], []
    for layer, s0 in enumerate(layer_states(state0, n_states)):
        if layer > 0:
            x = dropout_forward(x, masks[layer - 1])  # (N, T, H), what layer `layer` reads
        x, s, layer_cache = _layer_forward(cell, x, s0, mask, p, layer, rows, cols)
        state.extend(s)
        caches.append(layer_cache)
    return x, tuple(state), StackedCache(n_states, rows, cols, caches, masks)


def _check_inputs(cell, x, state0, mask, p, num_layers, bidirectional, masks) -> list:
    """``stacked_forward``'s arguments, checked; returns the k - 1 dropout masks."""
    cell_type = check_stack(cell, num_layers)
    check_state("state0", state0, cell_type, num_layers)
    H = hidden_letters(bidirectional)
    masks, mask_specs = check_masks(masks, num_layers - 1, [f"N T {H}"] * num_layers,
                                    "between the layers")
    check_arrays(x=(x, "N T D"), state0=(state0, f"N {H}"), mask=(mask, "N T", bool),
                 **stack_specs(cell_type, p, "", num_layers, bidirectional), **mask_specs)
    return masks


def stacked_backward(
    dhs: np.ndarray, dstate: tuple | None, cache: StackedCache,
    dh_total: np.ndarray | None = None, *, trusted: bool = False,
) -> tuple[np.ndarray, tuple, dict[str, np.ndarray]]:
    """Backward of ``stacked_forward``.

    Parameters
    ----------
    dhs : ndarray of shape (N, T, H), gradient of the top layer's outputs
    dstate : flat tuple of the final states' gradients, or None for zeros
    cache : from ``stacked_forward``
    dh_total : ndarray of shape (N, T, H), optional; filled with the total ∂L/∂h_t of the *top*
        layer (through the outputs and the recurrence), as in ``recurrent_backward``
    trusted : the caller checked dhs and dstate against the cache

    Returns
    -------
    dx : ndarray of shape (N, T, D)
    dstate0 : flat tuple like ``state0``
    grads : dict with the keys and shapes of ``p``
    """
    if not trusted:
        check_cache(cache, StackedCache, "stacked_forward")
        check_grads(dhs=(dhs, output_shape(cache), "hs"))
        if dstate is not None:
            check_state("dstate", dstate, cache.layers[0][0].cell_type, len(cache.layers))
            check_arrays(dhs=(dhs, "N T H"), dstate=(dstate, "N H"))
    n_states, rows, cols, caches, masks = cache
    N, T, H = dhs.shape
    if dstate is None:
        dstate = tuple(np.zeros((N, H), dtype=dhs.dtype) for _ in range(n_states * len(caches)))
    per_layer = layer_states(dstate, n_states)
    dstate0: list[tuple] = [()] * len(caches)
    grads: dict[str, np.ndarray] = {}
    dout = dhs
    for layer in reversed(range(len(caches))):
        dx, dstate0[layer], g = _layer_backward(
            dout, per_layer[layer], caches[layer], rows, cols,
            dh_total if layer == len(caches) - 1 else None,
        )
        grads.update(with_prefix(g, layer_prefix(layer)))
        if layer > 0:
            dout = dropout_backward(dx, masks[layer - 1])  # into layer-1's outputs
    return dx, tuple(s for layer_state in dstate0 for s in layer_state), grads
