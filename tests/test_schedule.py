"""Learning-rate schedules: the rate at each step, warm-up and floor, the plateau rule, and the
state a checkpoint keeps."""

import math

import pytest

from numpy_seq2seq.schedule import SCHEDULES, make_schedule

LR, FLOOR, STEPS = 0.01, 1e-4, 200


@pytest.mark.parametrize("name", ["cosine", "linear"])
def test_decaying_schedules_warm_up_then_end_at_the_floor(name):
    s = make_schedule(name, LR, STEPS, min_lr=FLOOR, warmup=0.05)
    rates = [s.lr(t) for t in range(1, STEPS + 1)]
    assert s.warmup_steps == 10
    assert rates[0] == pytest.approx(LR / 10) and rates[9] == pytest.approx(LR)  # linear rise
    assert all(a > b for a, b in zip(rates[10:], rates[11:]))  # then strictly down
    assert rates[-1] == pytest.approx(FLOOR)  # the last planned step is at the floor
    assert s.lr(STEPS + 50) == pytest.approx(FLOOR)  # and never below it


def test_cosine_is_halfway_at_the_middle_of_the_decay():
    s = make_schedule("cosine", LR, 201, min_lr=FLOOR, warmup=0.0)
    assert s.lr(1) == LR
    assert s.lr(101) == pytest.approx(FLOOR + (LR - FLOOR) / 2)
    assert s.lr(51) == pytest.approx(FLOOR + (LR - FLOOR) * (1 + math.cos(math.pi / 4)) / 2)


def test_linear_falls_by_the_same_amount_each_step():
    s = make_schedule("linear", LR, 101, min_lr=0.0, warmup=0.0)
    assert s.lr(51) == pytest.approx(LR / 2)


def test_plateau_decays_after_an_epoch_without_a_new_low_and_stops_at_the_floor():
    s = make_schedule("plateau", LR, STEPS, min_lr=0.003, decay=0.5)
    seen = []
    for loss in (2.0, 1.5, 1.6, 1.4, 1.7, 1.8, None):  # None: an epoch that was not scored
        s.epoch_end(loss)
        seen.append(s.lr(1))
    assert seen == [LR, LR, LR / 2, LR / 2, 0.003, 0.003, 0.003]


def test_constant_ignores_steps_and_scores():
    s = make_schedule("constant", LR, STEPS)
    s.epoch_end(5.0)
    assert {s.lr(t) for t in (1, 100, 10_000)} == {LR}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_state_dict_round_trip_continues_the_same_rates(name):
    a = make_schedule(name, LR, STEPS, min_lr=FLOOR, warmup=0.05, decay=0.5)
    for loss in (2.0, 2.5):
        a.epoch_end(loss)
    b = make_schedule(name, LR, STEPS, min_lr=FLOOR, warmup=0.05, decay=0.5)
    b.load_state_dict(a.state_dict())
    assert [b.lr(t) for t in range(1, STEPS)] == [a.lr(t) for t in range(1, STEPS)]


def test_a_stored_schedule_of_another_kind_is_refused():
    with pytest.raises(ValueError, match="the stored schedule is 'plateau', not 'cosine'"):
        make_schedule("cosine", LR, STEPS).load_state_dict({"name": "plateau"})
    with pytest.raises(ValueError, match=r"unknown schedule 'step'; choose one of \['constant'"):
        make_schedule("step", LR, STEPS)
