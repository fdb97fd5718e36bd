"""Seq2Seq: whole-model gradient checks over every configuration (cells, scores, stacked
layers, bidirectional, dropout, ...), padding invariance, dropout's masks, the public contract
and clear errors for bad input."""

import itertools
import subprocess
import sys

import numpy as np
import pytest

from numpy_seq2seq import model as model_module
from numpy_seq2seq.functional import decoder as decoder_module
from numpy_seq2seq.functional.attention import SCORES
from numpy_seq2seq.functional.layers import dropout_mask
from numpy_seq2seq.functional.recurrent import CELLS
from numpy_seq2seq.gradcheck import check_model
from numpy_seq2seq.model import ATTENTION_CHOICES, CELL_CHOICES, Seq2Seq

from conftest import assert_gradcheck, assert_refused, patched_cell, randomize
from sizes import V_SRC, V_TGT, E, H

TOL = 1e-6
DROPOUT_SEED = 99

CONFIGS = [
    (cell, attention, bidirectional, input_feeding, reverse_source)
    for cell, attention, bidirectional, input_feeding, reverse_source in itertools.product(
        CELL_CHOICES, ATTENTION_CHOICES, [False, True], [False, True], [False, True]
    )
    if not (input_feeding and attention not in SCORES)  # input feeding feeds Luong's h̃
]


def _id(config):
    cell, attention, bi, feed, rev = config[:5]
    k, dropout = config[5:] if len(config) > 5 else (1, 0.0)
    return (f"{cell}-{attention}" + "-bi" * bi + "-feed" * feed + "-rev" * rev
            + f"-k{k}" * (k > 1) + f"-drop{dropout}" * (dropout > 0))


def _model(cell="lstm", attention="general", bidirectional=False, input_feeding=False,
           reverse_source=False, num_layers=1, dropout=0.0, dtype=np.float64, seed=0):
    return Seq2Seq(V_SRC, V_TGT, E, H, cell=cell, attention=attention,
                   bidirectional=bidirectional, reverse_source=reverse_source,
                   input_feeding=input_feeding, num_layers=num_layers, dropout=dropout,
                   dtype=dtype, seed=seed)


def _generic(m, rng):
    """Move a model to a generic point (see conftest.randomize).

    Bahdanau's query gradient is a *difference* between source positions (the softmax ignores
    a shift common to all of them), so with the small states of scale 0.5 it is ~1e-5 and
    rounding noise in the finite differences reaches 1e-6 of it; scale 1 keeps it ~1e-3.
    """
    randomize(m.params, rng, scale=1.0 if m.attention == "bahdanau" else 0.5)
    return m


@pytest.mark.parametrize("config", CONFIGS, ids=_id)
def test_every_parameter_gradient(config, ragged_batch, rng):
    m = _generic(_model(*config), rng)
    report = check_model(m, *ragged_batch, max_coords=None)
    assert set(report.errors) == set(m.params)
    assert_gradcheck(report, "whole model, every parameter", TOL)


# Stacked layers and dropout, over every cell × score: for cell i and score j, (num_layers,
# bidirectional, dropout) is row (i + j) mod 4 of a 4-run orthogonal array of the three binary
# factors, so every factor is covered in full and every pair of factors in all combinations;
# four more add input feeding and reversed sources to the stacked, dropped-out models.
_OA = [(1, False, 0.0), (1, True, 0.3), (2, False, 0.3), (2, True, 0.0)]
STACKED = [
    (cell, attention, bi, False, False, k, dropout)
    for i, cell in enumerate(CELL_CHOICES)
    for j, attention in enumerate(ATTENTION_CHOICES)
    for k, bi, dropout in [_OA[(i + j) % 4]]
] + [
    ("lstm", "general", True, True, True, 2, 0.3),
    ("gru", "concat", False, True, False, 3, 0.3),
    ("rnn", "bahdanau", True, False, True, 2, 0.3),
    ("gru", "dot", False, False, True, 3, 0.0),
]


@pytest.mark.parametrize("config", STACKED, ids=_id)
def test_stacked_and_dropout_gradients(config, ragged_batch, rng):
    """Dropout is checked by replaying the same masks: every pass gets a fresh generator
    seeded alike (``check_model(dropout_seed=...)``)."""
    m = _generic(_model(*config), rng)
    seed = DROPOUT_SEED if m.config["dropout"] > 0 else None
    report = check_model(m, *ragged_batch, max_coords=12, dropout_seed=seed)
    assert set(report.errors) == set(m.params)
    assert_gradcheck(report, "whole model: layers, dropout", TOL)


