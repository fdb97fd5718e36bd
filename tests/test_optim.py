"""Tests for numpy_seq2seq.optim: hand-computed updates, in-place semantics, state, clipping."""

import math

import numpy as np
import pytest

from numpy_seq2seq.optim import (
    SGD,
    Adam,
    Momentum,
    clip_grad_norm,
    make_optimizer,
)

ALL = [SGD, Momentum, Adam]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def make_params(rng, dtype=np.float64):
    # distinct shapes so a mixed-up key or a transpose fails
    return {
        "W": rng.standard_normal((3, 5)).astype(dtype),
        "b": rng.standard_normal(5).astype(dtype),
    }


def make_grads(rng, params, dtype=np.float64):
    return {k: rng.standard_normal(p.shape).astype(dtype) for k, p in params.items()}


# ----------------------------------------------------------------------------------------------
# hand-computed steps

def test_sgd_step_by_hand():
    params = {"w": np.array([1.0, -2.0]), "b": np.array([0.5])}
    opt = SGD(params, lr=0.1)
    opt.step({"w": np.array([0.5, 0.25]), "b": np.array([-1.0])})
    # p - lr * g
    np.testing.assert_allclose(params["w"], [1.0 - 0.1 * 0.5, -2.0 - 0.1 * 0.25], rtol=1e-15)
    np.testing.assert_allclose(params["b"], [0.5 + 0.1 * 1.0], rtol=1e-15)
    assert opt.t == 1


def test_momentum_two_steps_by_hand():
    params = {"w": np.array([1.0, 2.0])}
    opt = Momentum(params, lr=0.1, momentum=0.9)
    opt.step({"w": np.array([0.5, -1.0])})
    # v1 = 0.9 * 0 - 0.1 * g1 = [-0.05, 0.1]; p1 = p0 + v1
    np.testing.assert_allclose(params["w"], [0.95, 2.1], rtol=1e-14)
    opt.step({"w": np.array([0.5, 2.0])})
    # v2 = 0.9 * v1 - 0.1 * g2 = [-0.045 - 0.05, 0.09 - 0.2] = [-0.095, -0.11]
    np.testing.assert_allclose(params["w"], [0.95 - 0.095, 2.1 - 0.11], rtol=1e-14)


def test_adam_two_steps_by_hand():
    params = {"w": np.array([1.0])}
    opt = Adam(params, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)

    opt.step({"w": np.array([0.5])})
    # m1 = 0.1 * 0.5 = 0.05            m_hat = 0.05 / (1 - 0.9) = 0.5
    # v1 = 0.001 * 0.25 = 0.00025      v_hat = 0.00025 / (1 - 0.999) = 0.25, sqrt = 0.5
    p1 = 1.0 - 0.1 * 0.5 / (0.5 + 1e-8)
    np.testing.assert_allclose(params["w"], [p1], rtol=1e-14)

    opt.step({"w": np.array([-1.0])})
    # m2 = 0.9 * 0.05 + 0.1 * (-1) = -0.055          m_hat = -0.055 / (1 - 0.81) = -0.055 / 0.19
    # v2 = 0.999 * 0.00025 + 0.001 * 1 = 0.00124975  v_hat = 0.00124975 / (1 - 0.998001)
    m_hat = -0.055 / 0.19
    v_hat = 0.00124975 / 0.001999
    p2 = p1 - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(params["w"], [p2], rtol=1e-12)
    # sanity on the arithmetic above: the step moved w up by about lr * 0.366
    assert p2 - p1 == pytest.approx(0.1 * 0.2894736842 / 0.7906877, rel=1e-6)


# ----------------------------------------------------------------------------------------------
# in-place, dtype, state

@pytest.mark.parametrize("cls", ALL)
def test_update_is_in_place_and_visible_through_original_dict(cls, rng):
    params = make_params(rng)
    W_before = params["W"].copy()
    W_alias = params["W"]  # e.g. a reference held by the model
    opt = cls(params, lr=0.01)
    opt.step(make_grads(rng, params))
    assert params["W"] is W_alias
    assert not np.allclose(W_alias, W_before)


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("grad_dtype", [np.float32, np.float64])
def test_dtype_preserved(cls, grad_dtype, rng):
    params = make_params(rng, dtype=np.float32)
    opt = cls(params, lr=0.01)
    for _ in range(2):
        opt.step(make_grads(rng, params, dtype=grad_dtype))
    assert all(p.dtype == np.float32 for p in params.values())


@pytest.mark.parametrize("cls", ALL)
def test_state_dict_round_trip_through_npz(cls, rng, tmp_path):
    params = make_params(rng)
    grads = [make_grads(rng, params) for _ in range(3)]
    opt = cls(params, lr=0.01)
    for g in grads[:2]:
        opt.step(g)

    state = opt.state_dict()
    assert all(isinstance(v, (float, int, np.ndarray)) for v in state.values())
    np.savez(tmp_path / "opt.npz", **state)
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as f:
        loaded = {k: f[k] for k in f.files}

    # a fresh optimizer on identical params, given the saved state, takes the identical step
    twin = {k: p.copy() for k, p in params.items()}
    opt2 = cls(twin, lr=0.5)
    opt2.load_state_dict(loaded)
    assert opt2.t == 2 and opt2.lr == 0.01
    opt.step(grads[2])
    opt2.step(grads[2])
    for k in params:
        np.testing.assert_array_equal(params[k], twin[k])


