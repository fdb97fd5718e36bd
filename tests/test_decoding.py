"""Greedy decoding and beam search: step-by-step decoding reproduces the teacher-forced model,
beam 1 is greedy, a wide beam is exhaustive, and batching never changes a row's answer."""

import functools
import itertools

import numpy as np
import pytest

from numpy_seq2seq.decoding import beam_search, greedy_decode, repeated_ngram_tokens
from numpy_seq2seq.functional.attention import SCORES
from numpy_seq2seq.model import ATTENTION_CHOICES, CELL_CHOICES, Seq2Seq
from numpy_seq2seq.optim import clip_grad_norm, make_optimizer

from conftest import assert_refused, randomize
from sizes import V_SRC, V_TGT, E, H

CONFIGS = [
    c for c in itertools.product(CELL_CHOICES, ATTENTION_CHOICES, [False, True], [False, True],
                                 [False, True])
    if not (c[3] and c[1] not in SCORES)  # input feeding feeds Luong's h̃
] + [  # stacked layers (dropout configured, but decoding never drops)
    ("lstm", "bahdanau", True, False, True, 2, 0.3),
    ("gru", "general", False, True, False, 2, 0.0),
    ("rnn", None, True, False, False, 3, 0.3),
    ("lstm", "concat", False, False, True, 3, 0.0),
    ("gru", "bahdanau", False, False, False, 3, 0.0),
]


def _id(c):
    cell, attention, bi, feed, rev = c[:5]
    k = c[5] if len(c) > 5 else 1
    return f"{cell}-{attention}" + "-bi" * bi + "-feed" * feed + "-rev" * rev + f"-k{k}" * (k > 1)


def _model(cell="lstm", attention="general", bidirectional=False, input_feeding=False,
           reverse_source=False, num_layers=1, dropout=0.0, tgt_vocab=V_TGT, dtype=np.float64):
    return Seq2Seq(V_SRC, tgt_vocab, E, H, cell=cell, attention=attention,
                   bidirectional=bidirectional, reverse_source=reverse_source,
                   input_feeding=input_feeding, num_layers=num_layers, dropout=dropout,
                   dtype=dtype, seed=0)


def _random_sources(rng, n, s_max):
    """n right-padded source rows of random lengths 1..s_max, ids 4..V_SRC-1."""
    lengths = rng.integers(1, s_max + 1, size=n)
    lengths[0] = s_max  # the batch width is s_max
    src = np.zeros((n, s_max), dtype=np.int64)
    for i, k in enumerate(lengths):
        src[i, :k] = rng.integers(4, V_SRC, size=k)
    return src


def _trained_ish(config, steps=80):
    """A float32 model given a few Adam steps on copying, so outputs vary in length."""
    m = _model(*config, dtype=np.float32)
    rng = np.random.default_rng(7)
    opt = make_optimizer("adam", m.params, lr=0.05)
    for _ in range(steps):
        src = _random_sources(rng, 32, 6)
        tgt = np.zeros((32, 8), dtype=np.int64)
        tgt[:, 0] = 1
        for i, row in enumerate(src):
            toks = row[row != 0]
            tgt[i, 1 : len(toks) + 1] = toks
            tgt[i, len(toks) + 1] = 2
        _, grads = m.loss_and_grads(src, tgt)
        clip_grad_norm(grads, 5.0)
        opt.step(grads)
    return m


def _row_log_prob(model, src_row, tokens, finished):
    """Teacher-forced log p(tokens [</s>] | src) from model.loss, an independent oracle."""
    tgt = np.concatenate([[1], tokens, [2] if finished else []]).astype(np.int64)[None]
    n_labels = tgt.shape[1] - 1
    return -model.loss(src_row[None], tgt) * n_labels


# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("config", CONFIGS, ids=_id)
def test_decode_step_reproduces_teacher_forced_loss(config, ragged_batch, rng):
    """Feeding the gold prefix through decode_step gives, row by row, the loss and attention
    of the teacher-forced forward pass."""
    attention = config[1]
    m = _model(*config)
    randomize(m.params, rng)
    src, tgt = ragged_batch
    enc = m.encode(src)
    state, h_tilde, logits, weights = enc.state0, None, [], []
    for t in range(tgt.shape[1] - 1):
        out, state, h_tilde, w = m.decode_step(tgt[:, t], state, h_tilde, enc)
        logits.append(out)
        weights.append(w)
    logits = np.stack(logits, axis=1)  # (N, T-1, V)
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    for n in range(src.shape[0]):
        s_len, t_len = int((src[n] != 0).sum()), int((tgt[n] != 0).sum())
        labels = tgt[n, 1:t_len]
        stepwise = -logp[n, np.arange(t_len - 1), labels].mean()
        forced = m.loss(src[n : n + 1, :s_len], tgt[n : n + 1, :t_len])
        assert stepwise == pytest.approx(forced, rel=1e-10, abs=1e-12)
        if attention is None:
            assert weights[0] is None and m.last_attention is None
        else:
            stepped = np.stack(weights, axis=1)[n, : t_len - 1, :s_len]  # (T_n-1, S_n)
            np.testing.assert_allclose(stepped, m.last_attention[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("config", [
    ("lstm", "general", False, False, False),
    ("gru", "concat", True, True, False),
    ("rnn", "dot", False, True, True),
    ("lstm", None, True, False, True),
    ("gru", "bahdanau", True, False, False, 2),
], ids=_id)
def test_beam_of_one_is_greedy(config, rng):
    m = _trained_ish(config)
    src = _random_sources(rng, 40, 9)
    greedy = greedy_decode(m, src, max_len=7)
    beam = beam_search(m, src, beam=1, max_len=7, length_penalty=0.0)
    assert len({h.steps for h in greedy}) >= 3, "outputs of varied lengths make a better test"
    for g, b in zip(greedy, beam, strict=True):
        np.testing.assert_array_equal(g.tokens, b.tokens)
        assert g.finished == b.finished
        assert g.log_prob == pytest.approx(b.log_prob, rel=1e-9)
        if config[1] is None:
            assert g.attention is None and b.attention is None
        else:
            np.testing.assert_allclose(g.attention, b.attention, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
def test_wide_beam_finds_the_exhaustive_best(alpha, rng):
    """On a target vocabulary with 3 ordinary tokens, a beam wider than all 4·3^3 extensions
    enumerates every finished output of <= 4 steps, so it must return the best one."""
    m = _model("gru", "general", tgt_vocab=7, dtype=np.float64)  # ids 4, 5, 6 are tokens
    randomize(m.params, rng, scale=1.0)
    src = _random_sources(rng, 3, 5)
    max_len = 4
    hyps = beam_search(m, src, beam=120, max_len=max_len, length_penalty=alpha)
    for n, hyp in enumerate(hyps):
        row = src[n][src[n] != 0]
        best_score, best_tokens = -np.inf, None
        for length in range(max_len):  # tokens before </s>
            for toks in itertools.product([3, 4, 5, 6], repeat=length):  # 3 is <unk>
                lp = _row_log_prob(m, row, np.array(toks, dtype=np.int64), True)
                score = lp / (length + 1) ** alpha
                if score > best_score:
                    best_score, best_tokens = score, toks
        assert hyp.finished
        assert tuple(hyp.tokens.tolist()) == best_tokens
        assert hyp.score == pytest.approx(best_score, rel=1e-9)


@pytest.mark.parametrize("decode", ["greedy", "beam"])
def test_scores_and_attention_are_consistent(decode, rng):
    m = _model("lstm", "general", reverse_source=True)
    randomize(m.params, rng, scale=0.6)
    src = _random_sources(rng, 12, 7)
    alpha = 0.5
    if decode == "greedy":
        hyps = greedy_decode(m, src, max_len=6, length_penalty=alpha)
    else:
        hyps = beam_search(m, src, beam=3, max_len=6, length_penalty=alpha)
    for n, h in enumerate(hyps):
        row = src[n][src[n] != 0]
        assert h.tokens.dtype == np.int64 and not np.isin(h.tokens, [0, 1, 2]).any()
        assert h.steps == len(h.tokens) + h.finished <= 6
        assert h.attention.shape == (h.steps, len(row))
        np.testing.assert_allclose(h.attention.sum(axis=1), 1.0, rtol=1e-10)
        assert h.log_prob == pytest.approx(_row_log_prob(m, row, h.tokens, h.finished), rel=1e-9)
        assert h.score == pytest.approx(h.log_prob / h.steps**alpha, rel=1e-12)


@pytest.mark.parametrize("decode", ["greedy", "beam"])
@pytest.mark.parametrize("config", [("gru", "concat", True, True, False),
                                    ("lstm", "bahdanau", False, False, True, 2)], ids=_id)
def test_batch_gives_each_row_its_own_answer(decode, config, rng):
    """Padding and neighbouring rows never change a row's output."""
    m = _model(*config)
    randomize(m.params, rng, scale=0.6)
    src = _random_sources(rng, 6, 8)

    def run(x):
        if decode == "greedy":
            return greedy_decode(m, x, max_len=7)
        return beam_search(m, x, beam=4, max_len=7)

    batched = run(src)
    for n in range(len(src)):
        alone = run(src[n : n + 1, : (src[n] != 0).sum()])[0]
        np.testing.assert_array_equal(batched[n].tokens, alone.tokens)
        assert batched[n].score == pytest.approx(alone.score, rel=1e-9)
        np.testing.assert_allclose(batched[n].attention, alone.attention, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"beam": 0}, "beam must be an integer >= 1"),
    ({"max_len": 0}, "max_len must be an integer >= 1"),
    ({"length_penalty": -1.0}, "length_penalty must be"),
    ({"no_repeat_ngram": -1}, "no_repeat_ngram must be an integer >= 0"),
    ({"max_ratio": -0.5}, "max_ratio must be"),
])
def test_bad_arguments_are_rejected(kwargs, match, ragged_batch):
    m = _model()
    with pytest.raises(ValueError, match=match):
        beam_search(m, ragged_batch[0], **kwargs)


