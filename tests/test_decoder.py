"""The decoder's two ways of running: the step-by-step loop (``decoder_step_forward`` at every
step, as input feeding, Bahdanau and inference run it) and the layer-by-layer run give the same
outputs and gradients where both apply, through stacked layers with dropout between them.

(The whole decoder's gradients are checked in test_model.py.)
"""

import numpy as np
import pytest

from numpy_seq2seq.functional import decoder
from numpy_seq2seq.functional.attention import attention_backward, attention_forward
from numpy_seq2seq.functional.layers import dropout_mask
from numpy_seq2seq.functional.params import sub_params
from numpy_seq2seq.functional.recurrent import CELLS
from numpy_seq2seq.functional.stacked import stacked_backward, stacked_forward
from numpy_seq2seq.model import Seq2Seq

from conftest import randomize
from sizes import V_SRC, V_TGT, E, H, N, S, T

K = 3  # layers
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], dtype=bool)  # (N, T)
SRC_MASK = np.array([[1, 1, 1, 1, 1, 1, 0], [1, 1, 0, 0, 0, 0, 0], [1] * S], dtype=bool)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("score", [None, "general"])
def test_step_by_step_equals_layer_by_layer(cell, score, rng):
    m = Seq2Seq(V_SRC, V_TGT, E, H, cell=cell, attention=score, num_layers=K, dtype=np.float64)
    randomize(m.params, rng)
    p = m.params
    y = rng.standard_normal((N, T, E))
    hs = rng.standard_normal((N, S, H))
    state0 = tuple(rng.standard_normal((N, H)) for _ in range(K * CELLS[cell].n_states))
    masks = [dropout_mask(rng, 0.3, (N, T, H), np.float64) for _ in range(K - 1)]
    dout = rng.standard_normal((N, T, H))

    out, _, layered = stacked_forward(cell, y, state0, MASK, sub_params(p, "dec_"), K,
                                      masks=masks)
    dhd, dhs, grads = dout, np.zeros_like(hs), {}
    if score is not None:  # all T steps scored at once
        out, _, att_cache = attention_forward(score, out, hs, SRC_MASK, p)
        dhd, dhs, grads = attention_backward(dout, att_cache)
    dy, dstate0, g = stacked_backward(dhd, None, layered)
    grads.update({"dec_" + k: v for k, v in g.items()})

    stepped_out, _, stepped = decoder._stepped_forward(cell, score, y, MASK, state0, hs,
                                                       SRC_MASK, p, False, masks)
    dy2, dstate02, dhs2, grads2 = decoder._stepped_backward(dout, stepped)

    def close(a, b):
        return np.allclose(a, b, rtol=1e-10, atol=1e-13)

    assert np.allclose(stepped_out, out, rtol=1e-12, atol=1e-14)
    assert close(dy2, dy) and close(dhs2, dhs)
    assert all(close(a, b) for a, b in zip(dstate02, dstate0, strict=True))
    assert set(grads2) == set(grads)
    assert all(close(grads2[k], g) for k, g in grads.items())
