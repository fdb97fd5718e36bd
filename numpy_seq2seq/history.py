"""What a training run recorded (`History`) and where it stands (`TrainState`).

`History` is what the notebooks plot and ``metrics.json`` keeps: per-step loss and gradient
norms, per-epoch held-out scores. `TrainState` adds what continuing the run exactly needs: the
config, the optimizer's state, the learning-rate schedule's memory, the random generators'
states and the sums of an unfinished epoch. Both turn into plain
dicts of JSON values and arrays, which a checkpoint stores without pickle.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from .config import SELECT_METRICS, TrainConfig

__all__ = ["History", "TrainState", "data_fingerprint"]

STATE_VERSION = 2  # of TrainState.to_dict's layout; resuming reads versions 1 and 2
# Version 1 (before schedules were objects) kept the plateau rule's memory as lowest_valid_loss
# and knew no other schedule: its runs resume with the plateau schedule they were trained with.


@dataclass
class History:
    """What happened during training. Per-step lists share one index; per-epoch lists another.

    ``to_dict()`` gives the keys ``plots.plot_training`` reads; `epoch_record` one epoch's
    numbers as ``on_epoch_end`` and ``metrics.json`` show them.
    """

    step: list[int] = field(default_factory=list)  # optimizer step, 1-based
    loss: list[float] = field(default_factory=list)  # training loss of that step's batch
    grad_norm: list[float] = field(default_factory=list)  # global L2 norm, before clipping
    param_grad_norms: dict[str, list[float]] = field(default_factory=dict)  # name -> per step
    lr: list[float] = field(default_factory=list)  # learning rate used at each step
    epoch_end_steps: list[int] = field(default_factory=list)  # last step of each epoch
    epoch_time: list[float] = field(default_factory=list)  # seconds per epoch: training steps
    epoch_end_time: list[float] = field(default_factory=list)  # … its end: scoring, checkpoints
    epoch_lr: list[float] = field(default_factory=list)  # learning rate after the epoch's decay
    train_loss: list[float] = field(default_factory=list)  # token-weighted mean per epoch
    valid_loss: list[float] = field(default_factory=list)  # the valid_* lists stay empty
    valid_exact_match: list[float] = field(default_factory=list)  # without held-out data
    valid_token_accuracy: list[float] = field(default_factory=list)
    valid_bleu: list[float] = field(default_factory=list)  # empty unless BLEU was computed
    valid_chrf: list[float] = field(default_factory=list)  # computed with BLEU
    # the epochs (1-based) the valid_* lists belong to: every one, unless eval_every skipped some
    valid_epochs: list[int] = field(default_factory=list)
    max_norm: float | None = None  # the clipping threshold (None: no clipping)
    bleu_name: str = "bleu"  # "char_bleu" where BLEU counts character n-grams (char targets)
    stopped_early: int | None = None  # the epoch after which early stopping ended the run
    select: str | None = None  # the metric that picks the best epoch (config.SELECT_CHOICES)

    @property
    def epochs_done(self) -> int:
        return len(self.epoch_end_steps)

    @property
    def steps_done(self) -> int:
        return len(self.step)

    def epoch_record(self, i: int) -> dict[str, Any]:
        """Epoch ``i``'s numbers (``-1``: the last): ``epoch``, ``step`` (its last),
        ``train_loss``, ``valid_loss``, ``exact_match``, ``token_accuracy``, ``bleu`` (word BLEU)
        and ``char_bleu`` (over characters, for character targets; `bleu_name` says which of the
        two is computed, the other is None), ``chrf``,
        ``lr`` (after the epoch's decay), ``time`` (seconds of training steps) and ``end_time``
        (seconds of held-out scoring and checkpoint writing); held-out ones None without
        held-out data (BLEU and chrF also when not computed), ``end_time`` None for epochs
        recorded before it was."""
        i = range(self.epochs_done)[i]

        scored = self.scored_index(i + 1)

        def held_out(values: list[float]) -> float | None:
            return values[scored] if values and scored is not None else None

        # a run resumed from an older checkpoint lacks end times for its earlier epochs
        end_times = [None] * (self.epochs_done - len(self.epoch_end_time)) + self.epoch_end_time

        return {"epoch": i + 1, "step": self.epoch_end_steps[i],
                "train_loss": self.train_loss[i], "valid_loss": held_out(self.valid_loss),
                "exact_match": held_out(self.valid_exact_match),
                "token_accuracy": held_out(self.valid_token_accuracy),
                **{name: held_out(self.valid_bleu) if name == self.bleu_name else None
                   for name in ("bleu", "char_bleu")},
                "chrf": held_out(self.valid_chrf),
                "lr": self.epoch_lr[i],
                "time": self.epoch_time[i], "end_time": end_times[i]}

    def scored_index(self, epoch: int) -> int | None:
        """Where epoch ``epoch`` (1-based) sits in the valid_* lists; None if it was not scored."""
        epochs = self.score_epochs()
        return epochs.index(epoch) if epoch in epochs else None

    def score_epochs(self) -> list[int]:
        """The epochs (1-based) that have held-out scores, in order."""
        # a history recorded before eval_every scored every epoch and kept no valid_epochs
        return list(self.valid_epochs or range(1, len(self.valid_loss) + 1))

    def scores(self, metric: str) -> list[float]:
        """The held-out score per epoch by which ``metric`` (a `config.SELECT_CHOICES`) selects,
        oriented so that higher is better (the loss negated); empty if it was not computed."""
        sign = SELECT_METRICS[metric][1] if metric in SELECT_METRICS else 1
        return [sign * x for x in self.recorded(metric)]

    def recorded(self, metric: str) -> list[float]:
        """The held-out ``metric`` per epoch as recorded (the loss not negated)."""
        if metric not in SELECT_METRICS:
            raise ValueError(f"unknown selection metric {metric!r}; choose one of "
                             f"{sorted(SELECT_METRICS)}")
        return getattr(self, SELECT_METRICS[metric][0])

    def best_epoch(self, metric: str = "exact") -> int | None:
        """The epoch (1-based) with the best held-out ``metric`` (exact match by default; chrf,
        bleu or loss), ties going to the lower held-out loss, then to the earlier epoch; None
        without held-out scores of that metric."""
        scores = self.scores(metric)
        if not scores:
            return None
        best = max(range(len(scores)), key=lambda i: (scores[i], -self.valid_loss[i], -i))
        return self.score_epochs()[best]

    def score_at(self, metric: str, epoch: int) -> float:
        """The held-out ``metric`` as recorded after epoch ``epoch`` (1-based, a scored one)."""
        index = self.scored_index(epoch)
        if index is None:
            raise ValueError(f"epoch {epoch} has no held-out scores; scored epochs: "
                             f"{self.score_epochs()}")
        return self.recorded(metric)[index]

    def epochs_without_improvement(self, metric: str) -> int:
        """Epochs trained since the best epoch by ``metric`` (0 when the last is the best)."""
        best = self.best_epoch(metric)
        return 0 if best is None else self.epochs_done - best

    def epoch_records(self) -> list[dict[str, Any]]:
        """`epoch_record` of every finished epoch."""
        return [self.epoch_record(i) for i in range(self.epochs_done)]

    def to_dict(self, param_grad_norms: bool = True) -> dict[str, Any]:
        """A plain dict (JSON-serialisable); empty per-epoch validation lists become None.

        ``param_grad_norms=False`` leaves out the per-parameter norms (the bulk of the data).
        """
        d = asdict(self)
        for key in ("valid_loss", "valid_exact_match", "valid_token_accuracy", "valid_bleu",
                    "valid_chrf", "valid_epochs"):
            if not d[key]:
                d[key] = None
        if not param_grad_norms:
            del d["param_grad_norms"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """The inverse of `to_dict` (lists or arrays accepted, as a checkpoint returns them)."""

        def as_list(values: Any) -> list:
            return [] if values is None else np.asarray(values).tolist()

        scalars = ("max_norm", "bleu_name", "stopped_early", "select")
        known = {f.name for f in fields(cls)} - {"param_grad_norms", *scalars}
        return cls(**{k: as_list(v) for k, v in d.items() if k in known},
                   param_grad_norms={k: as_list(v)
                                     for k, v in d.get("param_grad_norms", {}).items()},
                   **{k: d[k] for k in scalars if d.get(k) is not None})


def data_fingerprint(src_seqs: Sequence[Sequence[int]], tgt_seqs: Sequence[Sequence[int]]) -> str:
    """A CRC-32 of the id sequences, so a resumed run can tell it got the same training pairs."""
    crc = 0
    for seq in (*src_seqs, *tgt_seqs):
        crc = zlib.crc32(np.asarray(seq, dtype=np.int64).tobytes() + b"|", crc)
    return f"{len(src_seqs)}:{crc:08x}"


# ---------------------------------------------------------------------------------------------

@dataclass
class TrainState:
    """Where a run stands: everything `train` needs to continue it as if it never stopped.

    The epoch, step and batch counters are read off the history; a stop in the middle of an
    epoch leaves ``batch > 0``, and resuming redraws that epoch's batch order from
    ``epoch_rng_states`` and continues at batch ``batch + 1`` (see training.py).
    """

    config: TrainConfig
    history: History
    fingerprint: str  # data_fingerprint of the training pairs
    optimizer: dict[str, Any] = field(default_factory=dict)  # Optimizer.state_dict()
    schedule: dict[str, Any] = field(default_factory=dict)  # Schedule.state_dict()
    rng_states: dict[str, dict] = field(default_factory=dict)  # name -> bit_generator.state
    epoch_rng_states: dict[str, dict] = field(default_factory=dict)  # ... at the epoch's start
    epoch_sums: list[float] = field(  # the unfinished epoch's Σ loss·labels, Σ labels, seconds
        default_factory=lambda: [0.0, 0, 0.0])

    @property
    def epoch(self) -> int:
        """Epochs finished."""
        return self.history.epochs_done

    @property
    def step(self) -> int:
        """Optimizer steps taken."""
        return self.history.steps_done

    @property
    def batch(self) -> int:
        """Batches done of the unfinished epoch ``epoch + 1`` (0 between epochs)."""
        return self.step - (self.history.epoch_end_steps[-1] if self.epoch else 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON values and arrays (the per-step history as arrays), for a checkpoint."""
        history = self.history.to_dict()
        history["step"] = np.asarray(history["step"], dtype=np.int64)
        for key in ("loss", "grad_norm", "lr"):
            history[key] = np.asarray(history[key], dtype=np.float64)
        history["param_grad_norms"] = {k: np.asarray(v, dtype=np.float64)
                                       for k, v in history["param_grad_norms"].items()}
        return {"version": STATE_VERSION, "config": self.config.to_dict(), "history": history,
                **{f.name: getattr(self, f.name) for f in fields(self)
                   if f.name not in ("config", "history")}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainState:
        """The inverse of `to_dict`; ValueError for a layout version this code does not read."""
        if d.get("version") not in (1, STATE_VERSION):
            raise ValueError(f"training state version {d.get('version')!r}; this numpy_seq2seq "
                             f"resumes versions 1 to {STATE_VERSION}")
        rest = {k: v for k, v in d.items() if k not in ("version", "config", "history")}
        config = dict(d["config"])
        if d["version"] == 1:  # the plateau rule was the only one, with no floor
            config.setdefault("schedule", "plateau")
            config.setdefault("min_lr", 0.0)
            rest["schedule"] = {"name": "plateau", "current": float(d["optimizer"]["lr"]),
                                "lowest": rest.pop("lowest_valid_loss", None)}
        return cls(TrainConfig.from_dict(config), History.from_dict(d["history"]), **rest)
