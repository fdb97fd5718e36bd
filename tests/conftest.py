"""Shared fixtures: every random generator in the tests is seeded here."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def ragged_batch() -> tuple[np.ndarray, np.ndarray]:
    """A right-padded batch of N=3: source lengths 6, 2, 7 and target lengths 5, 3, 4."""
    src = np.array([[5, 6, 7, 8, 9, 4, 0], [4, 5, 0, 0, 0, 0, 0], [9, 8, 7, 6, 5, 4, 6]])
    tgt = np.array([[1, 5, 6, 7, 2], [1, 8, 2, 0, 0], [1, 9, 10, 2, 0]])
    return src, tgt


def randomize(params: dict[str, np.ndarray], rng: np.random.Generator, scale: float = 0.5) -> None:
    """Move a model to a generic point: fresh N(0, scale²) values in every parameter, in place.

    At the default initialisation some gradients (e.g. the concat score's W_a) are ~1e-5, where
    the finite-difference rounding error (~1e-16 · |L| / h) is no longer small next to them.
    """
    for v in params.values():
        v[...] = rng.normal(0.0, scale, v.shape)
