"""RNN, GRU and LSTM: one step and the time-unrolled layer over a padded batch.

Every gradient check has a twin with a deliberately wrong backward that the checker must catch.
"""

import numpy as np
import pytest

from numpy_seq2seq.functional import gru, lstm, rnn
from numpy_seq2seq.functional.recurrent import (
    CELLS,
    cell_param_shapes,
    recurrent_backward,
    recurrent_forward,
    reverse_padded_index,
    rnn_backward,
    rnn_forward,
)
from numpy_seq2seq.gradcheck import check_layer

from conftest import assert_gradcheck, assert_refused, patched_cell
from sizes import D, H, N, T

TOL = 1e-7
CELL_NAMES = list(CELLS)
BROKEN = [False, True]
BROKEN_IDS = ["correct", "wrong-backward-is-caught"]


def _params(cell, rng):
    return {k: rng.standard_normal(s) * 0.5 for k, s in cell_param_shapes(cell, D, H).items()}




# ---------------------------------------------------------------------------------------------
# one step, written out per cell

@pytest.mark.parametrize("broken", BROKEN, ids=BROKEN_IDS)
def test_rnn_step_gradient(rng, broken):
    def backward(d, c):
        dx, dh_prev, dWx, dWh, db = rnn.rnn_step_backward(d, c)
        if broken:  # forgets the tanh derivative on the weight gradient
            dWh = c.h_prev.T @ d
        return {"x": dx, "h_prev": dh_prev, "Wx": dWx, "Wh": dWh, "b": db}

    p = _params("rnn", rng)
    assert_gradcheck(check_layer(rnn.rnn_step_forward, backward,
                        {"x": rng.standard_normal((N, D)), "h_prev": rng.standard_normal((N, H)),
                         **p}), "cells: one step", TOL, broken)


@pytest.mark.parametrize("broken", BROKEN, ids=BROKEN_IDS)
def test_lstm_step_gradient(rng, broken):
    def forward(x, h_prev, c_prev, Wx, Wh, b):
        h, c, cache = lstm.lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
        return np.concatenate([h, c], axis=1), cache  # check both outputs at once

    def backward(d, cache):
        dx, dh_prev, dc_prev, dWx, dWh, db = lstm.lstm_step_backward(d[:, :H], d[:, H:], cache)
        if broken:  # drops the path from c_t back to c_{t-1}
            dc_prev = np.zeros_like(dc_prev)
        return {"x": dx, "h_prev": dh_prev, "c_prev": dc_prev, "Wx": dWx, "Wh": dWh, "b": db}

    p = _params("lstm", rng)
    inputs = {"x": rng.standard_normal((N, D)), "h_prev": rng.standard_normal((N, H)),
              "c_prev": rng.standard_normal((N, H)), **p}
    assert_gradcheck(check_layer(forward, backward, inputs), "cells: one step", TOL, broken)


@pytest.mark.parametrize("broken", BROKEN, ids=BROKEN_IDS)
def test_gru_step_gradient(rng, broken):
    def backward(d, c):
        dx, dh_prev, dWx, dWh, db, dbhn = gru.gru_step_backward(d, c)
        if broken:  # forgets that the reset gate scales b_hn
            dbhn = (d * (1 - c.z) * (1 - c.n ** 2)).sum(axis=0)
        return {"x": dx, "h_prev": dh_prev, "Wx": dWx, "Wh": dWh, "b": db, "bhn": dbhn}

    p = _params("gru", rng)
    assert_gradcheck(check_layer(gru.gru_step_forward, backward,
                        {"x": rng.standard_normal((N, D)), "h_prev": rng.standard_normal((N, H)),
                         **p}), "cells: one step", TOL, broken)


# ---------------------------------------------------------------------------------------------
# the time-unrolled layer (BPTT) over a ragged batch

MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], dtype=bool)  # (N, T)


