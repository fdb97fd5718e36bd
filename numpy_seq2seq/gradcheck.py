"""Finite-difference gradient checking: the proof that every backward pass is right.

The numeric derivative uses centred differences,

    ∂f/∂x_i ≈ (f(x + h e_i) - f(x - h e_i)) / 2h,

whose error is O(h²) (one-sided differences are O(h)). Run checks in float64: with h = 1e-5 the
truncation error is ~1e-10 and the rounding error ~1e-16/1e-5 = 1e-11; float32 would drown the
comparison in rounding noise.

The relative error of an analytic gradient a against a numeric one n is

    rel_error(a, n) = ‖a - n‖₂ / max(‖a‖₂ + ‖n‖₂, 1e-30),

measured over a whole array (or the sampled coordinates of it). It is scale-free, 0 when the two
agree, 1 when one is zero and the other is not, and does not blow up on the individual
coordinates whose true gradient is 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


def rel_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """‖a - n‖ / max(‖a‖ + ‖n‖, 1e-30) (see the module docstring)."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"shapes differ: analytic {a.shape} vs numeric {n.shape}")
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-30))


def sample_indices(
    shape: tuple[int, ...], max_coords: int | None, rng: np.random.Generator
) -> np.ndarray:
    """Flat indices to check: all of them, or ``max_coords`` drawn without replacement."""
    size = int(np.prod(shape))
    if max_coords is None or size <= max_coords:
        return np.arange(size)
    return np.sort(rng.choice(size, size=max_coords, replace=False))


def numeric_gradient(
    f: Callable[[], float], x: np.ndarray, h: float = 1e-5, indices: np.ndarray | None = None
) -> np.ndarray:
    """Centred-difference gradient of the scalar ``f()`` with respect to the array ``x``.

    ``x`` is perturbed *in place* (and restored), so ``f`` must read it; this is how a check
    reaches a model's live parameters.

    Parameters
    ----------
    f : callable with no arguments returning a float
    x : float ndarray, any shape
    h : step size
    indices : flat indices to differentiate (default: all)

    Returns
    -------
    grad : ndarray of shape (len(indices),) (or x.shape when indices is None)
    """
    if x.dtype != np.float64:
        raise ValueError(f"gradient checks need float64 arrays, got {x.dtype}")
    flat = x.reshape(-1)  # a view: writing to it perturbs x
    if flat.base is not x and not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so it can be perturbed in place")
    idx = np.arange(flat.size) if indices is None else np.asarray(indices)
    grad = np.empty(len(idx))
    for j, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        grad[j] = (f_plus - f_minus) / (2 * h)
    return grad.reshape(x.shape) if indices is None else grad


@dataclass
class GradCheckReport:
    """Relative error per checked array, with a readable table."""

    errors: dict[str, float] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=dict)  # coordinates checked per array
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def worst(self) -> str:
        return max(self.errors, key=self.errors.get)

    def passed(self, tol: float) -> bool:
        return self.max_error <= tol

    def __str__(self) -> str:
        width = max((len(k) for k in self.errors), default=5)
        lines = [f"{'array':<{width}}  {'checked':>11}  rel. error"]
        for k, e in self.errors.items():
            checked = f"{self.checked[k]}/{self.sizes[k]}"
            lines.append(f"{k:<{width}}  {checked:>11}  {e:.2e}")
        lines.append(f"worst: {self.worst} {self.max_error:.2e}" if self.errors else "nothing")
        return "\n".join(lines)


def check_gradients(
    f: Callable[[], float],
    arrays: dict[str, np.ndarray],
    analytic: dict[str, np.ndarray],
    h: float = 1e-5,
    max_coords: int | None = 40,
    seed: int = 0,
) -> GradCheckReport:
    """Compare analytic gradients with centred differences, array by array.

    Parameters
    ----------
    f : callable returning the scalar loss; it must read the arrays in ``arrays`` (which are
        perturbed in place)
    arrays : name -> float64 array to perturb
    analytic : name -> gradient of f with respect to that array (same shape)
    h : finite-difference step
    max_coords : check at most this many randomly chosen coordinates per array (None: all)
    seed : seeds the coordinate sampling

    Returns
    -------
    GradCheckReport
    """
    rng = np.random.default_rng(seed)
    report = GradCheckReport()
    for name, x in arrays.items():
        if name not in analytic:
            raise ValueError(f"no analytic gradient for {name!r}; have {sorted(analytic)}")
        if analytic[name].shape != x.shape:
            raise ValueError(
                f"gradient of {name!r} has shape {analytic[name].shape}, expected {x.shape}"
            )
        idx = sample_indices(x.shape, max_coords, rng)
        num = numeric_gradient(f, x, h, idx)
        report.errors[name] = rel_error(analytic[name].reshape(-1)[idx], num)
        report.checked[name] = len(idx)
        report.sizes[name] = x.size
    return report


def check_model(
    model, src, tgt, h: float = 1e-5, max_coords: int | None = 40, seed: int = 0,
    dropout_seed: int | None = None,
):
    """Check every parameter gradient of a float64 ``Seq2Seq`` on one batch.

    Parameters
    ----------
    dropout_seed : int, optional
        Check the model with dropout active: every pass (the analytic one and each perturbed
        one) gets a fresh generator seeded with this, so all of them draw the same masks and
        differentiate one and the same function. None: no dropout.

    Returns
    -------
    GradCheckReport with one row per parameter
    """
    if model.dtype != np.float64:
        raise ValueError(f"build the model with dtype=np.float64 to check it, got {model.dtype}")

    def rng() -> np.random.Generator | None:
        return None if dropout_seed is None else np.random.default_rng(dropout_seed)

    _, grads = model.loss_and_grads(src, tgt, rng=rng())
    return check_gradients(
        lambda: model.loss(src, tgt, rng=rng()), model.params, grads, h=h,
        max_coords=max_coords, seed=seed,
    )


def check_layer(
    forward: Callable[..., tuple],
    backward: Callable[..., tuple],
    inputs: dict[str, np.ndarray],
    seed: int = 0,
    h: float = 1e-5,
    max_coords: int | None = None,
) -> GradCheckReport:
    """Check a functional ``*_forward`` / ``*_backward`` pair.

    The scalar checked is L = Σ out ⊙ dout for a fixed random ``dout``, whose gradient with
    respect to out is dout; so ``backward(dout, cache)`` must return ∂L/∂input.

    Parameters
    ----------
    forward : called as ``forward(**inputs)``, returns (out, cache)
    backward : called as ``backward(dout, cache)``, returns a dict name -> gradient for the
        names of ``inputs`` that are checked (adapt positional returns with a lambda)
    inputs : name -> float64 array (non-float entries, e.g. masks, are passed through unchecked)

    Returns
    -------
    GradCheckReport
    """
    rng = np.random.default_rng(seed)
    out, cache = forward(**inputs)
    dout = rng.standard_normal(np.shape(out))
    analytic = backward(dout, cache)

    def f() -> float:
        # every call reads the current (perturbed) arrays in ``inputs``
        return float(np.sum(forward(**inputs)[0] * dout))

    arrays = {k: v for k, v in inputs.items() if k in analytic}
    return check_gradients(f, arrays, analytic, h=h, max_coords=max_coords, seed=seed)
