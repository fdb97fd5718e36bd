"""A PyTorch twin of ``numpy_seq2seq.Seq2Seq``: the test oracle and the benchmark rival.

Same architecture, same parameters, different engine. ``from_numpy_params`` copies a numpy
model's ``params`` into the twin and ``grads_as_numpy`` maps the twin's gradients back to the numpy
keys and layouts, so ``tests/test_torch_oracle.py`` can compare loss and every gradient, and
``bench_step.py`` can time both on identical weights.

Letters: N batch, S source length, T target length (the decoder runs T-1 steps), E embedding,
H hidden, A attention size, V vocabulary, G gates (1 rnn, 3 gru, 4 lstm).

Layout conventions (numpy side -> torch side)
---------------------------------------------
- numpy multiplies row vectors, ``x @ Wx`` with ``Wx`` of shape (E, G*H); torch stores
  ``weight_ih`` of shape (G*H, E), so ``weight_ih = Wx.T``. Gate order is PyTorch's in both.
- rnn / lstm: numpy has one bias ``b = b_ih + b_hh``; we set ``bias_ih = b`` and ``bias_hh = 0``.
- gru: numpy ``b = [b_ir + b_hr, b_iz + b_hz, b_in]`` and ``bhn = b_hn`` (it sits inside
  ``r * (h W_hn + b_hn)``), so ``bias_ih = b`` and ``bias_hh = [0, 0, bhn]``.
- attention and output weights (W_a, v_a, W_c, W_s, b_s) are plain parameters in the numpy layout.

This file is a benchmark/test helper, not part of the package: it imports torch at module level.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

_LAYERS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
_CELLS = {"rnn": nn.RNNCell, "gru": nn.GRUCell, "lstm": nn.LSTMCell}
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class TorchSeq2Seq(nn.Module):
    """Encoder-decoder RNN with Luong global attention, mirroring ``numpy_seq2seq.Seq2Seq``.

    Parameters
    ----------
    src_vocab_size, tgt_vocab_size : int
        V_src and V_tgt; id 0 is padding in both.
    embed_dim, hidden_dim : int
        E and H. A bidirectional encoder has H/2 units per direction.
    cell : {"rnn", "gru", "lstm"}
    attention : {None, "dot", "general", "concat"}
    bidirectional, reverse_source, input_feeding : bool
    attention_dim : int or None
        A for the concat score (defaults to H).
    dtype : torch.dtype
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embed_dim: int, hidden_dim: int,
                 cell: str = "lstm", attention: str | None = "general",
                 bidirectional: bool = False, reverse_source: bool = False,
                 input_feeding: bool = False, attention_dim: int | None = None,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        E, H = embed_dim, hidden_dim
        A = attention_dim or H
        self.cell, self.attention = cell, attention
        self.bidirectional, self.reverse_source = bidirectional, reverse_source
        if input_feeding and attention is None:
            raise ValueError("input_feeding feeds h̃ back and needs attention, got attention=None")
        self.input_feeding = input_feeding
        self.hidden_dim = H
        kw = dict(dtype=dtype)

        self.src_embed = nn.Embedding(src_vocab_size, E, **kw)
        self.tgt_embed = nn.Embedding(tgt_vocab_size, E, **kw)
        H_enc = H // 2 if bidirectional else H
        self.encoder = _LAYERS[cell](E, H_enc, batch_first=True, bidirectional=bidirectional, **kw)
        if self.input_feeding:  # the input at step t depends on h~_{t-1}: one cell call per step
            self.decoder = _CELLS[cell](E + H, H, **kw)
        else:
            self.decoder = _LAYERS[cell](E, H, batch_first=True, **kw)

        def param(*shape):
            return nn.Parameter(torch.zeros(*shape, **kw))

        if attention == "general":
            self.W_a = param(H, H)
        elif attention == "concat":
            self.W_a, self.v_a = param(2 * H, A), param(A)
        if attention is not None:
            self.W_c = param(2 * H, H)
        self.W_s, self.b_s = param(H, tgt_vocab_size), param(tgt_vocab_size)

    # ------------------------------------------------------------------------------------------
    def encode(self, src: torch.Tensor):
        """Run the encoder over right-padded ``src`` (N, S).

        Returns states (N, S, H) in original source order, mask (N, S) and the decoder's initial
        state: a tuple ``(h0,)`` or ``(h0, c0)`` of tensors (1, N, H).
        """
        N, S = src.shape
        mask = src != 0                                                       # (N, S)
        lengths = mask.sum(1)                                                 # (N,)
        if self.reverse_source:
            # idx[n, j] = L_n - 1 - j for j < L_n, else j: reverses each row's tokens, padding stays
            # right. idx is its own inverse, so the same gather puts the states back.
            pos = torch.arange(S).expand(N, S)
            idx = torch.where(mask, lengths[:, None] - 1 - pos, pos)
            src = src.gather(1, idx)
        x = self.src_embed(src)                                               # (N, S, E)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.encoder(packed)
        states, _ = pad_packed_sequence(out, batch_first=True, total_length=S)  # (N, S, H)
        if self.reverse_source:
            states = states.gather(1, idx[:, :, None].expand_as(states))
        state = state if isinstance(state, tuple) else (state,)
        if self.bidirectional:  # (2, N, H/2) -> (1, N, H): concat(final fwd, final bwd)
            state = tuple(torch.cat([s[0], s[1]], dim=-1)[None] for s in state)
        return states, mask, state

    def attend(self, h: torch.Tensor, states: torch.Tensor, mask: torch.Tensor):
        """Luong global attention for decoder states ``h`` (N, T, H).

        score(h_t, h̄_s) = h_t·h̄_s | h_t W_a h̄_s | v_a·tanh([h_t; h̄_s] W_a);
        a_t = softmax over valid s; c_t = Σ_s a_ts h̄_s; h̃_t = tanh([c_t; h_t] W_c).
        Returns h̃ (N, T, H) and the weights (N, T, S).
        """
        H = self.hidden_dim
        if self.attention == "dot":
            scores = h @ states.transpose(1, 2)                               # (N, T, S)
        elif self.attention == "general":
            scores = (h @ self.W_a) @ states.transpose(1, 2)                  # (N, T, S)
        else:  # concat
            q = h @ self.W_a[:H]                                              # (N, T, A)
            k = states @ self.W_a[H:]                                         # (N, S, A)
            scores = torch.tanh(q[:, :, None, :] + k[:, None, :, :]) @ self.v_a  # (N, T, S)
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        a = torch.softmax(scores, dim=-1)                                     # (N, T, S)
        context = a @ states                                                  # (N, T, H)
        h_tilde = torch.tanh(torch.cat([context, h], dim=-1) @ self.W_c)      # (N, T, H)
        return h_tilde, a

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the non-padding labels ``tgt[:, 1:]``.

        The decoder reads ``tgt[:, :-1]``. Unlike the numpy model it does not freeze its state on
        padded target steps; those steps come after a row's last label, so the loss is unaffected.
        """
        states, mask, state = self.encode(src)
        y_in, labels = tgt[:, :-1], tgt[:, 1:]
        emb = self.tgt_embed(y_in)                                            # (N, T-1, E)
        if self.input_feeding:
            outs = []
            s = tuple(x[0] for x in state)                                    # (N, H) each
            h_tilde = emb.new_zeros(emb.shape[0], self.hidden_dim)
            for t in range(emb.shape[1]):
                s = self.decoder(torch.cat([emb[:, t], h_tilde], dim=-1),
                                 s if self.cell == "lstm" else s[0])
                s = s if isinstance(s, tuple) else (s,)
                h_tilde, _ = self.attend(s[0][:, None], states, mask)
                h_tilde = h_tilde[:, 0]
                outs.append(h_tilde)
            out = torch.stack(outs, dim=1)                                    # (N, T-1, H)
        else:
            h, _ = self.decoder(emb, state if self.cell == "lstm" else state[0])  # (N, T-1, H)
            out = h if self.attention is None else self.attend(h, states, mask)[0]
        logits = out @ self.W_s + self.b_s                                    # (N, T-1, V)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                               ignore_index=0)

    # ------------------------------------------------------------------------------------------
    def _rnn_slots(self):
        """(numpy key prefix, torch module, torch name suffix) for every recurrent weight set."""
        if self.bidirectional:
            slots = [("enc_fwd_", self.encoder, "_l0"), ("enc_bwd_", self.encoder, "_l0_reverse")]
        else:
            slots = [("enc_", self.encoder, "_l0")]
        slots.append(("dec_", self.decoder, "" if self.input_feeding else "_l0"))
        return slots

    def _plain(self):
        names = ["W_a", "v_a", "W_c", "W_s", "b_s"]
        return [n for n in names if hasattr(self, n)]

    @torch.no_grad()
    def load_numpy_params(self, params: dict[str, np.ndarray]) -> None:
        """Copy numpy parameters (numpy keys and layouts) into this module."""
        dtype = self.W_s.dtype

        def t(a):
            return torch.as_tensor(np.asarray(a), dtype=dtype)

        self.src_embed.weight.copy_(t(params["src_embed"]))
        self.tgt_embed.weight.copy_(t(params["tgt_embed"]))
        for prefix, mod, sfx in self._rnn_slots():
            getattr(mod, "weight_ih" + sfx).copy_(t(params[prefix + "Wx"]).T)
            getattr(mod, "weight_hh" + sfx).copy_(t(params[prefix + "Wh"]).T)
            getattr(mod, "bias_ih" + sfx).copy_(t(params[prefix + "b"]))
            b_hh = getattr(mod, "bias_hh" + sfx)
            b_hh.zero_()
            if self.cell == "gru":
                Hc = b_hh.shape[0] // 3
                b_hh[2 * Hc:] = t(params[prefix + "bhn"])
        for name in self._plain():
            getattr(self, name).copy_(t(params[name]))

    def grads_as_numpy(self) -> dict[str, np.ndarray]:
        """The gradients of the last backward, under the numpy keys and in the numpy layouts."""
        def g(p):
            return p.grad.detach().cpu().numpy().copy()

        grads = {"src_embed": g(self.src_embed.weight), "tgt_embed": g(self.tgt_embed.weight)}
        for prefix, mod, sfx in self._rnn_slots():
            grads[prefix + "Wx"] = g(getattr(mod, "weight_ih" + sfx)).T.copy()
            grads[prefix + "Wh"] = g(getattr(mod, "weight_hh" + sfx)).T.copy()
            grads[prefix + "b"] = g(getattr(mod, "bias_ih" + sfx))
            if self.cell == "gru":
                b_hh = g(getattr(mod, "bias_hh" + sfx))
                grads[prefix + "bhn"] = b_hh[2 * (b_hh.shape[0] // 3):]
        for name in self._plain():
            grads[name] = g(getattr(self, name))
        return grads


def from_numpy_params(params: dict[str, np.ndarray], config: dict) -> TorchSeq2Seq:
    """Build a ``TorchSeq2Seq`` from a numpy model's ``config`` and copy its ``params`` into it.

    Sizes are read from the parameter shapes; the switches (cell, attention, bidirectional,
    reverse_source, input_feeding) and the dtype from ``config``.
    """
    V_src, E = params["src_embed"].shape
    V_tgt = params["tgt_embed"].shape[0]
    H = params["W_s"].shape[0]
    attention = config.get("attention")
    A = params["W_a"].shape[1] if attention == "concat" else None
    dtype = config.get("dtype", "float32")
    dtype = _DTYPES[dtype if isinstance(dtype, str) else np.dtype(dtype).name]
    model = TorchSeq2Seq(V_src, V_tgt, E, H, cell=config["cell"], attention=attention,
                         bidirectional=bool(config.get("bidirectional", False)),
                         reverse_source=bool(config.get("reverse_source", False)),
                         input_feeding=bool(config.get("input_feeding", False)),
                         attention_dim=A, dtype=dtype)
    model.load_numpy_params(params)
    return model
