"""Greedy decoding and beam search, batched over the rows of a source batch.

Both run the decoder one step at a time with ``Seq2Seq.decode_step``, feeding back the token
they chose, starting from ``<s>`` (id 1) and stopping a row when it emits ``</s>`` (id 2) or
after ``max_len`` steps.

Decoding that stops
-------------------
A model that has not learnt when to stop repeats itself (``때 때 때 …``) until the step limit.
Two options bound that, in both searches:

``max_ratio``
    A limit relative to each row's own source: row n takes at most ``⌈max_ratio · S_n⌉ + 1``
    decoder steps (S_n its real source tokens; the 1 is the ``</s>`` step), and never more than
    ``max_len``. Without it every row of a batch gets ``max_len``, by default ``2·S + 10`` with
    S the *padded* width, so a short sentence batched with a long one may run long.
``no_repeat_ngram``
    k >= 1 forbids an output that holds one k-gram twice (as fairseq's and Hugging Face's
    ``no_repeat_ngram_size``): at each step the tokens that would complete a k-gram already in
    the row's output are given log-probability -inf, so a loop must end (``</s>`` is never in
    the output, so never forbidden). 0 turns the guard off, the default: character-level
    targets repeat n-grams by right (``1000``, ``aabcd``, ``2012-12-12``), and word-level ones
    do less often, so k is a choice for the text at hand (k = 2 or 3 for word and bpe outputs).
    Forbidden tokens change the choices, never the reported log-probabilities of the tokens
    chosen (they are the model's).

Both options belong to the library's searches, not to the kernel table's signature (a student's
decoder takes ``model, src, max_len, length_penalty``): with either set, the library's search
runs, and a call made while a decoder is substituted (``substitute.use_functions``) is refused.

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

from .checks import NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE_INT, refuse
from .data.vocab import BOS_ID, EOS_ID, PAD_ID
from .functional.kernels import KERNELS, LIBRARY, register
from .functional.softmax import log_softmax

if TYPE_CHECKING:
    from .model import Encoded, Seq2Seq

__all__ = ["Hypothesis", "greedy_decode", "beam_search", "default_max_len", "step_limits",
           "repeated_ngram_tokens"]


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


def step_limits(src: np.ndarray, max_len: int, max_ratio: float | None = None) -> np.ndarray:
    """Decoder steps allowed per row of ``src`` (N, S): ``max_len``, or with ``max_ratio``
    ``min(max_len, ⌈max_ratio · S_n⌉ + 1)`` for the S_n real tokens of row n; shape (N,)."""
    src = np.asarray(src)
    limits = np.full(src.shape[0], max_len, dtype=np.int64)  # (N,)
    if max_ratio is None:
        return limits
    ratio = NON_NEGATIVE.check("max_ratio", max_ratio)
    S_n = (src != PAD_ID).sum(axis=1)  # (N,)
    return np.minimum(limits, np.ceil(ratio * S_n).astype(np.int64) + 1)


def repeated_ngram_tokens(history: Any, k: int) -> list[int]:
    """The tokens that would complete a k-gram already in ``history`` (a sequence of ids):
    those that followed an earlier occurrence of its last k - 1 tokens. k = 0: none."""
    if k <= 0 or len(history) < k:
        return []
    h = np.asarray(history).tolist()
    tail = h[len(h) - k + 1:]
    return [h[i + k - 1] for i in range(len(h) - k + 1) if h[i:i + k - 1] == tail]


def _forbid_repeats(logp: np.ndarray, histories: list, k: int, rows: Any) -> np.ndarray:
    """``logp`` (R, V) with -inf where a token would repeat a k-gram of its row's history."""
    if k:
        for r in rows:
            logp[r, repeated_ngram_tokens(histories[r], k)] = -np.inf
    return logp


def _step_log_probs(logits: np.ndarray) -> np.ndarray:
    """log p of every token, in float64 so sums over many steps stay exact enough."""
    return log_softmax(logits.astype(np.float64))


