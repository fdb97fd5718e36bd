"""Learning-rate schedules: the learning rate of every optimizer step, one object per rule.

Like the optimizers of ``optim.py``, a schedule keeps its state in ``state_dict()`` /
``load_state_dict()``, which ``checkpoint.npz`` stores, so a resumed run goes on with the very
learning rates of a run that never stopped. `train` asks it twice:

* ``schedule.lr(step)`` before optimizer step ``step`` (1-based): the learning rate to use;
* ``schedule.epoch_end(valid_loss)`` after each epoch's held-out scoring (None if not scored).

With lr₀ the starting rate (``--lr``), lr_min the floor (``--min-lr``), t the step and
t_max = epochs · batches per epoch the planned steps:

* ``constant``: lr_t = lr₀.
* ``plateau``: lr₀ · decay^k, k the epochs whose held-out loss was not a new low, never below
  lr_min (the rule before cosine became the default, kept for comparison).
* ``cosine`` (the default): a linear warm-up over the first t_w = warmup · t_max steps, then
  lr_t = lr_min + (lr₀ − lr_min) · (1 + cos(π p)) / 2 with p = (t − t_w − 1) / (t_max − t_w − 1),
  which ends at lr_min on the last planned step (Loshchilov & Hutter 2017, without restarts).
* ``linear``: the same warm-up, then lr_t = lr₀ − (lr₀ − lr_min) · p.

Why a decay to a floor: with a constant or plateau-halved rate, Adam's last steps are as large as
its first ones, and a float32 run's final epoch lands wherever the last update threw it — a held-
out score that moves by tenths of a point between machines whose BLAS sums in another order.
Decaying to a small floor makes the last epochs small refinements, so the final epoch is the
converged one (README, "Quick start", gives the measured spread).

Resuming with more epochs than planned (``--resume DIR --epochs N``) re-plans: t_max becomes
N · batches, so the rate goes back up to what a run planned for N epochs has at this step, then
decays to the floor by epoch N. A run resumed with the epochs it was planned with ends exactly
as if it had never stopped.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["SCHEDULES", "Schedule", "make_schedule"]


class Schedule:
    """The learning rate at each step. Subclasses define `lr`, and `epoch_end` if they listen
    to held-out scores."""

    name = "constant"

    def __init__(self, lr: float, total_steps: int, min_lr: float = 0.0, warmup: float = 0.0,
                 decay: float = 1.0) -> None:
        self.base_lr, self.total_steps, self.min_lr = float(lr), int(total_steps), float(min_lr)
        self.warmup_steps = round(warmup * self.total_steps)
        self.decay = float(decay)

    def lr(self, step: int) -> float:
        return self.base_lr

    def epoch_end(self, valid_loss: float | None) -> None:
        """Called after each epoch with its held-out loss (None when it was not scored)."""

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ValueError(f"the stored schedule is {state.get('name')!r}, not {self.name!r}")

    def _progress(self, step: int) -> float | None:
        """None during the warm-up, else p in [0, 1] over the steps after it."""
        if step <= self.warmup_steps:
            return None
        done = step - self.warmup_steps - 1  # the first step after the warm-up is at lr₀
        return min(1.0, done / max(1, self.total_steps - self.warmup_steps - 1))

    def _warm(self, step: int) -> float:
        return self.base_lr * step / self.warmup_steps


class Cosine(Schedule):
    name = "cosine"

    def lr(self, step: int) -> float:
        p = self._progress(step)
        if p is None:
            return self._warm(step)
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * p)) / 2


class Linear(Schedule):
    name = "linear"

    def lr(self, step: int) -> float:
        p = self._progress(step)
        return self._warm(step) if p is None else self.base_lr - (self.base_lr - self.min_lr) * p


class Plateau(Schedule):
    """Multiply the rate by ``decay`` after an epoch whose held-out loss is not a new low."""

    name = "plateau"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current, self.lowest = self.base_lr, None

    def lr(self, step: int) -> float:
        return self.current

    def epoch_end(self, valid_loss: float | None) -> None:
        if valid_loss is None:
            return
        if self.lowest is None or valid_loss < self.lowest:
            self.lowest = valid_loss
        else:
            self.current = max(self.min_lr, self.current * self.decay)

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, "current": self.current, "lowest": self.lowest}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.current, self.lowest = float(state["current"]), state["lowest"]


SCHEDULES: dict[str, type[Schedule]] = {s.name: s for s in (Schedule, Plateau, Cosine, Linear)}


def make_schedule(name: str, lr: float, total_steps: int, min_lr: float = 0.0,
                  warmup: float = 0.0, decay: float = 1.0) -> Schedule:
    """The schedule called ``name`` (a key of `SCHEDULES`) over ``total_steps`` planned steps."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {sorted(SCHEDULES)}")
    return SCHEDULES[name](lr, total_steps, min_lr=min_lr, warmup=warmup, decay=decay)
