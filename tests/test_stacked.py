"""Stacked, bidirectional recurrent layers: gradient checks for every cell × k ∈ {1, 2, 3} × one
or both directions over a ragged batch with dropout between the layers, each with a twin whose
backward is wrong; the state layout; padding.

The comparison with torch.nn.RNN/GRU/LSTM(num_layers=k, bidirectional=...) is in
test_torch_layers.py.
"""

import itertools

import numpy as np
import pytest

from numpy_seq2seq.functional import stacked
from numpy_seq2seq.functional.layers import dropout_mask
from numpy_seq2seq.functional.recurrent import CELLS, recurrent_forward
from numpy_seq2seq.gradcheck import check_layer

from conftest import assert_gradcheck, assert_refused, stack_params
from sizes import D, H, N, T

TOL = 1e-7
COORDS = 8  # coordinates sampled per array: every array of every layer is still checked
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], dtype=bool)  # (N, T)
LAYOUTS = list(itertools.product(CELLS, [1, 2, 3], [False, True]))


def _layout_id(layout):
    cell, k, bi = layout
    return f"{cell}-k{k}" + "-bi" * bi


def _stack(cell, k, bidirectional, rng):
    """forward / backward / inputs for check_layer: outputs and final states checked at once."""
    n = CELLS[cell].n_states * k
    masks = [dropout_mask(rng, 0.3, (N, T, H), np.float64) for _ in range(k - 1)]
    inputs = {"x": rng.standard_normal((N, T, D))}
    inputs.update({f"s{i}": rng.standard_normal((N, H)) for i in range(n)})
    inputs.update(stack_params(cell, k, bidirectional, rng))

    def forward(x, **kw):
        state0 = tuple(kw.pop(f"s{i}") for i in range(n))
        hs, state, cache = stacked.stacked_forward(cell, x, state0, MASK, kw, k, bidirectional,
                                                   masks)
        return np.concatenate([hs.reshape(N, -1), *state], axis=1), cache

    def backward(d, cache):
        dhs = d[:, : T * H].reshape(N, T, H)
        dstate = tuple(d[:, T * H + i * H : T * H + (i + 1) * H] for i in range(n))
        dx, dstate0, grads = stacked.stacked_backward(dhs, dstate, cache)
        return {"x": dx, **{f"s{i}": g for i, g in enumerate(dstate0)}, **grads}

    return forward, backward, inputs


@pytest.mark.parametrize("layout", LAYOUTS, ids=_layout_id)
def test_stacked_gradient(layout, rng):
    report = check_layer(*_stack(*layout, rng), max_coords=COORDS)
    assert_gradcheck(report, "stacked layers (k = 1-3, bi)", TOL)


@pytest.mark.parametrize("layout", [("lstm", 2, True), ("gru", 2, False)], ids=_layout_id)
def test_stacked_check_catches_a_wrong_backward(layout, rng, monkeypatch):
    """Twin: a backward that forgets the dropout mask between the layers."""
    forward, backward, inputs = _stack(*layout, rng)
    monkeypatch.setattr(stacked, "dropout_backward", lambda dout, mask: dout)
    report = check_layer(forward, backward, inputs, max_coords=COORDS)
    assert_gradcheck(report, "stacked layers (k = 1-3, bi)", TOL, broken=True)


def test_one_layer_is_the_recurrent_layer(rng):
    p = stack_params("lstm", 1, False, rng)
    x = rng.standard_normal((N, T, D))
    state0 = (rng.standard_normal((N, H)), rng.standard_normal((N, H)))
    hs, state, _ = stacked.stacked_forward("lstm", x, state0, MASK, p)
    hs1, state1, _ = recurrent_forward("lstm", x, state0, MASK, p)
    assert np.array_equal(hs, hs1) and all(map(np.array_equal, state, state1))


def test_layer_two_reads_layer_one_and_the_state_is_flat(rng):
    """k = 2: the output is layer 1 run over layer 0's output; the state is (h0, c0, h1, c1)."""
    p = stack_params("lstm", 2, False, rng)
    x = rng.standard_normal((N, T, D))
    state0 = tuple(rng.standard_normal((N, H)) for _ in range(4))
    hs, state, _ = stacked.stacked_forward("lstm", x, state0, MASK, p, num_layers=2)
    below, s_below, _ = recurrent_forward("lstm", x, state0[:2], MASK,
                                          {k: p[k] for k in ("Wx", "Wh", "b")})
    top, s_top, _ = recurrent_forward("lstm", below, state0[2:], MASK,
                                      {k: p["l1_" + k] for k in ("Wx", "Wh", "b")})
    assert np.array_equal(hs, top)
    assert all(map(np.array_equal, state, s_below + s_top))
    assert stacked.layer_states(state, 2) == [state[:2], state[2:]]


