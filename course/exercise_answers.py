"""Model answers to the "## Exercises" at the end of notebooks/01–09: the numbers they produce.

    python course/exercise_answers.py             # every notebook (about an hour on 2 cores)
    python course/exercise_answers.py 01 03       # some of them

Each ``nbXX`` function answers every exercise of that notebook (four or five), in order, with
the notebook's own setup and its ``full`` budget (sizes, seeds), prints one block of numbers per
exercise, headed "E<k> ·", and asserts the point of the answer, so an answer that stops holding
fails loudly. course/MODEL_ANSWERS.md quotes the output and explains it;
tests/test_course_exercise_answers.py checks that every exercise has its answer here.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: one BLAS thread is fastest

import numpy as np  # noqa: E402
import sacrebleu  # noqa: E402

from numpy_seq2seq import run  # noqa: E402
from numpy_seq2seq.analysis import (  # noqa: E402
    accuracy_by_position,
    gradient_flow_experiment,
    input_gradient_norms,
    layer_cost,
    scheduled_sampling_inputs,
    source_gradient_norms,
    teacher_forced_accuracy_by_position,
)
from numpy_seq2seq.config import DataConfig, ModelConfig, TrainConfig  # noqa: E402
from numpy_seq2seq.data import (  # noqa: E402
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    Vocab,
    encode_pairs,
    iterate_batches,
    make_task,
    pad_sequences,
    split_pairs,
)
from numpy_seq2seq.decoding import beam_search, greedy_decode  # noqa: E402
from numpy_seq2seq.functional.activations import sigmoid  # noqa: E402
from numpy_seq2seq.functional.attention import (  # noqa: E402
    concat_score_backward,
    concat_score_forward,
    dot_score_forward,
    general_score_backward,
    general_score_forward,
)
from numpy_seq2seq.functional.gru import gru_step_forward  # noqa: E402
from numpy_seq2seq.functional.lstm import lstm_step_backward, lstm_step_forward  # noqa: E402
from numpy_seq2seq.functional.recurrent import (  # noqa: E402
    cell_param_shapes,
    recurrent_backward,
    recurrent_forward,
)
from numpy_seq2seq.functional.rnn import rnn_step_backward, rnn_step_forward  # noqa: E402
from numpy_seq2seq.functional.self_attention import (  # noqa: E402
    scaled_dot_product_attention_backward,
    scaled_dot_product_attention_forward,
)
from numpy_seq2seq.functional.softmax import (  # noqa: E402
    log_softmax,
    masked_softmax_backward,
    masked_softmax_forward,
)
from numpy_seq2seq.gradcheck import check_gradients, check_layer, rel_error  # noqa: E402
from numpy_seq2seq.model import Seq2Seq  # noqa: E402
from numpy_seq2seq.optim import Adam, clip_grad_norm  # noqa: E402
from numpy_seq2seq.training import evaluate, train  # noqa: E402


def say(text: str = "") -> None:
    print(text, flush=True)


# =============================================================================================
# 01 · the tanh RNN and BPTT

def _rnn_unroll(x, h0, Wx, Wh, b, act="tanh"):
    """h_t for every t, with tanh or the identity; returns hs (N, T, H)."""
    h, hs = h0, []
    for t in range(x.shape[1]):
        a = x[:, t] @ Wx + h @ Wh + b
        h = np.tanh(a) if act == "tanh" else a
        hs.append(h)
    return np.stack(hs, axis=1)


def _decay(x, h0, Wx, Wh, b, g_last, act="tanh", clip=None):
    """‖∂L/∂h_t‖ (per example) for L = <h_T, g>, by distance T - t; optional per-step clipping
    of the carried gradient to norm ``clip`` (per row)."""
    hs = _rnn_unroll(x, h0, Wx, Wh, b, act)
    dh, norms = g_last, []
    for t in reversed(range(x.shape[1])):
        norms.append(np.linalg.norm(dh) / np.sqrt(len(dh)))
        da = dh * (1 - hs[:, t] ** 2) if act == "tanh" else dh
        dh = da @ Wh.T
        if clip is not None:
            n = np.linalg.norm(dh, axis=1, keepdims=True)
            dh = dh * np.minimum(1.0, clip / np.maximum(n, 1e-300))
    return np.array(norms)


def nb01() -> None:
    N, T, D, H = 3, 6, 4, 5
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T, D))
    h0 = np.zeros((N, H))
    Wx = rng.uniform(-1, 1, (D, H)) / np.sqrt(H)
    Wh = rng.uniform(-1, 1, (H, H)) / np.sqrt(H)
    b = np.zeros(H)

    say("E1 · loss on h_T only: dhs is zero except at the last step; BPTT unchanged")
    g_T = rng.standard_normal((N, H))

    def loss():
        h = h0
        for t in range(T):
            h, _ = rnn_step_forward(x[:, t], h, Wx, Wh, b)
        return float(np.sum(h * g_T))

    caches, h = [], h0
    for t in range(T):
        h, c = rnn_step_forward(x[:, t], h, Wx, Wh, b)
        caches.append(c)
    grads = {"x": np.zeros_like(x), "Wx": 0 * Wx, "Wh": 0 * Wh, "b": 0 * b}
    dh = g_T
    for t in reversed(range(T)):
        dx, dh, dWx, dWh, db = rnn_step_backward(dh, caches[t])
        grads["x"][:, t] = dx
        for k, v in (("Wx", dWx), ("Wh", dWh), ("b", db)):
            grads[k] = grads[k] + v
    report = check_gradients(loss, {"x": x, "Wx": Wx, "Wh": Wh, "b": b}, grads, max_coords=None)
    per_step = [float(np.linalg.norm(grads["x"][:, t])) for t in range(T)]
    say(f"  worst relative error {report.max_error:.1e}; ‖dx_t‖ for t = 0..{T - 1}: "
        + ", ".join(f"{v:.3f}" for v in per_step))
    assert report.max_error < 1e-7 and per_step[0] < per_step[-1]

    say("E2 · linear RNN: ‖∂L/∂h_t‖ follows ρ(W_h)^distance")
    T_long = 60
    x_long = rng.standard_normal((N, T_long, D))
    g_last = rng.standard_normal((N, H))
    Q, _ = np.linalg.qr(rng.standard_normal((H, H)))
    for rho in (0.5, 0.9, 1.0, 1.1):
        W = rho * Q  # orthogonal times rho: every eigenvalue has modulus rho
        prof = _decay(x_long, h0, Wx, W, b, g_last, act="linear")
        say(f"  ρ = {rho:3.1f}: 20 steps back / at the loss = {prof[20] / prof[0]:.2e}"
            f"   (ρ^20 = {rho ** 20:.2e})")
        assert abs(np.log(prof[20] / prof[0]) - 20 * np.log(rho)) < 1e-6
    W = rng.standard_normal((H, H))
    W /= np.max(np.abs(np.linalg.eigvals(W)))  # spectral radius 1, not normal
    prof = _decay(x_long, h0, Wx, 0.9 * W, b, g_last, act="linear")
    say(f"  non-normal W_h with ρ = 0.9, ‖W_h‖₂ = {np.linalg.norm(0.9 * W, 2):.2f}: "
        f"distance 5: {prof[5] / prof[0]:.2e}, 20: {prof[20] / prof[0]:.2e}, "
        f"50: {prof[50] / prof[0]:.2e} (ρ^50 = {0.9 ** 50:.2e})")

    say("E3 · a step backward written from the equation, checked with check_layer")

    def my_backward(dh, cache):
        da = dh * (1 - cache.h ** 2)
        return {"x": da @ cache.Wx.T, "h_prev": da @ cache.Wh.T, "Wx": cache.x.T @ da,
                "Wh": cache.h_prev.T @ da, "b": da.sum(axis=0)}

    inputs = {"x": x[:, 0].copy(), "h_prev": rng.standard_normal((N, H)), "Wx": Wx.copy(),
              "Wh": Wh.copy(), "b": rng.standard_normal(H)}
    report = check_layer(rnn_step_forward, my_backward, inputs)
    say(f"  worst relative error {report.max_error:.1e} ({report.worst})")
    assert report.max_error < 1e-7

    say("E4 · clipping the carried gradient at every step (norm 1 per example)")
    W0 = rng.standard_normal((H, H))
    W0 /= np.linalg.norm(W0, 2)
    for scale in (0.5, 3.0):
        free = _decay(x_long, h0, Wx, scale * W0, b, g_last)
        clipped = _decay(x_long, h0, Wx, scale * W0, b, g_last, clip=1.0)
        say(f"  ‖W_h‖₂ = {scale}: largest ratio to the loss's norm over 60 steps "
            f"{free.max() / free[0]:.2e} unclipped, {clipped.max() / clipped[0]:.2e} clipped; "
            f"20 steps back {free[20] / free[0]:.1e} unclipped, {clipped[20] / clipped[0]:.1e} "
            "clipped")


# =============================================================================================
# 02 · LSTM and GRU

def _profile(cell, forget_bias=1.0, update_bias=0.0, T_long=100, seed=0):
    """Notebook 02's gradient norm by distance (N 16, D 8, H 32, loss on the last state)."""
    N, D, H = 16, 8, 32
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T_long, D)) * 0.5
    g_last = rng.standard_normal((N, H))
    r = np.random.default_rng(seed)
    p = {k: r.uniform(-1, 1, s) / np.sqrt(H) for k, s in cell_param_shapes(cell, D, H).items()}
    if cell == "lstm":
        p["b"][H:2 * H] = forget_bias
    if cell == "gru":
        p["b"][H:2 * H] = update_bias
    state0 = tuple(np.zeros((N, H)) for _ in range(2 if cell == "lstm" else 1))
    hs, _, cache = recurrent_forward(cell, x, state0, np.ones((N, T_long), bool), p)
    dhs = np.zeros_like(hs)
    dhs[:, -1] = g_last
    total = np.empty_like(hs)
    recurrent_backward(dhs, None, cache, dh_total=total)
    return np.linalg.norm(total, axis=-1).mean(axis=0)[::-1]