@pytest.mark.parametrize("decode", [greedy_decode, beam_search], ids=lambda f: f.__name__)
def test_bad_sources_are_refused_in_the_name_of_the_function_called(decode):
    assert_refused(lambda: decode(_model(), np.array([4, 5, 6])), "src must be 2-D",
                   decode.__name__)
    assert_refused(lambda: decode(_model(), np.array([[4, 5, V_SRC]])),
                   rf"src must be token ids in \[0, {V_SRC - 1}\]", decode.__name__)


# ---------------------------------------------------------------------------------------------
# decoding that stops: the repetition guard and the step limit relative to the source

LOOP, SECOND = 5, 6  # the looping model's favourite token, and its runner-up


def _looping_model():
    """A model that ignores its input and state: logits = b_s, LOOP first, SECOND next, </s>
    third (far below: a beam of 2 never finishes), so without a guard it writes LOOP until the
    step limit."""
    m = _model("gru", "general")
    m.params["W_s"][...] = 0.0
    b = np.full(V_TGT, -10.0)
    b[[LOOP, SECOND, 2]] = [3.0, 2.0, -5.0]
    m.params["b_s"][...] = b
    return m


def _has_repeated_ngram(tokens, k):
    grams = [tuple(tokens[i:i + k]) for i in range(len(tokens) - k + 1)]
    return len(grams) != len(set(grams))


DECODERS = [greedy_decode, functools.partial(beam_search, beam=2)]


@pytest.mark.parametrize("decode", DECODERS, ids=["greedy", "beam"])
def test_the_guard_stops_a_loop_that_otherwise_runs_to_the_cap(decode, rng):
    m, src = _looping_model(), _random_sources(rng, 6, 5)
    looping = decode(m, src, max_len=30)
    assert all(not h.finished and len(h.tokens) == 30 and set(h.tokens) == {LOOP}
               for h in looping)
    for k in (1, 2, 3):
        for h in decode(m, src, max_len=30, no_repeat_ngram=k):
            assert h.finished and len(h.tokens) < 30
            assert not _has_repeated_ngram(h.tokens.tolist(), k)
    # k = 1: LOOP once, then SECOND, then </s>, the only tokens left above -10
    assert decode(m, src[:1], max_len=30, no_repeat_ngram=1)[0].tokens.tolist() == [LOOP, SECOND]


