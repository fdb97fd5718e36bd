"""Seq2Seq: an encoder–decoder RNN with optional Luong or Bahdanau attention, owning its
parameters.

The model composes the pure functions of ``numpy_seq2seq.functional``; it keeps the parameters
in one dict (``model.params``, live: edit an array and the model changes) and returns gradients
in a dict with the same keys and shapes. See ``docs/architecture.md`` for the parameter table.

Letters: N batch, S source length, T target length, E embedding, H hidden, A attention size,
V vocabulary, G gates, k stacked layers.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .checks import check_arrays, check_ids, optional, refuse
from .config import ATTENTION_CHOICES, CELL_CHOICES, DTYPE_CHOICES, ModelConfig
from .functional import softmax  # noqa: F401 - defines and registers the cross-entropy kernels
from .functional.attention import SCORES
from .functional.bahdanau import BAHDANAU, bahdanau_keys_forward
from .functional.decoder import decoder_backward, decoder_forward, decoder_step_forward
from .functional.encoder import encoder_backward, encoder_forward
from .functional.kernels import KERNELS
from .functional.layers import dropout_mask
from .functional.params import layer_prefix, with_prefix
from .functional.recurrent import CELLS, cell_param_shapes

__all__ = ["ATTENTION_CHOICES", "CELL_CHOICES", "DTYPE_CHOICES", "Encoded", "Seq2Seq",
           "SourceGradients", "head_param_shapes"]


class Encoded(NamedTuple):
    """What the decoder needs from the encoder at inference time."""

    states: np.ndarray  # (N, S, H) top-layer encoder states h̄_s
    mask: np.ndarray  # (N, S) bool, False at padding
    # the decoder's initial state, flat, layer after layer: (h,) or (h, c) per layer, each
    # (N, H); with one layer exactly (h,) or (h, c)
    state0: tuple
    keys: np.ndarray | None = None  # (N, S, A) h̄_s W_k, Bahdanau only: projected once


class SourceGradients(NamedTuple):
    """Per-position gradients reaching the source (see ``Seq2Seq.source_gradients``)."""

    loss: float
    states: np.ndarray  # (N, S, H) ∂L/∂h̄_s, total
    embeddings: np.ndarray  # (N, S, E) ∂L/∂x_s


def head_param_shapes(attention: str | None, H: int, A: int, V: int) -> dict[str, tuple[int, ...]]:
    """Shapes of the parameters after the recurrent layers: the attention's and the output
    layer's, in the order ``Seq2Seq.param_shapes`` lists them (the torch twin builds the same)."""
    shapes: dict[str, tuple[int, ...]] = {}
    if attention == "general":
        shapes["W_a"] = (H, H)
    elif attention == "concat":
        shapes["W_a"] = (2 * H, A)
        shapes["v_a"] = (A,)
    elif attention == BAHDANAU:
        shapes["W_q"] = (H, A)
        shapes["W_k"] = (H, A)
        shapes["v_a"] = (A,)
    if attention in SCORES:
        shapes["W_c"] = (2 * H, H)
    shapes["W_s"] = (H, V)
    shapes["b_s"] = (V,)
    return shapes


