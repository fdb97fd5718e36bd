"""Checks of greedy decoding and beam search, on the small dates model the course ships.

The model (``dates_model.npz``, written by ``course/make_model.py``) is loaded in float64 and
decoded by the student's function and by the library's on the same 16 held-out dates (stored in
the checkpoint; on half of them beam search and greedy decoding disagree), with a few settings
of ``max_len``, ``beam`` and ``length_penalty``. Tokens and ``finished`` must be equal, scores
and log-probabilities equal to 1e-8, greedy attention to 1e-10 (beam search's attention is not
graded).

Letters: N batch, S source length, V vocabulary.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib import resources

import numpy as np

from ..checkpoint import load_checkpoint
from ..data import pad_sequences
from ..data.vocab import Vocab
from ..decoding import Hypothesis
from ..model import Seq2Seq
from ..substitute import library_function
from .grading import CheckFailed, call

MODEL_FILE = "dates_model.npz"
SCORE_TOL = 1e-8
ATTENTION_TOL = 1e-10
# (keyword arguments, what the setting exercises); beam search also gets beam=3 or beam=1
SETTINGS = {
    "greedy_decode": [({}, "the defaults"),
                      ({"length_penalty": 1.0}, "length_penalty=1"),
                      ({"max_len": 6}, "max_len=6 (no output can finish)")],
    "beam_search": [({"beam": 3}, "beam=3"),
                    ({"beam": 3, "length_penalty": 0.0}, "beam=3, length_penalty=0"),
                    ({"beam": 1}, "beam=1 (greedy)"),
                    ({"beam": 3, "max_len": 6}, "beam=3, max_len=6 (nothing finishes)")],
}


@functools.lru_cache(maxsize=1)
def shipped_model() -> tuple[Seq2Seq, Vocab, Vocab, list[str]]:
    """The course's small dates model in float64, its vocabularies and the graded sources."""
    with resources.as_file(resources.files(__package__) / MODEL_FILE) as path:
        model, src_vocab, tgt_vocab, extra = load_checkpoint(path)
    model64 = Seq2Seq.from_config({**model.config, "dtype": "float64"})
    for key, value in model.params.items():
        model64.params[key][...] = value
    return model64, src_vocab, tgt_vocab, list(extra["check_sources"])


def graded_sources() -> np.ndarray:
    """The 16 graded sources as a padded id batch of shape (N, S)."""
    _, src_vocab, _, texts = shipped_model()
    return pad_sequences([src_vocab.encode(t) for t in texts])


def check_decoder(name: str, fn: Callable) -> str:
    """Check ``greedy_decode`` or ``beam_search``; returns the success message or raises."""
    model = shipped_model()[0]
    src = graded_sources()
    for kwargs, what in SETTINGS[name]:
        before = src.copy()
        ref = library_function(name)(model, src, **kwargs)
        got = call(name, fn, model, src, **kwargs)
        if not np.array_equal(before, src):
            raise CheckFailed(f"{name} modifies src in place.")
        try:
            _compare(name, what, got, ref, kwargs, attention=name == "greedy_decode")
        except CheckFailed as e:
            if name == "beam_search" and kwargs.get("length_penalty", 1.0) > 0 and \
                    _ranks_by_log_prob(got, model, src, kwargs):
                raise CheckFailed(f"{name} ({what}): the beam scores are not length-normalised: "
                                  "rank the finished hypotheses by score = log_prob / steps ** "
                                  "length_penalty, not by log_prob.") from None
            raise e
    n = len(src)
    return (f"{name} passes: tokens, scores and log-probabilities of all {n} graded dates agree "
            f"with the library's under {len(SETTINGS[name])} settings.")


def _ranks_by_log_prob(got, model: Seq2Seq, src: np.ndarray, kwargs: dict) -> bool:
    """True if ``got`` has the tokens beam search picks when it ranks by raw log-probability."""
    raw = library_function("beam_search")(model, src, **{**kwargs, "length_penalty": 0.0})
    return isinstance(got, list) and len(got) == len(raw) and all(
        isinstance(g, Hypothesis) and list(np.asarray(g.tokens)) == list(r.tokens)
        for g, r in zip(got, raw))


