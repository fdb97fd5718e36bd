"""Greedy decoding and beam search, batched over the rows of a source batch.

Both run the decoder one step at a time with ``Seq2Seq.decode_step``, feeding back the token
they chose, starting from ``<s>`` (id 1) and stopping a row when it emits ``</s>`` (id 2) or
after ``max_len`` steps.

What a hypothesis holds
-----------------------
``tokens``
    The output ids, without ``<s>`` and without ``</s>``.
``log_prob``
    Σ_t log p(y_t | y_<t, x) over every decoder step taken, *including* the step that emitted
    ``</s>`` when the hypothesis is finished: the model's log-probability of the output.
``score``
    ``log_prob / steps ** length_penalty``, where ``steps = len(tokens) + finished`` is the
    number of decoder steps (the ``</s>`` step counts). ``length_penalty`` α = 0 ranks by raw
    log-probability (which favours short outputs, since every step adds a negative term);
    α = 1 ranks by the mean log-probability per step.
``attention``
    ndarray of shape (steps, S_row): row t holds the weights decoder step t paid to the row's
    S_row real (unpadded) source tokens, in the order given (also with ``reverse_source``).
    There is one row per output token plus one for the ``</s>`` step if the hypothesis is
    finished. ``None`` for a model without attention.
``finished``
    True if ``</s>`` was emitted within ``max_len`` steps.

``greedy_decode`` and ``beam_search`` run the decoders of the kernel table
(``functional/kernels.py``): the library's ``_greedy_decode`` and ``_beam_search`` below, unless
``substitute.use_functions`` put a student's in their place for the length of a ``with`` block.

Padding (id 0) and ``<s>`` (id 1) are never valid outputs, so both searches skip them; the
log-probabilities are still those of the model's full softmax over V (the two ids are excluded
after normalising, not renormalised away).

Letters: N batch, S source length, H hidden, V target vocabulary, K beam size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import NON_NEGATIVE, POSITIVE_INT, refuse
from .data.vocab import BOS_ID, EOS_ID, PAD_ID
from .functional.kernels import KERNELS, register
from .functional.softmax import log_softmax

if TYPE_CHECKING:
    from .model import Encoded, Seq2Seq

__all__ = ["Hypothesis", "greedy_decode", "beam_search", "default_max_len"]


@dataclass
class Hypothesis:
    """One decoded output (see the module docstring for the exact meaning of each field)."""

    tokens: np.ndarray  # (L,) int64 ids, no <s>, no </s>
    score: float  # log_prob / steps ** length_penalty
    log_prob: float  # sum of per-step log-probabilities, </s> step included if finished
    attention: np.ndarray | None  # (L + finished, S_row), or None without attention
    finished: bool  # emitted </s> within max_len steps

    @property
    def steps(self) -> int:
        """Decoder steps taken: ``len(tokens)``, plus one for ``</s>`` if finished."""
        return len(self.tokens) + int(self.finished)


def default_max_len(src: np.ndarray) -> int:
    """The step limit used when none is given: 2·S + 10 for a source batch of shape (N, S)."""
    return 2 * int(np.asarray(src).shape[1]) + 10


def _step_log_probs(logits: np.ndarray) -> np.ndarray:
    """log p of every token, in float64 so sums over many steps stay exact enough."""
    return log_softmax(logits.astype(np.float64))


def _forbid_specials(logp: np.ndarray) -> np.ndarray:
    logp[..., PAD_ID] = -np.inf
    logp[..., BOS_ID] = -np.inf
    return logp


def _check(model: Seq2Seq, src: Any, max_len: int | None, length_penalty: float) -> tuple:
    src = np.asarray(src)
    if src.ndim == 1:
        raise refuse(f"src must be 2-D of shape (N, S); got shape {src.shape} "
                     "(wrap one sequence as src[None])")
    enc = model.encode(model.check_src(src))  # checked first: refused as greedy_decode's
    if max_len is None:
        max_len = default_max_len(src)
    max_len = POSITIVE_INT.check("max_len", max_len)
    return enc, max_len, NON_NEGATIVE.check("length_penalty", length_penalty)


def _repeat_rows(enc: Encoded, k: int) -> Encoded:
    """Each row of ``enc`` repeated k times in place: row n becomes rows n·k … n·k+k-1."""
    return enc._replace(
        states=np.repeat(enc.states, k, axis=0),  # (N·K, S, H)
        mask=np.repeat(enc.mask, k, axis=0),  # (N·K, S)
        state0=tuple(np.repeat(s, k, axis=0) for s in enc.state0),  # (N·K, H) each
        keys=None if enc.keys is None else np.repeat(enc.keys, k, axis=0),  # (N·K, S, A)
    )


# ---------------------------------------------------------------------------------------------
# greedy

def greedy_decode(
    model: Seq2Seq,
    src: Any,
    max_len: int | None = None,
    length_penalty: float = 0.0,
) -> list[Hypothesis]:
    """Decode every row of ``src`` at once, taking the most probable token at each step.

    Parameters
    ----------
    model : Seq2Seq
    src : int array of shape (N, S), right-padded with 0
    max_len : int, optional
        Most decoder steps per row (``</s>`` included); default ``2·S + 10``.
    length_penalty : float
        α in ``score = log_prob / steps ** α``; it changes only the reported score, never the
        tokens (greedy makes one choice per step).

    Returns
    -------
    list of N Hypothesis, in row order (fields described in the module docstring)
    """
    return KERNELS["greedy_decode"](model, src, max_len, length_penalty)


def _greedy_decode(model: Seq2Seq, src: Any, max_len: int | None = None,
                   length_penalty: float = 0.0) -> list[Hypothesis]:
    """The library's ``greedy_decode``."""
    enc, max_len, alpha = _check(model, src, max_len, length_penalty)
    N, S = enc.mask.shape
    y = np.full(N, BOS_ID, dtype=np.int64)  # (N,)
    state, h_tilde = enc.state0, None
    done = np.zeros(N, dtype=bool)
    lengths = np.full(N, max_len, dtype=np.int64)  # steps taken per row
    log_prob = np.zeros(N)
    tokens, weights = [], []
    for t in range(max_len):
        logits, state, h_tilde, w = model.decode_step(y, state, h_tilde, enc)
        logp = _forbid_specials(_step_log_probs(logits))  # (N, V)
        y = logp.argmax(axis=1)  # (N,)
        log_prob += np.where(done, 0.0, logp[np.arange(N), y])
        tokens.append(y)
        if w is not None:
            weights.append(w)
        ended = ~done & (y == EOS_ID)
        lengths[ended] = t + 1
        done |= ended
        if done.all():
            break
    tokens = np.stack(tokens, axis=1)  # (N, steps)
    weights = np.stack(weights, axis=1) if weights else None  # (N, steps, S)
    src_len = enc.mask.sum(axis=1)
    hyps = []
    for n in range(N):
        finished = bool(done[n])
        steps = int(lengths[n])
        out = tokens[n, : steps - finished].copy()
        attn = None if weights is None else weights[n, :steps, : src_len[n]].copy()
        lp = float(log_prob[n])
        hyps.append(Hypothesis(out, lp / steps**alpha, lp, attn, finished))
    return hyps


