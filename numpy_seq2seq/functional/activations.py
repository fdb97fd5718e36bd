"""Elementwise activations shared by the cells and scores.

Letters: any shape; these act elementwise.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^{-x}) = (tanh(x/2) + 1) / 2; through tanh so large |x| never overflows exp.

    Computed in one buffer (``out=``) because it runs on every gate of every time step.
    """
    out = np.multiply(x, 0.5)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out