def _unrolled(cell, rng):
    n_states = CELLS[cell].n_states
    inputs = {"x": rng.standard_normal((N, T, D))}
    inputs.update({f"s{i}": rng.standard_normal((N, H)) for i in range(n_states)})
    inputs.update(_params(cell, rng))

    def forward(x, **kw):
        state0 = tuple(kw[f"s{i}"] for i in range(n_states))
        p = {k: v for k, v in kw.items() if not k.startswith("s")}
        hs, state, cache = recurrent_forward(cell, x, state0, MASK, p)
        # check the outputs and the final state together
        return np.concatenate([hs.reshape(N, -1), *state], axis=1), cache

    def backward(d, cache):
        dhs = d[:, : T * H].reshape(N, T, H)
        dstate = tuple(d[:, T * H + i * H : T * H + (i + 1) * H] for i in range(n_states))
        dx, dstate0, grads = recurrent_backward(dhs, dstate, cache)
        return {"x": dx, **{f"s{i}": g for i, g in enumerate(dstate0)}, **grads}

    return forward, backward, inputs


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("broken", BROKEN, ids=BROKEN_IDS)
def test_unrolled_gradient(rng, cell, broken):
    forward, backward, inputs = _unrolled(cell, rng)
    if broken:  # BPTT that forgets the gradient flowing back from later steps through W_h
        real = CELLS[cell].core_backward

        def truncated(dstate, cache):
            dxw, dhw, dprev = real(dstate, cache)
            return dxw, dhw, (dprev[0] * 0,) + tuple(dprev[1:])

        with patched_cell(cell, core_backward=truncated):
            report = check_layer(forward, backward, inputs)
    else:
        report = check_layer(forward, backward, inputs)
    assert_gradcheck(report, "cells: unrolled BPTT, padded", TOL, broken)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_padding_carries_state_and_blocks_gradient(rng, cell):
    forward, backward, inputs = _unrolled(cell, rng)
    out, cache = forward(**inputs)
    hs = out[:, : T * H].reshape(N, T, H)
    # row 1 has two real steps: its later outputs and final state equal the state after step 2
    assert np.array_equal(hs[1, 2:], np.broadcast_to(hs[1, 1], (T - 2, H)))
    assert np.array_equal(out[1, T * H : T * H + H], hs[1, 1])
    # inputs at padded steps receive exactly zero gradient, and changing them changes nothing
    grads = backward(rng.standard_normal(out.shape), cache)
    assert (grads["x"][~MASK] == 0).all()
    inputs2 = dict(inputs, x=np.where(MASK[:, :, None], inputs["x"], 123.0))
    assert np.array_equal(forward(**inputs2)[0], out)


def test_reverse_padded_index_is_an_involution():
    rows, cols = reverse_padded_index(np.array([3, 1, 5]), 5)
    x = np.arange(15).reshape(3, 5)
    r = x[rows, cols]
    assert r.tolist() == [[2, 1, 0, 3, 4], [5, 6, 7, 8, 9], [14, 13, 12, 11, 10]]
    assert np.array_equal(r[rows, cols], x)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_float32_stays_float32(rng, cell):
    p = {k: v.astype(np.float32) for k, v in _params(cell, rng).items()}
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    state0 = tuple(np.zeros((N, H), np.float32) for _ in range(CELLS[cell].n_states))
    hs, state, cache = recurrent_forward(cell, x, state0, MASK, p)
    dx, _, grads = recurrent_backward(np.ones_like(hs), None, cache)
    assert hs.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


# ---------------------------------------------------------------------------------------------
# bad input: one line naming the argument, the letters and both shapes; nothing broadcast

STEP = {"rnn": (rnn.rnn_step_forward, rnn.rnn_step_backward, 1),
        "gru": (gru.gru_step_forward, gru.gru_step_backward, 1),
        "lstm": (lstm.lstm_step_forward, lstm.lstm_step_backward, 2)}


def _step_args(cell, rng):
    """The step forward's arguments by name: x, h_prev (, c_prev), Wx, Wh, b (, bhn)."""
    p = _params(cell, rng)
    states = {"h_prev": rng.standard_normal((N, H))}
    if cell == "lstm":
        states["c_prev"] = rng.standard_normal((N, H))
    return {"x": rng.standard_normal((N, D)), **states, "Wx": p["Wx"], "Wh": p["Wh"],
            "b": p["b"], **({"bhn": p["bhn"]} if cell == "gru" else {})}