def _forbid_specials(logp: np.ndarray) -> np.ndarray:
    logp[..., PAD_ID] = -np.inf
    logp[..., BOS_ID] = -np.inf
    return logp


def _stopping(name: str, max_ratio: float | None, no_repeat_ngram: int) -> tuple | None:
    """(max_ratio, no_repeat_ngram) when either is asked for, else None (the kernel table's
    decoder runs). The options are the library's: a decoder substituted in the table (a
    student's, ``substitute.use_functions``) has neither, and is not silently bypassed."""
    if max_ratio is None and not no_repeat_ngram:
        return None
    if KERNELS[name] is not LIBRARY[name]:
        raise refuse(f"max_ratio and no_repeat_ngram are the library's {name}'s options; the "
                     f"{name} substituted in the kernel table has neither")
    return max_ratio, no_repeat_ngram


def _check(model: Seq2Seq, src: Any, max_len: int | None, length_penalty: float,
           max_ratio: float | None = None, no_repeat_ngram: int = 0) -> tuple:
    """(encoded source, step limit per row (N,), length penalty, k) after checking them."""
    src = np.asarray(src)
    if src.ndim == 1:
        raise refuse(f"src must be 2-D of shape (N, S); got shape {src.shape} "
                     "(wrap one sequence as src[None])")
    enc = model.encode(model.check_src(src))  # checked first: refused as greedy_decode's
    if max_len is None:
        max_len = default_max_len(src)
    max_len = POSITIVE_INT.check("max_len", max_len)
    k = NON_NEGATIVE_INT.check("no_repeat_ngram", no_repeat_ngram)
    return (enc, step_limits(src, max_len, max_ratio),
            NON_NEGATIVE.check("length_penalty", length_penalty), k)


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
    *,
    max_ratio: float | None = None,
    no_repeat_ngram: int = 0,
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
    max_ratio : float, optional
        Also stop row n after ``⌈max_ratio · S_n⌉ + 1`` steps (module docstring).
    no_repeat_ngram : int
        k >= 1: never output one k-gram twice; 0 (default): no guard (module docstring).

    Returns
    -------
    list of N Hypothesis, in row order (fields described in the module docstring)
    """
    stop = _stopping("greedy_decode", max_ratio, no_repeat_ngram)
    if stop is None:
        return KERNELS["greedy_decode"](model, src, max_len, length_penalty)
    return _greedy(model, src, max_len, length_penalty, *stop)


def _greedy_decode(model: Seq2Seq, src: Any, max_len: int | None = None,
                   length_penalty: float = 0.0) -> list[Hypothesis]:
    """The library's ``greedy_decode`` kernel (a student's has this signature)."""
    return _greedy(model, src, max_len, length_penalty, None, 0)


def _greedy(model: Seq2Seq, src: Any, max_len: int | None, length_penalty: float,
            max_ratio: float | None, no_repeat_ngram: int) -> list[Hypothesis]:
    enc, limits, alpha, k = _check(model, src, max_len, length_penalty, max_ratio,
                                   no_repeat_ngram)
    N, S = enc.mask.shape
    y = np.full(N, BOS_ID, dtype=np.int64)  # (N,)
    state, h_tilde = enc.state0, None
    done = np.zeros(N, dtype=bool)  # emitted </s>
    stopped = np.zeros(N, dtype=bool)  # emitted </s> or reached its step limit
    lengths = limits.copy()  # steps taken per row
    log_prob = np.zeros(N)
    tokens, weights = [], []
    for t in range(int(limits.max())):
        logits, state, h_tilde, w = model.decode_step(y, state, h_tilde, enc)
        logp = _forbid_specials(_step_log_probs(logits))  # (N, V)
        if k and tokens:  # choose among the tokens that repeat no k-gram
            history = np.stack(tokens, axis=1)  # (N, t)
            y = _forbid_repeats(logp.copy(), history, k, np.nonzero(~stopped)[0].tolist()
                                ).argmax(axis=1)  # (N,)
        else:
            y = logp.argmax(axis=1)  # (N,)
        log_prob += np.where(stopped, 0.0, logp[np.arange(N), y])
        tokens.append(y)
        if w is not None:
            weights.append(w)
        ended = ~stopped & (y == EOS_ID)
        lengths[ended] = t + 1
        done |= ended
        stopped |= ended | (t + 1 >= limits)
        if stopped.all():
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
    *,
    max_ratio: float | None = None,
    no_repeat_ngram: int = 0,
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
    max_ratio : float, optional
        Also stop row n after ``⌈max_ratio · S_n⌉ + 1`` steps (module docstring).
    no_repeat_ngram : int
        k >= 1: no hypothesis holds one k-gram twice; 0 (default): no guard.

    Returns
    -------
    list of N Hypothesis, in row order (fields described in the module docstring)
    """
    stop = _stopping("beam_search", max_ratio, no_repeat_ngram)
    if stop is None:
        return KERNELS["beam_search"](model, src, beam, max_len, length_penalty)
    return _beam(model, src, beam, max_len, length_penalty, *stop)


