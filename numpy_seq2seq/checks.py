"""Argument checks shared by the public functions (model, data, training, decoding, analysis).

Errors name the argument, what was expected and what was given, e.g.
``ValueError: hidden_dim must be a positive int, got 0``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Number:
    """The values a numeric setting accepts: a kind (int or float) and an optional range.

    One object serves both boundaries that read numbers: the config dataclasses check their
    fields with `check`, and every numeric option of the command line (course kit included) is
    read by `argument_type` (so ``--clip nan`` and ``TrainConfig(clip=float("nan"))`` are
    refused with the same words).
    Floats must be finite; bools are not numbers here.

    Examples
    --------
    >>> Number(float, low=0, high=1, low_open=True).describe()
    'a number in (0, 1]'
    """

    kind: type  # int or float
    low: float | None = None  # smallest allowed value (None: unbounded)
    high: float | None = None  # largest allowed value (None: unbounded)
    low_open: bool = False  # True excludes `low` itself
    high_open: bool = False  # True excludes `high` itself

    def describe(self) -> str:
        """What is expected, in words: 'an integer >= 1', 'a number in (0, 1]', …"""
        what = "an integer" if self.kind is int else "a number"
        if self.low is not None and self.high is not None:
            return (f"{what} in {'(' if self.low_open else '['}{self.low:g}, "
                    f"{self.high:g}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{what} {'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{what} {'<' if self.high_open else '<='} {self.high:g}"
        return what if self.kind is int else "a finite number"

    def accepts(self, value: Any) -> bool:
        """True if ``value`` is of the right kind, finite and in range."""
        if self.kind is int:
            if not is_int(value):
                return False
        elif isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                               np.floating)):
            return False
        elif not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def check(self, name: str, value: Any) -> Any:
        """Return ``value`` (as ``kind``), or raise ValueError naming ``name`` and the range."""
        if not self.accepts(value):
            raise ValueError(f"{name} must be {self.describe()}, got {value!r}")
        return self.kind(value)

    def parse(self, text: str) -> Any:
        """Read ``text`` as this number, or raise ValueError saying what was expected."""
        try:
            value = self.kind(text)
        except ValueError:
            value = None
        if value is None or not self.accepts(value):
            raise ValueError(f"expected {self.describe()}, got {text!r}")
        return value

    def argument_type(self) -> Callable[[str], Any]:
        """An argparse ``type=`` reading this number; argparse's message then names the flag:
        ``argument --clip: expected a number >= 0, got 'nan'``."""

        def parse(text: str) -> Any:
            try:
                return self.parse(text)
            except ValueError as err:
                raise argparse.ArgumentTypeError(str(err)) from None

        return parse
