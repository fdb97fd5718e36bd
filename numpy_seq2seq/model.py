"""Seq2Seq: an encoder–decoder RNN with optional Luong attention, owning its parameters.

The model composes the pure functions of ``numpy_seq2seq.functional``; it keeps the parameters
in one dict (``model.params``, live: edit an array and the model changes) and returns gradients
in a dict with the same keys and shapes. See ``docs/architecture.md`` for the parameter table.

Letters: N batch, S source length, T target length, E embedding, H hidden, A attention size,
V vocabulary, G gates.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .checks import check_int
from .config import ModelConfig
from .functional.attention import SCORES, attention_forward
from .functional.decoder import decoder_backward, decoder_forward
from .functional.encoder import encoder_backward, encoder_forward
from .functional.recurrent import CELLS, cell_param_shapes
from .functional.softmax import cross_entropy_backward, cross_entropy_forward

CELL_CHOICES = tuple(CELLS)  # ("rnn", "gru", "lstm")
ATTENTION_CHOICES = (None, *SCORES)  # (None, "dot", "general", "concat")
DTYPE_CHOICES = ("float32", "float64")


class Encoded(NamedTuple):
    """What the decoder needs from the encoder at inference time."""

    states: np.ndarray  # (N, S, H) encoder states h̄_s
    mask: np.ndarray  # (N, S) bool, False at padding
    state0: tuple  # the decoder's initial state: (h,) or (h, c), each (N, H)


class SourceGradients(NamedTuple):
    """Per-position gradients reaching the source (see ``Seq2Seq.source_gradients``)."""

    loss: float
    states: np.ndarray  # (N, S, H) ∂L/∂h̄_s, total
    embeddings: np.ndarray  # (N, S, E) ∂L/∂x_s


class Seq2Seq:
    """Encoder–decoder RNN for many-to-many sequence tasks such as translation.

    The defaults are those of `config.ModelConfig`, whose fields mirror these parameters.

    Parameters
    ----------
    src_vocab_size, tgt_vocab_size : int
        Vocabulary sizes, each including the reserved ids (0 padding, 1 start, 2 end, 3 unknown).
    embed_dim : int
        E, size of both embeddings.
    hidden_dim : int
        H, size of the decoder state and of the encoder states the decoder attends to.
    cell : {"rnn", "gru", "lstm"}
    attention : {None, "dot", "general", "concat"}
        None is the classic encoder–decoder whose decoder sees only the encoder's final state.
    bidirectional : bool
        Encoder reads both ways with H/2 units per direction (H must be even); see
        ``functional/encoder.py`` for how the directions meet the decoder.
    reverse_source : bool
        Read each source row's tokens in reverse (Sutskever et al. 2014).
    input_feeding : bool
        Feed h̃_{t-1} into decoder step t (Luong et al. 2015, §3.3); needs attention.
    attention_dim : int or None
        A, the concat score's hidden size (default H); ignored by the other scores.
    dtype : float32 or float64
        float32 for training (the default), float64 for gradient checks.
    seed : int
        Seeds the initialisation; the same seed gives the same parameters.

    Notes
    -----
    Initialisation follows PyTorch: recurrent and linear weights uniform in ±1/√fan, embeddings
    N(0, 1) scaled by 0.1 (small embeddings keep early tanh units out of saturation), and the
    LSTM's forget-gate bias set to 1 (Jozefowicz et al. 2015) so the cell starts by remembering.
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        embed_dim: int = ModelConfig.embed_dim,
        hidden_dim: int = ModelConfig.hidden_dim,
        cell: str = ModelConfig.cell,
        attention: str | None = ModelConfig.attention,
        bidirectional: bool = ModelConfig.bidirectional,
        reverse_source: bool = ModelConfig.reverse_source,
        input_feeding: bool = ModelConfig.input_feeding,
        attention_dim: int | None = ModelConfig.attention_dim,
        dtype: Any = ModelConfig.dtype,
        seed: int = ModelConfig.seed,
    ) -> None:
        if isinstance(attention, str) and attention.lower() == "none":
            attention = None
        if cell not in CELL_CHOICES:
            raise ValueError(f"cell must be one of {CELL_CHOICES}, got {cell!r}")
        if attention not in ATTENTION_CHOICES:
            raise ValueError(f"attention must be one of {ATTENTION_CHOICES}, got {attention!r}")
        for name, value in [
            ("src_vocab_size", src_vocab_size),
            ("tgt_vocab_size", tgt_vocab_size),
            ("embed_dim", embed_dim),
            ("hidden_dim", hidden_dim),
        ]:
            check_int(name, value)
        if min(src_vocab_size, tgt_vocab_size) < 5:
            raise ValueError(
                "vocabulary sizes must be at least 5 (4 reserved ids + 1 token), got "
                f"src_vocab_size={src_vocab_size}, tgt_vocab_size={tgt_vocab_size}"
            )
        if bidirectional and hidden_dim % 2:
            raise ValueError(
                f"a bidirectional encoder splits hidden_dim into two halves, so it must be even; "
                f"got hidden_dim={hidden_dim}"
            )
        if input_feeding and attention is None:
            raise ValueError("input_feeding feeds the attentional state h̃ back, so it needs "
                             f"attention in {SCORES}, got attention=None")
        if attention_dim is None:
            attention_dim = hidden_dim
        check_int("attention_dim", attention_dim, or_none=True)
        dtype_name = np.dtype(dtype).name
        if dtype_name not in DTYPE_CHOICES:
            raise ValueError(f"dtype must be one of {DTYPE_CHOICES}, got {dtype_name!r}")
        self.config: dict[str, Any] = {
            "src_vocab_size": int(src_vocab_size),
            "tgt_vocab_size": int(tgt_vocab_size),
            "embed_dim": int(embed_dim),
            "hidden_dim": int(hidden_dim),
            "cell": cell,
            "attention": attention,
            "bidirectional": bool(bidirectional),
            "reverse_source": bool(reverse_source),
            "input_feeding": bool(input_feeding),
            "attention_dim": int(attention_dim),
            "dtype": dtype_name,
            "seed": int(seed),
        }
        self.dtype = np.dtype(dtype_name)
        self.params: dict[str, np.ndarray] = self._init_params(np.random.default_rng(seed))
        self.last_attention: np.ndarray | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Seq2Seq:
        """A freshly initialised model from a ``model.config`` dict."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"Seq2Seq({args})"

    @property
    def cell(self) -> str:
        return self.config["cell"]

    @property
    def attention(self) -> str | None:
        return self.config["attention"]

    def num_params(self) -> int:
        """Total number of trainable scalars."""
        return sum(p.size for p in self.params.values())

    # -----------------------------------------------------------------------------------------
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every parameter, by key (see docs/architecture.md)."""
        c = self.config
        E, H, A = c["embed_dim"], c["hidden_dim"], c["attention_dim"]
        shapes: dict[str, tuple[int, ...]] = {
            "src_embed": (c["src_vocab_size"], E),
            "tgt_embed": (c["tgt_vocab_size"], E),
        }
        if c["bidirectional"]:
            for direction in ("fwd", "bwd"):
                for k, s in cell_param_shapes(c["cell"], E, H // 2).items():
                    shapes[f"enc_{direction}_{k}"] = s
        else:
            shapes.update({f"enc_{k}": s for k, s in cell_param_shapes(c["cell"], E, H).items()})
        dec_in = E + H if c["input_feeding"] else E
        shapes.update({f"dec_{k}": s for k, s in cell_param_shapes(c["cell"], dec_in, H).items()})
        if c["attention"] == "general":
            shapes["W_a"] = (H, H)
        elif c["attention"] == "concat":
            shapes["W_a"] = (2 * H, A)
            shapes["v_a"] = (A,)
        if c["attention"] is not None:
            shapes["W_c"] = (2 * H, H)
        shapes["W_s"] = (H, c["tgt_vocab_size"])
        shapes["b_s"] = (c["tgt_vocab_size"],)
        return shapes

    def _init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        params = {}
        for key, shape in self.param_shapes().items():
            if key.endswith("_embed"):
                value = 0.1 * rng.standard_normal(shape)
            else:
                # PyTorch's rule: U(±1/√fan) with fan = the hidden size for recurrent layers
                # and the input size for linear ones
                fan = shape[0] if len(shape) == 2 else shape[-1]
                if "enc" in key or "dec" in key:
                    fan = self._rec_hidden(key)
                value = rng.uniform(-1, 1, shape) / np.sqrt(fan)
            params[key] = value.astype(self.dtype)
        if self.cell == "lstm":
            for key in params:
                if key.endswith("_b") and ("enc" in key or "dec" in key):
                    H = params[key].shape[0] // 4
                    params[key][H : 2 * H] = 1.0  # forget gate
        return params

    def _rec_hidden(self, key: str) -> int:
        H = self.config["hidden_dim"]
        return H // 2 if key.startswith(("enc_fwd_", "enc_bwd_")) else H

    # -----------------------------------------------------------------------------------------
    def _check_ids(self, name: str, ids: Any, vocab_size: int, min_len: int) -> np.ndarray:
        """Validate a batch of token ids at the public boundary."""
        arr = np.asarray(ids)
        if arr.dtype.kind not in "iu":
            raise ValueError(f"{name} must hold integer token ids, got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"{name} must be 2-D of shape (N, length), got shape {arr.shape}")
        if arr.shape[0] == 0:
            raise ValueError(f"{name} is an empty batch (N=0); need at least one sequence")
        if arr.shape[1] < min_len:
            raise ValueError(
                f"{name} must have length >= {min_len}, got shape {arr.shape}"
                + (" (the decoder reads tgt[:, :-1] and is scored on tgt[:, 1:])"
                   if name == "tgt" else "")
            )
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= vocab_size:
            raise ValueError(
                f"{name} ids must be in [0, {vocab_size - 1}] (vocabulary size {vocab_size}), "
                f"got min {lo} and max {hi}"
            )
        real = arr != 0
        if (real[:, 1:] & ~real[:, :-1]).any():
            row = int(np.nonzero((real[:, 1:] & ~real[:, :-1]).any(axis=1))[0][0])
            raise ValueError(
                f"{name} must be right-padded: padding (id 0) may only follow the tokens, "
                f"but row {row} has a token after a 0"
            )
        return arr.astype(np.int64, copy=False)

    def _check_src(self, src: Any) -> np.ndarray:
        src = self._check_ids("src", src, self.config["src_vocab_size"], 1)
        if not (src[:, 0] != 0).all():
            row = int(np.nonzero(src[:, 0] == 0)[0][0])
            raise ValueError(f"every src row needs at least one token; row {row} is all padding")
        return src

    def _check_batch(self, src: Any, tgt: Any) -> tuple[np.ndarray, np.ndarray]:
        src = self._check_src(src)
        tgt = self._check_ids("tgt", tgt, self.config["tgt_vocab_size"], 2)
        if src.shape[0] != tgt.shape[0]:
            raise ValueError(
                "src and tgt must have the same batch size N, "
                f"got {src.shape[0]} and {tgt.shape[0]}"
            )
        if not (tgt[:, 1] != 0).all():
            row = int(np.nonzero(tgt[:, 1] == 0)[0][0])
            raise ValueError(
                f"every tgt row needs a start token and at least one label (tgt[:, :2] != 0); "
                f"row {row} has none"
            )
        return src, tgt

    # -----------------------------------------------------------------------------------------
    def _forward(self, src: np.ndarray, tgt: np.ndarray) -> tuple[float, tuple]:
        c, p = self.config, self.params
        hs, state0, enc_cache = encoder_forward(
            c["cell"], src, p, c["bidirectional"], c["reverse_source"]
        )
        tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]
        label_mask = tgt_out != 0  # (N, T-1)
        logits, weights, dec_cache = decoder_forward(
            c["cell"], c["attention"], tgt_in, label_mask, state0, hs, src != 0, p,
            c["input_feeding"],
        )
        loss, ce_cache = cross_entropy_forward(logits, tgt_out, label_mask)
        self.last_attention = weights
        return loss, (enc_cache, dec_cache, ce_cache)

    def loss(self, src: Any, tgt: Any) -> float:
        """Mean cross-entropy over the non-padding labels tgt[:, 1:] (forward only).

        Parameters
        ----------
        src : int array of shape (N, S), right-padded with 0
        tgt : int array of shape (N, T), T >= 2, tgt[:, 0] the start token, right-padded with 0
        """
        src, tgt = self._check_batch(src, tgt)
        return self._forward(src, tgt)[0]

    def loss_and_grads(self, src: Any, tgt: Any) -> tuple[float, dict[str, np.ndarray]]:
        """Loss and the gradient of every parameter.

        Parameters
        ----------
        src : int array of shape (N, S), right-padded with 0
        tgt : int array of shape (N, T), T >= 2; the decoder reads tgt[:, :-1] and is scored on
            tgt[:, 1:]

        Returns
        -------
        loss : float, the mean cross-entropy over non-padding labels
        grads : dict with exactly the keys and shapes of ``params``
        """
        src, tgt = self._check_batch(src, tgt)
        loss, grads, _, _ = self._forward_backward(src, tgt)
        return loss, {k: grads[k] for k in self.params}

    def _forward_backward(self, src: np.ndarray, tgt: np.ndarray, return_dstates: bool = False):
        """Loss, parameter gradients, ∂L/∂x_s (N, S, E) and, if asked, ∂L/∂h̄_s (N, S, H)."""
        loss, (enc_cache, dec_cache, ce_cache) = self._forward(src, tgt)
        dlogits = cross_entropy_backward(1.0, ce_cache)
        dstate0, dhs, grads = decoder_backward(dlogits, dec_cache)
        dx, dstates, enc_grads = encoder_backward(dhs, dstate0, enc_cache, return_dstates)
        grads.update(enc_grads)
        return loss, grads, dx, dstates

    def source_gradients(self, src: Any, tgt: Any) -> SourceGradients:
        """Gradients of the loss with respect to every encoder state and source embedding.

        ∂L/∂h̄_s is the *total* gradient reaching encoder state s after full backpropagation
        through time: through attention (if any) and back along the encoder's recurrence from
        later positions and from the final state. ∂L/∂x_s is the gradient at the s-th source
        embedding. Positions are in the order of the source as given (also with reverse_source).
        Padded positions get 0.

        Returns
        -------
        SourceGradients(loss, states (N, S, H), embeddings (N, S, E))
        """
        src, tgt = self._check_batch(src, tgt)
        loss, _, dx, dstates = self._forward_backward(src, tgt, return_dstates=True)
        mask = (src != 0)[:, :, None]
        return SourceGradients(loss, dstates * mask, dx * mask)

    # -----------------------------------------------------------------------------------------
    def encode(self, src: Any) -> Encoded:
        """Encode a batch of sources for step-by-step decoding.

        Parameters
        ----------
        src : int array of shape (N, S), right-padded with 0
        """
        src = self._check_src(src)
        c = self.config
        hs, state0, _ = encoder_forward(
            c["cell"], src, self.params, c["bidirectional"], c["reverse_source"]
        )
        return Encoded(hs, src != 0, state0)

    def decode_step(
        self,
        y_prev: np.ndarray,
        state: tuple,
        h_tilde_prev: np.ndarray | None,
        enc: Encoded,
    ) -> tuple[np.ndarray, tuple, np.ndarray | None, np.ndarray | None]:
        """One decoder step at inference time (no caches kept).

        Parameters
        ----------
        y_prev : int ndarray of shape (N,), the previous token (the start token at first)
        state : tuple of ndarrays of shape (N, H), the previous decoder state
        h_tilde_prev : ndarray of shape (N, H) or None (zeros), the previous attentional state
        enc : from ``encode`` (rows may be repeated, e.g. for beam search)

        Returns
        -------
        logits : ndarray of shape (N, V)
        state : the new decoder state
        h_tilde : ndarray of shape (N, H), or None without attention
        weights : ndarray of shape (N, S), or None without attention
        """
        c, p = self.config, self.params
        cell = CELLS[c["cell"]]
        x = p["tgt_embed"][np.asarray(y_prev)]  # (N, E)
        E = x.shape[1]
        xw = x @ p["dec_Wx"][:E] + p["dec_b"]  # (N, G·H)
        if c["input_feeding"] and h_tilde_prev is not None:  # [y; h̃] W_x, as in decoder.py
            xw = xw + h_tilde_prev @ p["dec_Wx"][E:]
        state, _ = cell.core_forward(xw, tuple(state), p["dec_Wh"], p.get("dec_bhn"))
        if c["attention"] is None:
            return state[0] @ p["W_s"] + p["b_s"], state, None, None
        ht, w, _ = attention_forward(c["attention"], state[0][:, None], enc.states, enc.mask, p)
        return ht[:, 0] @ p["W_s"] + p["b_s"], state, ht[:, 0], w[:, 0]
