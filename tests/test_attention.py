"""The three Luong scores and the full attention layer: gradients, weights and masking."""

import numpy as np
import pytest

from numpy_seq2seq.functional import attention as att
from numpy_seq2seq.gradcheck import check_layer

from conftest import assert_gradcheck
from sizes import A, H, N, S, T

TOL = 1e-7
BROKEN = [False, True]
BROKEN_IDS = ["correct", "wrong-backward-is-caught"]
SRC_MASK = np.array([[1, 1, 1, 1, 1, 1, 0], [1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1]], bool)


def _score_inputs(score, rng):
    inputs = {"hd": rng.standard_normal((N, T, H)), "hs": rng.standard_normal((N, S, H))}
    if score == "general":
        inputs["W_a"] = rng.standard_normal((H, H)) * 0.5
    if score == "concat":
        inputs["W_a"] = rng.standard_normal((2 * H, A)) * 0.5
        inputs["v_a"] = rng.standard_normal(A)
    return inputs




@pytest.mark.parametrize("score", att.SCORES)
@pytest.mark.parametrize("broken", BROKEN, ids=BROKEN_IDS)
def test_score_gradient(rng, score, broken):
    def backward(d, cache):
        dhd, dhs, grads = att.SCORE_BACKWARD[score](d, cache)
        if broken:  # drops the gradient into the encoder states
            dhs = np.zeros_like(dhs)
        return {"hd": dhd, "hs": dhs, **grads}

    report = check_layer(att.SCORE_FORWARD[score], backward, _score_inputs(score, rng))
    assert_gradcheck(report, f"attention score: {score}", TOL, broken)


def test_scores_match_the_paper_equations_one_pair_at_a_time(rng):
    x = _score_inputs("concat", rng)
    hd, hs = x["hd"], x["hs"]
    W_g = rng.standard_normal((H, H))
    dot, _ = att.dot_score_forward(hd, hs)
    gen, _ = att.general_score_forward(hd, hs, W_g)
    con, _ = att.concat_score_forward(hd, hs, x["W_a"], x["v_a"])
    for n, t, s in [(0, 0, 0), (2, 4, 6), (1, 3, 2)]:
        h_t, h_s = hd[n, t], hs[n, s]  # column-vector notation of Luong et al. (2015)
        assert dot[n, t, s] == pytest.approx(h_t @ h_s)
        assert gen[n, t, s] == pytest.approx(h_t @ W_g @ h_s)
        assert con[n, t, s] == pytest.approx(x["v_a"] @ np.tanh(x["W_a"].T @ np.r_[h_t, h_s]))


def _attention_layer(score, rng):
    inputs = _score_inputs(score, rng)
    inputs["W_c"] = rng.standard_normal((2 * H, H)) * 0.5

    def forward(hd, hs, **p):
        h_tilde, _, cache = att.attention_forward(score, hd, hs, SRC_MASK, p)
        return h_tilde, cache

    def backward(d, cache):
        dhd, dhs, grads = att.attention_backward(d, cache)
        return {"hd": dhd, "hs": dhs, **grads}

    return forward, backward, inputs


@pytest.mark.parametrize("score", att.SCORES)
@pytest.mark.parametrize("broken", BROKEN, ids=BROKEN_IDS)
def test_attention_layer_gradient(rng, score, broken, monkeypatch):
    forward, backward, inputs = _attention_layer(score, rng)
    if broken:  # a softmax backward that forgets the normalisation term
        monkeypatch.setattr(att, "masked_softmax_backward", lambda d, c: c[0] * d)
    assert_gradcheck(check_layer(forward, backward, inputs), "attention layer", TOL, broken)


@pytest.mark.parametrize("score", att.SCORES)
def test_weights_sum_to_one_and_ignore_padding(rng, score):
    inputs = _score_inputs(score, rng)
    inputs["W_c"] = rng.standard_normal((2 * H, H))
    hd, hs = inputs.pop("hd"), inputs.pop("hs")
    h_tilde, w, cache = att.attention_forward(score, hd, hs, SRC_MASK, inputs)
    assert w.shape == (N, T, S) and h_tilde.shape == (N, T, H)
    assert np.allclose(w.sum(-1), 1.0, atol=1e-12)
    assert (w[np.broadcast_to(~SRC_MASK[:, None, :], w.shape)] == 0).all()
    # encoder states at padded positions get exactly zero gradient
    _, dhs, _ = att.attention_backward(rng.standard_normal(h_tilde.shape), cache)
    assert (dhs[~SRC_MASK] == 0).all()
    # and changing them changes nothing
    hs2 = np.where(SRC_MASK[:, :, None], hs, 7.0)
    assert np.array_equal(att.attention_forward(score, hd, hs2, SRC_MASK, inputs)[0], h_tilde)


def test_dot_score_rejects_sizes_that_cannot_meet(rng):
    with pytest.raises(ValueError, match="size 6 and h̄_s of size 4.*'general' or 'concat'"):
        att.dot_score_forward(rng.standard_normal((N, T, H)), rng.standard_normal((N, S, 4)))
