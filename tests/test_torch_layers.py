"""The RNN, GRU and LSTM layers, one and stacked (uni- and bidirectional), against
torch.nn.RNN/GRU/LSTM(num_layers=k, bidirectional=...) given the same weights.

PyTorch is an optional test extra (``pip install torch==2.13.0``); without it these are skipped.
"""

import numpy as np
import pytest

from numpy_seq2seq.functional.params import layer_params, layer_prefix
from numpy_seq2seq.functional.recurrent import (
    CELLS,
    cell_param_shapes,
    recurrent_backward,
    recurrent_forward,
)
from numpy_seq2seq.functional.stacked import stacked_backward, stacked_forward

from conftest import stack_params
from sizes import D, H, N, T

torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional 'torch' extra)")

TORCH_LAYERS = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}
LENGTHS = np.array([5, 2, 4])  # a ragged batch of N=3, T=5


def _torch_layer(cell, p, num_layers=1, bidirectional=False):
    """A torch layer holding our weights: ours are row-vector (x @ Wx), torch's are W @ x.

    Layer l's direction d of ours (``layer_prefix(l, d)``) is torch's ``*_l{l}`` (→) or
    ``*_l{l}_reverse`` (←).
    """
    H_dir = H // 2 if bidirectional else H
    layer = getattr(torch.nn, TORCH_LAYERS[cell])(D, H_dir, num_layers=num_layers,
                                                  bidirectional=bidirectional,
                                                  batch_first=True).double()
    directions = [("fwd", ""), ("bwd", "_reverse")] if bidirectional else [(None, "")]
    with torch.no_grad():
        for l in range(num_layers):
            for direction, suffix in directions:
                ours = layer_params(p, layer_prefix(l, direction))
                getattr(layer, f"weight_ih_l{l}{suffix}").copy_(torch.from_numpy(ours["Wx"].T))
                getattr(layer, f"weight_hh_l{l}{suffix}").copy_(torch.from_numpy(ours["Wh"].T))
                getattr(layer, f"bias_ih_l{l}{suffix}").copy_(torch.from_numpy(ours["b"]))
                b_hh = np.zeros(CELLS[cell].gates * H_dir)
                if cell == "gru":
                    b_hh[2 * H_dir :] = ours["bhn"]  # b_hn sits inside r ⊙ (…): not in b
                getattr(layer, f"bias_hh_l{l}{suffix}").copy_(torch.from_numpy(b_hh))
    return layer


def _torch_run(layer, cell, x, lengths, state0):
    """Run a torch layer over a padded batch; state0: tensors of shape (layers·dirs, N, H_dir)."""
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x, torch.tensor(lengths), batch_first=True, enforce_sorted=False
    )
    out, final = layer(packed, tuple(state0) if cell == "lstm" else state0[0])
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    return out, (final if cell == "lstm" else (final,))


def close(a, b):
    return np.abs(a - b).max() <= 1e-10 * max(1.0, np.abs(b).max())


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
    out, final = _torch_run(layer, cell, xt, lengths, s0)
    objective = (out * torch.from_numpy(dhs)).sum() + sum(
        (f[0] * torch.from_numpy(d)).sum() for f, d in zip(final, dstate)
    )
    objective.backward()

    assert close(hs * mask[:, :, None], out.detach().numpy())
    assert all(close(a, f[0].detach().numpy()) for a, f in zip(state, final))
    assert close(dx, xt.grad.numpy())
    assert all(close(a, s.grad[0].numpy()) for a, s in zip(dstate0, s0))
    assert close(grads["Wx"], layer.weight_ih_l0.grad.numpy().T)
    assert close(grads["Wh"], layer.weight_hh_l0.grad.numpy().T)
    assert close(grads["b"], layer.bias_ih_l0.grad.numpy())
    if cell == "gru":
        assert close(grads["bhn"], layer.bias_hh_l0.grad.numpy()[2 * H :])


# ---------------------------------------------------------------------------------------------
# stacked layers: our flat state (layer l's [→s; ←s] of shape (N, H)) against torch's
# (layers·directions, N, H_dir) with rows l·dirs + d

def _to_torch_state(flat, n_states, dirs):
    """Our flat state tuple -> one (k·dirs, N, H/dirs) array per state kind (h, c)."""
    k = len(flat) // n_states
    return [np.stack([half for l in range(k) for half in np.split(flat[l * n_states + i], dirs, 1)])
            for i in range(n_states)]


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_stacked_layers_match_torch(cell, num_layers, bidirectional, rng):
    dirs = 2 if bidirectional else 1
    n_states = CELLS[cell].n_states
    p = stack_params(cell, num_layers, bidirectional, rng)
    x = rng.standard_normal((N, T, D))
    mask = np.arange(T)[None, :] < LENGTHS[:, None]
    state0 = tuple(rng.standard_normal((N, H)) for _ in range(num_layers * n_states))
    hs, state, cache = stacked_forward(cell, x, state0, mask, p, num_layers, bidirectional)
    dhs = rng.standard_normal(hs.shape) * mask[:, :, None]
    dstate = tuple(rng.standard_normal((N, H)) for _ in state)
    dx, dstate0, grads = stacked_backward(dhs, dstate, cache)

    layer = _torch_layer(cell, p, num_layers, bidirectional)
    xt = torch.tensor(x, requires_grad=True)
    s0 = [torch.tensor(a, requires_grad=True) for a in _to_torch_state(state0, n_states, dirs)]
    out, final = _torch_run(layer, cell, xt, LENGTHS, s0)
    objective = (out * torch.from_numpy(dhs)).sum() + sum(
        (f * torch.from_numpy(d)).sum()
        for f, d in zip(final, _to_torch_state(dstate, n_states, dirs))
    )
    objective.backward()

    pairs = [(hs * mask[:, :, None], out.detach().numpy()), (dx, xt.grad.numpy())]
    pairs += list(zip(_to_torch_state(state, n_states, dirs), [f.detach().numpy() for f in final]))
    pairs += list(zip(_to_torch_state(dstate0, n_states, dirs), [s.grad.numpy() for s in s0]))
    directions = [("fwd", ""), ("bwd", "_reverse")] if bidirectional else [(None, "")]
    for l in range(num_layers):
        for direction, suffix in directions:
            ours = layer_params(grads, layer_prefix(l, direction))
            pairs += [(ours["Wx"], getattr(layer, f"weight_ih_l{l}{suffix}").grad.numpy().T),
                      (ours["Wh"], getattr(layer, f"weight_hh_l{l}{suffix}").grad.numpy().T),
                      (ours["b"], getattr(layer, f"bias_ih_l{l}{suffix}").grad.numpy())]
            if cell == "gru":
                H_dir = H // dirs
                pairs.append((ours["bhn"],
                              getattr(layer, f"bias_hh_l{l}{suffix}").grad.numpy()[2 * H_dir :]))
    assert len(grads) == len(p)
    diff = max(np.abs(a - b).max() / max(1.0, np.abs(b).max()) for a, b in pairs)
    print(f"stacked {cell} k={num_layers} {'bi' if bidirectional else 'uni'}: {diff:.1e}")
    assert diff <= 1e-10
