"""Gradient-flow instrumentation: per-position norms against finite differences, padding,
averaging, and the experiment's records.

The finite-difference checks add a perturbation δ directly to the quantity whose gradient is
reported (the embedded input x_s, or the encoder state h̄_s inside the recurrence) and
differentiate the loss with respect to δ at δ = 0. Each check has a twin with a deliberately
wrong gradient that the same comparison must catch.
"""


import numpy as np
import pytest

import numpy_seq2seq.functional.encoder as encoder_module
from numpy_seq2seq import analysis
from numpy_seq2seq.analysis import (
    accuracy_by_position,
    gradient_flow_experiment,
    input_gradient_norms,
    layer_cost,
    source_gradient_norms,
)
from numpy_seq2seq.functional.recurrent import CELLS
from numpy_seq2seq.gradcheck import check_layer, numeric_gradient, rel_error
from numpy_seq2seq.model import Seq2Seq

from conftest import assert_gradcheck, patched_cell, randomize

TOL = 1e-6
CELL_NAMES = list(CELLS)
ATTENTIONS = [None, "dot", "general", "concat"]
# tiny distinct sizes: N examples, S source positions, E embedding, H hidden
N, S, E, H = 2, 5, 3, 4
V_SRC, V_TGT = 4 + N * S + 1, 9


def _model(cell, attention, rng, **kw):
    model = Seq2Seq(V_SRC, V_TGT, embed_dim=E, hidden_dim=H, cell=cell, attention=attention,
                    dtype=np.float64, seed=3, **kw)
    randomize(model.params, rng)  # a generic point, away from the tiny gradients at init
    return model


def _batch(rng):
    """A padded batch whose source ids are all distinct, so embedding row = position."""
    src = (4 + np.arange(N * S)).reshape(N, S)  # (N, S), every id once
    src[1, 3:] = 0  # second example: 3 real tokens, then padding
    tgt = rng.integers(4, V_TGT, size=(N, 4))
    tgt[:, 0] = 1
    tgt[1, 3] = 0
    return src, tgt


def _numeric_embedding_norms(model, src, tgt, monkeypatch):
    """‖∂L/∂x_s‖ by perturbing the embedded input of every position through a wrapped lookup."""
    delta = np.zeros((*src.shape, E))  # (N, S, E), added to the encoder's embedded input
    original = encoder_module.embedding_forward

    def perturbed(ids, W):
        out, cache = original(ids, W)
        return out + delta, cache

    monkeypatch.setattr(encoder_module, "embedding_forward", perturbed)
    num = numeric_gradient(lambda: model.loss(src, tgt), delta)
    monkeypatch.undo()
    return np.linalg.norm(num, axis=-1)  # (N, S)


def _numeric_state_norms(model, src, tgt, monkeypatch):
    """‖∂L/∂h̄_s‖ (total) by adding δ_s to the encoder's hidden state right after step s.

    The perturbed h̄_s feeds both the attention and every later encoder step, which is exactly
    the total derivative ``source_gradients`` reports. Only the encoder's cell is wrapped (the
    decoder imports ``stacked_forward`` under its own name).
    """
    cell = model.cell
    deltas = np.zeros((S, N, H))  # (S, N, H), δ_s for every step
    original_stack = encoder_module.stacked_forward
    real_core = CELLS[cell].core_forward

    def stack_with_deltas(*args, **kwargs):
        step = [0]

        def core(xw, state, *weights):
            new, cache = real_core(xw, state, *weights)
            new = (new[0] + deltas[step[0]], *new[1:])
            step[0] += 1
            return new, cache

        with patched_cell(cell, core_forward=core):
            return original_stack(*args, **kwargs)

    monkeypatch.setattr(encoder_module, "stacked_forward", stack_with_deltas)
    num = numeric_gradient(lambda: model.loss(src, tgt), deltas)
    monkeypatch.undo()
    return np.linalg.norm(num, axis=-1).T  # (N, S)


# ---------------------------------------------------------------------------------------------
NUMERIC = {"embedding_norms": _numeric_embedding_norms, "state_norms": _numeric_state_norms}


@pytest.mark.parametrize("quantity", list(NUMERIC))
@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_norms_match_finite_differences(cell, attention, quantity, rng, monkeypatch):
    model = _model(cell, attention, rng)
    src, tgt = _batch(rng)
    got = source_gradient_norms(model, src, tgt)[quantity]
    expected = NUMERIC[quantity](model, src, tgt, monkeypatch)
    assert got.shape == (N, S)
    assert rel_error(got, expected) < TOL