class Seq2Seq:
    """Encoder–decoder RNN for many-to-many sequence tasks such as translation.

    The defaults are those of `config.ModelConfig`, whose fields mirror these parameters; the
    constructor builds one from its arguments, which checks them all (a bad value raises a
    ValueError naming the argument).

    Parameters
    ----------
    src_vocab_size, tgt_vocab_size : int
        Vocabulary sizes, each including the reserved ids (0 padding, 1 start, 2 end, 3 unknown).
    embed_dim : int
        E, size of both embeddings.
    hidden_dim : int
        H, size of the decoder state and of the encoder states the decoder attends to.
    cell : {"rnn", "gru", "lstm"}
    attention : {None, "dot", "general", "concat", "bahdanau"}
        None is the classic encoder–decoder whose decoder sees only the encoder's final state;
        "dot", "general" and "concat" are Luong's scores (attend from the current state h_t,
        ``functional/attention.py``); "bahdanau" attends from the previous state s_{t-1} and
        feeds the context into the recurrent input (``functional/bahdanau.py``).
    bidirectional : bool
        Encoder reads both ways with H/2 units per direction (H must be even); see
        ``functional/encoder.py`` for how the directions meet the decoder.
    reverse_source : bool
        Read each source row's tokens in reverse (Sutskever et al. 2014).
    input_feeding : bool
        Feed h̃_{t-1} into decoder step t (Luong et al. 2015, §3.3); needs a Luong score.
    attention_dim : int or None
        A, the concat and Bahdanau scores' hidden size (default H); ignored by the others.
    num_layers : int
        k stacked recurrent layers in the encoder and in the decoder, with PyTorch's semantics
        (see ``functional/stacked.py``); decoder layer l starts from encoder layer l's final
        state and attention reads the top layers.
    dropout : float
        p in [0, 1): inverted dropout on the embeddings, between stacked layers and on the
        output layer's input, active only in passes given a generator (``loss_and_grads(...,
        rng=...)``); see ``_dropout_masks`` for where and in which order masks are drawn.
    dtype : float32 or float64
        float32 for training (the default), float64 for gradient checks.
    seed : int
        Seeds the initialisation; the same seed gives the same parameters.

    Notes
    -----
    Initialisation follows PyTorch, chosen by measurement (``notebooks/09_initialisation.ipynb``):
    embeddings N(0, 1), recurrent weights and biases uniform in ±1/√H, linear weights uniform in
    ±1/√fan-in, and the LSTM's forget-gate bias set to 1 (Jozefowicz et al. 2015) so the cell
    starts by remembering.
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
        num_layers: int = ModelConfig.num_layers,
        dropout: float = ModelConfig.dropout,
    ) -> None:
        config = ModelConfig(  # checks every value; a bad one is named in the message
            src_vocab_size=src_vocab_size, tgt_vocab_size=tgt_vocab_size, embed_dim=embed_dim,
            hidden_dim=hidden_dim, cell=cell, attention=attention, bidirectional=bidirectional,
            reverse_source=reverse_source, input_feeding=input_feeding,
            attention_dim=attention_dim, dtype=dtype, seed=seed, num_layers=num_layers,
            dropout=dropout,
        )
        # the config's values, plain and JSON-ready, with A resolved (None means H)
        self.config: dict[str, Any] = {
            **config.to_dict(), "attention_dim": config.attention_dim or config.hidden_dim}
        self.dtype = np.dtype(config.dtype)
        self.params: dict[str, np.ndarray] = self._init_params(np.random.default_rng(config.seed))
        self.last_attention: np.ndarray | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Seq2Seq:
        """A freshly initialised model from a ``model.config`` dict (keys added since, such as
        ``num_layers`` and ``dropout``, take their defaults, so old checkpoints still load; an
        unknown key is refused with the list of known ones)."""
        return cls(**ModelConfig.from_dict(config).to_dict())

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
        cfg = self.config
        E, H, A, k = cfg["embed_dim"], cfg["hidden_dim"], cfg["attention_dim"], cfg["num_layers"]
        cell, attention = cfg["cell"], cfg["attention"]
        shapes: dict[str, tuple[int, ...]] = {
            "src_embed": (cfg["src_vocab_size"], E),
            "tgt_embed": (cfg["tgt_vocab_size"], E),
        }
        directions = ("fwd", "bwd") if cfg["bidirectional"] else (None,)
        for layer in range(k):  # layer 0 reads the embeddings, layer l >= 1 the H below it
            for direction in directions:
                shapes.update(with_prefix(
                    cell_param_shapes(cell, E if layer == 0 else H, H // len(directions)),
                    "enc_" + layer_prefix(layer, direction)))
        fed = cfg["input_feeding"] or attention == BAHDANAU  # layer 0 reads [E y; h̃ or c]
        for layer in range(k):
            inputs = (E + H if fed else E) if layer == 0 else H
            shapes.update(with_prefix(cell_param_shapes(cell, inputs, H),
                                      "dec_" + layer_prefix(layer)))
        shapes.update(head_param_shapes(attention, H, A, cfg["tgt_vocab_size"]))
        return shapes

    def _init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        params = {}
        for key, shape in self.param_shapes().items():
            if key.endswith("_embed"):
                # unit variance, as torch.nn.Embedding: at 0.1·N(0, 1) the input reached the
                # gates no stronger than the recurrent and bias terms, and the model took epochs
                # to start reading the source (the study: notebooks/09_initialisation.ipynb)
                value = rng.standard_normal(shape)
            else:
                value = rng.uniform(-1, 1, shape) / np.sqrt(self._fan(key, shape))
            params[key] = value.astype(self.dtype)
        if self.cell == "lstm":
            for key in params:
                if key.endswith("_b") and key.startswith(("enc_", "dec_")):
                    H = params[key].shape[0] // 4
                    params[key][H : 2 * H] = 1.0  # forget gate
        return params

    def _fan(self, key: str, shape: tuple[int, ...]) -> int:
        """PyTorch's rule U(±1/√fan): fan = the hidden size of a recurrent layer (H/2 for one
        direction of a bidirectional one) and the input size of a linear map, whose bias takes
        its weight's fan."""
        H = self.config["hidden_dim"]
        if key.startswith(("enc_", "dec_")):
            return H // 2 if ("_fwd_" in key or "_bwd_" in key) else H
        if key == "b_s":  # the bias of W_s, which reads H units
            return H
        return shape[0] if len(shape) == 2 else shape[-1]

    # -----------------------------------------------------------------------------------------
    def _check_ids(self, name: str, ids: Any, vocab_size: int, min_len: int) -> np.ndarray:
        """Validate a batch of token ids at the public boundary."""
        arr = np.asarray(ids)
        check_arrays(**{name: (arr, "N S" if name == "src" else "N T", int)})
        if arr.shape[0] == 0:
            raise ValueError(f"{name} is an empty batch (N=0); need at least one sequence")
        if arr.shape[1] < min_len:
            raise ValueError(
                f"{name} must have length >= {min_len}, got shape {arr.shape}"
                + (" (the decoder reads tgt[:, :-1] and is scored on tgt[:, 1:])"
                   if name == "tgt" else "")
            )
        check_ids(name, arr, vocab_size, f"the {'source' if name == 'src' else 'target'} "
                                         "vocabulary")
        real = arr != 0
        if (real[:, 1:] & ~real[:, :-1]).any():
            row = int(np.nonzero((real[:, 1:] & ~real[:, :-1]).any(axis=1))[0][0])
            raise ValueError(
                f"{name} must be right-padded: padding (id 0) may only follow the tokens, "
                f"but row {row} has a token after a 0"
            )
        return arr.astype(np.int64, copy=False)

    def check_src(self, src: Any) -> np.ndarray:
        """``src`` as an int array of shape (N, S) of this model's source ids, every row with a
        first token; a bad one is refused in the name of the public function that was called
        (``greedy_decode``, not the ``encode`` it calls)."""
        src = self._check_ids("src", src, self.config["src_vocab_size"], 1)
        if not (src[:, 0] != 0).all():
            row = int(np.nonzero(src[:, 0] == 0)[0][0])
            raise ValueError(f"every src row needs at least one token; row {row} is all padding")
        return src

    def _check_batch(self, src: Any, tgt: Any) -> tuple[np.ndarray, np.ndarray]:
        src = self.check_src(src)
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
    def _check_rng(self, rng: Any) -> np.random.Generator | None:
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise ValueError("rng must be a numpy Generator (np.random.default_rng(seed)) or None "
                             f"(no dropout), got {type(rng).__name__}")
        return rng

    def _dropout_masks(self, rng: np.random.Generator | None, N: int, S: int, T: int) -> tuple:
        """This pass's inverted-dropout masks, drawn from ``rng`` in a fixed order.

        The order is part of the model's contract, so identically seeded generators replay the
        same masks (gradient checks rely on it): the source embeddings (N, S, E); the outputs
        of encoder layers 0 … k-2, (N, S, H) each (in the encoder's reading order, i.e. of the
        reversed source with ``reverse_source``); the target embeddings (N, T, E); the outputs
        of decoder layers 0 … k-2, (N, T, H) each; the output layer's input (N, T, H). T is the
        number of decoder steps, tgt.shape[1] - 1. Each mask is (u >= p) / (1 - p) with u =
        rng.random(shape), in the model's dtype.

        Returns
        -------
        (encoder masks, decoder masks) as ``encoder_forward`` and ``decoder_forward`` take them,
        or (None, None) without a generator or with dropout 0.
        """
        cfg = self.config
        p, k, E, H = cfg["dropout"], cfg["num_layers"], cfg["embed_dim"], cfg["hidden_dim"]
        if rng is None or p == 0:
            return None, None

        def draw(*shape: int) -> np.ndarray:
            return dropout_mask(rng, p, shape, self.dtype)

        enc = [draw(N, S, E)] + [draw(N, S, H) for _ in range(k - 1)]
        dec = [draw(N, T, E)] + [draw(N, T, H) for _ in range(k - 1)] + [draw(N, T, H)]
        return enc, dec

    def _forward(
        self, src: np.ndarray, tgt: np.ndarray, rng: np.random.Generator | None = None,
        decoder_inputs: np.ndarray | None = None,
    ) -> tuple[float, tuple]:
        cfg, p = self.config, self.params
        tgt_out = tgt[:, 1:]
        tgt_in = tgt[:, :-1] if decoder_inputs is None else decoder_inputs  # teacher forcing or not
        enc_masks, dec_masks = self._dropout_masks(rng, *src.shape, tgt_in.shape[1])
        hs, state0, enc_cache = encoder_forward(
            cfg["cell"], src, p, cfg["bidirectional"], cfg["reverse_source"], cfg["num_layers"],
            enc_masks,
        )
        label_mask = tgt_out != 0  # (N, T-1)
        logits, weights, dec_cache = decoder_forward(
            cfg["cell"], cfg["attention"], tgt_in, label_mask, state0, hs, src != 0, p,
            cfg["input_feeding"], dec_masks,
        )
        loss, ce_cache = KERNELS["cross_entropy_forward"](logits, tgt_out, label_mask)
        self.last_attention = weights
        return loss, (enc_cache, dec_cache, ce_cache)

    def loss(self, src: Any, tgt: Any, rng: np.random.Generator | None = None) -> float:
        """Mean cross-entropy over the non-padding labels tgt[:, 1:] (forward only).

        Parameters
        ----------
        src : int array of shape (N, S), right-padded with 0
        tgt : int array of shape (N, T), T >= 2, tgt[:, 0] the start token, right-padded with 0
        rng : numpy Generator, optional
            Draws the dropout masks (see ``loss_and_grads``); None: no dropout.
        """
        src, tgt = self._check_batch(src, tgt)
        return self._forward(src, tgt, self._check_rng(rng))[0]

    def loss_and_grads(
        self, src: Any, tgt: Any, rng: np.random.Generator | None = None,
        decoder_inputs: Any = None,
    ) -> tuple[float, dict[str, np.ndarray]]:
        """Loss and the gradient of every parameter.

        Parameters
        ----------
        src : int array of shape (N, S), right-padded with 0
        tgt : int array of shape (N, T), T >= 2; the decoder reads tgt[:, :-1] and is scored on
            tgt[:, 1:]
        rng : numpy Generator, optional
            With ``dropout`` > 0, the generator the pass draws its dropout masks from (training:
            one generator seeded once and passed to every step). None (the default): no dropout,
            the deterministic model used for evaluation and decoding.
        decoder_inputs : int array of shape (N, T - 1), optional
            What the decoder reads at each step instead of the reference tgt[:, :-1] (teacher
            forcing, the default). Scheduled sampling passes the model's own earlier outputs
            here (``analysis.scheduled_sampling_inputs``); the labels stay tgt[:, 1:].

        Returns
        -------
        loss : float, the mean cross-entropy over non-padding labels
        grads : dict with exactly the keys and shapes of ``params``
        """
        src, tgt = self._check_batch(src, tgt)
        decoder_inputs = self._check_decoder_inputs(decoder_inputs, tgt)
        loss, grads, _, _ = self._forward_backward(src, tgt, self._check_rng(rng),
                                                   decoder_inputs=decoder_inputs)
        return loss, {k: grads[k] for k in self.params}

    def _check_decoder_inputs(self, decoder_inputs: Any, tgt: np.ndarray) -> np.ndarray | None:
        if decoder_inputs is None:
            return None
        arr = np.asarray(decoder_inputs)
        if arr.shape != (tgt.shape[0], tgt.shape[1] - 1) or arr.dtype.kind not in "iu":
            raise ValueError(f"decoder_inputs must be an int array of shape (N, T - 1) = "
                             f"{(tgt.shape[0], tgt.shape[1] - 1)}, got {arr.dtype} of shape "
                             f"{arr.shape}")
        check_ids("decoder_inputs", arr, self.config["tgt_vocab_size"],
                  "the target vocabulary")
        return arr.astype(np.int64, copy=False)

    def _forward_backward(
        self, src: np.ndarray, tgt: np.ndarray, rng: np.random.Generator | None = None,
        return_dstates: bool = False, decoder_inputs: np.ndarray | None = None,
    ):
        """Loss, parameter gradients, ∂L/∂x_s (N, S, E) and, if asked, ∂L/∂h̄_s (N, S, H)."""
        loss, (enc_cache, dec_cache, ce_cache) = self._forward(src, tgt, rng, decoder_inputs)
        dlogits = KERNELS["cross_entropy_backward"](1.0, ce_cache)
        dstate0, dhs, grads = decoder_backward(dlogits, dec_cache)
        dx, dstates, enc_grads = encoder_backward(dhs, dstate0, enc_cache, return_dstates)
        grads.update(enc_grads)
        return loss, grads, dx, dstates

    def source_gradients(self, src: Any, tgt: Any) -> SourceGradients:
        """Gradients of the loss with respect to every encoder state and source embedding.

        ∂L/∂h̄_s is the *total* gradient reaching (top-layer) encoder state s after full
        backpropagation through time: through attention (if any) and back along the encoder's
        recurrence from later positions and from the final state. ∂L/∂x_s is the gradient at
        the s-th source embedding. Positions are in the order of the source as given (also with
        reverse_source). Padded positions get 0. No dropout.

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
        """Encode a batch of sources for step-by-step decoding (no dropout).

        Parameters
        ----------
        src : int array of shape (N, S), right-padded with 0
        """
        src = self.check_src(src)
        cfg = self.config
        hs, state0, _ = encoder_forward(
            cfg["cell"], src, self.params, cfg["bidirectional"], cfg["reverse_source"],
            cfg["num_layers"],
        )
        keys = None
        if cfg["attention"] == BAHDANAU:
            keys, _ = bahdanau_keys_forward(hs, self.params["W_k"])
        return Encoded(hs, src != 0, state0, keys)

    def _check_step(self, y_prev: Any, state: Any, h_tilde_prev: Any, enc: Encoded) -> np.ndarray:
        """Validate ``decode_step``'s arguments against ``enc``; returns y_prev as an array."""
        y_prev = np.asarray(y_prev)
        n_states = self.config["num_layers"] * CELLS[self.cell].n_states
        if not isinstance(state, (tuple, list)) or len(state) != n_states:
            got = len(state) if isinstance(state, (tuple, list)) else type(state).__name__
            raise refuse(f"state must be a tuple of {n_states} arrays of shape (N, H), laid "
                         f"out as enc.state0, got {got}")
        check_arrays(**{"enc.states": (enc.states, "N S H")}, y_prev=(y_prev, "N", int),
                     state=(tuple(state), "N H"), **optional(h_tilde_prev=(h_tilde_prev, "N H")))
        check_ids("y_prev", y_prev, self.config["tgt_vocab_size"], "the target vocabulary")
        return y_prev

    def decode_step(
        self,
        y_prev: np.ndarray,
        state: tuple,
        h_tilde_prev: np.ndarray | None,
        enc: Encoded,
    ) -> tuple[np.ndarray, tuple, np.ndarray | None, np.ndarray | None]:
        """One decoder step at inference time: ``functional.decoder.decoder_step_forward``, the
        step the teacher-forced loop runs, and the output layer (no caches kept, no dropout).

        Parameters
        ----------
        y_prev : int ndarray of shape (N,), the previous token (the start token at first)
        state : tuple of ndarrays of shape (N, H), the previous decoder state: flat, layer after
            layer ((h,) or (h, c) per layer, as ``enc.state0``), so ``s[rows]`` reorders it
        h_tilde_prev : ndarray of shape (N, H) or None (zeros), the previous attentional state
        enc : from ``encode`` (rows may be repeated, e.g. for beam search)

        Returns
        -------
        logits : ndarray of shape (N, V)
        state : the new decoder state
        h_tilde : ndarray of shape (N, H) with a Luong score, else None
        weights : ndarray of shape (N, S), or None without attention

        Raises
        ------
        ValueError
            For ids outside [0, V), or a state or h_tilde_prev whose batch or size differs from
            ``enc``'s (the message names the argument and both shapes).
        """
        cfg, p = self.config, self.params
        y_prev = self._check_step(y_prev, state, h_tilde_prev, enc)
        x = p["tgt_embed"][y_prev]  # (N, E)
        xw = x @ p["dec_Wx"][: x.shape[1]] + p["dec_b"]  # (N, G·H), the embedding's share
        feed = h_tilde_prev if cfg["input_feeding"] else None
        keys = enc.keys
        if cfg["attention"] == BAHDANAU and keys is None:  # an Encoded made without encode()
            keys, _ = bahdanau_keys_forward(enc.states, p["W_k"])
        step = decoder_step_forward(
            cfg["cell"], cfg["attention"], xw, tuple(state), feed, enc.states, keys, enc.mask, p
        )
        h_tilde = step.out if cfg["attention"] in SCORES else None
        return step.out @ p["W_s"] + p["b_s"], step.state, h_tilde, step.weights