# ---------------------------------------------------------------------------------------------
# beam search

def beam_search(
    model: Seq2Seq,
    src: Any,
    beam: int = 5,
    max_len: int | None = None,
    length_penalty: float = 1.0,
) -> list[Hypothesis]:
    """Beam search over every row of ``src`` at once; returns the best hypothesis per row.

    Each row keeps ``beam`` (K) live hypotheses. At every step all K·V one-token extensions are
    ranked by cumulative log-probability and the best 2K are examined in order (as in fairseq):

    * an extension ending in ``</s>`` that ranks within the top K is *finished* and set aside;
    * the first K extensions not ending in ``</s>`` become the next live hypotheses.

    A row stops when it has K finished hypotheses (or after ``max_len`` steps). The answer is the
    finished hypothesis with the best length-normalised score
    ``log_prob / steps ** length_penalty``; a row that finished none returns its best live one.
    With ``beam=1`` this is exactly greedy decoding. With K at least the number of possible
    extensions at every step, the search is exhaustive: it returns the best-scoring of all
    finished outputs of at most ``max_len`` steps.

    Parameters
    ----------
    model : Seq2Seq
    src : int array of shape (N, S), right-padded with 0
    beam : int
        K >= 1.
    max_len : int, optional
        Most decoder steps per hypothesis (``</s>`` included); default ``2·S + 10``.
    length_penalty : float
        α >= 0 in ``score = log_prob / steps ** α``; 0 ranks by raw log-probability.

    Returns
    -------
    list of N Hypothesis, in row order (fields described in the module docstring)
    """
    return KERNELS["beam_search"](model, src, beam, max_len, length_penalty)


def _beam_search(model: Seq2Seq, src: Any, beam: int = 5, max_len: int | None = None,
                 length_penalty: float = 1.0) -> list[Hypothesis]:
    """The library's ``beam_search``."""
    K = POSITIVE_INT.check("beam", beam)
    enc, max_len, alpha = _check(model, src, max_len, length_penalty)
    search = _Beams(_repeat_rows(enc, K), K, alpha)
    state, h_tilde = search.enc.state0, None
    y = np.full(search.N * K, BOS_ID, dtype=np.int64)  # (N·K,)
    for _ in range(max_len):
        logits, state, h_tilde, w = model.decode_step(y, state, h_tilde, search.enc)
        flat, y = search.step(logits, w)
        if flat is None:  # every row is done
            break
        # reorder the decoder's state so that beam slot j continues its parent
        state = tuple(s[flat] for s in state)
        h_tilde = None if h_tilde is None else h_tilde[flat]
    return [search.best(n) for n in range(search.N)]


