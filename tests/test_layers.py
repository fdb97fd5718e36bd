"""Embedding, affine and dropout layers: gradient checks with their wrong-backward twins."""

import numpy as np
import pytest

from numpy_seq2seq.functional import layers
from numpy_seq2seq.gradcheck import check_layer

from conftest import assert_gradcheck, assert_refused

TOL = 1e-7


@pytest.mark.parametrize("broken", [False, True], ids=["correct", "wrong-backward-is-caught"])
def test_embedding_gradient_accumulates_repeated_ids(rng, broken):
    ids = np.array([[1, 3, 3, 0], [2, 1, 3, 3]])  # repeats must add up

    def backward(d, c):
        if broken:  # fancy-index assignment keeps only the last repeat
            ids_, shape = c
            dW = np.zeros(shape)
            dW[ids_.reshape(-1)] = d.reshape(-1, shape[1])
            return {"W": dW}
        return {"W": layers.embedding_backward(d, c)}

    r = check_layer(lambda W: layers.embedding_forward(ids, W), backward,
                    {"W": rng.standard_normal((5, 3))})
    assert_gradcheck(r, "embedding, affine, dropout", TOL, broken)


@pytest.mark.parametrize("broken", [False, True], ids=["correct", "wrong-backward-is-caught"])
def test_affine_gradient(rng, broken):
    def backward(d, c):
        dx, dW, db = layers.affine_backward(d, c)
        if broken:
            db = d[:, 0].sum(axis=0)  # sums over N only, forgetting the time axis
        return {"x": dx, "W": dW, "b": db}

    r = check_layer(layers.affine_forward, backward,
                    {"x": rng.standard_normal((3, 5, 4)), "W": rng.standard_normal((4, 6)),
                     "b": rng.standard_normal(6)})
    assert_gradcheck(r, "embedding, affine, dropout", TOL, broken)


@pytest.mark.parametrize("broken", [False, True], ids=["correct", "wrong-backward-is-caught"])
def test_dropout_gradient(rng, broken):
    mask = layers.dropout_mask(rng, 0.4, (3, 5, 4), np.float64)

    def backward(d, _):
        return {"x": d if broken else layers.dropout_backward(d, mask)}  # broken: mask forgotten

    r = check_layer(lambda x: (layers.dropout_forward(x, mask), None), backward,
                    {"x": rng.standard_normal((3, 5, 4))})
    assert_gradcheck(r, "embedding, affine, dropout", TOL, broken)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_mask_is_inverted_and_seeded(dtype):
    p = 0.25
    mask = layers.dropout_mask(np.random.default_rng(0), p, (200, 300), dtype)
    assert mask.dtype == dtype and mask.shape == (200, 300)
    assert set(np.unique(mask).tolist()) == {0.0, dtype(1 / (1 - p))}
    assert (mask == 0).mean() == pytest.approx(p, abs=0.01)  # 60,000 draws: σ ≈ 0.002
    assert mask.mean() == pytest.approx(1.0, abs=0.02)  # inverted: E[x ⊙ m] = x
    again = layers.dropout_mask(np.random.default_rng(0), p, (200, 300), dtype)
    assert np.array_equal(mask, again)
    x = np.ones(3)
    assert layers.dropout_forward(x, None) is x and layers.dropout_backward(x, None) is x


# ---------------------------------------------------------------------------------------------
# bad input: one line naming the argument; never a wrapped id or a broadcast

W = np.zeros((5, 3))  # V = 5 rows of E = 3
BAD_CALLS = {  # name: (call, message)
    "id -1 (would wrap to the last row)": (
        lambda: layers.embedding_forward(np.array([[1, -1]]), W),
        r"^embedding_forward: ids must be token ids in \[0, 4\] \(V = 5, the rows of W\), got "
        r"min -1 and max 1"),
    "id V": (lambda: layers.embedding_forward(np.array([[5]]), W), r"got min 5 and max 5"),
    "float ids": (lambda: layers.embedding_forward(np.array([[1.0]]), W),
                  "ids must hold integer token ids, got dtype float64"),
    "b of another size": (lambda: layers.affine_forward(np.zeros((2, 4, 3)), np.zeros((3, 6)),
                                                        np.zeros(5)),
                          r"^affine_forward: b must have shape \(M,\) = \(6,\), got \(5,\)"),
    "x of another D": (lambda: layers.affine_forward(np.zeros((2, 4)), np.zeros((3, 6)),
                                                     np.zeros(6)),
                       r"W must have shape \(D, M\) = \(4, \d\), got \(3, 6\)"),
}


@pytest.mark.parametrize("call, message", BAD_CALLS.values(), ids=list(BAD_CALLS))
def test_embedding_and_affine_refuse_bad_input(call, message):
    assert_refused(call, message)


def test_backwards_refuse_a_gradient_of_another_shape():
    out, cache = layers.embedding_forward(np.array([[1, 2]]), W)
    assert_refused(lambda: layers.embedding_backward(out[:, :1], cache),
                   r"^embedding_backward: dout must have the shape of the forward's out, "
                   r"\(1, 2, 3\), got \(1, 1, 3\)")
    out, cache = layers.affine_forward(np.zeros((2, 4, 3)), np.zeros((3, 6)), np.zeros(6))
    assert_refused(lambda: layers.affine_backward(out[:1], cache),
                   r"^affine_backward: dout must have the shape of the forward's out")
