"""The gradient checker itself: it must be right on known gradients and catch wrong ones."""

import numpy as np
import pytest

from numpy_seq2seq.gradcheck import check_gradients, numeric_gradient, rel_error


def test_rel_error_is_zero_for_equal_and_one_for_zero_vs_nonzero(rng):
    a = rng.standard_normal((3, 4))
    assert rel_error(a, a.copy()) == 0.0
    assert rel_error(a, np.zeros_like(a)) == pytest.approx(1.0)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(a, a.T)


def test_numeric_gradient_of_known_function(rng):
    x = rng.standard_normal((4, 3))
    W = rng.standard_normal((3, 5))
    f = lambda: float(np.sum(np.sin(x @ W)))
    expected = np.cos(x @ W) @ W.T
    assert rel_error(numeric_gradient(f, x), expected) < 1e-9
    assert np.array_equal(x, x.copy())  # restored after perturbation


def test_numeric_gradient_rejects_float32():
    with pytest.raises(ValueError, match="float64"):
        numeric_gradient(lambda: 0.0, np.zeros(3, dtype=np.float32))


def test_check_gradients_catches_a_wrong_gradient_and_reports(rng):
    x = rng.standard_normal(6)
    f = lambda: float(np.sum(x**3))
    good = check_gradients(f, {"x": x}, {"x": 3 * x**2}, max_coords=None)
    bad = check_gradients(f, {"x": x}, {"x": 3 * x**2 + 0.01}, max_coords=None)
    assert good.max_error < 1e-9
    assert bad.max_error > 1e-4
    assert "x" in str(bad) and "worst" in str(bad)


def test_sampled_coordinates(rng):
    x = rng.standard_normal((50, 50))
    r = check_gradients(lambda: float(np.sum(x**2)), {"x": x}, {"x": 2 * x}, max_coords=30)
    assert r.checked["x"] == 30 and r.sizes["x"] == 2500 and r.max_error < 1e-7