def _gru_cho_forward(x, h_prev, Wx, Wh, b):
    """Cho et al.'s GRU: n = tanh(x W_xn + (r ⊙ h_prev) W_hn + b_n); gates r, z, n."""
    H = h_prev.shape[1]
    xw = x @ Wx + b
    r = sigmoid(xw[:, :H] + h_prev @ Wh[:, :H])
    z = sigmoid(xw[:, H:2 * H] + h_prev @ Wh[:, H:2 * H])
    n = np.tanh(xw[:, 2 * H:] + (r * h_prev) @ Wh[:, 2 * H:])
    h = (1 - z) * n + z * h_prev
    return h, (x, h_prev, Wx, Wh, r, z, n)


def _gru_cho_backward(dh, cache):
    x, h_prev, Wx, Wh, r, z, n = cache
    H = h_prev.shape[1]
    dan = dh * (1 - z) * (1 - n ** 2)  # into n, through tanh
    drh = dan @ Wh[:, 2 * H:].T  # into r ⊙ h_prev
    dar = drh * h_prev * r * (1 - r)  # into r, through σ
    daz = dh * (h_prev - n) * z * (1 - z)  # into z, through σ
    dxw = np.concatenate([dar, daz, dan], axis=1)
    dWh = np.concatenate([h_prev.T @ dar, h_prev.T @ daz, (r * h_prev).T @ dan], axis=1)
    dh_prev = dh * z + dar @ Wh[:, :H].T + daz @ Wh[:, H:2 * H].T + drh * r
    return {"x": dxw @ Wx.T, "h_prev": dh_prev, "Wx": x.T @ dxw, "Wh": dWh,
            "b": dxw.sum(axis=0)}


def _sigma(v: float) -> float:
    return float(1 / (1 + np.exp(-v)))


def nb02() -> None:
    say("E1 · LSTM forget bias: 30 steps back / at the loss (T = 100)")
    ratio = {bias: (p := _profile("lstm", forget_bias=bias))[30] / p[0]
             for bias in (3.0, 1.0, 0.0, -1.0)}
    for bias, value in ratio.items():
        say(f"  forget bias {bias:+.0f}: {value:.1e}   (σ(b_f) = {_sigma(bias):.2f},"
            f" σ(b_f)^30 = {_sigma(bias) ** 30:.1e})")
    assert ratio[3.0] > ratio[1.0] > ratio[0.0] > ratio[-1.0]

    say("E2 · the gradient into a_f, dc_t ⊙ c_prev ⊙ f(1 − f), against the code")
    rng = np.random.default_rng(0)
    N, D, H = 3, 4, 5
    x, h_prev, c_prev = (rng.standard_normal(s) for s in ((N, D), (N, H), (N, H)))
    Wx, Wh, b = (rng.uniform(-1, 1, s) / np.sqrt(H) for s in ((D, 4 * H), (H, 4 * H), (4 * H,)))
    _, _, cache = lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
    dh, dc = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    da = lstm_step_backward(dh, dc, cache._replace(Wx=np.eye(4 * H)))[0]  # dx = da when W_x = I
    dc_t = dc + dh * cache.o * (1 - cache.tanh_c ** 2)
    by_hand = dc_t * c_prev * cache.f * (1 - cache.f)
    say(f"  relative difference from the code's da_f: {rel_error(by_hand, da[:, H:2 * H]):.1e}")
    assert rel_error(by_hand, da[:, H:2 * H]) < 1e-12

    say("E3 · Cho et al.'s GRU (reset before the product), checked with check_layer")
    Wxg, Whg = (rng.uniform(-1, 1, s) / np.sqrt(H) for s in ((D, 3 * H), (H, 3 * H)))
    inputs = {"x": x, "h_prev": h_prev, "Wx": Wxg, "Wh": Whg, "b": rng.standard_normal(3 * H)}
    report = check_layer(_gru_cho_forward, _gru_cho_backward, inputs)
    h_cho, _ = _gru_cho_forward(**inputs)
    h_torch, _ = gru_step_forward(**inputs, bhn=np.zeros(H))
    say(f"  worst relative error {report.max_error:.1e}; differs from PyTorch's placement by "
        f"{rel_error(h_cho, h_torch):.2f} (relative) on the same weights")
    assert report.max_error < 1e-7

    say("E4 · GRU update-gate bias: 30 steps back / at the loss")
    for bias in (0.0, 2.0):
        p = _profile("gru", update_bias=bias)
        say(f"  update bias {bias:+.0f}: {p[30] / p[0]:.1e}   (σ(b_z) = "
            f"{_sigma(bias):.2f})")
    assert _profile("gru", update_bias=2.0)[30] > _profile("gru")[30]


# =============================================================================================
# 03 · attention scores

def _rotation_task(n_queries=400, S_q=8, H_q=6, seed=1, long_key=None):
    r = np.random.default_rng(seed)
    R, _ = np.linalg.qr(r.standard_normal((H_q, H_q)))
    keys = r.standard_normal((n_queries, S_q, H_q))
    target = r.integers(0, S_q, n_queries)
    queries = (keys[np.arange(n_queries), target] @ R)[:, None, :]
    if long_key is not None:  # a non-target key 5x longer in every example
        other = (target + 1) % S_q
        keys = keys.copy()
        keys[np.arange(n_queries), other] *= long_key
    return R, keys, target, queries


def _learn(score, queries, keys, target, steps, seed=0, record_every=10):
    """Adam on −log a(s*) for the general or concat score; accuracy every few steps."""
    n, S_q, H_q = keys.shape
    r = np.random.default_rng(seed)
    if score == "general":
        p = {"W_a": r.standard_normal((H_q, H_q)) * 0.1}
        fwd, bwd = general_score_forward, general_score_backward
    else:
        p = {"W_a": r.standard_normal((2 * H_q, 16)) * 0.3, "v_a": r.standard_normal(16) * 0.3}
        fwd, bwd = concat_score_forward, concat_score_backward
    opt, mask, accs = Adam(p, lr=0.05), np.ones((n, 1, S_q), bool), []
    for step in range(steps + 1):
        sc, cache = fwd(queries, keys, *p.values())
        if step % record_every == 0:
            accs.append((step, float((sc[:, 0].argmax(-1) == target).mean())))
        if step == steps:
            break
        a, sm = masked_softmax_forward(sc, mask)
        picked = a[np.arange(n), 0, target]
        da = np.zeros_like(a)
        da[np.arange(n), 0, target] = -1.0 / (picked * n)
        _, _, grads = bwd(masked_softmax_backward(da, sm), cache)
        opt.step(grads)
    return p, accs


def _first_step(accs, level):
    return next((s for s, a in accs if a >= level), None)


