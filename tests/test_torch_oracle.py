"""Seq2Seq against a PyTorch twin: same weights, same batch, same loss and gradients in float64.

The twin lives in ``benchmarks/torch_seq2seq.py`` (benchmarks/ is not a package, so it is imported
by path). Sizes are distinct (N=3, S=7, T=5, E=4, H=6, V_src=11, V_tgt=13) so a wrong transpose
cannot pass, and the batch is ragged so padding, masking and final-state selection are exercised.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install .[torch]); "
                                            "the torch oracle tests need it")

from numpy_seq2seq.model import Seq2Seq  # noqa: E402

N, S, T, E, H, V_SRC, V_TGT = 3, 7, 5, 4, 6, 11, 13


def _load_twin():
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "torch_seq2seq.py"
    spec = importlib.util.spec_from_file_location("torch_seq2seq", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


twin = _load_twin()


def rel_error(a, b):
    """max |a - b| over max(|a|, |b|), both maxima over the whole array.

    Scaled by the array's largest entry rather than elementwise, so an entry that is zero up to
    round-off (a sum that cancels) does not count as a large relative error.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.abs(a).max(), np.abs(b).max())
    return float(np.abs(a - b).max() / scale) if scale > 0 else 0.0


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def batch(rng):
    """A ragged batch: source lengths 7, 4, 1; target lengths (with <s> and </s>) 5, 4, 2."""
    src_len, tgt_len = [7, 4, 1], [5, 4, 2]
    src = np.zeros((N, S), dtype=np.int64)
    tgt = np.zeros((N, T), dtype=np.int64)
    for n in range(N):
        src[n, :src_len[n]] = rng.integers(4, V_SRC, size=src_len[n])
        tgt[n, 0], tgt[n, tgt_len[n] - 1] = 1, 2
        tgt[n, 1:tgt_len[n] - 1] = rng.integers(4, V_TGT, size=tgt_len[n] - 2)
    return src, tgt


GRID = [dict(cell=c, attention=a) for c in ("rnn", "gru", "lstm")
        for a in (None, "dot", "general", "concat")]
GRID += [
    dict(cell="lstm", attention="general", bidirectional=True),
    dict(cell="gru", attention="concat", bidirectional=True),
    dict(cell="rnn", attention=None, bidirectional=True),
    dict(cell="lstm", attention="dot", reverse_source=True),
    dict(cell="gru", attention="general", reverse_source=True, bidirectional=True),
    dict(cell="lstm", attention="general", input_feeding=True),
    dict(cell="gru", attention="concat", input_feeding=True),
    dict(cell="rnn", attention="dot", input_feeding=True, reverse_source=True),
    dict(cell="lstm", attention="concat", bidirectional=True, reverse_source=True,
         input_feeding=True),
]


def _id(kw):
    return "-".join(str(v) if not isinstance(v, bool) else k for k, v in kw.items())


@pytest.mark.parametrize("kw", GRID, ids=[_id(kw) for kw in GRID])
def test_loss_and_grads_match_torch(kw, rng, batch):
    src, tgt = batch
    model = Seq2Seq(V_SRC, V_TGT, embed_dim=E, hidden_dim=H, dtype=np.float64,
                    seed=int(rng.integers(1 << 30)), **kw)
    # perturb every parameter so zero-initialised ones (biases) are exercised too
    for p in model.params.values():
        p += 0.1 * rng.standard_normal(p.shape)
    loss, grads = model.loss_and_grads(src, tgt)

    oracle = twin.from_numpy_params(model.params, model.config)
    t_loss = oracle(torch.as_tensor(src), torch.as_tensor(tgt))
    t_loss.backward()
    t_grads = oracle.grads_as_numpy()

    assert abs(loss - t_loss.item()) <= 1e-10 * abs(t_loss.item()), (loss, t_loss.item())
    assert set(grads) == set(t_grads) == set(model.params)
    for key in grads:
        assert grads[key].shape == model.params[key].shape, key
        err = rel_error(grads[key], t_grads[key])
        assert err <= 1e-9, f"{key}: max relative error {err:.2e}"