def _compare(name: str, what: str, got, ref: list[Hypothesis], kwargs: dict,
             attention: bool) -> None:
    if not isinstance(got, list) or len(got) != len(ref):
        size = f"a list of {len(got)}" if isinstance(got, list) else type(got).__name__
        raise CheckFailed(f"{name} should return a list of {len(ref)} Hypothesis, one per row; "
                          f"got {size}.")
    for n, (g, r) in enumerate(zip(got, ref)):
        problem = _hypothesis_problem(g, r, kwargs, attention)
        if problem:
            raise CheckFailed(f"{name} ({what}), row {n}: {problem}.")


def _hypothesis_problem(g, r: Hypothesis, kwargs: dict, attention: bool) -> str | None:
    if not isinstance(g, Hypothesis):
        return f"expected a Hypothesis, got {type(g).__name__}"
    tokens = np.asarray(g.tokens)
    want = list(r.tokens)
    if list(tokens) != want:
        return _token_problem(list(tokens), want, r)
    if bool(g.finished) != r.finished:
        return f"finished is {g.finished}, expected {r.finished}"
    steps = len(want) + r.finished
    if not _close(g.log_prob, r.log_prob):
        return _log_prob_problem(g.log_prob, r)
    if not _close(g.score, r.score):
        alpha = kwargs.get("length_penalty", 1.0 if "beam" in kwargs else 0.0)
        if _close(g.score, r.log_prob):
            return (f"score {g.score:.6f} equals log_prob: it is not length-normalised; score = "
                    f"log_prob / steps ** length_penalty = {r.score:.6f} (α = {alpha})")
        if len(want) and abs(g.score - r.log_prob / len(want) ** alpha) <= 1e-8:
            return "score divides by len(tokens) ** α; steps counts the </s> step too"
        return f"score {g.score:.6f}, expected {r.score:.6f} (= log_prob / {steps} ** {alpha})"
    if attention and r.attention is not None:
        return _attention_problem(g.attention, r.attention)
    return None


def _close(got: float, want: float) -> bool:
    """Equal to ``SCORE_TOL``, relative to ``want`` (absolute below 1)."""
    return abs(got - want) <= SCORE_TOL * max(1.0, abs(want))


def _token_problem(got: list, want: list, r: Hypothesis) -> str:
    from ..data.vocab import BOS_ID, EOS_ID, PAD_ID

    if got[:-1] == want and got[-1:] == [EOS_ID]:
        return "tokens end with </s> (id 2); leave it out (finished says it was emitted)"
    if PAD_ID in got or BOS_ID in got:
        return "tokens contain id 0 (padding) or 1 (<s>), which are never valid outputs"
    if got[: len(want)] == want and r.finished:
        return (f"decoding went on after </s>: got {len(got)} tokens, expected {len(want)}; "
                "stop a row at its </s>")
    tgt_vocab = shipped_model()[2]
    return (f"tokens {[int(i) for i in got]} ({tgt_vocab.decode_text(got)!r}), expected "
            f"{[int(i) for i in want]} ({tgt_vocab.decode_text(want)!r})")


def _log_prob_problem(got: float, r: Hypothesis) -> str:
    return (f"log_prob {got:.6f}, expected {r.log_prob:.6f}: Σ_t log p(y_t) over every step "
            "taken, the </s> step included, with log p from the full softmax over V")


def _attention_problem(got, want: np.ndarray) -> str | None:
    if not isinstance(got, np.ndarray) or got.shape != want.shape:
        shape = got.shape if isinstance(got, np.ndarray) else type(got).__name__
        return (f"attention should have shape {want.shape} (steps, the row's real source "
                f"positions), got {shape}")
    err = float(np.abs(got - want).max())
    return None if err <= ATTENTION_TOL else f"attention differs by up to {err:.1e}"