def nb03() -> None:
    _, keys, target, queries = _rotation_task()
    say("E1 · concat vs general on the rotated-keys task (400 queries, Adam lr 0.05)")
    for score in ("general", "concat"):
        _, accs = _learn(score, queries, keys, target, 1500)
        say(f"  {score:8s}: accuracy at steps 0/50/150/300/1500 = "
            + " / ".join(f"{a:.2f}" for s, a in accs if s in (0, 50, 150, 300, 1500))
            + f"; first ≥ 0.8 at step {_first_step(accs, 0.8)}")

    say("E2 · one (non-target) key 5x longer: how often is it chosen?")
    R, keys5, target5, queries5 = _rotation_task(long_key=5.0)
    p_gen, _ = _learn("general", queries, keys, target, 300)
    p_cat, _ = _learn("concat", queries, keys, target, 300)
    other = (target5 + 1) % keys5.shape[1]
    plain_q = keys5[np.arange(len(target5)), target5][:, None, :]  # no rotation: dot is right
    rows = {"dot (unrotated queries)": dot_score_forward(plain_q, keys5)[0],
            "general (learned W_a)": general_score_forward(queries5, keys5, p_gen["W_a"])[0],
            "concat (learned)": concat_score_forward(queries5, keys5, *p_cat.values())[0]}
    rows_before = {"dot (unrotated queries)": dot_score_forward(
        keys[np.arange(len(target)), target][:, None, :], keys)[0],
        "general (learned W_a)": general_score_forward(queries, keys, p_gen["W_a"])[0],
        "concat (learned)": concat_score_forward(queries, keys, *p_cat.values())[0]}
    for name, sc in rows.items():
        pick = sc[:, 0].argmax(-1)
        acc_before = float((rows_before[name][:, 0].argmax(-1) == target).mean())
        say(f"  {name:25s} accuracy {acc_before:.2f} -> {(pick == target5).mean():.2f}; "
            f"picks the long key {(pick == other).mean():.2f} of the time")

    say("E3 · a fully masked row")
    scores = np.array([[[2.0, -1.0, 0.5]]])
    p, cache = masked_softmax_forward(scores, np.zeros((1, 1, 3), bool))
    ds = masked_softmax_backward(np.ones_like(p), cache)
    say(f"  weights {p.ravel()}, sum {p.sum()}, gradient {ds.ravel()}, any NaN: "
        f"{bool(np.isnan(p).any() or np.isnan(ds).any())}")
    assert not p.any() and not ds.any()

    say("E4 · the general score's backward by hand: dq = ds h̄, dh = dq W_aᵀ, dW_a = Σ hᵀ dq")
    rng = np.random.default_rng(0)
    hd, hs, W_a = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), \
        rng.standard_normal((4, 4))
    _, cache = general_score_forward(hd, hs, W_a)
    ds = rng.standard_normal((2, 3, 5))
    dq = ds @ hs
    mine = (dq @ W_a.T, ds.swapaxes(1, 2) @ (hd @ W_a), np.einsum("nti,ntj->ij", hd, dq))
    lib = general_score_backward(ds, cache)
    errs = [rel_error(a, b) for a, b in zip(mine, (lib[0], lib[1], lib[2]["W_a"]))]
    say("  relative differences dh, dh̄, dW_a: " + ", ".join(f"{e:.1e}" for e in errs))
    assert max(errs) < 1e-12


# =============================================================================================
# 04 and 05 · the copy task, full budget: 16,000 pairs of 3–16 letters, 10 epochs, H = 32

EVAL_LENGTHS = (4, 8, 12, 16)


def _copy_setup(task="copy", min_len=3, max_len=16, eval_lengths=EVAL_LENGTHS, n_train=16000):
    pairs = make_task(task, n_train, seed=0, min_len=min_len, max_len=max_len)
    src_vocab = Vocab.from_texts(s for s, _ in pairs)
    tgt_vocab = Vocab.from_texts(t for _, t in pairs)
    data = encode_pairs(pairs, src_vocab, tgt_vocab)
    evals = {L: encode_pairs(make_task(task, 200, seed=100 + L, min_len=L, max_len=L),
                             src_vocab, tgt_vocab) for L in eval_lengths}
    return src_vocab, tgt_vocab, data, evals


def _fit(setup, epochs=10, **kw):
    src_vocab, tgt_vocab, data, evals = setup
    size = {"embed_dim": 16, "hidden_dim": 32, "cell": "lstm", **kw}
    model = Seq2Seq(len(src_vocab), len(tgt_vocab), seed=0, **size)
    start = time.perf_counter()
    # constant: no held-out data, so the rate these answers were measured with (schedule.py)
    train(model, data, epochs=epochs, batch_size=32, lr=0.01, clip=5.0, schedule="constant",
          seed=0, progress=False)
    em = {L: evaluate(model, *evals[L])["exact_match"] for L in evals}
    return model, em, time.perf_counter() - start


def _row(name, em, seconds):
    say(f"  {name:34s} " + "  ".join(f"S={L}: {v:.2f}" for L, v in em.items())
        + f"   ({seconds:.0f} s)")


def nb04() -> None:
    copy = _copy_setup()
    _, base, s = _fit(copy, attention=None)
    _row("plain LSTM, H = 32 (the notebook's)", base, s)
    say("E1 · hidden_dim 64")
    _, wide, s = _fit(copy, attention=None, hidden_dim=64)
    _row("plain LSTM, H = 64", wide, s)
    say("E2 · the reverse task, with and without reverse_source")
    rev = _copy_setup("reverse")
    for flag in (False, True):
        _, em, s = _fit(rev, attention=None, reverse_source=flag)
        _row(f"reverse task, reverse_source={flag}", em, s)
    say("E3 · RNN and GRU")
    for cell in ("rnn", "gru"):
        _, em, s = _fit(copy, attention=None, cell=cell)
        _row(f"plain {cell.upper()}", em, s)
    say("E4 · trained on lengths 3–8, evaluated on 4, 8, 12, 16")
    short = _copy_setup(max_len=8)
    _, em, s = _fit(short, attention=None)
    _row("plain LSTM, trained on 3–8", em, s)
    _, em, s = _fit(short, attention="general")
    _row("general attention, trained on 3–8", em, s)
    say("E5 · the last four letters of a 12–20-letter source instead of the first four: the "
        "first output's held-out accuracy after each epoch (sources of 20 letters)")
    reach, first_epoch = {}, {}
    for name, target in (("first four (the notebook's)", lambda s: s[:4]),
                         ("last four", lambda s: s[-4:])):
        for label, curve in _first_output_curves(copy, target).items():
            reach[name, label] = next((e for e, a in enumerate(curve, 1) if a >= 0.9), None)
            first_epoch[name, label] = curve[0]
            say(f"  {name:27s} {label:24s} " + " ".join(f"{a:.2f}" for a in curve)
                + f"   90 % at epoch {reach[name, label]}")
    # the mirror image of the notebook's result: now the plain model reads the letters it
    # needs last, and the reversed one reads them first. Since embeddings start at N(0, 1)
    # both plain models reach 90 % by epoch 2, so the first epoch is where they differ.
    assert reach["last four", "plain"] is not None and reach["last four", "plain"] <= 2
    for name, faster, slower in (("first four (the notebook's)", "plain, reversed source",
                                  "plain"), ("last four", "plain", "plain, reversed source")):
        assert first_epoch[name, faster] > first_epoch[name, slower], (name, first_epoch)
    say("E6 · scheduled sampling with ε rising to 0.25, 0.5 (the notebook's) and 1.0: "
        "second half of the outputs, teacher-forced and greedy accuracy and their gap")
    for eps in (0.25, 0.5, 1.0):
        forced, free = _scheduled_sampling(copy, eps)
        say(f"  ε up to {eps:.2f}: teacher forced {forced:.3f}, greedy {free:.3f}, "
            f"gap {forced - free:.3f}")