@pytest.mark.parametrize("wrong", ["dropout-mask-forgotten", "bahdanau-query-forgotten"])
def test_stacked_and_dropout_check_catches_a_wrong_backward(wrong, ragged_batch, rng,
                                                            monkeypatch):
    """Twins: a decoder whose backward ignores the dropout masks, and one that forgets that
    Bahdanau's context depends on the previous state."""
    if wrong == "dropout-mask-forgotten":
        config = ("gru", "general", False, False, False, 2, 0.3)
        monkeypatch.setattr(decoder_module, "dropout_backward", lambda dout, mask: dout)
    else:
        config = ("lstm", "bahdanau", False, False, False, 2, 0.0)
        real = decoder_module.bahdanau_step_backward

        def no_query(dcontext, cache):
            ds_prev, *rest = real(dcontext, cache)
            return (0 * ds_prev, *rest)

        monkeypatch.setattr(decoder_module, "bahdanau_step_backward", no_query)
    m = _generic(_model(*config), rng)
    report = check_model(m, *ragged_batch, max_coords=12, dropout_seed=DROPOUT_SEED)
    assert_gradcheck(report, "whole model: layers, dropout", TOL, broken=True)


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


@pytest.mark.parametrize("attention", ["dot", "general", "concat", "bahdanau"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_last_attention(attention, num_layers, ragged_batch):
    m = _model(attention=attention, num_layers=num_layers)
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
        ({"attention": "luong"}, "attention must be one of .*'dot', 'general', 'concat', "
                                 "'bahdanau'"),
        ({"bidirectional": True, "hidden_dim": 7}, "must be even"),
        ({"input_feeding": True, "attention": None}, "needs attention"),
        ({"input_feeding": True, "attention": "bahdanau"}, "already feeds its context"),
        ({"num_layers": 0}, "num_layers must be an integer >= 1, got 0"),
        ({"num_layers": 1.5}, "num_layers must be an integer >= 1"),
        ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\), got 1.0"),
        ({"dropout": -0.1}, r"dropout must be a number in \[0, 1\)"),
        ({"dropout": "0.2"}, r"dropout must be a number in \[0, 1\)"),
        ({"dtype": np.float16}, "dtype must be one of"),
        ({"hidden_dim": 0}, "hidden_dim must be an integer >= 1"),
        ({"src_vocab_size": 3}, "at least 5"),
        # every argument goes through ModelConfig, whose messages name it
        ({"dtype": "foo"}, r"dtype must be one of \('float32', 'float64'\), got 'foo'"),
        ({"dtype": None}, r"dtype must be one of \('float32', 'float64'\), got None"),
        ({"seed": -1}, "seed must be an integer >= 0, got -1"),
        ({"seed": 1.5}, "seed must be an integer >= 0, got 1.5"),
        ({"bidirectional": "no"}, "bidirectional must be True or False, got 'no'"),
        ({"input_feeding": 1}, "input_feeding must be True or False, got 1"),
        ({"attention_dim": 0}, "attention_dim must be an integer >= 1, got 0"),
        ({"embed_dim": True}, "embed_dim must be an integer >= 1, got True"),
        ({"cell": "LSTM"}, r"cell must be one of \('rnn', 'gru', 'lstm'\), got 'LSTM'"),
    ],
)
def test_bad_options_are_rejected_clearly(kwargs, match):
    args = dict(src_vocab_size=V_SRC, tgt_vocab_size=V_TGT, embed_dim=E, hidden_dim=H)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Seq2Seq(**args)


def test_attention_none_accepts_the_string_none():
    assert Seq2Seq(V_SRC, V_TGT, attention="none").attention is None


def test_arguments_are_stored_plain():
    """NumPy numbers and dtypes are accepted and stored as the JSON-ready values of the config."""
    m = Seq2Seq(np.int64(V_SRC), V_TGT, hidden_dim=np.int32(8), dtype=np.float64,
                bidirectional=np.bool_(True), dropout=np.float32(0.25))
    assert m.config["hidden_dim"] == 8 and type(m.config["hidden_dim"]) is int
    assert m.config["dtype"] == "float64" and m.dtype == np.float64
    assert m.config["bidirectional"] is True and type(m.config["dropout"]) is float
    assert type(m.config["src_vocab_size"]) is int


def test_from_config_refuses_an_unknown_key():
    config = {**_model().config, "heads": 4}
    with pytest.raises(ValueError, match=r"unknown ModelConfig key\(s\) \['heads'\]"):
        Seq2Seq.from_config(config)


