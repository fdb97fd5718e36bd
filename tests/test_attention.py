"""The three Luong scores and the full attention layer: gradients, weights and masking."""

import numpy as np
import pytest

from numpy_seq2seq.functional import attention as att
from numpy_seq2seq.functional.kernels import KERNELS
from numpy_seq2seq.gradcheck import check_layer

from conftest import assert_gradcheck, assert_refused
from sizes import A, H, N, S, T

TOL = 1e-7
BROKEN = [False, True]
BROKEN_IDS = ["correct", "wrong-backward-is-caught"]
SRC_MASK = np.array([[1, 1, 1, 1, 1, 1, 0], [1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1]], bool)


H_S = 8  # encoder states of another size than the decoder's H, which general and concat allow


def _score_inputs(score, rng, H_s=H):
    inputs = {"hd": rng.standard_normal((N, T, H)), "hs": rng.standard_normal((N, S, H_s))}
    if score == "general":
        inputs["W_a"] = rng.standard_normal((H, H_s)) * 0.5
    if score == "concat":
        inputs["W_a"] = rng.standard_normal((H + H_s, A)) * 0.5
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


@pytest.mark.parametrize("score", ["general", "concat"])
@pytest.mark.parametrize("broken", BROKEN, ids=BROKEN_IDS)
def test_score_gradient_with_encoder_states_of_another_size(rng, score, broken):
    """H_s = 8 ≠ H = 6: W_a bridges the sizes, and the backward passes reshape with each."""
    def backward(d, cache):
        dhd, dhs, grads = att.SCORE_BACKWARD[score](d, cache)
        if broken:  # W_a's gradient from the decoder side only (concat) or half of it (general)
            grads["W_a"] = grads["W_a"].copy()
            grads["W_a"][H // 2:] = 0
        return {"hd": dhd, "hs": dhs, **grads}

    inputs = _score_inputs(score, rng, H_s=H_S)
    report = check_layer(att.SCORE_FORWARD[score], backward, inputs)
    assert_gradcheck(report, f"attention score: {score}, H_s ≠ H", TOL, broken)
    scores, cache = att.SCORE_FORWARD[score](**inputs)
    dhd, dhs, grads = att.SCORE_BACKWARD[score](np.ones_like(scores), cache)
    assert dhd.shape == (N, T, H) and dhs.shape == (N, S, H_S)
    assert grads["W_a"].shape == inputs["W_a"].shape


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
        monkeypatch.setitem(KERNELS, "masked_softmax_backward", lambda d, c: c[0] * d)
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


# ---------------------------------------------------------------------------------------------
# bad input: one line naming the argument, its letters and both shapes; nothing broadcast

BAD_SCORES = {  # name: (score, change to the inputs, message)
    "hs of batch 1": ("dot", lambda a: {**a, "hs": a["hs"][:1]},
                      rf"hs must have shape \(N, S, H_s\) = \({N}, {S}, {H}\), got \(1, {S}, {H}\)"
                      rf" \(N is {N} in hd\)"),
    "general W_a one column short": ("general", lambda a: {**a, "W_a": a["W_a"][:, 1:]},
                                     rf"W_a must have shape \(H, H_s\) = \({H}, {H}\), got "
                                     rf"\({H}, {H - 1}\)"),
    "concat W_a of 2H - 1 rows": ("concat", lambda a: {**a, "W_a": a["W_a"][1:]},
                                  rf"W_a must have shape \(H\+H_s, A\) = \({2 * H}, {A}\)"),
    "concat v_a of A + 1": ("concat", lambda a: {**a, "v_a": np.append(a["v_a"], 0.0)},
                            rf"v_a must have shape \(A,\) = \({A},\), got \({A + 1},\)"),
    "2-D hd": ("general", lambda a: {**a, "hd": a["hd"][:, 0]}, r"hd must be 3-D of shape"),
}


@pytest.mark.parametrize("case", list(BAD_SCORES))
def test_a_score_refuses_bad_input(rng, case):
    score, change, message = BAD_SCORES[case]
    inputs = change(_score_inputs(score, rng))
    assert_refused(lambda: att.SCORE_FORWARD[score](**inputs), f"^{score}_score_forward: {message}")


@pytest.mark.parametrize("score", att.SCORES)
def test_a_score_backward_refuses_a_gradient_of_another_shape(rng, score):
    scores, cache = att.SCORE_FORWARD[score](**_score_inputs(score, rng))
    assert_refused(lambda: att.SCORE_BACKWARD[score](scores[:, :1], cache),
                   rf"^{score}_score_backward: dscores must have the shape of the forward's "
                   rf"scores, \({N}, {T}, {S}\), got \({N}, 1, {S}\)")


def _attention_args(rng):
    inputs = _score_inputs("general", rng)
    p = {"W_a": inputs["W_a"], "W_c": rng.standard_normal((2 * H, H))}
    return {"score": "general", "hd": inputs["hd"], "hs": inputs["hs"], "src_mask": SRC_MASK,
            "p": p}


BAD_ATTENTION = {  # name: (change to the arguments, message)
    "unknown score": (lambda a: {**a, "score": "luong"},  # a scalar: named, no function
                      r"^score must be one of \('dot', 'general', 'concat'\), got 'luong'"),
    "hs of batch 1": (lambda a: {**a, "hs": a["hs"][:1], "src_mask": a["src_mask"][:1]},
                      rf"hs must have shape \(N, S, H\) = \({N}, {S}, {H}\), got \(1, {S}, {H}\)"),
    "src_mask of one row": (lambda a: {**a, "src_mask": a["src_mask"][0]},
                            rf"src_mask must be 2-D of shape \(N, S\), got shape \({S},\)"),
    "src_mask one short": (lambda a: {**a, "src_mask": a["src_mask"][:, 1:]},
                           rf"src_mask must have shape \(N, S\) = \({N}, {S}\), got "
                           rf"\({N}, {S - 1}\) \(N is {N} in hd, S is {S} in hs\)"),
    "float src_mask": (lambda a: {**a, "src_mask": a["src_mask"] * 1.0},
                       "src_mask must be a bool array, got float64"),
    "no W_a": (lambda a: {**a, "p": {"W_c": a["p"]["W_c"]}},
               r"p lacks 'W_a' \(W_c and the general score's weights\); it has \['W_c'\]"),
    "W_c square": (lambda a: {**a, "p": {**a["p"], "W_c": a["p"]["W_c"][:H]}},
                   rf"W_c must have shape \(2H, H\) = \({2 * H}, {H}\), got \({H}, {H}\)"),
}


@pytest.mark.parametrize("change, message", BAD_ATTENTION.values(), ids=list(BAD_ATTENTION))
def test_attention_refuses_bad_input(rng, change, message):
    assert_refused(lambda: att.attention_forward(**change(_attention_args(rng))), message,
                   "attention_forward")


def test_attention_backward_refuses_a_gradient_of_another_shape(rng):
    h_tilde, _, cache = att.attention_forward(**_attention_args(rng))
    assert_refused(lambda: att.attention_backward(h_tilde[:1], cache),
                   r"^attention_backward: dh_tilde must have the shape of the forward's h_tilde")
    assert_refused(lambda: att.attention_backward(h_tilde, cache.score_cache),
                   r"^attention_backward: cache must be the AttentionCache that attention_forward")