def _scheduled_sampling(setup, eps_max, epochs=10, seed=0):
    """The notebook's scheduled-sampling loop (train's batches, Adam, clipping; ε rising
    linearly from 0 to ``eps_max``) with the library's ``scheduled_sampling_inputs``; returns
    the teacher-forced and the greedy accuracy on the second half of the held-out 16-letter
    outputs."""
    src_vocab, tgt_vocab, (srcs, tgts), evals = setup
    model = Seq2Seq(len(src_vocab), len(tgt_vocab), seed=seed, embed_dim=16, hidden_dim=32,
                    attention=None)
    opt, order = Adam(model.params, lr=0.01), np.random.default_rng(seed)
    coin = np.random.default_rng([seed, 2])
    total, step = epochs * -(-len(srcs) // 32), 0
    for _ in range(epochs):
        for src, tgt in iterate_batches(srcs, tgts, 32, seed=order, bucket=True):
            step += 1
            inputs = scheduled_sampling_inputs(model, src, tgt, min(1.0, eps_max * step / total),
                                               coin)
            _, grads = model.loss_and_grads(src, tgt, decoder_inputs=inputs)
            clip_grad_norm(grads, 5.0)
            opt.step(grads)
    src, tgt = evals[16]
    forced = teacher_forced_accuracy_by_position(model, src, tgt)
    free = np.asarray(accuracy_by_position(evaluate(model, src, tgt)["hypotheses"],
                                           tgt)["accuracy"])
    half = len(forced) // 2
    return float(np.nanmean(forced[half:])), float(np.nanmean(free[half:]))


PREFIX_MODELS = {"plain": {"attention": None},
                 "plain, reversed source": {"attention": None, "reverse_source": True},
                 "general attention": {"attention": "general"}}


def _first_output_curves(copy, target, n_train=16000, epochs=10):
    """Notebook 04's last experiment with targets ``target(source)``: for each model, the
    held-out accuracy of the first output after every epoch, on sources of 20 letters."""
    src_vocab, tgt_vocab = copy[0], copy[1]

    def pairs(n, seed, min_len, max_len):
        return encode_pairs([(s, target(s)) for s, _ in make_task(
            "copy", n, seed=seed, min_len=min_len, max_len=max_len)], src_vocab, tgt_vocab)

    data, held_out = pairs(n_train, 0, 12, 20), pairs(200, 120, 20, 20)
    curves = {}
    for label, kw in PREFIX_MODELS.items():
        model = Seq2Seq(len(src_vocab), len(tgt_vocab), seed=0, embed_dim=16, hidden_dim=32,
                        cell="lstm", **kw)
        curves[label] = []
        train(model, data, epochs=epochs, batch_size=32, lr=0.01, clip=5.0, schedule="constant",
              seed=0,
              progress=False, on_epoch_end=lambda e, m, h, model=model, c=curves[label]: c.append(
                  accuracy_by_position(evaluate(model, *held_out)["hypotheses"],
                                       held_out[1])["accuracy"][0]))
    return curves


def _attention_argmax(model, ids):
    hyp = greedy_decode(model, np.asarray(ids)[None, :])[0]
    return hyp, hyp.attention.argmax(axis=1)


def nb05() -> None:
    copy = _copy_setup(eval_lengths=EVAL_LENGTHS + (24,))
    general, em, s = _fit(copy, attention="general")
    _row("general (the notebook's), with S = 24", em, s)
    say("E1 · input feeding")
    _, em, s = _fit(copy, attention="general", input_feeding=True)
    _row("general + input feeding", em, s)
    say("E2 · reverse and sort with general attention: where does the attention go?")
    for task in ("reverse", "sort"):
        setup = _copy_setup(task)
        model, em, s = _fit(setup, attention="general")
        _row(f"{task}, general", em, s)
        src_vocab = setup[0]
        pairs = make_task(task, 100, seed=7, min_len=12, max_len=12)
        hits = steps = 0
        for src_text, _ in pairs:
            ids = src_vocab.encode(src_text)
            hyp, look = _attention_argmax(model, ids)
            for t, s_pos in enumerate(look[: len(hyp.tokens)]):
                steps += 1
                if task == "reverse":
                    hits += s_pos == len(ids) - 1 - t  # the anti-diagonal
                else:  # sort: attends to a source position holding the letter it writes
                    hits += src_text[s_pos] == src_vocab.id_to_token(int(hyp.tokens[t]))
        rule = "anti-diagonal s = S − 1 − t" if task == "reverse" else "a source letter equal " \
            "to the output letter"
        say(f"  {task}: the strongest weight is on {rule} at {hits / steps:.2f} of "
            f"{steps} output steps (S = 12)")
    say("E3 · hidden_dim 8")
    for attention in (None, "general"):
        _, em, s = _fit(copy, attention=attention, hidden_dim=8)
        _row(f"H = 8, {attention or 'plain'}", em, s)
    say("E4 · S = 24 with the general model: where does the diagonal break?")
    src_vocab = copy[0]
    breaks = []
    for src_text, _ in make_task("copy", 50, seed=11, min_len=24, max_len=24):
        hyp, look = _attention_argmax(general, src_vocab.encode(src_text))
        off = [t for t, s_pos in enumerate(look[: len(hyp.tokens)]) if s_pos != t]
        breaks.append(off[0] if off else 24)
    say(f"  first output step whose strongest weight leaves the diagonal: median "
        f"{int(np.median(breaks))}, quartiles {int(np.percentile(breaks, 25))}–"
        f"{int(np.percentile(breaks, 75))} (training lengths end at 16)")
    say("E5 · the dot model widened until it has as many parameters as the concat model")
    concat, em, s = _fit(copy, attention="concat")
    _row(f"concat, H = 32 ({concat.num_params():,} parameters)", em, s)
    hidden = 32
    while Seq2Seq(len(copy[0]), len(copy[1]), embed_dim=16, hidden_dim=hidden,
                  attention="dot").num_params() < concat.num_params():
        hidden += 1
    dot, em, s = _fit(copy, attention="dot", hidden_dim=hidden)
    _row(f"dot, H = {hidden} ({dot.num_params():,} parameters)", em, s)


# =============================================================================================
# 06 · gradient flow, full budget: N 32, H 64, E 32, lengths up to 120, 100 Adam steps

def nb06() -> None:
    lengths = (5, 10, 20, 40, 80, 120)
    records = gradient_flow_experiment(cells=("rnn", "lstm"), attentions=(None, "general"),
                                       lengths=lengths, n=32, hidden_dim=64, embed_dim=32)
    say("E1 · first/last ratio of ‖∂L/∂h̄_s‖ (states) and of ‖∂L/∂x_s‖ (embeddings), at init")
    for r in records:
        if r["length"] in (20, 80):
            i = r["init"]
            say(f"  {r['cell']:4s} {r['mode']:8s} S={r['length']:3d}: states {i['ratio']:.1e}, "
                f"embeddings {i['ratio_embedding']:.1e}")
    say("E2 · bidirectional encoders without attention (S = 40, at init): mean ‖∂L/∂h̄_s‖ at "
        "the first, middle and last positions")
    src, tgt = _flow_batch(40)
    for cell in ("rnn", "lstm"):
        for bi in (False, True):
            m = Seq2Seq(14, 14, embed_dim=32, hidden_dim=64, cell=cell, attention=None,
                        bidirectional=bi, dtype=np.float64, seed=0)
            n = source_gradient_norms(m, src, tgt)["mean_state_norms"]
            say(f"  {cell:4s} bidirectional={bi!s:5s}: first {n[0]:.1e}, middle {n[20]:.1e}, "
                f"last {n[-1]:.1e}")
    say("E3 · reverse_source without attention (S = 40, at init), positions as given")
    for cell in ("rnn", "lstm"):
        for rev in (False, True):
            m = Seq2Seq(14, 14, embed_dim=32, hidden_dim=64, cell=cell, attention=None,
                        reverse_source=rev, dtype=np.float64, seed=0)
            n = source_gradient_norms(m, src, tgt)["mean_state_norms"]
            say(f"  {cell:4s} reverse_source={rev!s:5s}: first {n[0]:.1e}, last {n[-1]:.1e}")
    say("E4 · more training for the plain LSTM (S = 40): first-position norm, trained / init")
    for steps in (100, 1000):
        (rec,) = gradient_flow_experiment(cells=("lstm",), attentions=(None,), lengths=(40,),
                                          n=32, hidden_dim=64, embed_dim=32, train_steps=steps)
        say(f"  {steps:5d} Adam steps: first {rec['init']['first']:.1e} -> "
            f"{rec['trained']['first']:.1e}, first/last {rec['init']['ratio']:.1e} -> "
            f"{rec['trained']['ratio']:.1e}, loss {rec['init']['loss']:.2f} -> "
            f"{rec['trained']['loss']:.2f}")


def _flow_batch(length: int):
    from numpy_seq2seq.analysis import _task_batch  # the experiment's own batches

    return _task_batch("copy", 32, length, 0)


# =============================================================================================
# 07 · decoding the dates, full budget: 10,000 pairs, 8 epochs, H = 64, early checkpoint after 2

def _dates(bidirectional=False):
    """The notebook's model and its early checkpoint (the parameters after epoch 2)."""
    pairs = make_task("dates", 10000, seed=0)
    train_pairs, valid_pairs = split_pairs(pairs, valid_fraction=0.05, seed=0)
    src_vocab = Vocab.from_texts(s for s, _ in train_pairs)
    tgt_vocab = Vocab.from_texts(t for _, t in train_pairs)
    model = Seq2Seq(len(src_vocab), len(tgt_vocab), embed_dim=32, hidden_dim=64,
                    cell="lstm", attention="general", bidirectional=bidirectional, seed=0)
    early = Seq2Seq.from_config(model.config)

    def keep_early(epoch, metrics, history):
        if epoch == 2:
            early.params.update({k: v.copy() for k, v in model.params.items()})

    start = time.perf_counter()
    train(model, encode_pairs(train_pairs, src_vocab, tgt_vocab), epochs=8, batch_size=32,
          lr=0.005, schedule="constant", seed=0, progress=False, on_epoch_end=keep_early)
    return model, early, src_vocab, tgt_vocab, valid_pairs, time.perf_counter() - start


def nb07() -> None:
    model, early, src_vocab, tgt_vocab, valid_pairs, seconds = _dates()
    say(f"the notebook's model trained in {seconds:.0f} s")
    pairs = valid_pairs[:500]
    src = pad_sequences([src_vocab.encode(s) for s, _ in pairs])
    refs = [t for _, t in pairs]

    def text(hyps):
        return [tgt_vocab.decode_text(h.tokens) for h in hyps]

    def exact(hyps):
        return np.mean([h == r for h, r in zip(text(hyps), refs)])

    say("E1 · beam 5 with length_penalty 0 and 1")
    b0, b1 = beam_search(model, src, beam=5, length_penalty=0.0), \
        beam_search(model, src, beam=5, length_penalty=1.0)
    for name, hyps in (("α = 0", b0), ("α = 1", b1)):
        say(f"  {name}: exact match {exact(hyps):.3f}")
    shorter = [i for i in range(len(pairs)) if len(b0[i].tokens) < len(b1[i].tokens)]
    say(f"  α = 0 picks a shorter output on {len(shorter)} of {len(pairs)} (every date is 10 "
        "tokens long)")
    say("  the addition task (output lengths vary), 8,000 pairs, 6 epochs, same model size:")
    say(_short_outputs_on_addition())

    say("E2 · beam size 1 against greedy decoding")
    g, b = greedy_decode(model, src), beam_search(model, src, beam=1, length_penalty=0.0)
    same = sum(list(x.tokens) == list(y.tokens) and abs(x.log_prob - y.log_prob) < 1e-9
               for x, y in zip(g, b))
    say(f"  identical tokens and log-probabilities on {same} of {len(pairs)}")
    assert same == len(pairs)

    say("E3 · what the greedy model gets wrong")
    wrong = [(i, s, r, h) for i, ((s, r), h) in enumerate(zip(pairs, text(g))) if h != r]
    say(f"  {len(wrong)} of {len(pairs)} wrong; e.g.")
    for i, s, r, h in wrong[:6]:
        looked = "".join(s[j] for j in g[i].attention.argmax(axis=1)[: len(h)])
        say(f"    {s!r:24s} -> {h}   (reference {r}); the source character each output "
            f"character attends to most: {looked!r}")

    say("E4 · a bidirectional encoder at the same budget")
    bi, *_, seconds_bi = _dates(bidirectional=True)
    say(f"  held-out exact match (500): unidirectional {exact(g):.3f} ({seconds:.0f} s), "
        f"bidirectional {exact(greedy_decode(bi, src)):.3f} ({seconds_bi:.0f} s)")

    say("E5 · BEAM = 2 against BEAM = 5 (scores with α = 1): where beam scores below greedy")
    fresh = make_task("dates", 2000, seed=7)
    sets = {"held-out": src, "2,000 fresh": pad_sequences([src_vocab.encode(s) for s, _ in fresh])}
    for label, m in (("early checkpoint", early), ("final model", model)):
        for name, batch in sets.items():
            greedy = greedy_decode(m, batch, length_penalty=1.0)
            for K in (5, 2):
                beam = beam_search(m, batch, beam=K, length_penalty=1.0)
                below = sum(b.score < g.score - 1e-5 for g, b in zip(greedy, beam))
                differ = [i for i, (g, b) in enumerate(zip(greedy, beam))
                          if list(g.tokens) != list(b.tokens)]
                say(f"  {label}, {name} dates, K = {K}: differs from greedy on {len(differ)}, "
                    f"scores below greedy on {below}")
    greedy = greedy_decode(early, src, length_penalty=1.0)
    beam = beam_search(early, src, beam=2, length_penalty=1.0)
    traced = [(i, *_pruned_at(early, src_vocab.encode(pairs[i][0]), greedy[i].tokens, 2))
              for i in range(len(pairs)) if list(greedy[i].tokens) != list(beam[i].tokens)]
    pruned = [t for t in traced if t[1] is not None]
    say(f"  early checkpoint, held-out, K = 2: greedy's output left the beam on {len(pruned)} of "
        f"the {len(traced)} where the two differ; beam still scored at least greedy's score on "
        f"{sum(beam[i].score >= greedy[i].score - 1e-5 for i, *_ in pruned)} of them")
    if pruned:
        i, step, mine, kept = pruned[0]
        say(f"  e.g. {pairs[i][0]!r}: greedy {tgt_vocab.decode_text(greedy[i].tokens)} (score "
            f"{greedy[i].score:.4f}), beam 2 {tgt_vocab.decode_text(beam[i].tokens)} (score "
            f"{beam[i].score:.4f}), reference {pairs[i][1]}; greedy's prefix leaves the beam at "
            f"step {step}: its log p {mine:.3f} against the two kept, {kept[0]:.3f} and "
            f"{kept[1]:.3f}")
        assert mine < min(kept)  # pruned: two other prefixes scored higher so far


def _pruned_at(model, src_row, greedy_tokens, K):
    """Beam search (the library's rules, α = 1) on one source: the first step at which
    greedy's prefix is not among the K live hypotheses; its cumulative log-probability then,
    and the K kept ones'."""
    enc = model.encode(np.repeat(np.asarray(src_row)[None], K, axis=0))
    state, h_tilde, y = enc.state0, None, np.full(K, BOS_ID)
    cum = np.array([0.0] + [-np.inf] * (K - 1))
    live = [()] * K
    for step in range(1, len(greedy_tokens) + 1):
        logits, state, h_tilde, _ = model.decode_step(y, state, h_tilde, enc)
        logp = log_softmax(logits.astype(np.float64))
        logp[:, [PAD_ID, BOS_ID]] = -np.inf
        cand = cum[:, None] + logp
        kept = [divmod(int(c), cand.shape[1]) for c in np.argsort(-cand.ravel(), kind="stable")
                if int(c) % cand.shape[1] != EOS_ID][:K]  # </s> extensions finish, not live
        prefix = tuple(int(t) for t in greedy_tokens[:step])
        mine = _prefix_log_prob(model, src_row, prefix)
        live = [live[b] + (v,) for b, v in kept]
        if prefix not in live:
            return step, mine, [float(cand[b, v]) for b, v in kept]
        parents = np.array([b for b, _ in kept])
        cum = np.array([cand[b, v] for b, v in kept])
        y = np.array([v for _, v in kept])
        state = tuple(s[parents] for s in state)
        h_tilde = h_tilde[parents]
    return None, float("nan"), []


def _prefix_log_prob(model, src_row, tokens):
    """log p of ``tokens`` as a prefix (teacher-forced)."""
    enc = model.encode(np.asarray(src_row)[None])
    state, h_tilde, y, total = enc.state0, None, np.array([BOS_ID]), 0.0
    for t in tokens:
        logits, state, h_tilde, _ = model.decode_step(y, state, h_tilde, enc)
        logp = log_softmax(logits.astype(np.float64))[0]
        logp[[PAD_ID, BOS_ID]] = -np.inf
        total += float(logp[t])
        y = np.array([t])
    return total


def _short_outputs_on_addition() -> str:
    """Beam search with α = 0 and α = 1 on a half-trained addition model, whose outputs ("9",
    "10", "168") differ in length."""
    pairs = make_task("addition", 8000, seed=0)
    src_vocab = Vocab.from_texts(s for s, _ in pairs)
    tgt_vocab = Vocab.from_texts(t for _, t in pairs)
    model = Seq2Seq(len(src_vocab), len(tgt_vocab), 16, 32, attention="general", seed=0)
    train(model, encode_pairs(pairs, src_vocab, tgt_vocab), epochs=6, batch_size=32, lr=0.01,
          schedule="constant", seed=0, progress=False)
    test = make_task("addition", 300, seed=9)
    src = pad_sequences([src_vocab.encode(s) for s, _ in test])
    b0 = beam_search(model, src, beam=5, length_penalty=0.0)
    b1 = beam_search(model, src, beam=5, length_penalty=1.0)
    text = [(tgt_vocab.decode_text(x.tokens), tgt_vocab.decode_text(y.tokens)) for x, y in
            zip(b0, b1)]
    shorter = [i for i, (x, y) in enumerate(text) if len(x) < len(y)]
    right1 = [i for i in shorter if text[i][1] == test[i][1]]
    lines = [f"    α = 0 is shorter on {len(shorter)} of {len(test)}, all wrong: "
             f"{all(text[i][0] != test[i][1] for i in shorter)}; α = 1 is right on "
             f"{len(right1)} of them"]
    for i in (right1 or shorter)[:2]:
        lines.append(f"    {test[i][0]!r}: α = 0 gives {text[i][0]!r} (log p "
                     f"{b0[i].log_prob:.2f} over {b0[i].steps} steps), α = 1 gives "
                     f"{text[i][1]!r} (log p {b1[i].log_prob:.2f} over {b1[i].steps} steps)")
    return "\n".join(lines)


# =============================================================================================
# 08 · self-attention, full budget: section 1 at S 31, N 32, H 32, E 16; path lengths to 256

def _self_attention_input_grads(L, causal, loss_at, n=8, d=32, seed=0, pe=False):
    """‖∂L/∂x_s‖ (mean over n sequences) of one self-attention layer, L = ⟨y_loss_at, g⟩."""
    rng = np.random.default_rng(seed)
    W = {k: rng.uniform(-1, 1, (d, d)) / np.sqrt(d) for k in ("q", "k", "v")}
    x = rng.standard_normal((n, L, d)) + (_positions(L, d) if pe else 0)
    g = rng.standard_normal((n, d))
    mask = np.tril(np.ones((L, L), dtype=bool)) if causal else None
    y, _, cache = scaled_dot_product_attention_forward(x @ W["q"], x @ W["k"], x @ W["v"], mask)
    dy = np.zeros_like(y)
    dy[:, loss_at] = g
    dq, dk, dv = scaled_dot_product_attention_backward(dy, cache)
    dx = dq @ W["q"].T + dk @ W["k"].T + dv @ W["v"].T  # (n, L, d)
    return np.linalg.norm(dx, axis=2).mean(axis=0)


def _positions(L, d):
    """Vaswani et al.'s sinusoidal encodings, (L, d): sin on even columns, cos on odd."""
    angle = np.arange(L)[:, None] / 10000 ** (np.arange(0, d, 2) / d)  # (L, d/2)
    pe = np.empty((L, d))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angle), np.cos(angle)
    return pe