@pytest.mark.parametrize("option", ["reverse_source", "bidirectional"])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_embedding_norms_match_embedding_rows(cell, option, rng):
    """With distinct ids, ∂L/∂x_s is the gradient of the embedding row of the id at s."""
    model = _model(cell, "general", rng, **{option: True})
    src, tgt = _batch(rng)
    got = source_gradient_norms(model, src, tgt)["embedding_norms"]
    W = model.params["src_embed"]
    rows = src[src != 0]
    num = numeric_gradient(lambda: model.loss(src, tgt), W)[rows]  # (real tokens, E)
    expected = np.zeros((N, S))
    expected[src != 0] = np.linalg.norm(num, axis=-1)
    assert rel_error(got, expected) < TOL


@pytest.mark.parametrize("wrong", ["positions-reversed", "one-percent-off"])
def test_the_comparison_catches_a_wrong_gradient(wrong, rng, monkeypatch):
    model = _model("rnn", "dot", rng)
    src, tgt = _batch(rng)
    right = model.source_gradients(src, tgt)
    if wrong == "positions-reversed":
        bad_states = right.states[:, ::-1]
    else:
        bad_states = right.states * 1.01
    monkeypatch.setattr(model, "source_gradients",
                        lambda s, t: right._replace(states=bad_states))
    got = source_gradient_norms(model, src, tgt)["state_norms"]
    monkeypatch.undo()
    expected = _numeric_state_norms(model, src, tgt, monkeypatch)
    assert rel_error(got, expected) > 1e-3


# ---------------------------------------------------------------------------------------------
def test_padding_gets_zero_and_is_left_out_of_the_averages(rng):
    model = _model("gru", "concat", rng)
    src, tgt = _batch(rng)
    src = np.concatenate([src, np.zeros((N, 1), dtype=src.dtype)], axis=1)  # all-padding column
    out = source_gradient_norms(model, src, tgt)
    real = src != 0
    for name in ("state", "embedding"):
        norms, mean = out[f"{name}_norms"], out[f"mean_{name}_norms"]
        assert norms.shape == real.shape and mean.shape == (S + 1,)
        assert np.all(norms[~real] == 0) and np.all(norms[real] > 0)
        for s in range(S):
            assert mean[s] == pytest.approx(norms[real[:, s], s].mean(), rel=1e-12)
        assert mean[S] == 0.0
        assert np.all(np.isfinite(mean))
    assert out["counts"].tolist() == [2, 2, 2, 1, 1, 0]
    assert out["lengths"].tolist() == [5, 3]
    assert out["loss"] == pytest.approx(model.loss(src, tgt))


def test_experiment_records_shapes_and_fields():
    records = gradient_flow_experiment(cells=("rnn", "lstm"), attentions=(None, "general"),
                                       lengths=(3, 6), n=4, hidden_dim=6, embed_dim=5,
                                       train_steps=2)
    assert [(r["cell"], r["mode"], r["length"]) for r in records] == [
        (c, m, L) for c in ("rnn", "lstm") for m in ("none", "general") for L in (3, 6)
    ]
    for r in records:
        for stage in ("init", "trained"):
            m = r[stage]
            assert m["state_norms"].shape == m["embedding_norms"].shape == (r["length"],)
            assert m["first"] == m["state_norms"][0] and m["last"] == m["state_norms"][-1]
            assert m["ratio"] == pytest.approx(m["first"] / m["last"])
            assert np.all(np.isfinite(m["state_norms"])) and np.all(m["state_norms"] > 0)
        assert r["trained"]["loss"] < r["init"]["loss"]  # the Adam steps did something
    untrained = gradient_flow_experiment(cells=("gru",), attentions=("dot",), lengths=(4,), n=3)
    assert "trained" not in untrained[0]


def test_experiment_is_deterministic_for_a_seed():
    kw = dict(cells=("gru",), attentions=(None, "concat"), lengths=(4, 7), n=3, hidden_dim=6,
              embed_dim=5, train_steps=2)
    a, b = gradient_flow_experiment(seed=5, **kw), gradient_flow_experiment(seed=5, **kw)
    c = gradient_flow_experiment(seed=6, **kw)
    for ra, rb, rc in zip(a, b, c, strict=True):
        for stage in ("init", "trained"):
            assert np.array_equal(ra[stage]["state_norms"], rb[stage]["state_norms"])
            assert np.array_equal(ra[stage]["embedding_norms"], rb[stage]["embedding_norms"])
        assert not np.array_equal(ra["init"]["state_norms"], rc["init"]["state_norms"])


