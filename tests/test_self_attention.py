"""Scaled dot-product attention: gradient checks, masks, input checks and PyTorch's equivalent.

The PyTorch comparison needs the optional torch extra (``pip install torch==2.13.0``) and is
skipped, with the reason printed, without it.
"""

import numpy as np
import pytest

from numpy_seq2seq.functional import self_attention as sa
from numpy_seq2seq.gradcheck import check_layer

from conftest import assert_gradcheck
from sizes import A, H, N, S, T

TOL = 1e-7
FAMILY = "self-attention"
BROKEN_IDS = ["correct", "wrong-backward-is-caught"]
# queries of length T, keys and values of length S, d = H, d_v = A: all distinct
MASKS = ["none", "padding", "causal", "full-with-empty-row"]


def _mask(kind, rng):
    """A bool mask of each broadcastable shape the forward accepts (None for 'none')."""
    if kind == "none":
        return None
    if kind == "padding":  # (N, 1, S): rows 1 and 2 end early
        lengths = np.array([S, 3, 5])
        return (np.arange(S)[None, :] < lengths[:, None])[:, None, :]
    if kind == "causal":  # (T, S), query i sees keys j <= i + S - T (aligned at the end)
        return np.tril(np.ones((T, S), dtype=bool), k=S - T)
    m = rng.random((N, T, S)) < 0.6  # (N, T, S)
    m[:, :, 0] = True
    m[1, 2] = False  # one query that may see nothing
    return m


def _inputs(rng, dtype=np.float64):
    return {"q": rng.standard_normal((N, T, H)).astype(dtype),
            "k": rng.standard_normal((N, S, H)).astype(dtype),
            "v": rng.standard_normal((N, S, A)).astype(dtype)}


def _backward_without_scale(dout, cache):
    """Forgets the 1/√d of the scores in the gradients of q and k."""
    dq, dk, dv = sa.scaled_dot_product_attention_backward(dout, cache)
    return dq / cache.scale, dk / cache.scale, dv


@pytest.mark.parametrize("kind", MASKS)
@pytest.mark.parametrize("broken", [False, True], ids=BROKEN_IDS)
def test_gradient(rng, kind, broken):
    mask = _mask(kind, rng)
    backward = _backward_without_scale if broken else sa.scaled_dot_product_attention_backward

    def forward(q, k, v):
        out, _, cache = sa.scaled_dot_product_attention_forward(q, k, v, mask)
        return out, cache

    report = check_layer(forward, lambda d, c: dict(zip("qkv", backward(d, c), strict=True)),
                         _inputs(rng))
    assert_gradcheck(report, FAMILY, TOL, broken)


def test_self_attention_gradient_reaches_the_shared_input(rng):
    """Q, K and V made from one sequence X: the gradient of X sums the three paths."""
    x = rng.standard_normal((N, S, H))
    W = {name: rng.standard_normal((H, d)) * 0.5 for name, d in (("q", H), ("k", H), ("v", A))}
    causal = np.tril(np.ones((S, S), dtype=bool))

    def forward(x):
        out, _, cache = sa.scaled_dot_product_attention_forward(
            x @ W["q"], x @ W["k"], x @ W["v"], causal)
        return out, cache

    def backward(dout, cache):
        dq, dk, dv = sa.scaled_dot_product_attention_backward(dout, cache)
        return {"x": dq @ W["q"].T + dk @ W["k"].T + dv @ W["v"].T}

    assert_gradcheck(check_layer(forward, backward, {"x": x}), FAMILY, TOL)


@pytest.mark.parametrize("kind", MASKS)
def test_forward_matches_the_equation_one_query_at_a_time(rng, kind):
    x = _inputs(rng)
    mask = _mask(kind, rng)
    out, w, _ = sa.scaled_dot_product_attention_forward(x["q"], x["k"], x["v"], mask)
    allowed = np.broadcast_to(True if mask is None else mask, (N, T, S))
    for n in range(N):
        for i in range(T):
            m = allowed[n, i]
            e = x["k"][n] @ x["q"][n, i] / np.sqrt(H)  # (S,)
            a = np.where(m, np.exp(e - e[m].max(initial=0.0)), 0.0)
            a = a / a.sum() if m.any() else a
            assert np.allclose(w[n, i], a, atol=1e-14)
            assert np.allclose(out[n, i], a @ x["v"][n], atol=1e-14)


