"""Parameter names: the one place where prefixes such as ``enc_`` and ``dec_`` are added and
removed.

The model keeps one flat dict (``enc_Wx``, ``dec_Wh``, ``W_a``, ...); a layer works on its own
unprefixed sub-dict (``Wx``, ``Wh``, ``b``) and returns gradients under those short names, which
the caller files back under the prefix.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def sub_params(p: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The entries of ``p`` under ``prefix``, with the prefix removed ("enc_Wx" -> "Wx")."""
    return {k[len(prefix) :]: v for k, v in p.items() if k.startswith(prefix)}


def with_prefix(grads: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The entries of ``grads`` with ``prefix`` added ("Wx" -> "enc_Wx")."""
    return {prefix + k: v for k, v in grads.items()}