def test_attention_opens_a_direct_path_to_the_first_position():
    """The headline effect at a small size: a tanh RNN at S = 30."""
    records = gradient_flow_experiment(cells=("rnn",), lengths=(30,), n=4, hidden_dim=16,
                                       embed_dim=8)
    first = {r["mode"]: r["init"]["first"] for r in records}
    for score in ("dot", "general", "concat"):
        assert first[score] > 10 * first["none"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(cells=("tanh",)), "cells"),
        (dict(attentions=("additive",)), "attentions"),
        (dict(lengths=(0,)), "lengths"),
        (dict(n=0), "n must be"),
        (dict(task="dates"), "task"),
        (dict(train_steps=-1), "train_steps"),
    ],
)
def test_experiment_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gradient_flow_experiment(**kwargs)


def test_experiment_with_a_bidirectional_encoder_starves_the_middle():
    """Without attention the decoder starts from [→h_S; ←h_1]: both ends are close, the middle
    is far from both."""
    (record,) = gradient_flow_experiment(cells=("rnn",), attentions=(None,), lengths=(21,), n=4,
                                         hidden_dim=16, embed_dim=8, bidirectional=True)
    assert record["bidirectional"] is True
    norms = record["init"]["state_norms"]
    assert 7 <= int(np.argmin(norms)) <= 13
    assert norms[10] < 1e-2 * min(norms[0], norms[-1])


# ---------------------------------------------------------------------------------------------
# accuracy by output position, input-gradient norms, layer cost