# ---------------------------------------------------------------------------------------------
# decode_step: y_prev must be ids of the target vocabulary, the state of enc's batch

def _step_args(num_layers=1):
    m = _model(num_layers=num_layers)
    enc = m.encode(np.array([[4, 5, 6]]))
    return m, {"y_prev": np.array([1]), "state": enc.state0, "h_tilde_prev": None, "enc": enc}


BAD_STEPS = {  # name: (change to decode_step's arguments, message)
    "y_prev -1 (would read the last row)": (
        lambda a: {**a, "y_prev": np.array([-1])},
        rf"y_prev must be token ids in \[0, {V_TGT - 1}\] \(V = {V_TGT}, the target "
        r"vocabulary\), got min -1 and max -1"),
    "y_prev V": (lambda a: {**a, "y_prev": np.array([V_TGT])}, f"y_prev .* got min {V_TGT} and"),
    "float y_prev": (lambda a: {**a, "y_prev": np.array([1.0])},
                     "y_prev must hold integer token ids, got dtype float64"),
    "y_prev of shape (N, 1)": (lambda a: {**a, "y_prev": np.array([[1]])},
                               r"y_prev must be 1-D of shape \(N,\), got shape \(1, 1\)"),
    "y_prev of batch 2": (lambda a: {**a, "y_prev": np.array([1, 1])},
                          r"y_prev must have shape \(N,\) = \(1,\), got \(2,\) \(N is 1 in "
                          r"enc.states\)"),
    "state of batch 2": (lambda a: {**a, "state": tuple(np.repeat(s, 2, 0) for s in a["state"])},
                         rf"state\[0\] must have shape \(N, H\) = \(1, {H}\), got \(2, {H}\)"),
    "state of one array": (lambda a: {**a, "state": a["state"][:1]},
                           r"state must be a tuple of 2 arrays of shape \(N, H\), laid out as "
                           r"enc.state0, got 1"),
    "h_tilde_prev of batch 2": (lambda a: {**a, "h_tilde_prev": np.zeros((2, H), np.float32)},
                                rf"h_tilde_prev must have shape \(N, H\) = \(1, {H}\)"),
}


@pytest.mark.parametrize("change, message", BAD_STEPS.values(), ids=list(BAD_STEPS))
def test_decode_step_refuses_bad_input(change, message):
    m, args = _step_args()
    assert_refused(lambda: m.decode_step(**change(args)), f"^decode_step: {message}")


def test_decode_step_checks_every_layer_of_the_state():
    m, args = _step_args(num_layers=2)
    state = args["state"][:2] + (args["state"][2][:, 1:],) + args["state"][3:]
    assert_refused(lambda: m.decode_step(**{**args, "state": state}),
                   rf"^decode_step: state\[2\] must have shape \(N, H\) = \(1, {H}\)")
    m.decode_step(**args)  # the right state passes


def test_dot_score_sizes_always_meet():
    """The dot score needs h_t and h̄_s of one size: a bidirectional encoder gives H/2 per
    direction, so the concatenated states have exactly the decoder's H."""
    m = _model(attention="dot", bidirectional=True)
    assert m.params["enc_fwd_Wh"].shape[0] * 2 == m.params["dec_Wh"].shape[0]


def test_model_module_exports():
    assert model_module.CELL_CHOICES == ("rnn", "gru", "lstm")


# ---------------------------------------------------------------------------------------------
# dropout: where the masks come from, and that without a generator nothing is dropped

def test_without_a_generator_dropout_changes_nothing(ragged_batch):
    src, tgt = ragged_batch
    plain, dropped = _model(num_layers=2), _model(num_layers=2, dropout=0.5)
    assert all(np.array_equal(plain.params[k], dropped.params[k]) for k in plain.params)
    loss, grads = dropped.loss_and_grads(src, tgt)
    assert loss == plain.loss(src, tgt) == dropped.loss(src, tgt)
    assert all(np.array_equal(grads[k], g) for k, g in plain.loss_and_grads(src, tgt)[1].items())


def test_a_generator_draws_masks_reproducibly(ragged_batch):
    src, tgt = ragged_batch
    m = _model(num_layers=2, dropout=0.3)
    runs = [m.loss_and_grads(src, tgt, rng=np.random.default_rng(seed)) for seed in (1, 1, 2)]
    assert runs[0][0] == runs[1][0] != runs[2][0] != m.loss(src, tgt)
    assert all(np.array_equal(runs[0][1][k], runs[1][1][k]) for k in m.params)
    assert m.loss(src, tgt, rng=np.random.default_rng(1)) == runs[0][0]
    rng = np.random.default_rng(1)
    m.loss(src, tgt, rng=rng)  # one generator across steps: the next step draws fresh masks
    assert m.loss(src, tgt, rng=rng) != runs[0][0]


