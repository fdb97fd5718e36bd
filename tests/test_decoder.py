"""The decoder's two ways of running: the step-by-step loop (``decoder_step_forward`` at every
step, as input feeding, Bahdanau and inference run it) and the layer-by-layer run give the same
outputs and gradients where both apply, through stacked layers with dropout between them.

(The whole decoder's gradients are checked in test_model.py.)
"""

import numpy as np
import pytest

from numpy_seq2seq.functional import decoder, encoder
from numpy_seq2seq.functional.attention import attention_backward, attention_forward
from numpy_seq2seq.functional.layers import dropout_mask
from numpy_seq2seq.functional.params import sub_params
from numpy_seq2seq.functional.recurrent import CELLS
from numpy_seq2seq.functional.stacked import stacked_backward, stacked_forward
from numpy_seq2seq.model import Seq2Seq

from conftest import assert_refused, randomize
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


# ---------------------------------------------------------------------------------------------
# the encoder's and the decoder's entry points refuse bad input in one line

def _encoder_args():
    m = Seq2Seq(V_SRC, V_TGT, E, H, dtype=np.float64)
    src = np.array([[4, 5, 6, 0, 0, 0, 0], [4, 5, 0, 0, 0, 0, 0], [4] * S])
    return {"cell": "lstm", "src": src, "p": m.params, "num_layers": 1}


BAD_ENCODER = {  # name: (change to encoder_forward's arguments, message)
    "src id V": (lambda a: {**a, "src": a["src"] + V_SRC},
                 rf"src must be token ids in \[0, {V_SRC - 1}\] \(V = {V_SRC}, the rows of "
                 r"src_embed\)"),
    "float src": (lambda a: {**a, "src": a["src"] * 1.0},
                  "src must hold integer token ids, got dtype float64"),
    "no embeddings": (lambda a: {**a, "p": {k: v for k, v in a["p"].items() if "embed" not in k}},
                      r"p lacks 'src_embed'"),
    "two layers asked, one given": (lambda a: {**a, "num_layers": 2}, r"p lacks 'enc_l1_Wx'"),
    "a mask for each layer but the embeddings": (
        lambda a: {**a, "masks": []},
        r"masks must hold 1 dropout masks or None \(on the embeddings"),
}


def _decoder_args(rng, score="general"):
    m = Seq2Seq(V_SRC, V_TGT, E, H, attention=score, dtype=np.float64)
    return {"cell": "lstm", "score": score, "tgt_in": np.ones((N, T), dtype=int), "mask": MASK,
            "state0": (rng.standard_normal((N, H)),) * 2, "hs": rng.standard_normal((N, S, H)),
            "src_mask": SRC_MASK, "p": m.params}


BAD_DECODER = {  # name: (change to decoder_forward's arguments, message)
    "unknown score": (lambda a: {**a, "score": "luong"}, r"^score must be one of \(None, 'dot', "),
    "input feeding without attention": (
        lambda a: {**a, "score": None, "input_feeding": True},
        r"input_feeding needs a Luong score \('dot', 'general', 'concat'\), got score=None"),
    "hs of batch 1": (lambda a: {**a, "hs": a["hs"][:1]},
                      rf"hs must have shape \(N, S, H\) = \({N}, {S}, {H}\), got \(1, {S}, {H}\)"),
    "tgt_in id -1": (lambda a: {**a, "tgt_in": a["tgt_in"] - 2},
                     rf"tgt_in must be token ids in \[0, {V_TGT - 1}\] \(V = {V_TGT}, the "
                     r"rows of tgt_embed\), got min -1"),
    "state of the GRU": (lambda a: {**a, "state0": a["state0"][:1]},
                         r"state0 must be a tuple of 2 arrays of shape \(N, H\), \(h, c\) per"),
    "W_s of another V": (lambda a: {**a, "p": {**a["p"], "W_s": a["p"]["W_s"][:, 1:]}},
                         rf"W_s must have shape \(H, V\) = \({H}, {V_TGT}\), got "
                         rf"\({H}, {V_TGT - 1}\) \(H is {H} in state0\[0\], V is {V_TGT} in "
                         r"tgt_embed\)"),
}


ENTRIES = {"encoder_forward": (encoder.encoder_forward, BAD_ENCODER),
           "decoder_forward": (decoder.decoder_forward, BAD_DECODER)}


@pytest.mark.parametrize("entry, case", [(e, c) for e, (_, table) in ENTRIES.items()
                                         for c in table])
def test_the_entry_points_refuse_bad_input(rng, entry, case):
    forward, table = ENTRIES[entry]
    change, message = table[case]
    args = _encoder_args() if entry == "encoder_forward" else _decoder_args(rng)
    assert_refused(lambda: forward(**change(args)), message, entry)


def test_backwards_refuse_a_gradient_of_another_shape(rng):
    logits, _, cache = decoder.decoder_forward(**_decoder_args(rng))
    assert_refused(lambda: decoder.decoder_backward(logits[:, 1:], cache),
                   rf"^decoder_backward: dlogits must have the shape of the forward's logits, "
                   rf"\({N}, {T}, {V_TGT}\)")
    hs, state, cache = encoder.encoder_forward(**_encoder_args())
    assert_refused(lambda: encoder.encoder_backward(hs[:1], state, cache),
                   r"^encoder_backward: dhs must have the shape of the forward's hs")