def _select(cand: np.ndarray, top: list[int], K: int, V: int) -> tuple[list, list]:
    """One row's choice at one step: which of its best 2K extensions finish, which live on.

    Parameters
    ----------
    cand : ndarray of shape (K·V,), the cumulative log-probability of every extension; beam b
        extended by token v sits at b·V + v
    top : the indices of the best 2K extensions, best first
    K, V : beam size and vocabulary size

    Returns
    -------
    finished : [(b, score)], the extensions by </s> that rank within the top K (finite)
    live : [(b, v, score)], the first K extensions that do not end in </s>, best first
    """
    finished, live = [], []
    for rank, ext in enumerate(top):
        b, v = divmod(ext, V)
        if v == EOS_ID:
            if rank < K and np.isfinite(cand[ext]):
                finished.append((b, float(cand[ext])))
        elif len(live) < K:
            live.append((b, v, cand[ext]))
    return finished, live


class _Beams:
    """The search's bookkeeping for every row: K live hypotheses (their tokens, attention and
    cumulative log-probability) and the finished ones."""

    def __init__(self, enc: Encoded, K: int, alpha: float) -> None:
        self.enc, self.K, self.alpha = enc, K, alpha  # enc: each row repeated K times
        N, S = enc.mask.shape[0] // K, enc.mask.shape[1]
        self.N, self.S = N, S
        self.src_len = enc.mask[::K].sum(axis=1)  # (N,)
        # Only beam 0 is live at the start; the others are copies that must never be chosen.
        self.cum = np.full((N, K), -np.inf)
        self.cum[:, 0] = 0.0
        self.tokens = np.zeros((N, K, 0), dtype=np.int64)  # (N, K, t)
        self.attn = np.zeros((N, K, 0, S), dtype=enc.states.dtype)  # (N, K, t, S)
        self.attends = False  # the model returns attention weights
        self.finished: list[list[Hypothesis]] = [[] for _ in range(N)]
        self.done = np.zeros(N, dtype=bool)

    def step(self, logits: np.ndarray, w: np.ndarray | None) -> tuple:
        """Extend every live row by one token (``logits`` (N·K, V), weights (N·K, S) or None).

        Returns (flat, y): the index (N·K,) of each slot's parent among the previous slots and
        the tokens (N·K,) to feed next; (None, None) once every row is done.
        """
        N, K, V = self.N, self.K, logits.shape[1]
        logp = _forbid_specials(_step_log_probs(logits)).reshape(N, K, V)
        cand = (self.cum[:, :, None] + logp).reshape(N, K * V)  # (N, K·V)
        # stable sort: ties go to the lower beam, then the lower id, as argmax does in greedy
        top = np.argsort(-cand, axis=1, kind="stable")[:, : 2 * K]  # (N, 2K)
        parent, token = np.zeros((N, K), dtype=np.int64), np.zeros((N, K), dtype=np.int64)
        new_cum = np.full((N, K), -np.inf)
        self.attends = w is not None
        w = None if w is None else w.reshape(N, K, self.S)
        for n in np.nonzero(~self.done)[0].tolist():
            finished, live = _select(cand[n], top[n].tolist(), K, V)
            for b, score in finished:
                hist = None if w is None else np.concatenate([self.attn[n, b], w[n, b][None]])
                self.finished[n].append(self._hypothesis(n, self.tokens[n, b], hist, score, True))
            for slot, (b, v, score) in enumerate(live):
                parent[n, slot], token[n, slot], new_cum[n, slot] = b, v, score
            if len(self.finished[n]) >= K or not np.isfinite(new_cum[n]).any():
                self.done[n] = True
        if self.done.all():
            return None, None
        rows = np.arange(N)[:, None]
        self.tokens = np.concatenate([self.tokens[rows, parent], token[:, :, None]], axis=2)
        if w is not None:
            self.attn = np.concatenate([self.attn[rows, parent], w[rows, parent][:, :, None]],
                                       axis=2)
        self.cum = new_cum
        return (rows * K + parent).ravel(), token.ravel()

    def _hypothesis(self, n: int, toks: np.ndarray, w: np.ndarray | None, lp: float,
                    fin: bool) -> Hypothesis:
        steps = len(toks) + fin
        return Hypothesis(toks.copy(), lp / steps**self.alpha, lp,
                          None if w is None else w[:, : self.src_len[n]].copy(), fin)

    def best(self, n: int) -> Hypothesis:
        """Row n's answer: its best finished hypothesis, else (max_len reached with nothing
        finished) its best live one."""
        if self.finished[n]:
            return max(self.finished[n], key=lambda h: h.score)
        b = int(np.argmax(self.cum[n]))
        return self._hypothesis(n, self.tokens[n, b], self.attn[n, b] if self.attends else None,
                                float(self.cum[n, b]), False)


register("greedy_decode", _greedy_decode)
register("beam_search", _beam_search)
