"""Carry a ``Seq2Seq`` to PyTorch and back: ``to_torch``, ``from_torch`` and the torch twin.

    module = to_torch(model)            # a torch.nn.Module holding the same weights, same dtype
    loss = module(src, tgt)             # the same mean cross-entropy as model.loss(src, tgt)
    loss.backward()                     # the same gradients (module.numpy_grads() in our keys)
    model = from_torch(module)          # back to NumPy, e.g. after training on a GPU

``TorchSeq2Seq`` is the same architecture written with ``torch.nn``: ``nn.RNN`` / ``nn.GRU`` /
``nn.LSTM`` with ``num_layers`` and ``bidirectional``, packed sequences for ragged sources, and
the attention of ``functional/attention.py`` (Luong's dot, general and concat scores, input
feeding) or Bahdanau's additive attention from the previous decoder state. Given the same weights
and batch it returns the same loss and gradients (to round-off), which makes it three things:
the export, the oracle of ``tests/test_torch_oracle.py``, and the rival of
``benchmarks/bench_step.py``. Dropout (``nn.Dropout`` and the recurrent layers' ``dropout``) sits
where the NumPy model drops: the source and target embeddings, between stacked layers, and the
vector fed to the output layer; it is active in ``module.train()`` mode only, so compare the two
models in ``module.eval()`` mode.

This is the only module of the package that imports torch, and ``import numpy_seq2seq`` does not
import it. It needs the optional extra: ``pip install 'numpy_seq2seq[torch]'`` (``'.[torch]'`` in a
checkout).

Letters: N batch, S source length, T target length (the decoder runs T-1 steps), E embedding,
H hidden, A attention size, V vocabulary, G gates (1 rnn, 3 gru, 4 lstm), k layers.

Layout conventions (numpy key -> torch parameter)
-------------------------------------------------
Layer 0 has the keys of a one-layer model; layer l >= 1 inserts ``l{l}_`` (``enc_l1_Wx``).

============================  ===================================  ==============================
numpy key                     torch parameter                      layout
============================  ===================================  ==============================
``src_embed``, ``tgt_embed``  ``src_embed.weight``, ...            same, (V, E)
``enc_Wx`` (E or H, G·H)      ``encoder.weight_ih_l{l}``           transposed: ``Wx.T``
``enc_Wh`` (H, G·H)           ``encoder.weight_hh_l{l}``           transposed: ``Wh.T``
``enc_b`` (G·H,), rnn/lstm    ``bias_ih_l{l}``, ``bias_hh_l{l}``   ``b = b_ih + b_hh``; exported
                                                                   with ``b_hh = 0``
``enc_b``, ``enc_bhn``, gru   ``bias_ih_l{l}``, ``bias_hh_l{l}``   ``b = b_ih + [b_hr, b_hz, 0]``,
                                                                   ``bhn = b_hn`` (it sits inside
                                                                   ``r ⊙ (h W_hn + b_hn)``)
``enc_fwd_*``, ``enc_bwd_*``  ``*_l{l}``, ``*_l{l}_reverse``       bidirectional: H/2 units each
``dec_*``                     ``decoder.*_l{l}``                   as the encoder
attention and output          ``W_a v_a W_c W_q W_k W_s b_s``      same names and layouts
============================  ===================================  ==============================

Gate blocks are in PyTorch's order in both (LSTM i, f, g, o; GRU r, z, n). PyTorch keeps two
biases where the NumPy cells keep one, so after training in PyTorch both are nonzero;
``from_torch`` adds them up, which is exact: the cells only ever see their sum.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

try:
    import torch
except ModuleNotFoundError as error:  # the optional extra is missing
    raise ImportError(
        "numpy_seq2seq.torch_export needs PyTorch, the optional 'torch' extra: "
        "pip install 'numpy_seq2seq[torch]' (or '.[torch]' in a checkout)"
    ) from error
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .config import ATTENTION_CHOICES, DTYPE_CHOICES
from .functional.attention import SCORES
from .functional.bahdanau import BAHDANAU
from .functional.params import layer_prefix
from .model import Seq2Seq, head_param_shapes

__all__ = ["TorchSeq2Seq", "TorchEncoded", "to_torch", "from_torch"]

RNN_LAYERS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
LUONG_SCORES = SCORES  # ("dot", "general", "concat")
ATTENTIONS = ATTENTION_CHOICES  # (None, *LUONG_SCORES, "bahdanau")
DTYPES = dict(zip(DTYPE_CHOICES, (torch.float32, torch.float64)))


class TorchEncoded(NamedTuple):
    """What the torch decoder needs from the encoder."""

    states: torch.Tensor  # (N, S, H) top-layer encoder states h̄_s, in source order
    mask: torch.Tensor  # (N, S) bool, False at padding
    state0: tuple  # the decoder's initial state: (h,) or (h, c), each (k, N, H)


# ---------------------------------------------------------------------------------------------
class TorchSeq2Seq(nn.Module):
    """The torch twin of ``Seq2Seq``, built from a ``Seq2Seq.config`` dict.

    Use ``to_torch(model)`` to build one holding a model's weights. The constructor creates the
    architecture with zero-filled attention and output weights; ``load_numpy_params`` fills
    every parameter from a NumPy ``params`` dict.

    Parameters
    ----------
    config : dict
        ``model.config``: vocabulary sizes, ``embed_dim`` E, ``hidden_dim`` H, ``cell``,
        ``attention`` (None, "dot", "general", "concat" or "bahdanau"), ``bidirectional``,
        ``reverse_source``, ``input_feeding``, ``attention_dim`` A, ``dtype`` and, when present,
        ``num_layers`` k (default 1) and ``dropout`` p (default 0).

    Attributes
    ----------
    config : dict
        The config, with ``dtype`` read from the parameters (so it follows ``module.double()``).
    last_attention : Tensor of shape (N, T-1, S) or None
        The attention weights of the last forward (row t produced output t), detached.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        c = dict(config)
        cell, attention = c["cell"], c["attention"]
        if cell not in RNN_LAYERS:
            raise ValueError(f"cell must be one of {tuple(RNN_LAYERS)}, got {cell!r}")
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
        if c["input_feeding"] and attention not in LUONG_SCORES:
            raise ValueError(f"input_feeding needs a Luong score {LUONG_SCORES}, "
                             f"got attention={attention!r}")
        self._config = c
        E, H, V = c["embed_dim"], c["hidden_dim"], c["tgt_vocab_size"]
        self.num_layers, p = int(c.get("num_layers", 1)), float(c.get("dropout", 0.0))
        self.cell, self.attention = cell, attention
        self.bidirectional, self.reverse_source = c["bidirectional"], c["reverse_source"]
        self.input_feeding, self.hidden_dim = c["input_feeding"], H
        kw = dict(dtype=DTYPES[c["dtype"]])
        between = dict(num_layers=self.num_layers, dropout=p if self.num_layers > 1 else 0.0,
                       batch_first=True, **kw)

        self.src_embed = nn.Embedding(c["src_vocab_size"], E, **kw)
        self.tgt_embed = nn.Embedding(V, E, **kw)
        H_enc = H // 2 if self.bidirectional else H
        self.encoder = RNN_LAYERS[cell](E, H_enc, bidirectional=self.bidirectional, **between)
        # the context (Bahdanau) or h̃_{t-1} (input feeding) joins the embedding in layer 0's input
        fed = attention == BAHDANAU or self.input_feeding
        self.decoder = RNN_LAYERS[cell](E + H * fed, H, **between)
        self.dropout = nn.Dropout(p)  # embeddings and the output layer's input
        A = c.get("attention_dim") or H
        head = head_param_shapes(attention, H, A, V)  # attention and output, as in Seq2Seq
        for name, shape in head.items():
            setattr(self, name, nn.Parameter(torch.zeros(shape, **kw)))
        self._plain_names = tuple(head)
        self.last_attention: torch.Tensor | None = None

    @property
    def config(self) -> dict[str, Any]:
        return {**self._config, "dtype": str(self.W_s.dtype).removeprefix("torch.")}

    def extra_repr(self) -> str:
        return (f"attention={self.attention!r}, input_feeding={self.input_feeding}, "
                f"reverse_source={self.reverse_source}")

    # -----------------------------------------------------------------------------------------
    def forward(self, src: Any, tgt: Any, pack: bool | None = None) -> torch.Tensor:
        """Mean cross-entropy over the non-padding labels ``tgt[:, 1:]``.

        Parameters
        ----------
        src : LongTensor or int array of shape (N, S), right-padded with 0
        tgt : LongTensor or int array of shape (N, T), ``tgt[:, 0]`` the start token; the
            decoder reads ``tgt[:, :-1]``
        pack : bool or None
            Run the encoder on a packed sequence. None packs only a ragged batch: for sources of
            equal length the plain call is the same computation, and faster.

        Unlike the NumPy model the decoder does not hold its state over padded target steps;
        those come after a row's last label, so the loss is the same.
        """
        src, tgt = self._ids("src", src), self._ids("tgt", tgt)
        if src.shape[0] != tgt.shape[0] or tgt.shape[1] < 2:
            raise ValueError(f"src (N, S) and tgt (N, T) need the same N and T >= 2, got "
                             f"{tuple(src.shape)} and {tuple(tgt.shape)}")
        enc = self.encode(src, pack)
        labels = tgt[:, 1:]
        y = self.dropout(self.tgt_embed(tgt[:, :-1]))  # (N, T-1, E)
        if self.attention == BAHDANAU:
            out, weights = self._bahdanau_decode(y, enc)
        elif self.input_feeding:
            out, weights = self._input_feeding_decode(y, enc)
        else:
            hd, _ = self.decoder(y, self._as_layer_state(enc.state0))  # (N, T-1, H)
            out, weights = (hd, None) if self.attention is None else self.attend(hd, enc)
        self.last_attention = None if weights is None else weights.detach()
        logits = self.dropout(out) @ self.W_s + self.b_s  # (N, T-1, V)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                               ignore_index=0)

    def _ids(self, name: str, ids: Any) -> torch.Tensor:
        ids = torch.as_tensor(ids, device=self.W_s.device)
        if ids.ndim != 2 or ids.dtype.is_floating_point or ids.dtype == torch.bool:
            raise ValueError(f"{name} must be a 2-D tensor or array of integer token ids, got "
                             f"shape {tuple(ids.shape)} and dtype {ids.dtype}")
        return ids.long()

    def _as_layer_state(self, state: tuple):
        """What torch's recurrent layers take: (h, c) for the LSTM, h alone otherwise."""
        return state if self.cell == "lstm" else state[0]

    # -----------------------------------------------------------------------------------------
    def encode(self, src: torch.Tensor, pack: bool | None = None) -> TorchEncoded:
        """Run the encoder over right-padded ``src`` (N, S); see ``forward`` for ``pack``."""
        N, S = src.shape
        mask = src != 0  # (N, S)
        lengths = mask.sum(1)  # (N,)
        if pack is None:
            pack = not bool(mask.all())
        elif not pack and not bool(mask.all()):
            raise ValueError("pack=False needs sources of equal length (no padding in src)")
        if self.reverse_source:
            # idx[n, j] = L_n - 1 - j for j < L_n, else j: reverses each row's tokens, padding
            # stays right. idx is its own inverse, so the same gather puts the states back.
            pos = torch.arange(S, device=src.device).expand(N, S)
            idx = torch.where(mask, lengths[:, None] - 1 - pos, pos)
            src = src.gather(1, idx)
        x = self.dropout(self.src_embed(src))  # (N, S, E)
        if pack:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                          enforce_sorted=False)
            out, state = self.encoder(packed)
            states, _ = pad_packed_sequence(out, batch_first=True, total_length=S)  # (N, S, H)
        else:
            states, state = self.encoder(x)  # (N, S, H)
        if self.reverse_source:
            states = states.gather(1, idx[:, :, None].expand_as(states))
        state = state if isinstance(state, tuple) else (state,)
        if self.bidirectional:
            # (2k, N, H/2), layer by layer fwd then bwd -> (k, N, H): layer l's [fwd; bwd] final
            k = self.num_layers
            state = tuple(s.view(k, 2, N, -1).permute(0, 2, 1, 3).reshape(k, N, -1)
                          for s in state)
        return TorchEncoded(states, mask, state)

    def _masked_softmax(self, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Softmax over the last axis, exactly 0 where ``mask`` is False."""
        return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)

    def attend(self, hd: torch.Tensor, enc: TorchEncoded) -> tuple[torch.Tensor, torch.Tensor]:
        """Luong global attention from the top-layer decoder states ``hd`` (N, T, H).

        score(h_t, h̄_s) = h_tᵀ h̄_s | h_tᵀ W_a h̄_s | v_aᵀ tanh(W_a [h_t; h̄_s]);
        a_t = softmax over real s;  c_t = Σ_s a_t(s) h̄_s;  h̃_t = tanh(W_c [c_t; h_t]).
        Returns h̃ (N, T, H) and the weights (N, T, S).
        """
        H, hs = self.hidden_dim, enc.states
        if self.attention == "dot":
            scores = hd @ hs.transpose(1, 2)  # (N, T, S)
        elif self.attention == "general":
            scores = (hd @ self.W_a) @ hs.transpose(1, 2)  # (N, T, S)
        else:  # concat: W_a's first H rows multiply h_t, the last H rows h̄_s
            q, k = hd @ self.W_a[:H], hs @ self.W_a[H:]  # (N, T, A), (N, S, A)
            scores = torch.tanh(q[:, :, None, :] + k[:, None, :, :]) @ self.v_a  # (N, T, S)
        a = self._masked_softmax(scores, enc.mask[:, None, :])  # (N, T, S)
        context = a @ hs  # (N, T, H)
        return torch.tanh(torch.cat([context, hd], dim=-1) @ self.W_c), a

    def _step(self, x: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        """One decoder step through all k layers: x (N, D) -> top-layer output (N, H), state."""
        out, state = self.decoder(x[:, None], self._as_layer_state(state))
        return out[:, 0], state if isinstance(state, tuple) else (state,)

    def _input_feeding_decode(self, y: torch.Tensor, enc: TorchEncoded):
        """Luong §3.3: step t reads [E y_t; h̃_{t-1}] (h̃_0 = 0). Returns h̃ (N, T, H), a (N, T, S)."""
        state, h_tilde = enc.state0, y.new_zeros(y.shape[0], self.hidden_dim)
        outs, weights = [], []
        for t in range(y.shape[1]):
            h, state = self._step(torch.cat([y[:, t], h_tilde], dim=-1), state)
            h_tilde, a = self.attend(h[:, None], enc)
            h_tilde = h_tilde[:, 0]  # (N, H)
            outs.append(h_tilde)
            weights.append(a[:, 0])
        return torch.stack(outs, dim=1), torch.stack(weights, dim=1)

    def _bahdanau_decode(self, y: torch.Tensor, enc: TorchEncoded):
        """Bahdanau et al. (2015): attend from the previous top-layer state s_{t-1}.

        e_t(s) = v_aᵀ tanh(s_{t-1} W_q + h̄_s W_k);  a_t = softmax over real s;
        c_t = Σ_s a_t(s) h̄_s;  s_t = cell([E y_t; c_t], s_{t-1}).
        Returns the top-layer states s_t (N, T, H) and the weights (N, T, S).
        """
        keys = enc.states @ self.W_k  # (N, S, A), the same at every step
        state, outs, weights = enc.state0, [], []
        for t in range(y.shape[1]):
            query = state[0][-1] @ self.W_q  # (N, A), from the top layer's h (not c)
            scores = torch.tanh(query[:, None, :] + keys) @ self.v_a  # (N, S)
            a = self._masked_softmax(scores, enc.mask)  # (N, S)
            context = (a[:, None, :] @ enc.states)[:, 0]  # (N, H)
            s, state = self._step(torch.cat([y[:, t], context], dim=-1), state)
            outs.append(s)
            weights.append(a)
        return torch.stack(outs, dim=1), torch.stack(weights, dim=1)

    # -----------------------------------------------------------------------------------------
    def _recurrent_sets(self) -> list[tuple[str, nn.Module, str]]:
        """(numpy key prefix, torch layer, torch name suffix) for every layer and direction."""
        sets = []
        for layer in range(self.num_layers):
            if self.bidirectional:
                sets += [("enc_" + layer_prefix(layer, "fwd"), self.encoder, f"_l{layer}"),
                         ("enc_" + layer_prefix(layer, "bwd"), self.encoder, f"_l{layer}_reverse")]
            else:
                sets.append(("enc_" + layer_prefix(layer), self.encoder, f"_l{layer}"))
            sets.append(("dec_" + layer_prefix(layer), self.decoder, f"_l{layer}"))
        return sets

    def _numpy_layout(self, read, fold_bias: bool) -> dict[str, np.ndarray]:
        """Every parameter (or gradient, through ``read``) under the numpy keys and layouts.

        ``fold_bias`` adds torch's hidden-side bias into ``b``: right for values (the cells
        see only the sum), wrong for gradients (∂L/∂b is ∂L/∂b_ih, not the sum of both).
        """
        out = {"src_embed": read(self.src_embed.weight), "tgt_embed": read(self.tgt_embed.weight)}
        for prefix, layer, sfx in self._recurrent_sets():
            out[prefix + "Wx"] = np.ascontiguousarray(read(getattr(layer, "weight_ih" + sfx)).T)
            out[prefix + "Wh"] = np.ascontiguousarray(read(getattr(layer, "weight_hh" + sfx)).T)
            b, b_hh = read(getattr(layer, "bias_ih" + sfx)), read(getattr(layer, "bias_hh" + sfx))
            if self.cell == "gru":  # b_hn stays apart: it is multiplied by r
                n = 2 * (len(b_hh) // 3)
                out[prefix + "bhn"] = b_hh[n:].copy()
                b_hh = np.concatenate([b_hh[:n], np.zeros_like(b_hh[n:])])
            out[prefix + "b"] = b + b_hh if fold_bias else b
        out.update({name: read(getattr(self, name)) for name in self._plain_names})
        return out

    def numpy_params(self) -> dict[str, np.ndarray]:
        """The parameters as a NumPy ``params`` dict (copies, in the module's dtype)."""
        return self._numpy_layout(lambda t: t.detach().cpu().numpy().copy(), fold_bias=True)

    def numpy_grads(self) -> dict[str, np.ndarray]:
        """The gradients of the last backward, under the numpy keys and in the numpy layouts."""
        def grad(t):
            if t.grad is None:
                raise RuntimeError("no gradients yet: call loss = module(src, tgt); "
                                   "loss.backward() first")
            return t.grad.detach().cpu().numpy().copy()

        return self._numpy_layout(grad, fold_bias=False)

    @torch.no_grad()
    def load_numpy_params(self, params: dict[str, np.ndarray]) -> None:
        """Copy a NumPy ``params`` dict (numpy keys and layouts) into this module."""
        expected = {k: tuple(v.shape) for k, v in self._numpy_layout(
            lambda t: t.detach().cpu().numpy(), fold_bias=False).items()}
        given = {k: tuple(np.shape(v)) for k, v in params.items()}
        if given != expected:
            wrong = sorted(k for k in set(given) & set(expected) if given[k] != expected[k])
            raise ValueError(
                f"params do not fit this {self.cell} model: missing "
                f"{sorted(set(expected) - set(given))}, unexpected "
                f"{sorted(set(given) - set(expected))}, wrong shape "
                f"{[(k, given[k], expected[k]) for k in wrong]} (key, given, expected)")

        def put(dest: torch.Tensor, value: np.ndarray) -> None:
            dest.copy_(torch.as_tensor(np.asarray(value), dtype=dest.dtype))

        put(self.src_embed.weight, params["src_embed"])
        put(self.tgt_embed.weight, params["tgt_embed"])
        for prefix, layer, sfx in self._recurrent_sets():
            put(getattr(layer, "weight_ih" + sfx), params[prefix + "Wx"].T)
            put(getattr(layer, "weight_hh" + sfx), params[prefix + "Wh"].T)
            put(getattr(layer, "bias_ih" + sfx), params[prefix + "b"])
            b_hh = getattr(layer, "bias_hh" + sfx)
            b_hh.zero_()
            if self.cell == "gru":
                put(b_hh[2 * (len(b_hh) // 3):], params[prefix + "bhn"])
        for name in self._plain_names:
            put(getattr(self, name), params[name])


# ---------------------------------------------------------------------------------------------
def to_torch(model: Seq2Seq) -> TorchSeq2Seq:
    """A ``TorchSeq2Seq`` holding a copy of ``model``'s weights, in the model's dtype.

    ``module(src, tgt)`` then returns ``model.loss(src, tgt)`` and, after ``backward()``,
    ``module.numpy_grads()`` equals ``model.loss_and_grads(src, tgt)[1]`` to round-off (in
    ``module.eval()`` mode when the model has dropout). The module starts in training mode, as
    every new ``nn.Module`` does. Move it with ``module.to(device)`` as usual.
    """
    if not isinstance(model, Seq2Seq):
        raise TypeError(f"to_torch expects a numpy_seq2seq.Seq2Seq, got {type(model).__name__}")
    module = TorchSeq2Seq(model.config)
    module.load_numpy_params(model.params)
    return module


def from_torch(module: TorchSeq2Seq) -> Seq2Seq:
    """A ``Seq2Seq`` holding a copy of ``module``'s weights (from any device).

    The dtype is the module's (float32 or float64). Torch's two biases per gate are added into
    the NumPy model's one; ``from_torch(to_torch(model))`` gives back exactly ``model``'s values.
    """
    if not isinstance(module, TorchSeq2Seq):
        raise TypeError("from_torch expects a TorchSeq2Seq (made by to_torch), got "
                        f"{type(module).__name__}")
    config = module.config
    if config["dtype"] not in DTYPES:
        raise ValueError(f"the module's dtype must be one of {tuple(DTYPES)} to come back to "
                         f"NumPy, got {config['dtype']!r} (call module.float() first)")
    model, params = Seq2Seq.from_config(config), module.numpy_params()
    if set(params) != set(model.params):
        raise ValueError(f"the module's parameters {sorted(params)} do not match those of a "
                         f"Seq2Seq with its config {sorted(model.params)}")
    for key, value in params.items():
        model.params[key][...] = value  # into the live arrays: keeps the model's dtype
    return model
