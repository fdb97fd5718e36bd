"""The RNN, GRU and LSTM layers against torch.nn.RNN/GRU/LSTM given the same weights.

PyTorch is an optional test extra (``pip install torch==2.13.0``); without it these are skipped.
"""

import numpy as np
import pytest

from numpy_seq2seq.functional.recurrent import (
    CELLS,
    cell_param_shapes,
    recurrent_backward,
    recurrent_forward,
)

from sizes import D, H, N, T

torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional 'torch' extra)")

TORCH_LAYERS = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}
LENGTHS = np.array([5, 2, 4])  # a ragged batch of N=3, T=5


def _torch_layer(cell, p):
    """A torch layer holding our weights: ours are row-vector (x @ Wx), torch's are W @ x."""
    layer = getattr(torch.nn, TORCH_LAYERS[cell])(D, H, batch_first=True).double()
    with torch.no_grad():
        layer.weight_ih_l0.copy_(torch.from_numpy(p["Wx"].T))
        layer.weight_hh_l0.copy_(torch.from_numpy(p["Wh"].T))
        layer.bias_ih_l0.copy_(torch.from_numpy(p["b"]))
        b_hh = np.zeros(CELLS[cell].gates * H)
        if cell == "gru":
            b_hh[2 * H :] = p["bhn"]  # b_hn sits inside r ⊙ (…): it cannot be folded into b
        layer.bias_hh_l0.copy_(torch.from_numpy(b_hh))
    return layer


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("ragged", [False, True], ids=["full", "ragged"])
def test_layer_matches_torch(cell, ragged, rng):
    p = {k: rng.standard_normal(s) * 0.5 for k, s in cell_param_shapes(cell, D, H).items()}
    x = rng.standard_normal((N, T, D))
    lengths = LENGTHS if ragged else np.full(N, T)
    mask = np.arange(T)[None, :] < lengths[:, None]
    n_states = CELLS[cell].n_states
    state0 = tuple(rng.standard_normal((N, H)) for _ in range(n_states))
    hs, state, cache = recurrent_forward(cell, x, state0, mask, p)
    dhs = rng.standard_normal(hs.shape) * mask[:, :, None]  # torch's outputs stop at the length
    dstate = tuple(rng.standard_normal((N, H)) for _ in range(n_states))
    dx, dstate0, grads = recurrent_backward(dhs, dstate, cache)

    layer = _torch_layer(cell, p)
    xt = torch.tensor(x, requires_grad=True)
    s0 = [torch.tensor(s[None], requires_grad=True) for s in state0]
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        xt, torch.tensor(lengths), batch_first=True, enforce_sorted=False
    )
    out, final = layer(packed, tuple(s0) if cell == "lstm" else s0[0])
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    final = final if cell == "lstm" else (final,)
    objective = (out * torch.from_numpy(dhs)).sum() + sum(
        (f[0] * torch.from_numpy(d)).sum() for f, d in zip(final, dstate)
    )
    objective.backward()

    def close(a, b):
        return np.abs(a - b).max() <= 1e-10 * max(1.0, np.abs(b).max())

    assert close(hs * mask[:, :, None], out.detach().numpy())
    assert all(close(a, f[0].detach().numpy()) for a, f in zip(state, final))
    assert close(dx, xt.grad.numpy())
    assert all(close(a, s.grad[0].numpy()) for a, s in zip(dstate0, s0))
    assert close(grads["Wx"], layer.weight_ih_l0.grad.numpy().T)
    assert close(grads["Wh"], layer.weight_hh_l0.grad.numpy().T)
    assert close(grads["b"], layer.bias_ih_l0.grad.numpy())
    if cell == "gru":
        assert close(grads["bhn"], layer.bias_hh_l0.grad.numpy()[2 * H :])
