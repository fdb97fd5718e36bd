"""Seq2Seq: whole-model gradient checks over every configuration, padding invariance, the
public contract and clear errors for bad input."""

import itertools

import numpy as np
import pytest

from numpy_seq2seq import model as model_module
from numpy_seq2seq.functional.recurrent import CELLS
from numpy_seq2seq.gradcheck import check_model
from numpy_seq2seq.model import ATTENTION_CHOICES, CELL_CHOICES, Seq2Seq

from conftest import assert_gradcheck, patched_cell, randomize
from sizes import V_SRC, V_TGT, E, H

TOL = 1e-6

CONFIGS = [
    (cell, attention, bidirectional, input_feeding, reverse_source)
    for cell, attention, bidirectional, input_feeding, reverse_source in itertools.product(
        CELL_CHOICES, ATTENTION_CHOICES, [False, True], [False, True], [False, True]
    )
    if not (input_feeding and attention is None)  # input feeding feeds h̃, which needs attention
]


def _id(c):
    cell, attention, bi, feed, rev = c
    return f"{cell}-{attention}" + "-bi" * bi + "-feed" * feed + "-rev" * rev


def _model(cell="lstm", attention="general", bidirectional=False, input_feeding=False,
           reverse_source=False, dtype=np.float64, seed=0):
    return Seq2Seq(V_SRC, V_TGT, E, H, cell=cell, attention=attention,
                   bidirectional=bidirectional, reverse_source=reverse_source,
                   input_feeding=input_feeding, dtype=dtype, seed=seed)


@pytest.mark.parametrize("config", CONFIGS, ids=_id)
def test_every_parameter_gradient(config, ragged_batch, rng):
    cell, attention, bidirectional, input_feeding, reverse_source = config
    m = _model(cell, attention, bidirectional, input_feeding, reverse_source)
    randomize(m.params, rng)
    report = check_model(m, *ragged_batch, max_coords=None)
    assert set(report.errors) == set(m.params)
    assert_gradcheck(report, "whole model, every parameter", TOL)


@pytest.mark.parametrize("cell", CELL_CHOICES)
def test_model_check_catches_truncated_bptt(cell, ragged_batch, rng):
    """Twin: a backward that stops the gradient from flowing to earlier time steps."""
    m = _model(cell)
    randomize(m.params, rng)
    real = CELLS[cell].core_backward

    def truncated(dstate, cache):
        dxw, dhw, dprev = real(dstate, cache)
        return dxw, dhw, tuple(d * 0 for d in dprev)

    with patched_cell(cell, core_backward=truncated):
        report = check_model(m, *ragged_batch, max_coords=None)
    assert_gradcheck(report, "whole model", TOL, broken=True)


@pytest.mark.parametrize("config", CONFIGS[::5], ids=_id)
def test_padding_columns_change_nothing(config, ragged_batch, rng):
    m = _model(*config)
    randomize(m.params, rng)
    src, tgt = ragged_batch
    loss, grads = m.loss_and_grads(src, tgt)
    src_p = np.pad(src, ((0, 0), (0, 3)))
    tgt_p = np.pad(tgt, ((0, 0), (0, 2)))
    for s, t in [(src_p, tgt), (src, tgt_p), (src_p, tgt_p)]:
        loss2, grads2 = m.loss_and_grads(s, t)
        assert abs(loss2 - loss) <= 1e-10 * abs(loss)
        for k in grads:
            assert np.abs(grads2[k] - grads[k]).max() <= 1e-10 * max(1.0, np.abs(grads[k]).max()), k


@pytest.mark.parametrize("attention", ["dot", "general", "concat"])
def test_last_attention(attention, ragged_batch):
    m = _model(attention=attention)
    src, tgt = ragged_batch
    m.loss(src, tgt)
    w = m.last_attention
    assert w.shape == (src.shape[0], tgt.shape[1] - 1, src.shape[1])
    assert np.allclose(w.sum(-1), 1.0)
    assert (w[np.broadcast_to((src == 0)[:, None, :], w.shape)] == 0).all()
    m0 = _model(attention=None)
    m0.loss(src, tgt)
    assert m0.last_attention is None


def test_reverse_source_attention_is_in_the_original_order(ragged_batch):
    """With reverse_source the weights still index the source as given."""
    src, tgt = ragged_batch
    m = _model(reverse_source=True)
    m.loss(src, tgt)
    assert (m.last_attention[1, :, 2:] == 0).all()  # row 1 has 2 real tokens, at the left


def test_contract_params_are_live_and_grads_match(ragged_batch):
    m = _model()
    src, tgt = ragged_batch
    loss, grads = m.loss_and_grads(src, tgt)
    assert list(grads) == list(m.params)
    assert all(grads[k].shape == v.shape for k, v in m.params.items())
    m.params["W_s"] *= 2  # edits are the model
    assert m.loss(src, tgt) != loss