BAD_STEPS = {  # name: (change to the arguments, message)
    "h_prev of batch 1": (lambda a: {**a, "h_prev": a["h_prev"][:1]},
                          rf"h_prev must have shape \(N, H\) = \({N}, {H}\), got \(1, {H}\) "
                          rf"\(N is {N} in x\)"),
    "b one short": (lambda a: {**a, "b": a["b"][:-1]}, r"b must have shape \(\d?H,\)"),
    "Wx transposed": (lambda a: {**a, "Wx": a["Wx"].T}, r"Wx must have shape \(D, \d?H\)"),
    "int x": (lambda a: {**a, "x": a["x"].astype(int)}, "x must be float32 or float64, got int64"),
    "float32 Wh": (lambda a: {**a, "Wh": a["Wh"].astype(np.float32)},
                   "Wh is float32 but x is float64: give every array one dtype"),
    "list x": (lambda a: {**a, "x": a["x"].tolist()}, r"x must be an ndarray of shape \(N, D\)"),
}


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("change, message", BAD_STEPS.values(), ids=list(BAD_STEPS))
def test_a_step_refuses_bad_input(rng, cell, change, message):
    forward = STEP[cell][0]
    assert_refused(lambda: forward(**change(_step_args(cell, rng))),
                   f"^{cell}_step_forward: {message}")


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_a_step_backward_refuses_a_gradient_of_another_shape(rng, cell):
    forward, backward, n = STEP[cell]
    *outputs, cache = forward(**_step_args(cell, rng))
    douts = [np.ones_like(o) for o in outputs]
    assert_refused(lambda: backward(*douts[:-1], douts[-1][:1], cache),
                   rf"d[hc] must have the shape of the forward's [hc], \({N}, {H}\), "
                   rf"got \(1, {H}\)")
    assert_refused(lambda: backward(*douts, tuple(cache)),
                   f"cache must be the {type(cache).__name__} that {cell}_step_forward returned")


BAD_LAYERS = {  # name: (change to recurrent_forward's arguments, message)
    "unknown cell": (lambda a: {**a, "cell": "tanh"},  # a scalar: named, no function
                     r"^cell must be one of \('rnn', 'gru', 'lstm'\), got 'tanh'"),
    "state of another cell": (lambda a: {**a, "state0": a["state0"] + a["state0"]},
                              r"state0 must be a tuple of \d arrays of shape \(N, H\)"),
    "mask of one row": (lambda a: {**a, "mask": a["mask"][0]},
                        r"mask must be 2-D of shape \(N, T\), got shape"),
    "int mask": (lambda a: {**a, "mask": a["mask"].astype(int)},
                 "mask must be a bool array, got int64"),
    "x one step short of the mask": (lambda a: {**a, "x": a["x"][:, 1:]},
                                     rf"mask must have shape \(N, T\) = \({N}, {T - 1}\)"),
    "no Wh": (lambda a: {**a, "p": {k: v for k, v in a["p"].items() if k != "Wh"}},
              r"p lacks 'Wh' \(one \w+ layer's weights\)"),
}


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("change, message", BAD_LAYERS.values(), ids=list(BAD_LAYERS))
def test_the_unrolled_layer_refuses_bad_input(rng, cell, change, message):
    state0 = tuple(rng.standard_normal((N, H)) for _ in range(CELLS[cell].n_states))
    args = {"cell": cell, "x": rng.standard_normal((N, T, D)), "state0": state0,
            "mask": np.ones((N, T), dtype=bool), "p": _params(cell, rng)}
    assert_refused(lambda: recurrent_forward(**change(args)), message, "recurrent_forward")


def test_bptt_refuses_an_upstream_gradient_of_another_shape(rng):
    x, h0, p = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), _params("rnn", rng)
    hs, cache = rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"])
    assert_refused(lambda: rnn_backward(hs[:, :1], cache),
                   rf"dhs must have the shape of the forward's hs, \({N}, {T}, {H}\)")
    assert_refused(lambda: rnn_forward(x, h0[:1], p["Wx"], p["Wh"], p["b"]),
                   r"^rnn_forward: h0 must have shape \(N, H\)")