def test_dropout_zero_draws_nothing(ragged_batch):
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    _model().loss_and_grads(*ragged_batch, rng=rng)
    assert rng.bit_generator.state == before


def test_masks_are_drawn_in_the_documented_order():
    """Source embeddings, encoder layers 0 … k-2, target embeddings, decoder layers 0 … k-2,
    output layer's input: the order a twin implementation must follow to replay them."""
    m = _model(num_layers=3, dropout=0.4)
    N, S, T = 2, 5, 4
    enc, dec = m._dropout_masks(np.random.default_rng(8), N, S, T)
    shapes = [(N, S, E), (N, S, H), (N, S, H), (N, T, E), (N, T, H), (N, T, H), (N, T, H)]
    replay = np.random.default_rng(8)
    assert len(enc) == 3 and len(dec) == 4
    for mask, shape in zip(enc + dec, shapes, strict=True):
        assert np.array_equal(mask, dropout_mask(replay, 0.4, shape, np.float64))


def test_float32_dropout_stays_float32(ragged_batch):
    m = _model(num_layers=2, dropout=0.2, dtype=np.float32)
    loss, grads = m.loss_and_grads(*ragged_batch, rng=np.random.default_rng(0))
    assert np.isfinite(loss) and all(g.dtype == np.float32 for g in grads.values())


def test_rng_must_be_a_generator(ragged_batch):
    with pytest.raises(ValueError, match="rng must be a numpy Generator .* got int"):
        _model(dropout=0.1).loss_and_grads(*ragged_batch, rng=0)


# ---------------------------------------------------------------------------------------------
# stacked layers and Bahdanau: parameter names and shapes as docs/architecture.md lists them

def test_stacked_parameter_names_and_shapes():
    G = 3  # GRU
    m = _model("gru", "bahdanau", bidirectional=True, num_layers=2)
    shapes = {k: v.shape for k, v in m.params.items()}
    assert shapes["enc_fwd_Wx"] == shapes["enc_bwd_Wx"] == (E, G * H // 2)
    assert shapes["enc_l1_fwd_Wx"] == shapes["enc_l1_bwd_Wx"] == (H, G * H // 2)
    assert shapes["enc_l1_bwd_Wh"] == (H // 2, G * H // 2)
    assert shapes["enc_l1_fwd_bhn"] == (H // 2,)
    assert shapes["dec_Wx"] == (E + H, G * H)  # [E y; c_t]
    assert shapes["dec_l1_Wx"] == shapes["dec_l1_Wh"] == (H, G * H)
    assert shapes["W_q"] == shapes["W_k"] == (H, H) and shapes["v_a"] == (H,)
    assert "W_c" not in shapes and "W_a" not in shapes
    assert not any(k.startswith(("enc_l2", "dec_l2")) for k in shapes)


def test_one_layer_keeps_the_names_and_values_of_old_models():
    """Layer 0 keeps its names, and a config saved before num_layers and dropout existed still
    builds the same model (old checkpoints load)."""
    m = _model("lstm", "concat", bidirectional=True)
    assert list(m.params) == ["src_embed", "tgt_embed"] + [
        f"enc_{d}_{k}" for d in ("fwd", "bwd") for k in ("Wx", "Wh", "b")
    ] + ["dec_Wx", "dec_Wh", "dec_b", "W_a", "v_a", "W_c", "W_s", "b_s"]
    old = {k: v for k, v in m.config.items() if k not in ("num_layers", "dropout")}
    m2 = Seq2Seq.from_config(old)
    assert m2.config == m.config
    assert all(np.array_equal(m.params[k], m2.params[k]) for k in m.params)


def test_output_bias_is_drawn_with_the_fan_of_its_weight():
    """b_s ~ U(±1/√H), like nn.Linear(H, V)'s bias (not ±1/√V)."""
    m = Seq2Seq(V_SRC, 400, E, 16, seed=0)
    b = np.abs(m.params["b_s"])
    assert b.max() <= 1 / np.sqrt(16) and b.max() > 0.9 / np.sqrt(16)


def test_the_model_imports_without_babel():
    code = ("import sys; sys.modules['babel'] = None; sys.modules['babel.dates'] = None; "
            "import numpy_seq2seq.model, numpy_seq2seq")
    subprocess.run([sys.executable, "-c", code], check=True)