def test_same_seed_same_model_and_float32_default(ragged_batch):
    a, b = Seq2Seq(V_SRC, V_TGT, seed=3), Seq2Seq(V_SRC, V_TGT, seed=3)
    c = Seq2Seq(V_SRC, V_TGT, seed=4)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["W_s"], c.params["W_s"])
    loss, grads = a.loss_and_grads(*ragged_batch)
    assert all(v.dtype == np.float32 for v in a.params.values())
    assert all(g.dtype == np.float32 for g in grads.values())
    assert np.isfinite(loss)


def test_from_config_round_trip():
    m = _model(cell="gru", attention="concat", bidirectional=True)
    m2 = Seq2Seq.from_config(m.config)
    assert m2.config == m.config
    assert all(np.array_equal(m.params[k], m2.params[k]) for k in m.params)


@pytest.mark.parametrize("config", CONFIGS[::7], ids=_id)
def test_source_gradients_match_the_embedding_gradient(config, ragged_batch, rng):
    """Σ over the positions holding id v of ∂L/∂x_s is the gradient of embedding row v."""
    m = _model(*config)
    randomize(m.params, rng)
    src, tgt = ragged_batch
    sg = m.source_gradients(src, tgt)
    _, grads = m.loss_and_grads(src, tgt)
    rebuilt = np.zeros_like(m.params["src_embed"])
    np.add.at(rebuilt, src.reshape(-1), sg.embeddings.reshape(-1, E))
    rebuilt[0] = grads["src_embed"][0]  # padding positions are reported as 0
    assert np.allclose(rebuilt, grads["src_embed"], rtol=1e-10, atol=1e-13)
    assert (sg.states[src == 0] == 0).all() and sg.states.shape == (*src.shape, H)


# ---------------------------------------------------------------------------------------------
# bad input gets a clear ValueError naming what was expected

BAD_BATCHES = [
    ("float ids", np.array([[4.0, 5.0]]), np.array([[1, 5, 2]]), "integer token ids"),
    ("1-D src", np.array([4, 5]), np.array([[1, 5, 2]]), r"2-D .*shape \(2,\)"),
    ("id too large", np.array([[4, V_SRC]]), np.array([[1, 5, 2]]), rf"\[0, {V_SRC - 1}\]"),
    ("negative id", np.array([[4, -1]]), np.array([[1, 5, 2]]), "min -1"),
    ("empty batch", np.zeros((0, 3), int), np.zeros((0, 3), int), "empty batch"),
    ("short target", np.array([[4, 5]]), np.array([[1]]), "length >= 2"),
    ("batch mismatch", np.array([[4, 5], [4, 5]]), np.array([[1, 5, 2]]), "same batch size"),
    ("left padding", np.array([[0, 5]]), np.array([[1, 5, 2]]), "right-padded"),
    ("no labels", np.array([[4, 5]]), np.array([[1, 0, 0]]), "at least one label"),
    ("tgt id too large", np.array([[4, 5]]), np.array([[1, V_TGT, 2]]), rf"\[0, {V_TGT - 1}\]"),
]


@pytest.mark.parametrize("src,tgt,match", [b[1:] for b in BAD_BATCHES],
                         ids=[b[0] for b in BAD_BATCHES])
def test_bad_batches_are_rejected_clearly(src, tgt, match):
    m = _model()
    with pytest.raises(ValueError, match=match):
        m.loss_and_grads(src, tgt)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"cell": "transformer"}, r"cell must be one of \('rnn', 'gru', 'lstm'\)"),
        ({"attention": "bahdanau"}, "attention must be one of .*'dot', 'general', 'concat'"),
        ({"bidirectional": True, "hidden_dim": 7}, "must be even"),
        ({"input_feeding": True, "attention": None}, "needs attention"),
        ({"dtype": np.float16}, "dtype must be one of"),
        ({"hidden_dim": 0}, "hidden_dim must be a positive int"),
        ({"src_vocab_size": 3}, "at least 5"),
    ],
)
def test_bad_options_are_rejected_clearly(kwargs, match):
    args = dict(src_vocab_size=V_SRC, tgt_vocab_size=V_TGT, embed_dim=E, hidden_dim=H)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Seq2Seq(**args)


def test_attention_none_accepts_the_string_none():
    assert Seq2Seq(V_SRC, V_TGT, attention="none").attention is None


def test_dot_score_sizes_always_meet():
    """The dot score needs h_t and h̄_s of one size: a bidirectional encoder gives H/2 per
    direction, so the concatenated states have exactly the decoder's H."""
    m = _model(attention="dot", bidirectional=True)
    assert m.params["enc_fwd_Wh"].shape[0] * 2 == m.params["dec_Wh"].shape[0]


def test_model_module_exports():
    assert model_module.CELL_CHOICES == ("rnn", "gru", "lstm")