def test_state_dict_is_a_copy(rng):
    params = make_params(rng)
    opt = Adam(params)
    opt.step(make_grads(rng, params))
    state = opt.state_dict()
    state["m/W"][...] = 123.0
    assert not np.any(opt.state["m"]["W"] == 123.0)


def test_load_state_dict_rejects_mismatch(rng):
    params = make_params(rng)
    state = Adam(params).state_dict()
    with pytest.raises(ValueError, match="m/W"):
        Adam(params).load_state_dict({k: v for k, v in state.items() if k != "m/W"})
    state["v/b"] = np.zeros(4)
    with pytest.raises(ValueError, match=r"v/'b'.*\(4,\).*\(5,\)"):
        Adam(params).load_state_dict(state)


# ----------------------------------------------------------------------------------------------
# validation

@pytest.mark.parametrize("cls", ALL)
def test_mismatched_grad_keys_raise(cls, rng):
    params = make_params(rng)
    opt = cls(params, lr=0.1)
    grads = make_grads(rng, params)
    with pytest.raises(ValueError, match="missing from grads: \\['b'\\]"):
        opt.step({"W": grads["W"]})
    with pytest.raises(ValueError, match="not in params: \\['extra'\\]"):
        opt.step({**grads, "extra": np.zeros(2)})
    with pytest.raises(ValueError, match=r"'W'.*\(5, 3\).*\(3, 5\)"):
        opt.step({**grads, "W": grads["W"].T})
    assert opt.t == 0  # nothing was applied


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf")])
def test_bad_lr_raises(cls, lr, rng):
    with pytest.raises(ValueError, match="lr"):
        cls(make_params(rng), lr=lr)


def test_bad_hyperparameters_raise(rng):
    with pytest.raises(ValueError, match="momentum"):
        Momentum(make_params(rng), lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="beta2"):
        Adam(make_params(rng), beta2=-0.1)
    with pytest.raises(TypeError, match="'i'"):
        SGD({"i": np.arange(3)}, lr=0.1)


@pytest.mark.parametrize("name, cls", [("sgd", SGD), ("momentum", Momentum), ("Adam", Adam)])
def test_make_optimizer(name, cls, rng):
    opt = make_optimizer(name, make_params(rng), lr=0.01)
    assert type(opt) is cls and opt.lr == 0.01


def test_make_optimizer_unknown_lists_choices(rng):
    with pytest.raises(ValueError, match=r"'rmsprop'.*\['adam', 'momentum', 'sgd'\]"):
        make_optimizer("rmsprop", make_params(rng), lr=0.01)


# ----------------------------------------------------------------------------------------------
# clipping

def test_clip_returns_pre_clip_norm_and_rescales_to_max_norm():
    grads = {"a": np.array([3.0, 4.0]), "b": np.array([[12.0]])}
    norm = clip_grad_norm(grads, max_norm=6.5)
    assert norm == 13.0  # sqrt(9 + 16 + 144)
    np.testing.assert_allclose(grads["a"], [1.5, 2.0], rtol=1e-15)  # one shared factor 0.5
    np.testing.assert_allclose(grads["b"], [[6.0]], rtol=1e-15)
    assert clip_grad_norm(grads, None) == pytest.approx(6.5, rel=1e-15)


def test_clip_float32_grads_in_place(rng):
    grads = {"W": rng.standard_normal((4, 7)).astype(np.float32) * 10}
    W = grads["W"]
    norm = clip_grad_norm(grads, max_norm=1.0)
    assert norm > 1.0
    assert grads["W"] is W and W.dtype == np.float32
    assert np.linalg.norm(W.astype(np.float64)) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("max_norm", [None, float("inf"), 100.0])
def test_no_clipping_below_threshold_or_disabled(max_norm):
    grads = {"a": np.array([3.0, 4.0])}
    assert clip_grad_norm(grads, max_norm) == 5.0
    np.testing.assert_array_equal(grads["a"], [3.0, 4.0])


@pytest.mark.parametrize("bad, check", [(np.inf, math.isinf), (np.nan, math.isnan)])
def test_non_finite_norm_is_reported_not_raised(bad, check):
    grads = {"a": np.array([1.0, bad]), "b": np.array([2.0])}
    assert check(clip_grad_norm(grads, max_norm=1.0))
    np.testing.assert_array_equal(grads["b"], [2.0])  # left untouched for the trainer to judge


@pytest.mark.parametrize("max_norm", [0.0, -1.0])
def test_bad_max_norm_raises(max_norm):
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm({"a": np.ones(2)}, max_norm)


def test_the_optimizer_names_are_config_s():
    """config.py lists the names (TrainConfig checks them); OPTIMIZERS maps each to its class."""
    from numpy_seq2seq.config import OPTIMIZER_CHOICES
    from numpy_seq2seq.optim import OPTIMIZERS

    assert tuple(OPTIMIZERS) == OPTIMIZER_CHOICES
    assert all(cls.__name__.lower() == name for name, cls in OPTIMIZERS.items())
