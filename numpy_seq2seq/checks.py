"""Argument checks shared by the public functions (model, data, training, decoding, analysis).

Errors name the argument, what was expected and what was given, e.g.
``ValueError: hidden_dim must be a positive int, got 0``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def is_int(value: Any) -> bool:
    """True for Python and NumPy integers; False for bools (``True`` is an int in Python)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_int(name: str, value: Any, minimum: int = 1, or_none: bool = False) -> int:
    """Return ``value`` as an int, or raise ValueError naming ``name`` and the expected range.

    Parameters
    ----------
    name : the argument's name, used in the message
    value : what the caller passed
    minimum : the smallest allowed value (1: "a positive int", 0: "a non-negative int")
    or_none : say in the message that None is also accepted (the caller handles None)
    """
    if not is_int(value) or value < minimum:
        what = {1: "a positive int", 0: "a non-negative int"}.get(minimum, f"an int >= {minimum}")
        raise ValueError(f"{name} must be {what}{' or None' if or_none else ''}, got {value!r}")
    return int(value)
