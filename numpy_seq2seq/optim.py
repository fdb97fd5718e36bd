"""Optimizers and gradient clipping, written by hand over ``params`` / ``grads`` dicts.

A model keeps its parameters in a dict ``params`` (name -> ndarray) and its backward pass returns
``grads`` with the same keys and shapes. Every optimizer here updates the arrays of ``params``
**in place** (``p -= ...``), so the model that owns the dict sees the new values without any
copying, and every parameter keeps its dtype (a float32 model stays float32).

Update rules, with g the gradient, lr the learning rate and t the step count (starting at 1):

* SGD:       p <- p - lr * g
* Momentum:  v <- mu * v - lr * g ;  p <- p + v          (classical heavy ball, see `Momentum`)
* Adam:      m <- b1 * m + (1 - b1) * g
             v <- b2 * v + (1 - b2) * g**2
             p <- p - lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)

`clip_grad_norm` rescales all gradients together so that their global L2 norm is at most
``max_norm`` (Pascanu et al. 2013), the usual remedy for exploding gradients in RNNs.

Optimizer state (``state_dict()``) is a flat dict of plain floats, ints and arrays whose keys look
like ``"lr"``, ``"t"``, ``"m/enc_Wx"``, so it can be written straight into an ``.npz`` file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping

import numpy as np

from .checks import POSITIVE, UNIT_INTERVAL
from .config import OPTIMIZER_CHOICES

__all__ = ["SGD", "Momentum", "Adam", "Optimizer", "clip_grad_norm", "global_grad_norm",
           "grad_norms", "make_optimizer",
           "OPTIMIZERS"]

Params = MutableMapping[str, np.ndarray]
Grads = Mapping[str, np.ndarray]


# ----------------------------------------------------------------------------------------------
# validation (at the public boundary only; numbers through checks.py)

def _check_grads(params: Grads, grads: Grads) -> None:
    """Raise ValueError unless ``grads`` has exactly the keys and shapes of ``params``."""
    missing = sorted(set(params) - set(grads))
    extra = sorted(set(grads) - set(params))
    if missing or extra:
        raise ValueError(
            f"grads keys must equal params keys; missing from grads: {missing}, "
            f"not in params: {extra}"
        )
    for key, p in params.items():
        g_shape = np.shape(grads[key])
        if g_shape != p.shape:
            raise ValueError(
                f"grad {key!r} has shape {g_shape}, expected the param's shape {p.shape}"
            )


# ----------------------------------------------------------------------------------------------
# optimizers

class Optimizer:
    """Base class: holds the live ``params`` dict, the learning rate and the step count.

    Parameters
    ----------
    params : dict of str to ndarray
        The model's parameter dict. It is stored by reference, not copied: ``step`` writes into
        these very arrays.
    lr : float
        Learning rate, > 0. It is a plain attribute, so a schedule may change ``opt.lr``
        between steps.

    Attributes
    ----------
    t : int
        Number of ``step`` calls so far.
    """

    #: names of per-parameter state buffers, e.g. ("m", "v") for Adam
    buffers: tuple[str, ...] = ()
    #: names of float hyperparameters saved in the state dict besides "lr"
    hyperparameters: tuple[str, ...] = ()

    def __init__(self, params: Params, lr: float) -> None:
        for key, p in params.items():
            # in-place updates need a real floating array; a list or an int array would
            # silently fail to update or truncate
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise TypeError(
                    f"param {key!r} must be a floating-point ndarray, got "
                    f"{type(p).__name__} of dtype {getattr(p, 'dtype', None)}"
                )
        self.params = params
        self.lr = POSITIVE.check("lr", lr)
        self.t = 0
        # state buffers in the param's dtype, so float32 models keep float32 memory traffic
        self.state: dict[str, dict[str, np.ndarray]] = {
            name: {k: np.zeros_like(p) for k, p in params.items()} for name in self.buffers
        }

    def step(self, grads: Grads) -> None:
        """Apply one update to every parameter, in place.

        Parameters
        ----------
        grads : dict of str to ndarray
            Gradients with exactly the keys and shapes of ``params``.

        Raises
        ------
        ValueError
            If the keys or a shape differ from ``params``.
        """
        _check_grads(self.params, grads)
        POSITIVE.check("lr", self.lr)
        self.t += 1
        for key, p in self.params.items():
            self._update(key, p, np.asarray(grads[key]))

    def _update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, float | int | np.ndarray]:
        """Return the optimizer state as a flat dict of floats, ints and array copies.

        Keys are ``"lr"``, ``"t"``, the hyperparameters, and ``"<buffer>/<param name>"`` for each
        per-parameter buffer; all values can be stored in an ``.npz`` file.
        """
        state: dict[str, float | int | np.ndarray] = {"lr": self.lr, "t": self.t}
        for name in self.hyperparameters:
            state[name] = float(getattr(self, name))
        for name, bufs in self.state.items():
            for key, buf in bufs.items():
                state[f"{name}/{key}"] = buf.copy()
        return state

    def load_state_dict(self, state: Mapping[str, float | int | np.ndarray]) -> None:
        """Restore a state produced by `state_dict` (values may be 0-d arrays, as from npz).

        Raises
        ------
        ValueError
            If a key is missing or unexpected, or a buffer's shape differs from its param's.
        """
        expected = {"lr", "t", *self.hyperparameters}
        expected |= {f"{name}/{key}" for name in self.buffers for key in self.params}
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or extra:
            raise ValueError(
                f"{type(self).__name__} state does not match its params; missing: {missing}, "
                f"unexpected: {extra}"
            )
        for name in self.buffers:
            for key, p in self.params.items():
                value = np.asarray(state[f"{name}/{key}"])
                if value.shape != p.shape:
                    raise ValueError(
                        f"state {name}/{key!r} has shape {value.shape}, expected {p.shape}"
                    )
        # validated everything first, so a bad state never leaves the optimizer half-loaded
        self.lr = POSITIVE.check("lr", float(state["lr"]))
        self.t = int(state["t"])
        for name in self.hyperparameters:
            setattr(self, name, float(state[name]))
        for name in self.buffers:
            for key in self.params:
                # copy into the existing buffer: keeps its dtype and owns its memory
                self.state[name][key][...] = state[f"{name}/{key}"]

    def __repr__(self) -> str:
        hyper = "".join(f", {n}={getattr(self, n)}" for n in self.hyperparameters)
        return f"{type(self).__name__}(lr={self.lr}{hyper}, t={self.t})"


class SGD(Optimizer):
    """Plain stochastic gradient descent: ``p <- p - lr * g``.

    Parameters
    ----------
    params : dict of str to ndarray
        Live parameter dict, updated in place.
    lr : float
        Learning rate, > 0.
    """

    def _update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        # same_kind casting lets a float64 product land in a float32 param
        p -= self.lr * g


class Momentum(Optimizer):
    """SGD with classical (heavy-ball) momentum, Polyak 1964 / Sutskever et al. 2013.

    ``v <- mu * v - lr * g`` then ``p <- p + v``, with ``v`` starting at zero.

    Convention: the learning rate is folded into the velocity. PyTorch instead keeps
    ``b <- mu * b + g`` and steps ``p <- p - lr * b``; the two produce identical iterates while
    ``lr`` is constant, and differ only after ``lr`` changes (here the old velocity keeps the old
    learning rate's scale).

    Parameters
    ----------
    params : dict of str to ndarray
        Live parameter dict, updated in place.
    lr : float
        Learning rate, > 0.
    momentum : float
        Decay ``mu`` of the velocity, in [0, 1). 0 gives plain SGD.
    """

    buffers = ("velocity",)
    hyperparameters = ("momentum",)

    def __init__(self, params: Params, lr: float, momentum: float = 0.9) -> None:
        self.momentum = UNIT_INTERVAL.check("momentum", momentum)
        super().__init__(params, lr)

    def _update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        v = self.state["velocity"][key]
        v *= self.momentum
        v -= self.lr * g
        p += v


class Adam(Optimizer):
    """Adam with bias correction, Kingma & Ba 2015 (Algorithm 1).

    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
    ``p <- p - lr * m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m / (1 - b1^t)`` and
    ``v_hat = v / (1 - b2^t)``. The bias correction undoes the zero initialisation of ``m`` and
    ``v``, which would otherwise make the first steps far too small.

    Parameters
    ----------
    params : dict of str to ndarray
        Live parameter dict, updated in place.
    lr : float
        Learning rate (the paper's alpha), > 0.
    beta1, beta2 : float
        Decay rates of the first and second moment estimates, in [0, 1).
    eps : float
        Added to ``sqrt(v_hat)`` to avoid division by zero, > 0.
    """

    buffers = ("m", "v")
    hyperparameters = ("beta1", "beta2", "eps")

    def __init__(self, params: Params, lr: float = 1e-3, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.beta1 = UNIT_INTERVAL.check("beta1", beta1)
        self.beta2 = UNIT_INTERVAL.check("beta2", beta2)
        self.eps = POSITIVE.check("eps", eps)
        super().__init__(params, lr)

    def _update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        m, v = self.state["m"][key], self.state["v"][key]
        m *= self.beta1
        m += (1.0 - self.beta1) * g
        v *= self.beta2
        v += (1.0 - self.beta2) * (g * g)
        # bias corrections are scalars, computed in Python floats (float64)
        m_hat = m / (1.0 - self.beta1 ** self.t)
        v_hat = v / (1.0 - self.beta2 ** self.t)
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


# by the names config.py lists (TrainConfig checks the name before an optimizer is built)
OPTIMIZERS: dict[str, type[Optimizer]] = dict(zip(OPTIMIZER_CHOICES, (SGD, Momentum, Adam)))


def make_optimizer(name: str, params: Params, lr: float, **kwargs: float) -> Optimizer:
    """Build an optimizer by name.

    Parameters
    ----------
    name : {"sgd", "momentum", "adam"}
        Case-insensitive optimizer name.
    params : dict of str to ndarray
        Live parameter dict, updated in place by ``step``.
    lr : float
        Learning rate, > 0.
    **kwargs
        Further hyperparameters of that optimizer (``momentum``; ``beta1``, ``beta2``, ``eps``).

    Returns
    -------
    Optimizer

    Raises
    ------
    ValueError
        If ``name`` is not one of the choices.
    """
    try:
        cls = OPTIMIZERS[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}"
        ) from None
    return cls(params, lr, **kwargs)


# ----------------------------------------------------------------------------------------------
# gradient clipping

def grad_norms(grads: Grads) -> dict[str, float]:
    """The L2 norm of each gradient, by key, accumulated in float64 (the trainer logs them)."""
    norms = {}
    for key, g in grads.items():
        g64 = np.asarray(g, dtype=np.float64).ravel()
        norms[key] = math.sqrt(float(np.dot(g64, g64)))
    return norms


def global_grad_norm(grads: Grads, norms: Mapping[str, float] | None = None) -> float:
    """Return the L2 norm of all gradients taken together, ``sqrt(sum_k sum(g_k ** 2))``.

    Computed from the per-gradient norms (``norms`` if already known, else ``grad_norms``), in
    float64 so float32 gradients of a large model do not lose precision. Returns ``inf`` or
    ``nan`` if any gradient is non-finite.
    """
    norms = grad_norms(grads) if norms is None else norms
    return math.sqrt(sum(n * n for n in norms.values()))


def clip_grad_norm(
    grads: MutableMapping[str, np.ndarray],
    max_norm: float | None,
    norms: Mapping[str, float] | None = None,
) -> float:
    """Scale all gradients in place so their global L2 norm is at most ``max_norm``.

    If the global norm ``n`` exceeds ``max_norm``, every gradient is multiplied by
    ``max_norm / n`` (one shared factor, so the update keeps its direction).

    Parameters
    ----------
    grads : dict of str to ndarray
        Gradients, modified in place when clipped.
    max_norm : float or None
        Threshold, > 0. ``None`` or ``inf`` disables clipping (the norm is still returned,
        which is useful for logging).
    norms : dict of str to float, optional
        The per-gradient norms from ``grad_norms``, if the caller has them already.

    Returns
    -------
    float
        The global norm **before** clipping. It is ``inf`` or ``nan`` when a gradient is
        non-finite; the gradients are then left untouched and nothing is raised, so the caller
        (the trainer) decides whether to skip the step or stop.
    """
    if max_norm is not None and max_norm != math.inf:  # None and inf: no clipping
        max_norm = POSITIVE.check("max_norm", max_norm)
    norm = global_grad_norm(grads, norms)
    # scaling by max_norm / inf would turn inf entries into nan, hiding where they were
    if max_norm is not None and math.isfinite(norm) and norm > max_norm:
        scale = max_norm / norm
        for g in grads.values():
            g *= scale
    return norm
