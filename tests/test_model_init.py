"""Seq2Seq's initialisation (``Seq2Seq._init_params``): the scales issue 12's study chose, for
every cell and encoder layout, and the reason for them: training starts faster than from the old
0.1·N(0, 1) embeddings (notebooks/09_initialisation.ipynb, benchmarks/init_study.py)."""

import itertools

import numpy as np
import pytest

from numpy_seq2seq.data import Vocab, encode_pairs, make_task
from numpy_seq2seq.model import CELL_CHOICES, Seq2Seq
from numpy_seq2seq.training import train

LAYOUTS = {"plain": {}, "bi": {"bidirectional": True}, "feed": {"input_feeding": True}}
CASES = list(itertools.product(CELL_CHOICES, LAYOUTS))
# larger than tests/sizes.py: every weight matrix needs >= 100 draws for the bounds below to be
# approached, and the input size D (12, or 32 with input feeding) differs from every hidden size
# (20, or 10 per direction), so that a W_x drawn by its fan-in D cannot pass for ±1/√H
V, E_INIT, H_INIT = 400, 12, 20


def _model(cell, layout, dtype=np.float32, seed=0):
    return Seq2Seq(V, V, E_INIT, H_INIT, cell=cell, **LAYOUTS[layout], dtype=dtype, seed=seed)


def _recurrent_prefixes(model):
    """"enc_", "dec_", or "enc_fwd_", "enc_bwd_", "dec_": one per recurrent layer."""
    return sorted(k[: -len("Wh")] for k in model.params if k.endswith("_Wh"))


@pytest.mark.parametrize("cell,layout", CASES)
def test_embeddings_are_unit_normal(cell, layout):
    m = _model(cell, layout)
    for key in ("src_embed", "tgt_embed"):
        assert abs(m.params[key].mean()) < 0.1 and abs(m.params[key].std() - 1) < 0.1, key


@pytest.mark.parametrize("cell,layout", CASES)
def test_recurrent_weights_are_uniform_in_one_over_root_hidden(cell, layout):
    m = _model(cell, layout)
    for prefix in _recurrent_prefixes(m):
        h = m.params[prefix + "Wh"].shape[0]  # this layer's hidden size (H/2 per direction)
        bound = 1 / np.sqrt(h)  # PyTorch's rule for W_x, W_h and b alike
        for name in ("Wx", "Wh"):
            W = m.params[prefix + name]
            # >= 100 draws: some come within 10 % of the bound (all miss it w.p. 0.9**100)
            assert 0.9 * bound < np.abs(W).max() <= bound, (prefix + name, W.shape)


@pytest.mark.parametrize("cell,layout", CASES)
def test_init_depends_only_on_the_seed(cell, layout):
    a, b = _model(cell, layout, seed=5), _model(cell, layout, seed=5)
    c, d64 = _model(cell, layout, seed=6), _model(cell, layout, dtype=np.float64, seed=5)
    for key, value in a.params.items():
        np.testing.assert_array_equal(value, b.params[key])
        np.testing.assert_array_equal(value, d64.params[key].astype(np.float32))
    assert not np.array_equal(a.params["dec_Wh"], c.params["dec_Wh"])
    if cell == "lstm":
        for prefix in _recurrent_prefixes(a):
            h = a.params[prefix + "Wh"].shape[0]
            assert (a.params[prefix + "b"][h : 2 * h] == 1).all(), prefix  # forget gate


@pytest.fixture(scope="module")
def reverse_task():
    pairs = make_task("reverse", 640, seed=0, min_len=3, max_len=8)
    src_vocab = Vocab.from_texts(s for s, _ in pairs)
    tgt_vocab = Vocab.from_texts(t for _, t in pairs)
    return encode_pairs(pairs, src_vocab, tgt_vocab), len(src_vocab), len(tgt_vocab)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_init_learns_faster_than_the_old_embedding_scale(reverse_task, seed):
    """100 Adam steps on a tiny reverse task end at a loss well below that of the same model
    with its embeddings shrunk to the old 0.1·N(0, 1): ratios 1.4-1.9 measured on seeds 0-7,
    against 1.04-1.10 for the old initialisation (whose shrunk twin has 0.01·N(0, 1))."""
    data, n_src, n_tgt = reverse_task
    final = {}
    for scale in (1.0, 0.1):
        m = Seq2Seq(n_src, n_tgt, 8, 16, seed=seed)
        m.params["src_embed"] *= scale
        m.params["tgt_embed"] *= scale
        # constant: no held-out data, the rate this comparison was measured with
        history = train(m, data, epochs=5, batch_size=32, lr=1e-2, schedule="constant",
                        seed=seed, progress=False)
        assert len(history.loss) == 100
        final[scale] = np.mean(history.loss[-10:])
    assert final[0.1] > 1.25 * final[1.0], final
