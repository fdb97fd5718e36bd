"""History and TrainState: per-epoch records, the best-epoch rule, and the round trip through
the plain dicts a checkpoint stores."""

import numpy as np
import pytest

from numpy_seq2seq.config import TrainConfig
from numpy_seq2seq.history import History, TrainState, data_fingerprint


def _history(exact, loss):
    n = len(exact)
    return History(step=list(range(1, n + 1)), loss=[1.0] * n, grad_norm=[2.0] * n, lr=[0.1] * n,
                   epoch_end_steps=list(range(1, n + 1)), epoch_time=[0.5] * n,
                   epoch_end_time=[0.25] * n, epoch_lr=[0.1] * n, train_loss=[1.0] * n,
                   valid_loss=list(loss),
                   valid_exact_match=list(exact), valid_token_accuracy=[0.9] * n)


@pytest.mark.parametrize("exact, loss, best", [
    ([0.2, 0.9, 0.5], [3, 2, 1], 2),  # the highest exact match, whatever the loss
    ([0.9, 0.9, 0.5], [3, 2, 1], 2),  # a tie goes to the lower held-out loss
    ([0.9, 0.9, 0.9], [2, 2, 2], 1),  # and a full tie to the earlier epoch
])
def test_best_epoch(exact, loss, best):
    assert _history(exact, loss).best_epoch() == best
    assert History().best_epoch() is None


def test_epoch_record():
    h = _history([0.25, 0.5], [2.0, 1.5])
    assert h.epoch_record(-1) == {"epoch": 2, "step": 2, "train_loss": 1.0, "valid_loss": 1.5,
                                  "exact_match": 0.5, "token_accuracy": 0.9, "bleu": None,
                                  "char_bleu": None, "chrf": None, "lr": 0.1, "time": 0.5,
                                  "end_time": 0.25}
    assert [r["epoch"] for r in h.epoch_records()] == [1, 2]
    without = History(epoch_end_steps=[3], epoch_time=[1.0], epoch_lr=[0.1], train_loss=[2.0])
    assert without.epoch_record(0)["exact_match"] is None


def test_end_times_of_epochs_recorded_before_them_are_none():
    h = _history([0.25, 0.5, 0.75], [2.0, 1.5, 1.0])
    h.epoch_end_time = [0.125]  # resumed after 2 epochs from a checkpoint without end times
    assert [r["end_time"] for r in h.epoch_records()] == [None, None, 0.125]


def test_train_state_round_trip(rng):
    h = _history([0.25, 0.5], [2.0, 1.5])
    h.step.append(3)  # one step into epoch 3
    h.param_grad_norms = {"W": [0.1, 0.2, 0.3]}
    for key in ("loss", "grad_norm", "lr"):
        getattr(h, key).append(0.7)
    state = TrainState(TrainConfig(epochs=4), h, "fp", {"lr": 0.1, "t": 3, "m/W": rng.random(2)},
                       {"name": "plateau", "current": 0.05, "lowest": 1.5},
                       {"data_order": rng.bit_generator.state}, {}, [1.25, 7, 0.5])
    assert (state.epoch, state.step, state.batch) == (2, 3, 1)
    back = TrainState.from_dict(state.to_dict())
    assert back.history == h and back.config == state.config
    assert back.rng_states == state.rng_states and back.epoch_sums == [1.25, 7, 0.5]
    assert back.schedule == {"name": "plateau", "current": 0.05, "lowest": 1.5}
    np.testing.assert_array_equal(back.optimizer["m/W"], state.optimizer["m/W"])
    with pytest.raises(ValueError, match="training state version 99"):
        TrainState.from_dict({**state.to_dict(), "version": 99})


def test_data_fingerprint_sees_any_change():
    src, tgt = [np.array([4, 5]), np.array([6])], [np.array([1, 7, 2]), np.array([1, 8, 2])]
    fp = data_fingerprint(src, tgt)
    assert fp == data_fingerprint([list(s) for s in src], [list(t) for t in tgt])
    assert fp != data_fingerprint(src[::-1], tgt[::-1])
    assert fp != data_fingerprint([np.array([4]), np.array([5, 6])], tgt)  # same ids, split else


def test_a_version_1_state_resumes_with_the_plateau_rule_it_was_trained_with(rng):
    """Before schedules were objects, the plateau rule was the only one: its memory was the
    lowest held-out loss and the optimizer's lr, and its config knew no schedule field."""
    state = TrainState(TrainConfig(epochs=4), _history([0.25, 0.5], [2.0, 1.5]), "fp",
                       {"lr": 0.0025, "t": 2})
    old = state.to_dict()
    old["version"] = 1
    old["lowest_valid_loss"] = 1.5
    del old["schedule"]
    for key in ("schedule", "min_lr", "warmup", "select", "patience"):
        del old["config"][key]
    back = TrainState.from_dict(old)
    assert back.config.schedule == "plateau" and back.config.min_lr == 0.0
    assert back.schedule == {"name": "plateau", "current": 0.0025, "lowest": 1.5}


@pytest.mark.parametrize("metric, best", [("exact", 2), ("chrf", 3), ("bleu", 1), ("loss", 3)])
def test_best_epoch_by_each_selection_metric(metric, best):
    h = _history([0.2, 0.9, 0.5], [3.0, 2.0, 1.0])
    h.valid_chrf, h.valid_bleu = [10.0, 20.0, 30.0], [5.0, 4.0, 3.0]
    assert h.best_epoch(metric) == best
    assert h.epochs_without_improvement(metric) == 3 - best
    with pytest.raises(ValueError, match=r"unknown selection metric 'f1'.*'bleu', 'chrf'"):
        h.best_epoch("f1")