def test_accuracy_by_position_counts_each_position_over_the_references_that_have_it():
    refs = [[1, 5, 6, 7, 2], [1, 5, 6, 2], [1, 8, 2]]  # references of 3, 2 and 1 tokens
    hyps = [np.array([5, 9, 7]), np.array([5]), np.array([8, 8, 8, 8])]  # one too short
    out = accuracy_by_position(hyps, refs)
    assert out["counts"].tolist() == [3, 2, 1]
    assert out["accuracy"] == pytest.approx([1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="as many hypotheses as references"):
        accuracy_by_position(hyps[:2], refs)


def _break(layer, monkeypatch):
    """A wrong backward inside each composed layer: the query path of attention is dropped."""
    if layer == "rnn+attention":
        original = analysis.attention_backward

        def no_query_path(d, cache):
            dhd, dhs, grads = original(d, cache)
            return 0 * dhd, dhs, grads

        monkeypatch.setattr(analysis, "attention_backward", no_query_path)
    else:
        original = analysis.scaled_dot_product_attention_backward
        monkeypatch.setattr(analysis, "scaled_dot_product_attention_backward",
                            lambda d, c: (0 * original(d, c)[0], *original(d, c)[1:]))


# the recurrent layer alone has its wrong-backward twin in test_cells.py
LAYER_CASES = [(layer, False) for layer in analysis.LAYERS] + [
    ("rnn+attention", True), ("self-attention", True)]


@pytest.mark.parametrize("layer, broken", LAYER_CASES,
                         ids=[f"{a}-{'wrong-backward-is-caught' if b else 'correct'}"
                              for a, b in LAYER_CASES])
def test_layer_backward_matches_finite_differences(layer, broken, rng, monkeypatch):
    if broken:
        _break(layer, monkeypatch)
    p = analysis._layer_params(layer, 5, 6, rng, np.float64)  # D = 5, H = 6
    report = check_layer(lambda x: analysis._layer_forward(layer, x, p),
                         lambda d, backward: {"x": backward(d)},
                         {"x": rng.standard_normal((3, 7, 5))})
    assert_gradcheck(report, "analysis: layers", TOL, broken)


def test_input_gradient_reaches_the_first_input_only_through_attention():
    first_over_last = {layer: (lambda g: g[0] / g[-1])(input_gradient_norms(layer, 32, n=4))
                       for layer in analysis.LAYERS}
    assert first_over_last["rnn"] < 1e-6
    assert first_over_last["rnn+attention"] > 1e-4
    assert first_over_last["self-attention"] > 1e-2
    with pytest.raises(ValueError, match="layer must be one of"):
        input_gradient_norms("lstm", 8)


def test_layer_cost_memory_is_quadratic_for_self_attention_and_linear_for_the_rnn():
    peak = {(layer, S): layer_cost(layer, S, repeats=1)["peak_bytes"]
            for layer in ("rnn", "self-attention") for S in (128, 256)}
    assert 3.0 < peak["self-attention", 256] / peak["self-attention", 128] < 4.2
    assert 1.6 < peak["rnn", 256] / peak["rnn", 128] < 2.1
    assert layer_cost("rnn", 128, repeats=1)["peak_bytes"] == peak["rnn", 128]  # deterministic
    with pytest.raises(ValueError, match=r"layer must be one of \('rnn', 'self-attention'\)"):
        layer_cost("rnn+attention", 8)


# ---------------------------------------------------------------------------------------------
# teacher-forced accuracy by position

def _tf_model_and_batch():
    from numpy_seq2seq.analysis import TOY_VOCAB, _task_batch
    model = Seq2Seq(len(TOY_VOCAB), len(TOY_VOCAB), embed_dim=6, hidden_dim=7, cell="gru",
                    attention="general", dtype=np.float64, seed=3)
    return model, *_task_batch("copy", 5, 4, seed=11)


def test_teacher_forced_accuracy_matches_a_step_by_step_count_and_greedy_at_position_one():
    from numpy_seq2seq.analysis import teacher_forced_accuracy_by_position
    from numpy_seq2seq.decoding import greedy_decode
    model, src, tgt = _tf_model_and_batch()
    acc = teacher_forced_accuracy_by_position(model, src, tgt)
    assert acc.shape == (tgt.shape[1] - 2,)
    enc, state, h = model.encode(src), None, None
    state = enc.state0
    for t in range(tgt.shape[1] - 2):  # by hand: read the reference, score the next token
        logits, state, h, _ = model.decode_step(tgt[:, t], state, h, enc)
        assert acc[t] == np.mean(logits.argmax(-1) == tgt[:, t + 1])
    # position 1 reads <s> either way, so teacher forcing and greedy agree there
    greedy = accuracy_by_position([hyp.tokens for hyp in greedy_decode(model, src)], list(tgt))
    assert acc[0] == greedy["accuracy"][0]


def test_teacher_forced_accuracy_counts_the_reference_not_the_models_outputs():
    from numpy_seq2seq.analysis import teacher_forced_accuracy_by_position
    model, src, tgt = _tf_model_and_batch()
    shifted = tgt.copy()
    shifted[:, 2:-1] = (tgt[:, 2:-1] - 4 + 1) % 10 + 4  # the twin: other letters after y_1
    assert not np.array_equal(teacher_forced_accuracy_by_position(model, src, tgt)[1:],
                              teacher_forced_accuracy_by_position(model, src, shifted)[1:])
    with pytest.raises(ValueError, match=r"tgt must be an int array of shape \(N, T\) with N = 5"):
        teacher_forced_accuracy_by_position(model, src, tgt[:3])


# ---------------------------------------------------------------------------------------------
# scheduled sampling's decoder inputs

def test_scheduled_sampling_with_eps_0_is_teacher_forcing_and_with_eps_1_free_running():
    from numpy_seq2seq.analysis import scheduled_sampling_inputs
    from numpy_seq2seq.decoding import greedy_decode
    model, src, tgt = _tf_model_and_batch()
    forced = scheduled_sampling_inputs(model, src, tgt, 0.0, np.random.default_rng(0))
    assert np.array_equal(forced, tgt[:, :-1])
    free = scheduled_sampling_inputs(model, src, tgt, 1.0, np.random.default_rng(0))
    assert np.array_equal(free[:, 0], tgt[:, 0])  # <s> stays
    T = tgt.shape[1] - 1
    for row, hyp in zip(free, greedy_decode(model, src, max_len=T), strict=True):
        tokens = list(hyp.tokens[:T - 1])  # greedy stops at </s>: compare up to it
        assert list(row[1:1 + len(tokens)]) == tokens
    assert not np.array_equal(free, forced)  # the twin: this model's outputs are not the copy


def test_scheduled_sampling_keeps_padding_and_swaps_about_eps_of_the_tokens(ragged_batch):
    from numpy_seq2seq.analysis import scheduled_sampling_inputs
    src, tgt = ragged_batch
    model = Seq2Seq(11, 13, embed_dim=4, hidden_dim=6, attention="dot", seed=0)
    mixed = scheduled_sampling_inputs(model, src, tgt, 1.0, np.random.default_rng(0))
    assert ((mixed == 0) == (tgt[:, :-1] == 0)).all()  # padding stays padding, nothing else 0
    big_src, big_tgt = np.repeat(src, 200, axis=0), np.repeat(tgt, 200, axis=0)
    own = scheduled_sampling_inputs(model, big_src, big_tgt, 1.0, np.random.default_rng(1))
    half = scheduled_sampling_inputs(model, big_src, big_tgt, 0.5, np.random.default_rng(1))
    differ = (own != big_tgt[:, :-1])
    share = (half != big_tgt[:, :-1])[differ].mean()  # replaced where replacing changes a token
    assert 0.3 < share < 0.7, share
    with pytest.raises(ValueError, match=r"eps must be a probability in \[0, 1\], got 1.5"):
        scheduled_sampling_inputs(model, src, tgt, 1.5, np.random.default_rng(0))


def test_loss_and_grads_reads_the_decoder_inputs_it_is_given(ragged_batch):
    src, tgt = ragged_batch
    model = Seq2Seq(11, 13, embed_dim=4, hidden_dim=6, attention="general", seed=0,
                    dtype=np.float64)
    loss, grads = model.loss_and_grads(src, tgt)
    same_loss, same_grads = model.loss_and_grads(src, tgt, decoder_inputs=tgt[:, :-1])
    assert same_loss == loss and all(np.array_equal(grads[k], same_grads[k]) for k in grads)
    other = tgt[:, :-1].copy()
    other[:, 1:] = np.where(other[:, 1:] != 0, 3, 0)  # the twin: other inputs, same labels
    other_loss, _ = model.loss_and_grads(src, tgt, decoder_inputs=other)
    assert other_loss != loss
    _, other_grads = model.loss_and_grads(src, tgt, decoder_inputs=other)
    for key in ("tgt_embed", "dec_Wh", "W_s"):  # the gradient of the loss with those inputs
        numeric = numeric_gradient(
            lambda: model._forward(src, tgt, None, other)[0], model.params[key], h=1e-6)
        assert rel_error(other_grads[key], numeric) < 1e-6, key
    with pytest.raises(ValueError, match=r"decoder_inputs must be an int array of shape "
                                         r"\(N, T - 1\) = \(3, 4\), got int64 of shape \(3, 5\)"):
        model.loss_and_grads(src, tgt, decoder_inputs=tgt)
    with pytest.raises(ValueError, match="decoder_inputs"):
        model.loss_and_grads(src, tgt, decoder_inputs=np.full((3, 4), 13))


def test_a_hand_written_loop_with_eps_0_is_trains_teacher_forcing_step_for_step():
    """Notebook 04 trains with scheduled sampling in a loop of its own; with eps = 0 that loop
    must be exactly what ``train`` does, so the two models it compares differ only in eps."""
    from numpy_seq2seq.analysis import TOY_VOCAB, scheduled_sampling_inputs
    from numpy_seq2seq.data import encode_pairs, iterate_batches, make_task
    from numpy_seq2seq.optim import Adam, clip_grad_norm
    from numpy_seq2seq.training import train
    data = encode_pairs(make_task("copy", 40, seed=5, min_len=2, max_len=6), TOY_VOCAB,
                        TOY_VOCAB)
    kw = dict(embed_dim=4, hidden_dim=6, cell="lstm", attention=None, seed=2)
    trained = Seq2Seq(len(TOY_VOCAB), len(TOY_VOCAB), **kw)
    train(trained, data, epochs=2, batch_size=8, lr=0.01, clip=5.0, schedule="constant", seed=3,
          progress=False)

    def by_hand(eps):
        model = Seq2Seq(len(TOY_VOCAB), len(TOY_VOCAB), **kw)
        opt, order, coin = Adam(model.params, lr=0.01), np.random.default_rng(3), \
            np.random.default_rng(4)
        for _ in range(2):
            for src, tgt in iterate_batches(*data, 8, seed=order, bucket=True):
                inputs = scheduled_sampling_inputs(model, src, tgt, eps, coin)
                _, grads = model.loss_and_grads(src, tgt, decoder_inputs=inputs)
                clip_grad_norm(grads, 5.0)
                opt.step(grads)
        return model

    same, other = by_hand(0.0), by_hand(1.0)
    assert all(np.array_equal(trained.params[k], same.params[k]) for k in trained.params)
    assert not all(np.array_equal(trained.params[k], other.params[k]) for k in trained.params)
