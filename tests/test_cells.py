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
)
from numpy_seq2seq.gradcheck import check_layer

from conftest import assert_gradcheck, patched_cell
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