@pytest.mark.parametrize("k", [2, 3])
def test_guarded_outputs_hold_no_repeated_ngram_and_beam_one_is_greedy(k, rng):
    m = _trained_ish(("lstm", "general", False, False, False), steps=10)
    src = _random_sources(rng, 30, 6)
    greedy = greedy_decode(m, src, max_len=25, no_repeat_ngram=k)
    beam1 = beam_search(m, src, beam=1, max_len=25, length_penalty=0.0, no_repeat_ngram=k)
    beam4 = beam_search(m, src, beam=4, max_len=25, no_repeat_ngram=k)
    unguarded = greedy_decode(m, src, max_len=25)
    assert any(_has_repeated_ngram(h.tokens.tolist(), k) for h in unguarded), "a weak test"
    for g, b1, b4 in zip(greedy, beam1, beam4, strict=True):
        np.testing.assert_array_equal(g.tokens, b1.tokens)
        assert g.log_prob == pytest.approx(b1.log_prob, rel=1e-9)
        for h in (g, b4):
            assert not _has_repeated_ngram(h.tokens.tolist(), k)


def test_repeated_ngram_tokens():
    assert repeated_ngram_tokens([4, 5, 4], 2) == [5]  # "4 5" is there: 5 after 4 repeats it
    assert repeated_ngram_tokens([4, 5, 4, 6, 4], 2) == [5, 6]
    assert repeated_ngram_tokens([4, 5, 6, 4, 5], 3) == [6]
    assert repeated_ngram_tokens([4, 5], 1) == [4, 5]
    assert repeated_ngram_tokens([4, 5, 4], 0) == [] and repeated_ngram_tokens([4], 2) == []


@pytest.mark.parametrize("decode", DECODERS, ids=["greedy", "beam"])
def test_max_ratio_limits_each_row_by_its_own_source(decode):
    m = _looping_model()
    src = np.array([[4, 5, 6, 7, 8, 9], [4, 5, 0, 0, 0, 0], [4, 0, 0, 0, 0, 0]])
    plain = decode(m, src)
    assert [len(h.tokens) for h in plain] == [2 * 6 + 10] * 3  # the padded width's default
    capped = decode(m, src, max_ratio=1.5)
    assert [len(h.tokens) for h in capped] == [10, 4, 3]  # ⌈1.5·S_n⌉ + 1
    assert [len(h.tokens) for h in decode(m, src, max_len=5, max_ratio=1.5)] == [5, 4, 3]
    for h in capped:  # the log-probability of what was written: each LOOP step's own
        assert h.log_prob == pytest.approx(len(h.tokens) * plain[0].log_prob / 22, rel=1e-9)
        assert not h.finished and h.attention.shape[0] == len(h.tokens)


@pytest.mark.parametrize("name", ["greedy_decode", "beam_search"])
def test_a_substituted_decoder_is_not_bypassed_by_the_stopping_options(name, rng):
    from numpy_seq2seq.substitute import library_function, use_functions

    decode = {"greedy_decode": greedy_decode, "beam_search": beam_search}[name]
    library = library_function(name)
    calls = []

    def student(model, src, *args, **kwargs):  # a stand-in that records its calls
        calls.append(name)
        return library(model, src, *args, **kwargs)

    m, src = _looping_model(), _random_sources(rng, 3, 4)
    with use_functions({name: student}):
        assert len(decode(m, src, max_len=6)) == 3 and calls == [name]
        with pytest.raises(ValueError, match="substituted in the kernel table has neither"):
            decode(m, src, max_len=6, no_repeat_ngram=2)
    assert decode(m, src, max_len=6, no_repeat_ngram=2)[0].finished  # the library's: guarded
