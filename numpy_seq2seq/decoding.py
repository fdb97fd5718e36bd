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

Padding (id 0) and ``<s>`` (id 1) are never valid outputs, so both searches skip them; the
log-probabilities are still those of the model's full softmax over V (the two ids are excluded
after normalising, not renormalised away).

Letters: N batch, S source length, H hidden, V target vocabulary, K beam size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import NON_NEGATIVE, POSITIVE_INT
from .data.vocab import BOS_ID, EOS_ID, PAD_ID
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
        raise ValueError(f"src must be 2-D of shape (N, S); got shape {src.shape} "
                         "(wrap one sequence as src[None])")
    enc = model.encode(src)  # validates ids and padding
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
    K = POSITIVE_INT.check("beam", beam)
    enc, max_len, alpha = _check(model, src, max_len, length_penalty)
    N, S = enc.mask.shape
    enc_k = _repeat_rows(enc, K)
    state, h_tilde = enc_k.state0, None
    y = np.full(N * K, BOS_ID, dtype=np.int64)  # (N·K,)
    # Only beam 0 is live at the start; the others are copies that must never be chosen.
    cum = np.full((N, K), -np.inf)
    cum[:, 0] = 0.0
    tokens = np.zeros((N, K, 0), dtype=np.int64)  # (N, K, t) live hypotheses' tokens
    attn = np.zeros((N, K, 0, S), dtype=enc.states.dtype)  # (N, K, t, S)
    finished: list[list[Hypothesis]] = [[] for _ in range(N)]
    done = np.zeros(N, dtype=bool)
    src_len = enc.mask.sum(axis=1)

    def make(n: int, toks: np.ndarray, w: np.ndarray | None, lp: float, fin: bool) -> Hypothesis:
        steps = len(toks) + fin
        return Hypothesis(toks.copy(), lp / steps**alpha, lp,
                          None if w is None else w[:, : src_len[n]].copy(), fin)

    for _ in range(max_len):
        logits, state, h_tilde, w = model.decode_step(y, state, h_tilde, enc_k)
        V = logits.shape[1]
        logp = _forbid_specials(_step_log_probs(logits)).reshape(N, K, V)
        cand = (cum[:, :, None] + logp).reshape(N, K * V)  # (N, K·V)
        # stable sort: ties go to the lower beam, then the lower id, as argmax does in greedy
        top = np.argsort(-cand, axis=1, kind="stable")[:, : 2 * K]  # (N, 2K)
        parent = np.zeros((N, K), dtype=np.int64)
        token = np.zeros((N, K), dtype=np.int64)
        new_cum = np.full((N, K), -np.inf)
        w_new = None if w is None else w.reshape(N, K, S)
        for n in np.nonzero(~done)[0].tolist():
            live = 0
            for rank, ext in enumerate(top[n].tolist()):
                b, v = divmod(ext, V)  # the extension of beam b by token v
                score = cand[n, ext]
                if v == EOS_ID:
                    if rank < K and np.isfinite(score):
                        hist = None if w_new is None else np.concatenate(
                            [attn[n, b], w_new[n, b][None]], axis=0)
                        finished[n].append(make(n, tokens[n, b], hist, float(score), True))
                elif live < K:
                    parent[n, live], token[n, live], new_cum[n, live] = b, v, score
                    live += 1
            if len(finished[n]) >= K or not np.isfinite(new_cum[n]).any():
                done[n] = True
        if done.all():
            break
        rows = np.arange(N)[:, None]
        tokens = np.concatenate([tokens[rows, parent], token[:, :, None]], axis=2)
        if w_new is not None:
            attn = np.concatenate([attn[rows, parent], w_new[rows, parent][:, :, None]], axis=2)
        cum = new_cum
        # reorder the decoder's state so that beam slot j continues its parent
        flat = (np.arange(N)[:, None] * K + parent).ravel()  # (N·K,)
        state = tuple(s[flat] for s in state)
        h_tilde = None if h_tilde is None else h_tilde[flat]
        y = token.ravel()

    best = []
    for n in range(N):
        if finished[n]:
            best.append(max(finished[n], key=lambda h: h.score))
        else:  # max_len reached with nothing finished: the best live hypothesis
            b = int(np.argmax(cum[n]))
            best.append(make(n, tokens[n, b], None if w is None else attn[n, b],
                             float(cum[n, b]), False))
    return best