def _beam_search(model: Seq2Seq, src: Any, beam: int = 5, max_len: int | None = None,
                 length_penalty: float = 1.0) -> list[Hypothesis]:
    """The library's ``beam_search`` kernel (a student's has this signature)."""
    return _beam(model, src, beam, max_len, length_penalty, None, 0)


def _beam(model: Seq2Seq, src: Any, beam: int, max_len: int | None, length_penalty: float,
          max_ratio: float | None, no_repeat_ngram: int) -> list[Hypothesis]:
    K = POSITIVE_INT.check("beam", beam)
    enc, limits, alpha, k = _check(model, src, max_len, length_penalty, max_ratio,
                                   no_repeat_ngram)
    search = _Beams(_repeat_rows(enc, K), K, alpha, limits, k)
    state, h_tilde = search.enc.state0, None
    y = np.full(search.N * K, BOS_ID, dtype=np.int64)  # (N·K,)
    for _ in range(int(limits.max())):
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

    def __init__(self, enc: Encoded, K: int, alpha: float, limits: np.ndarray,
                 no_repeat_ngram: int = 0) -> None:
        self.enc, self.K, self.alpha = enc, K, alpha  # enc: each row repeated K times
        self.limits, self.k = limits, no_repeat_ngram  # (N,) steps allowed per row
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
        self.capped: dict[int, Hypothesis] = {}  # rows stopped by their step limit: best live
        self.done = np.zeros(N, dtype=bool)

    def step(self, logits: np.ndarray, w: np.ndarray | None) -> tuple:
        """Extend every live row by one token (``logits`` (N·K, V), weights (N·K, S) or None).

        Returns (flat, y): the index (N·K,) of each slot's parent among the previous slots and
        the tokens (N·K,) to feed next; (None, None) once every row is done.
        """
        N, K, V = self.N, self.K, logits.shape[1]
        logp = _forbid_specials(_step_log_probs(logits))  # (N·K, V)
        live = np.nonzero(np.repeat(~self.done, K) & np.isfinite(self.cum.ravel()))[0]
        logp = _forbid_repeats(logp, self.tokens.reshape(N * K, -1), self.k,
                               live.tolist()).reshape(N, K, V)
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
            elif self.tokens.shape[2] + 1 >= self.limits[n]:  # its step limit: keep the best live
                b, v, score = live[0]
                hist = None if w is None else np.concatenate([self.attn[n, b], w[n, b][None]])
                toks = np.append(self.tokens[n, b], v)
                self.capped[n] = self._hypothesis(n, toks, hist, float(score), False)
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
        if n in self.capped:
            return self.capped[n]
        b = int(np.argmax(self.cum[n]))
        return self._hypothesis(n, self.tokens[n, b], self.attn[n, b] if self.attends else None,
                                float(self.cum[n, b]), False)


register("greedy_decode", _greedy_decode)
register("beam_search", _beam_search)