def test_fully_masked_query_gets_zeros_not_nan(rng):
    x = _inputs(rng)
    mask = _mask("full-with-empty-row", rng)
    out, w, cache = sa.scaled_dot_product_attention_forward(x["q"], x["k"], x["v"], mask)
    dq, dk, dv = sa.scaled_dot_product_attention_backward(rng.standard_normal(out.shape), cache)
    assert (w[1, 2] == 0).all() and (out[1, 2] == 0).all() and (dq[1, 2] == 0).all()
    assert all(np.isfinite(a).all() for a in (out, w, dq, dk, dv))


def test_float32_stays_float32(rng):
    x = _inputs(rng, np.float32)
    out, w, cache = sa.scaled_dot_product_attention_forward(x["q"], x["k"], x["v"])
    grads = sa.scaled_dot_product_attention_backward(np.ones_like(out), cache)
    assert {a.dtype for a in (out, w, *grads)} == {np.dtype(np.float32)}


def test_backward_leaves_the_cache_untouched(rng):
    x = _inputs(rng)
    out, w, cache = sa.scaled_dot_product_attention_forward(x["q"], x["k"], x["v"])
    before = [a.copy() for a in (cache.q, cache.k, cache.v, cache.softmax_cache.p)]
    sa.scaled_dot_product_attention_backward(rng.standard_normal(out.shape), cache)
    after = (cache.q, cache.k, cache.v, cache.softmax_cache.p)
    assert all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))


BAD_INPUTS = {
    "2-D q": (lambda x: {**x, "q": x["q"][0]},
              r"q must be 3-D of shape \(N, L_q, d\), got shape \(5, 6\)"),
    "list k": (lambda x: {**x, "k": x["k"].tolist()},
               r"k must be an ndarray of shape \(N, L_k, d\), got list"),
    "int v": (lambda x: {**x, "v": x["v"].astype(int)}, "v must be float32 or float64.*int64"),
    "mixed dtypes": (lambda x: {**x, "k": x["k"].astype(np.float32)},
                     "k is float32 but q is float64: give every array one dtype"),
    "batch": (lambda x: {**x, "k": x["k"][:2], "v": x["v"][:2]},
              r"k must have shape \(N, L_k, d\) = \(3, 7, 6\), got \(2, 7, 6\) \(N is 3 in q"),
    "d": (lambda x: {**x, "k": x["k"][..., :4]},
          r"k must have shape \(N, L_k, d\) = \(3, 7, 6\), got \(3, 7, 4\) \(.*d is 6 in q"),
    "L_k": (lambda x: {**x, "v": x["v"][:, :4]},
            r"v must have shape \(N, L_k, d_v\) = \(3, 7, 5\), got \(3, 4, 5\) .*L_k is 7 in k"),
    "float mask": (lambda x: {**x, "mask": np.ones((N, T, S))},
                   r"mask must be a bool ndarray \(True = may attend\).*got float64"),
    "mask shape": (lambda x: {**x, "mask": np.ones((N, S, T), dtype=bool)},
                   r"mask of shape \(3, 7, 5\) does not broadcast to \(N, L_q, L_k\) = "
                   r"\(3, 5, 7\)"),
    "mask grows": (lambda x: {**x, "mask": np.ones((2, N, T, S), dtype=bool)},
                   r"mask of shape \(2, 3, 5, 7\) does not broadcast"),
}


@pytest.mark.parametrize("change, message", BAD_INPUTS.values(), ids=list(BAD_INPUTS))
def test_bad_input_gets_one_clear_line(rng, change, message):
    args = change({**_inputs(rng), "mask": None})
    with pytest.raises(ValueError, match=message) as info:
        sa.scaled_dot_product_attention_forward(**args)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------
# PyTorch's scaled_dot_product_attention, in float64, on the same inputs

@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed (optional 'torch' extra)")


@pytest.mark.parametrize("kind", MASKS)
def test_matches_torch_forward_and_backward(rng, torch, kind):
    x = _inputs(rng)
    mask = _mask(kind, rng)
    out, w, cache = sa.scaled_dot_product_attention_forward(x["q"], x["k"], x["v"], mask)
    dout = rng.standard_normal(out.shape)
    grads = sa.scaled_dot_product_attention_backward(dout, cache)

    tx = {name: torch.tensor(a, requires_grad=True) for name, a in x.items()}
    t_out = torch.nn.functional.scaled_dot_product_attention(
        tx["q"], tx["k"], tx["v"], attn_mask=None if mask is None else torch.from_numpy(mask))
    t_out.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=0, atol=1e-12)
    for name, g in zip("qkv", grads, strict=True):
        np.testing.assert_allclose(g, tx[name].grad.numpy(), rtol=0, atol=1e-12, err_msg=name)
