"""Seq2Seq against its PyTorch twin (``numpy_seq2seq.torch_export``): the same weights and batch
give the same loss and gradients — |Δloss| / loss <= 1e-10 in float64 and 1e-5 in float32 —
for every cell × attention × bidirectional × reverse_source × input_feeding × num_layers, and
``from_torch(to_torch(model))`` gives back exactly the model.

Sizes are distinct (tests/sizes.py), A differs from H, and the batch is ragged, so a wrong
transpose, padding, masking or final-state selection cannot pass. Nothing is skipped: an option
the twin has and the model rejects is a failure.
"""

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install '.[torch]'); "
                                            "the torch oracle tests need it")

from numpy_seq2seq.model import CELL_CHOICES, Seq2Seq  # noqa: E402
from numpy_seq2seq.torch_export import ATTENTIONS, LUONG_SCORES, from_torch, to_torch  # noqa: E402

from conftest import randomize  # noqa: E402
from sizes import V_SRC, V_TGT, A, E, H  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
# |Δloss| relative to the loss, and the worst relative gradient error. In float32, measured over
# 504 configurations and seeds: loss <= 2e-7; gradients median 6e-7, 99th percentile 3.5e-6,
# worst 1.3e-5 (v_a of a concat score, a sum over (t, s, A) that partly cancels): hence 5e-5.
TOLERANCE = {
    np.float64: (1e-10, 1e-9),
    np.float32: (1e-5, 5e-5),
}


def _param(kw: dict):
    name = "-".join([kw["cell"], str(kw["attention"])] + [
        {"bidirectional": "bi", "reverse_source": "rev", "input_feeding": "feed"}.get(k, f"{k}{v}")
        for k, v in kw.items() if k not in ("cell", "attention") and v])
    return pytest.param(kw, id=name)


def grid(num_layers: int = 1, **extra) -> list:
    """Every cell × attention × bidirectional × reverse_source × input_feeding (Luong only)."""
    out = []
    for cell, attention, bi, rev in itertools.product(CELL_CHOICES, ATTENTIONS, (False, True),
                                                      (False, True)):
        for feed in (False, True) if attention in LUONG_SCORES else (False,):
            kw = dict(cell=cell, attention=attention, bidirectional=bi, reverse_source=rev,
                      input_feeding=feed, **extra)
            if num_layers > 1:
                kw["num_layers"] = num_layers
            out.append(_param(kw))
    return out


def rel_error(a, b) -> float:
    """max |a - b| over max(|a|, |b|), both maxima over the whole array.

    Scaled by the array's largest entry rather than elementwise, so an entry that is zero up to
    round-off (a sum that cancels) does not count as a large relative error.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.abs(a).max(), np.abs(b).max())
    return float(np.abs(a - b).max() / scale) if scale > 0 else 0.0


def make_model(kw: dict, dtype, rng: np.random.Generator) -> Seq2Seq:
    """A model at a generic point: every parameter, biases included, drawn N(0, 0.5²)."""
    model = Seq2Seq(V_SRC, V_TGT, embed_dim=E, hidden_dim=H, attention_dim=A, dtype=dtype,
                    seed=int(rng.integers(1 << 30)), **kw)
    randomize(model.params, rng)
    return model


def differences(model: Seq2Seq, module, src, tgt) -> tuple[float, float, str]:
    """Relative |Δloss|, the worst relative gradient error and the key it was seen at.

    The module runs in eval mode: dropout off, as in the NumPy model without a generator.
    """
    loss, grads = model.loss_and_grads(src, tgt)
    module.eval()
    module.zero_grad()
    t_loss = module(src, tgt)
    t_loss.backward()
    t_grads = module.numpy_grads()
    assert set(grads) == set(t_grads) == set(model.params)
    errors = {key: rel_error(grads[key], t_grads[key]) for key in grads}
    worst = max(errors, key=errors.get)
    return abs(loss - t_loss.item()) / abs(loss), errors[worst], worst


def _check_attention(model, module, tgt, tol):
    """Row t of the weights is what produced output t (compared where a label is scored)."""
    if model.attention is None:
        assert module.last_attention is None
        return
    scored = (tgt[:, 1:] != 0)[:, :, None]  # the NumPy decoder holds its state over padding
    assert rel_error(model.last_attention * scored, module.last_attention.numpy() * scored) <= tol


GRID_1 = grid()
GRID_K = grid(2) + grid(3)


@pytest.mark.parametrize("kw", GRID_1 + GRID_K)
def test_loss_and_grads_match_torch_float64(kw, rng, ragged_batch):
    model = make_model(kw, np.float64, rng)
    module = to_torch(model)
    dloss, dgrad, where = differences(model, module, *ragged_batch)
    loss_tol, grad_tol = TOLERANCE[np.float64]
    assert dloss <= loss_tol, f"relative loss difference {dloss:.1e}"
    assert dgrad <= grad_tol, f"{where}: max relative gradient error {dgrad:.1e}"
    _check_attention(model, module, ragged_batch[1], 1e-10)


@pytest.mark.parametrize("kw", GRID_1 + grid(2)[::4])
def test_loss_and_grads_match_torch_float32(kw, rng, ragged_batch):
    model = make_model(kw, np.float32, rng)
    dloss, dgrad, where = differences(model, to_torch(model), *ragged_batch)
    loss_tol, grad_tol = TOLERANCE[np.float32]
    assert dloss <= loss_tol, f"relative loss difference {dloss:.1e}"
    assert dgrad <= grad_tol, f"{where}: max relative gradient error {dgrad:.1e}"


@pytest.mark.parametrize("kw", grid(1, dropout=0.3)[::5] + grid(2, dropout=0.3)[::5])
def test_dropout_model_matches_torch_in_eval_mode(kw, rng, ragged_batch):
    """Without a generator the NumPy model does not drop; neither does the twin in eval()."""
    model = make_model(kw, np.float64, rng)
    module = to_torch(model)
    assert module.dropout.p == 0.3
    dloss, dgrad, where = differences(model, module, *ragged_batch)
    assert dloss <= 1e-10 and dgrad <= 1e-9, (dloss, where, dgrad)


@pytest.mark.parametrize("kw", GRID_1 + GRID_K)
def test_round_trip_is_exact(kw, rng):
    model = make_model(kw, np.float32, rng)
    back = from_torch(to_torch(model))
    assert back.config == model.config
    assert set(back.params) == set(model.params)
    for key, value in model.params.items():
        assert back.params[key].dtype == value.dtype
        assert np.array_equal(back.params[key], value), key


@pytest.mark.parametrize("cell", CELL_CHOICES)
def test_comparison_catches_a_wrong_layout(cell, rng, ragged_batch):
    """Twin: a twin with its first two gate blocks swapped (the RNN's one gate: its recurrent
    weight left untransposed) must fail the comparison."""
    model = make_model(dict(cell=cell, attention="general"), np.float64, rng)
    module = to_torch(model)
    with torch.no_grad():
        w = module.decoder.weight_hh_l0  # (G·H, H)
        if cell == "rnn":
            w.copy_(w.T.clone())
        else:
            w.copy_(torch.cat([w[H:2 * H], w[:H], w[2 * H:]]))
    dloss, dgrad, _ = differences(model, module, *ragged_batch)
    assert dloss > 1e-6 and dgrad > 1e-3, (dloss, dgrad)