def _heads(a, h):
    """(N, L, d) -> (N·h, L, d/h): head j holds columns j·d/h … (j+1)·d/h − 1."""
    N, L, d = a.shape
    return a.reshape(N, L, h, d // h).transpose(0, 2, 1, 3).reshape(N * h, L, d // h)


def _merge(a, h):
    """The inverse of ``_heads``: (N·h, L, d/h) -> (N, L, d)."""
    Nh, L, dh = a.shape
    return a.reshape(Nh // h, h, L, dh).transpose(0, 2, 1, 3).reshape(Nh // h, L, h * dh)


def _mha_forward(x, W_q, W_k, W_v, W_o, h=2):
    q, k, v = (_heads(x @ W, h) for W in (W_q, W_k, W_v))
    out, _, cache = scaled_dot_product_attention_forward(q, k, v)
    merged = _merge(out, h)  # (N, L, d)
    return merged @ W_o, (x, W_q, W_k, W_v, W_o, merged, cache, h)


def _mha_backward(dy, cache, merge=_merge, split=_heads):
    x, W_q, W_k, W_v, W_o, merged, sdpa, h = cache
    dW_o = (merged.reshape(-1, merged.shape[-1]).T @ dy.reshape(-1, dy.shape[-1]))
    dq, dk, dv = scaled_dot_product_attention_backward(split(dy @ W_o.T, h), sdpa)
    dq, dk, dv = (merge(g, h) for g in (dq, dk, dv))  # back to (N, L, d)
    flat = x.reshape(-1, x.shape[-1])
    return {"x": dq @ W_q.T + dk @ W_k.T + dv @ W_v.T,
            "W_q": flat.T @ dq.reshape(flat.shape[0], -1),
            "W_k": flat.T @ dk.reshape(flat.shape[0], -1),
            "W_v": flat.T @ dv.reshape(flat.shape[0], -1), "W_o": dW_o}


def _starved(record, stage, middle=15):
    s = record[stage]["state_norms"]
    return s[middle] / min(s[0], s[-1]), int(np.argmin(s)) + 1


def nb08() -> None:
    say("E1 · a causal mask, the loss on the last output (S = 64): ‖∂L/∂x_s‖")
    free = _self_attention_input_grads(64, causal=False, loss_at=-1)
    causal = _self_attention_input_grads(64, causal=True, loss_at=-1)
    first = _self_attention_input_grads(64, causal=True, loss_at=0)
    rnn = input_gradient_norms("rnn", 64)
    say(f"  causal vs no mask, loss on y_S: largest relative difference "
        f"{np.abs(causal - free).max() / free.max():.1e}; first/last {causal[0] / causal[-1]:.2f}"
        f" (the tanh RNN: {rnn[0] / rnn[-1]:.1e})")
    say(f"  causal, loss on y_1 instead: inputs with any gradient {int((first > 0).sum())} of 64")
    assert np.allclose(causal, free, rtol=1e-12) and (first[1:] == 0).all()

    say("E2 · sinusoidal positional encodings added to x: the permutation check")
    rng = np.random.default_rng(0)
    d, S = 8, 6
    W_q, W_k, W_v = (rng.standard_normal((d, d)) / np.sqrt(d) for _ in range(3))
    x, perm = rng.standard_normal((1, S, d)), rng.permutation(S)

    def sa(x):
        return scaled_dot_product_attention_forward(x @ W_q, x @ W_k, x @ W_v)[0]

    for label, pe in (("without", 0.0), ("with", _positions(S, d))):
        gap = np.abs(sa(x[:, perm] + pe) - sa(x + pe)[:, perm]).max()
        say(f"  {label} encodings: |SA(x[perm] + PE) - SA(x + PE)[perm]| <= {gap:.1e}")
    assert np.abs(sa(x[:, perm] + _positions(S, d)) - sa(x + _positions(S, d))[:, perm]).max() \
        > 1e-2

    say("E3 · multi-head attention (h = 2 heads of d/h = 4), gradient-checked with check_layer")
    rng = np.random.default_rng(1)
    inputs = {"x": rng.standard_normal((2, 5, 8)),
              **{k: rng.standard_normal((8, 8)) / np.sqrt(8) for k in ("W_q", "W_k", "W_v",
                                                                        "W_o")}}
    report = check_layer(_mha_forward, _mha_backward, inputs)
    say(f"  worst relative error {report.max_error:.1e} ({report.worst})")

    def flat_merge(a, h):  # BUG: heads concatenated without moving the head axis back
        return a.reshape(a.shape[0] // h, a.shape[1], -1)

    bad = check_layer(_mha_forward, lambda dy, c: _mha_backward(dy, c, merge=flat_merge),
                      inputs)
    say(f"  twin, heads merged in the wrong order in the backward: worst {bad.max_error:.1e}")
    assert report.max_error < 1e-7 and bad.max_error > 1e-3

    say("E4 · section 1 (bidirectional, no attention, S = 31) after 100 and 1,000 Adam steps: "
        "middle / smaller end of ‖∂L/∂h̄_s‖, and the weakest position")
    for steps in (100, 1000):
        for r in gradient_flow_experiment(cells=("rnn", "gru", "lstm"), attentions=(None,),
                                          lengths=(31,), n=32, hidden_dim=32, embed_dim=16,
                                          seed=0, train_steps=steps, bidirectional=True):
            (init, at_init), (done, weakest) = _starved(r, "init"), _starved(r, "trained")
            say(f"  {r['cell']:4s} {steps:5d} steps: at init {init:.1e} (weakest {at_init}), "
                f"trained {done:.1e} (weakest {weakest}); loss {r['trained']['loss']:.2f}")

    say("E5 · layer_cost with n = 32 against n = 1 (forward + backward, float32, d = H = 64)")
    lengths = (16, 32, 64, 128, 256, 512, 1024)
    for n in (1, 32):
        cost = {layer: [layer_cost(layer, L, n=n, repeats=3) for L in lengths]
                for layer in ("rnn", "self-attention")}
        cells = [f"{L}: {r['seconds'] * 1e3:.1f}/{a['seconds'] * 1e3:.1f}"
                 for L, r, a in zip(lengths, cost["rnn"], cost["self-attention"])]
        slower = [L for L, r, a in zip(lengths, cost["rnn"], cost["self-attention"])
                  if a["seconds"] > r["seconds"]]
        say(f"  n = {n:2d}, ms rnn/self-attention at S = " + ", ".join(cells))
        say(f"         self-attention is the slower layer from S = "
            f"{slower[0] if slower else 'beyond ' + str(lengths[-1])}")


# =============================================================================================
# 09 · initialisation, full budget: the dates data of `numpy-seq2seq train --seed SEED` (18,000
# training pairs, 2,000 held out), LSTM, general attention, E 32, H 64, batch 64, Adam lr 5e-3,
# seeds 0, 1, 2; one epoch per run (the lesson is in the first epoch)

NB09_SHAPES = {"default": {"embed_dim": 32, "hidden_dim": 64, "batch_size": 64, "lr": 5e-3},
               # Deep Learning from Scratch 2, ch. 8 (trained here on the dates task's data)
               "book": {"embed_dim": 16, "hidden_dim": 256, "batch_size": 128, "lr": 1e-3}}
NB09_SEEDS = (0, 1, 2)


def _split_ids(pairs, seed):
    """Held out 10 % as `numpy-seq2seq train` does: (train ids, held-out ids, |V_src|, |V_tgt|)."""
    train_pairs, valid_pairs = split_pairs(pairs, 0.1, seed=seed)
    src_vocab = Vocab.from_texts(s for s, _ in train_pairs)
    tgt_vocab = Vocab.from_texts(t for _, t in train_pairs)
    return (encode_pairs(train_pairs, src_vocab, tgt_vocab),
            encode_pairs(valid_pairs, src_vocab, tgt_vocab), len(src_vocab), len(tgt_vocab))


def _model09(data, seed, shape="default", redraw=None, **kw):
    """Seq2Seq as the package initialises it, then ``redraw(model)`` changes that in place."""
    size = NB09_SHAPES[shape]
    model = Seq2Seq(data[2], data[3], size["embed_dim"], size["hidden_dim"], seed=seed, **kw)
    if redraw is not None:
        redraw(model)
    return model


def _exact09(data, seed, shape="default", redraw=None, epochs=1, **kw):
    """Held-out exact match (%) after each epoch of notebook 09's training."""
    model = _model09(data, seed, shape, redraw, **kw)
    size = NB09_SHAPES[shape]
    history = train(model, data[0], data[1], epochs=epochs, batch_size=size["batch_size"],
                    lr=size["lr"], clip=5.0, schedule="plateau", min_lr=0.0, lr_decay=0.5,
                    seed=seed, progress=False)
    return [100 * e for e in history.valid_exact_match]


def _old_embeddings(*keys):
    """Notebook 09's ``old_init``: the embeddings Seq2Seq drew before issue 12, 0.1·N(0, 1),
    the first two draws of its generator (the values it draws now, a tenth of the size)."""
    def redraw(model):
        rng = np.random.default_rng(model.config["seed"])
        for key in ("src_embed", "tgt_embed"):  # drawn in this order
            old = 0.1 * rng.standard_normal(model.params[key].shape)
            if key in keys:
                model.params[key][...] = old
    return redraw


def _wx_by_fan_in(model):
    """U(±1/√D) for W_x (D its input size) instead of U(±1/√H): the same draws, rescaled."""
    for key in ("enc_Wx", "dec_Wx"):
        W = model.params[key]
        W *= np.sqrt(model.config["hidden_dim"] / W.shape[0])


def _orthogonal_wh(model):
    """Each gate's (H, H) block of W_h the Q of a Gaussian matrix (Saxe et al. 2014)."""
    rng = np.random.default_rng(model.config["seed"])
    for key in ("enc_Wh", "dec_Wh"):
        H, GH = model.params[key].shape
        model.params[key][...] = np.concatenate(
            [np.linalg.qr(rng.standard_normal((H, H)))[0] for _ in range(GH // H)], axis=1)


def _no_forget_bias(model):
    H = model.config["hidden_dim"]
    for key in ("enc_b", "dec_b"):
        model.params[key][H:2 * H] = 0.0  # LSTM gate order i, f, g, o


def _measure_at_init(model, src, tgt):
    """Four rows of notebook 09's ``measure_at_init``: the spread of the encoder gates' input
    term x_t W_x and recurrent term h_{t-1} W_h over real positions t ≥ 1, the spread of the
    encoder states h̄_s, and the norm of the gradient reaching W_a."""
    enc, p, real = model.encode(src), model.params, src != 0
    later = real[:, 1:]  # real positions t >= 1, which have an h_{t-1}
    x_in = (p["src_embed"][src] @ p["enc_Wx"])[:, 1:][later]  # (positions, 4H)
    recurrent = enc.states[:, :-1][later] @ p["enc_Wh"]  # (positions, 4H)
    _, grads = model.loss_and_grads(src, tgt)
    return {"x W_x": float(x_in.std()), "h W_h": float(recurrent.std()),
            "h̄_s": float(enc.states[real].std()), "|∂L/∂W_a|": float(np.linalg.norm(grads["W_a"]))}


def _seeds_row(name, values, note=""):
    say(f"  {name:24s} " + " ".join(f"{v:6.1f}" for v in values)
        + f"   mean {np.mean(values):5.1f}{note}")


def nb09() -> None:
    dates = {seed: _split_ids(make_task("dates", 20000, seed=seed), seed) for seed in NB09_SEEDS}
    src, tgt = (pad_sequences(ids[:256]) for ids in dates[0][0])  # notebook 09's 256 pairs
    say("held-out exact match (%) after one epoch, seeds " + ", ".join(map(str, NB09_SEEDS)))

    say("E1 · old-scale (0.1·N(0, 1)) source embeddings only, target embeddings only")
    first, grad_wa = {}, {}
    for name, keys in (("new", ()), ("old source", ("src_embed",)),
                       ("old target", ("tgt_embed",)), ("old", ("src_embed", "tgt_embed"))):
        first[name] = [_exact09(dates[s], s, redraw=_old_embeddings(*keys))[0]
                       for s in NB09_SEEDS]
        at_init = _measure_at_init(_model09(dates[0], 0, redraw=_old_embeddings(*keys)), src, tgt)
        grad_wa[name] = at_init["|∂L/∂W_a|"]
        _seeds_row(f"{name} embeddings", first[name], f"   at init (seed 0): h̄_s "
                   f"{at_init['h̄_s']:.3f}, |∂L/∂W_a| {grad_wa[name]:.1e}")
    # the source embeddings cost the first epoch; the target's alone cost nothing, yet shrinking
    # them too multiplies the cost: ∂L/∂W_a is a product of decoder and encoder states
    assert all(s < t - 5 for s, t in zip(first["old source"], first["old target"])), first
    assert np.mean(first["old target"]) > np.mean(first["new"]) - 2, first
    assert np.mean(first["old"]) < np.mean(first["old source"]) - 20, first
    assert grad_wa["old"] < min(grad_wa["old source"], grad_wa["old target"]), grad_wa

    say("E2 · W_x by its fan-in: the input term at initialisation, and the first epoch")
    gain = {}
    for shape in ("default", "book"):
        size = NB09_SHAPES[shape]
        terms = {name: _measure_at_init(_model09(dates[0], 0, shape, redraw), src, tgt)
                 for name, redraw in (("new", None), ("fan-in", _wx_by_fan_in))}
        say(f"  {shape} shape (E {size['embed_dim']}, H {size['hidden_dim']}, batch "
            f"{size['batch_size']}, lr {size['lr']:g}): x W_x {terms['new']['x W_x']:.3f} -> "
            f"{terms['fan-in']['x W_x']:.3f} (×√(H/E) = "
            f"{np.sqrt(size['hidden_dim'] / size['embed_dim']):.2f}; √(1/3) = "
            f"{np.sqrt(1 / 3):.3f}), h W_h {terms['new']['h W_h']:.3f} -> "
            f"{terms['fan-in']['h W_h']:.3f}")
        seeds = NB09_SEEDS if shape == "default" else NB09_SEEDS[:1]
        new = first["new"] if shape == "default" else [_exact09(dates[s], s, shape)[0]
                                                    for s in seeds]
        fan_in = [_exact09(dates[s], s, shape, _wx_by_fan_in)[0] for s in seeds]
        _seeds_row("  new", new)
        _seeds_row("  W_x by its fan-in", fan_in)
        gain[shape] = np.mean(fan_in) - np.mean(new)
    # it helps where E/H is small: the book's shape, whose input term was 4x weaker than fan-in's
    assert abs(gain["default"]) < 3 and gain["book"] > 30, gain

    say("E3 · orthogonal (H, H) blocks of W_h")
    uniform, orthogonal = (_measure_at_init(_model09(dates[0], 0, redraw=r), src, tgt)
                           for r in (None, _orthogonal_wh))
    say(f"  at initialisation: h W_h {uniform['h W_h']:.4f} -> {orthogonal['h W_h']:.4f} "
        f"(×{orthogonal['h W_h'] / uniform['h W_h']:.2f}; √3 = {np.sqrt(3):.2f}), h̄_s "
        f"{uniform['h̄_s']:.3f} -> {orthogonal['h̄_s']:.3f}, x W_x {uniform['x W_x']:.3f} -> "
        f"{orthogonal['x W_x']:.3f}")
    ortho = [_exact09(dates[s], s, redraw=_orthogonal_wh)[0] for s in NB09_SEEDS]
    _seeds_row("orthogonal W_h", ortho)
    # √3 for the same h (unit columns against entries of variance 1/(3H)); no gain in epoch 1
    assert 1.5 < orthogonal["h W_h"] / uniform["h W_h"] < 2.2
    assert abs(np.mean(ortho) - np.mean(first["new"])) < 2

    say("E4 · the old and the new initialisation with other cells")
    for cell in ("gru", "rnn"):
        runs = {keys: [_exact09(dates[s], s, redraw=_old_embeddings(*keys), cell=cell)[0]
                       for s in NB09_SEEDS] for keys in ((), ("src_embed", "tgt_embed"))}
        new, old = runs[()], runs["src_embed", "tgt_embed"]
        _seeds_row(f"{cell.upper()}, new", new)
        _seeds_row(f"{cell.upper()}, old", old, f"   gap {np.mean(new) - np.mean(old):.1f} "
                   f"points (LSTM {np.mean(first['new']) - np.mean(first['old']):.1f})")
        assert all(n > o for n, o in zip(new, old)) and np.mean(new) > np.mean(old) + 20

    say("E5 · forget-gate bias 0 instead of 1 on the copy task, sources of 3–30 letters")
    copy = _split_ids(make_task("copy", 10000, seed=0, max_len=30), 0)
    longest = [i for i, s in enumerate(copy[0][0]) if len(s) == 30][:32]
    batch = [pad_sequences([ids[i] for i in longest]) for ids in copy[0]]
    for attention in ("general", None):
        ratio = {}
        for bias, redraw in ((1, None), (0, _no_forget_bias)):
            m = _model09(copy, 0, redraw=redraw, attention=attention, dtype=np.float64)
            norms = source_gradient_norms(m, *batch)["mean_state_norms"]
            ratio[bias] = norms[0] / norms[-1]
        say(f"  attention {attention}, at init, S = 30: ‖∂L/∂h̄_1‖ / ‖∂L/∂h̄_30‖ "
            f"{ratio[1]:.1e} (forget bias 1), {ratio[0]:.1e} (0)")
        # without attention the first state's gradient passes 29 forget gates of σ(b_f)
        # (0.73 or 0.5); attention hands every state its own gradient
        assert (ratio[0] < ratio[1] / 100) if attention is None else \
            abs(ratio[0] / ratio[1] - 1) < 0.1, (attention, ratio)
    curves = {}
    for bias, redraw in ((1, None), (0, _no_forget_bias)):
        curves[bias] = _exact09(copy, 0, redraw=redraw, epochs=3)
        say(f"  forget bias {bias}: held-out exact match after epochs 1–3 "
            + " ".join(f"{v:5.1f}" for v in curves[bias]))
    # with attention it costs a little in the first epochs and nothing by the third
    assert all(b0 <= b1 for b0, b1 in zip(curves[0][:2], curves[1][:2]))
    assert abs(curves[0][-1] - curves[1][-1]) < 2, curves


ROOT = Path(__file__).resolve().parents[1]
# notebook 10: the task's defaults, narrowed so that each answer trains in under a minute
NB10_MODEL = {"embed_dim": 64, "hidden_dim": 128}


def _tatoeba_run(source_lang, target_lang, epochs=10, **data):
    """A tatoeba run (the task's defaults, NB10_MODEL's size), scored once, after the last epoch."""
    given = {"task": "tatoeba", "source_lang": source_lang, "target_lang": target_lang, **data}
    r = run.prepare(given, NB10_MODEL, {"epochs": epochs, "eval_every": epochs},
                    out=tempfile.mkdtemp(prefix="nb10-"))
    run.fit(r, progress=False)
    return r


def _decode10(r, decode=greedy_decode, **kw):
    """Held-out hypotheses and output texts of run ``r``."""
    hyps, src_rows = [], []
    for i in range(0, len(r.valid_ids[0]), 256):
        src = pad_sequences(r.valid_ids[0][i:i + 256])
        hyps += decode(r.model, src, max_len=run.step_limit(src, r.longest_target), **kw)
        src_rows += list(src)
    return hyps, src_rows, [r.tgt_vocab.decode_text(h.tokens) for h in hyps]


def _loops(texts):
    """Outputs holding a repeated word bigram."""
    def looped(words):
        pairs = list(zip(words, words[1:]))
        return len(pairs) != len(set(pairs))
    return sum(looped(t.split()) for t in texts)


def nb10() -> None:
    say("E1 · English→Korean: word BLEU against char-BLEU on the same outputs")
    en_ko = _tatoeba_run("en", "ko")
    _, _, outs = _decode10(en_ko)
    refs = [en_ko.tgt_vocab.canonical(t) for _, t in en_ko.valid_pairs]
    word = sacrebleu.corpus_bleu(outs, [refs]).score
    char = sacrebleu.corpus_bleu(outs, [refs], tokenize="char").score
    say(f"  {len(outs)} held-out pairs: word BLEU {word:.2f}, char-BLEU {char:.2f}, chrF "
        f"{sacrebleu.corpus_chrf(outs, [refs]).score:.2f}")
    say("  a Korean word is a stem with its particles glued on (눈물을 = tears + object "
        "marker): one wrong syllable makes the whole word wrong, so word n-grams almost never "
        "match while most syllables do")
    assert word < char, (word, char)

    say("E2 · Korean→English with min_freq=2: unknown English words and chrF")
    runs10 = {mf: _tatoeba_run("ko", "en", min_freq=mf) for mf in (1, 2)}
    for mf, r in runs10.items():
        refs = [r.tgt_vocab.canonical(t) for _, t in r.valid_pairs]
        words = [w for _, t in r.valid_pairs for w in r.tgt_vocab.tokenizer.tokenize(t)]
        unknown = np.mean([r.tgt_vocab.stoi.get(w, UNK_ID) == UNK_ID for w in words])
        _, _, outs = _decode10(r)
        say(f"  min_freq={mf}: {len(r.tgt_vocab):,} English tokens, {100 * unknown:.1f} % of "
            f"held-out reference words unknown; chrF "
            f"{sacrebleu.corpus_chrf(outs, [refs]).score:.2f}, BLEU "
            f"{sacrebleu.corpus_bleu(outs, [refs]).score:.2f}")
    assert len(runs10[2].tgt_vocab) < len(runs10[1].tgt_vocab)

    say("E3 · beam search (beam 5) against greedy on the min_freq=1 model")
    r = runs10[1]
    refs = [r.tgt_vocab.canonical(t) for _, t in r.valid_pairs]
    for name, decode, kw in (("greedy", greedy_decode, {}), ("beam 5", beam_search, {"beam": 5})):
        _, _, outs = _decode10(r, decode, **kw)
        say(f"  {name:7s} BLEU {sacrebleu.corpus_bleu(outs, [refs]).score:5.2f}, chrF "
            f"{sacrebleu.corpus_chrf(outs, [refs]).score:5.2f}, outputs with a repeated "
            f"bigram {_loops(outs)} of {len(outs)}")
    say("  the beam finds outputs of higher probability, not necessarily closer to the "
        "reference (notebook 07); a loop of high probability survives it")

    say("E4 · one more point of the curve: 5,000 pairs, E 32, H 64, 10 epochs, seed 1")
    rows = [json.loads(line) for line in (ROOT / "benchmarks" / "text_curve" /
                                          "en_fr_curve.jsonl").open(encoding="utf-8")]
    stored = [x for x in rows if "num_examples=5000" in x["settings"]
              and x["model"]["hidden_dim"] == 64]
    point = run.prepare(DataConfig(task="tatoeba", num_examples=5000, seed=1),
                        {**{f.name: f.default for f in dataclasses.fields(ModelConfig)
                            if f.default is not dataclasses.MISSING}, "seed": 1},
                        TrainConfig(epochs=10, seed=1, bleu=True, eval_every=10),
                        out=tempfile.mkdtemp(prefix="nb10-"))
    final = run.fit(point, progress=False).history.epoch_record(-1)
    say(f"  seed 1: chrF {final['chrf']:.2f}, BLEU {final['bleu']:.2f}; stored: "
        + ", ".join(f"seed {x['seed']} chrF {x['chrf']:.2f}, BLEU {x['bleu']:.2f}"
                    for x in stored))
    say("  one more seed is one more draw: a range of three tells more than any one point")

    say("E5 · a wrong Korean→English output and where its decoder looked")
    hyps, src_rows, outs = _decode10(r)
    wrong = next(i for i, (o, ref) in enumerate(zip(outs, refs, strict=True))
                 if o != ref and len(r.valid_pairs[i][0]) >= 6)
    source = [r.src_vocab.itos[t] for t in src_rows[wrong] if t != PAD_ID]
    say(f"  {r.valid_pairs[wrong][0]!r} -> {outs[wrong]!r} (expected {refs[wrong]!r})")
    for token, weights in zip(hyps[wrong].tokens, hyps[wrong].attention, strict=False):
        say(f"    {r.tgt_vocab.itos[token]:>12s} looks at {source[int(np.argmax(weights))]!r} "
            f"({float(np.max(weights)):.2f})")
    say("  the map says where each step looked, not why it wrote what it wrote: the decoder "
        "also reads its own last word and its state (notebook 05's permutation test)")


NOTEBOOKS = {"01": nb01, "02": nb02, "03": nb03, "04": nb04, "05": nb05, "06": nb06, "07": nb07,
             "08": nb08, "09": nb09, "10": nb10}

if __name__ == "__main__":
    for key in sys.argv[1:] or NOTEBOOKS:
        start = time.perf_counter()
        say(f"## notebook {key}")
        NOTEBOOKS[key]()
        say(f"({time.perf_counter() - start:.0f} s)\n")
