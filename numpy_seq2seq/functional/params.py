"""Parameter names: the one place where prefixes such as ``enc_``, ``dec_`` and ``l1_`` are
added and removed.

The model keeps one flat dict (``enc_Wx``, ``dec_Wh``, ``W_a``, ...); a layer works on its own
unprefixed sub-dict (``Wx``, ``Wh``, ``b``) and returns gradients under those short names, which
the caller files back under the prefix.

Stacked layers: layer 0 keeps the plain names (``enc_Wx``), so checkpoints written before
``num_layers`` existed still load; layer l >= 1 inserts ``l{l}_`` (``enc_l1_Wx``), and a
bidirectional layer adds the direction (``enc_fwd_Wx``, ``enc_l1_bwd_Wx``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# the names one recurrent layer uses (``bhn``: GRU only)
CELL_PARAM_NAMES = ("Wx", "Wh", "b", "bhn")


def sub_params(p: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The entries of ``p`` under ``prefix``, with the prefix removed ("enc_Wx" -> "Wx")."""
    return {k[len(prefix) :]: v for k, v in p.items() if k.startswith(prefix)}


def with_prefix(grads: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The entries of ``grads`` with ``prefix`` added ("Wx" -> "enc_Wx")."""
    return {prefix + k: v for k, v in grads.items()}


def layer_prefix(layer: int, direction: str | None = None) -> str:
    """The name prefix of one recurrent layer inside a stack: "", "l1_", "fwd_", "l2_bwd_"."""
    return ("" if layer == 0 else f"l{layer}_") + ("" if direction is None else f"{direction}_")


def layer_params(p: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """One recurrent layer's ``Wx``, ``Wh``, ``b`` (and ``bhn``) from a stack's dict.

    Picks exactly the cell's names, so layer 0's prefix "" does not also collect "l1_Wx".
    """
    return {k: p[prefix + k] for k in CELL_PARAM_NAMES if prefix + k in p}