@pytest.mark.parametrize("layout", [("gru", 2, True), ("rnn", 3, False)], ids=_layout_id)
def test_padding_carries_every_layers_state(layout, rng):
    cell, k, bi = layout
    p = stack_params(cell, k, bi, rng)
    x = rng.standard_normal((N, T, D))
    state0 = tuple(rng.standard_normal((N, H)) for _ in range(k))
    hs, state, _ = stacked.stacked_forward(cell, x, state0, MASK, p, k, bi)
    x2 = np.where(MASK[:, :, None], x, 50.0)  # padded inputs change nothing
    hs2, state2, _ = stacked.stacked_forward(cell, x2, state0, MASK, p, k, bi)
    assert np.array_equal(hs2, hs) and all(map(np.array_equal, state, state2))
    if not bi:  # row 1 has two real steps: the top layer's later outputs repeat the second
        assert np.array_equal(hs[1, 2:], np.broadcast_to(hs[1, 1], (T - 2, H)))


# ---------------------------------------------------------------------------------------------
# bad input: one line naming the argument (its name in the stack's dict) and both shapes

def _stack_args(bidirectional, rng, k=2):
    return {"cell": "lstm", "x": rng.standard_normal((N, T, D)),
            "state0": tuple(rng.standard_normal((N, H)) for _ in range(2 * k)), "mask": MASK,
            "p": stack_params("lstm", k, bidirectional, rng), "num_layers": k,
            "bidirectional": bidirectional, "masks": None}


BAD_STACKS = {  # name: (bidirectional, change to the arguments, message)
    "the state of one layer (would run one)": (
        False, lambda a: {**a, "state0": a["state0"][:2]},
        r"state0 must be a tuple of 4 arrays of shape \(N, H\), \(h, c\) per layer for lstm, "
        r"got 2 arrays"),
    "a layer's weights missing": (
        False, lambda a: {**a, "p": {k: v for k, v in a["p"].items() if not k.startswith("l1")}},
        r"p lacks 'l1_Wx', 'l1_Wh', 'l1_b' \(one lstm layer's weights\)"),
    "layer 1 reading another width": (
        False, lambda a: {**a, "p": {**a["p"], "l1_Wx": a["p"]["l1_Wx"][1:]}},
        rf"l1_Wx must have shape \(H, 4H\) = \({H}, {4 * H}\), got \({H - 1}, {4 * H}\)"),
    "a direction of another width": (
        True, lambda a: {**a, "p": {**a["p"], "bwd_Wh": a["p"]["fwd_Wh"][:, :4]}},
        rf"bwd_Wh must have shape \(U, 4U\) = \({H // 2}, {2 * H}\), got \({H // 2}, 4\)"),
    "two dropout masks for one gap": (
        False, lambda a: {**a, "masks": [np.ones((N, T, H))] * 2},
        r"masks must hold 1 dropout masks or None \(between the layers\), got 2"),
    "a mask one step short": (
        False, lambda a: {**a, "masks": [np.ones((N, T - 1, H))]},
        rf"masks\[0\] must have shape \(N, T, H\) = \({N}, {T}, {H}\)"),
}


@pytest.mark.parametrize("case", list(BAD_STACKS))
def test_a_stack_refuses_bad_input(rng, case):
    bidirectional, change, message = BAD_STACKS[case]
    args = change(_stack_args(bidirectional, rng))
    assert_refused(lambda: stacked.stacked_forward(**args), f"^stacked_forward: {message}")


def test_a_stack_needs_a_layer(rng):
    assert_refused(lambda: stacked.stacked_forward(**{**_stack_args(False, rng), "num_layers": 0}),
                   "^num_layers must be an integer >= 1, got 0")


def test_a_stack_backward_refuses_a_gradient_of_another_shape(rng):
    hs, _, cache = stacked.stacked_forward(**_stack_args(True, rng))
    assert_refused(lambda: stacked.stacked_backward(hs[..., :-1], None, cache),
                   rf"^stacked_backward: dhs must have the shape of the forward's hs, "
                   rf"\({N}, {T}, {H}\), got \({N}, {T}, {H - 1}\)")
