"""use_functions: the library run with replacement functions. Replacements are validated, reach
every call path of the model, training and decoding, and are undone on exit (also after an
error); the library's own functions passed through the swap give the library's numbers."""

import functools
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

import numpy_seq2seq
from numpy_seq2seq import decoding
from numpy_seq2seq import model as model_module
from numpy_seq2seq.checkpoint import save_checkpoint
from numpy_seq2seq.data import Vocab, encode_pairs, make_task, split_pairs
from numpy_seq2seq.functional import attention, gru, recurrent
from numpy_seq2seq.functional.kernels import KERNELS
from numpy_seq2seq.model import Seq2Seq
from numpy_seq2seq.substitute import (
    REPLACEABLE,
    library_function,
    signature_problem,
    use_functions,
)
from numpy_seq2seq.training import train

from conftest import randomize
from sizes import V_SRC, V_TGT, E, H

LIBRARY = dict(REPLACEABLE)


def _passed_through(functions: dict) -> dict:
    """Each function wrapped so the table holds an object that is not the library's, as a
    student's would be (the library's own objects run the library's fast cell cores)."""
    def through(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return fn(*args, **kwargs)
        return wrapper
    return {name: through(fn) for name, fn in functions.items()}


def _model(cell="lstm", attention="general", **kw):
    return Seq2Seq(V_SRC, V_TGT, E, H, cell=cell, attention=attention, dtype=np.float64, **kw)


def _max_rel(a: dict, b: dict) -> float:
    return max(float(np.abs(a[k] - b[k]).max() / max(np.abs(b[k]).max(), 1e-12)) for k in b)


# ---------------------------------------------------------------------------------------------
# validation

def test_unknown_name_is_one_line_listing_the_choices():
    with pytest.raises(ValueError) as e:
        with use_functions({"lstm_step_backwards": LIBRARY["lstm_step_backward"]}):
            pass
    message = str(e.value)
    assert "\n" not in message and "'lstm_step_backwards'" in message
    assert all(name in message for name in REPLACEABLE)


@pytest.mark.parametrize("fn, words", [
    (lambda dh, c: None, "parameter 2 is 'c', expected 'cache'"),
    (lambda dh: None, "parameter 'cache' is missing"),
    (lambda dh, cache, extra: None, "extra parameter 'extra' needs a default"),
], ids=["renamed", "missing", "extra"])
def test_signature_mismatch_is_refused(fn, words):
    with pytest.raises(TypeError, match=words):
        with use_functions({"rnn_step_backward": fn}):
            pass


def test_default_of_the_library_must_be_kept():
    def greedy(model, src, max_len, length_penalty=0.0):
        return []
    assert signature_problem(greedy, LIBRARY["greedy_decode"]) == \
        "'max_len' needs a default (the library's is None)"
    assert signature_problem(lambda *args: None, LIBRARY["greedy_decode"]) is None


def test_not_a_function_is_refused():
    with pytest.raises(TypeError, match="must be a function"):
        with use_functions({"attention_backward": 3}):
            pass


# ---------------------------------------------------------------------------------------------
# the kernel table: swapped inside the block, restored after it; no module's names change

def _module_values() -> dict[tuple[str, str], int]:
    """(module, name) -> id of the value, for every global of every loaded package module."""
    return {(name, key): id(value) for name, module in list(sys.modules.items())
            if name.startswith("numpy_seq2seq") for key, value in vars(module).items()}


def test_the_table_is_swapped_and_restored_after_an_error_and_no_global_changes():
    def mine(dloss, cache):
        return library_function("cross_entropy_backward")(dloss, cache)

    def score(dscores, cache):
        return library_function("dot_score_backward")(dscores, cache)

    def greedy(model, src, max_len=None, length_penalty=0.0):
        return []

    before = _module_values()
    with pytest.raises(RuntimeError, match="inside"):
        with use_functions({"cross_entropy_backward": mine, "dot_score_backward": score,
                            "greedy_decode": greedy}):
            assert KERNELS["cross_entropy_backward"] is mine
            assert attention.SCORE_BACKWARD["dot"] is score  # the registry is a view
            assert numpy_seq2seq.greedy_decode(None, None) == []  # the public name dispatches
            assert _module_values() == before
            raise RuntimeError("inside")
    assert KERNELS == LIBRARY
    assert attention.SCORE_BACKWARD["dot"] is LIBRARY["dot_score_backward"]
    assert recurrent.current_cell("gru") is recurrent.CELLS["gru"]
    assert recurrent.CELLS["gru"].core_backward is gru.gru_core_backward


def test_twin_the_global_snapshot_sees_a_rebound_name(monkeypatch):
    """The snapshot above would catch the old way (a module global rebound)."""
    before = _module_values()
    monkeypatch.setattr(model_module, "KERNELS", dict(KERNELS))
    assert _module_values() != before


def test_a_replaced_cell_step_runs_as_the_layer_core_and_the_library_cell_after():
    def forward(x, h_prev, Wx, Wh, b):
        return LIBRARY["rnn_step_forward"](x, h_prev, Wx, Wh, b)

    with use_functions({"rnn_step_forward": forward}):
        inside = recurrent.current_cell("rnn")
        assert inside is not recurrent.CELLS["rnn"] and inside.n_states == 1
        assert recurrent.current_cell("rnn") is inside  # made once per swap
    assert recurrent.current_cell("rnn") is recurrent.CELLS["rnn"]


def test_modules_imported_inside_the_block_hold_only_the_library_functions():
    """The old way's leak (a module imported inside the block copied the replacement by ``from
    ... import``) cannot happen: run in a fresh interpreter, where these modules are not loaded
    yet, nothing in any module holds the student's function, inside the block or after it."""
    out = subprocess.run([sys.executable, "-c", LEAK_SCRIPT], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["[]", "[]", "True", "True"]


LEAK_SCRIPT = """
import sys
from numpy_seq2seq.functional.kernels import KERNELS, LIBRARY
from numpy_seq2seq.substitute import use_functions

def attention_backward(dh_tilde, cache):
    raise RuntimeError("the student's")

def greedy_decode(model, src, max_len=None, length_penalty=0.0):
    raise RuntimeError("the student's")

mine = [attention_backward, greedy_decode]

def holders():
    return [f"{name}.{key}" for name, module in list(sys.modules.items())
            if name.startswith("numpy_seq2seq")
            for key, value in vars(module).items() if value is not KERNELS
            for v in (value.values() if isinstance(value, dict) else [value])
            if any(v is f for f in mine)]

late = ["numpy_seq2seq.analysis", "numpy_seq2seq.cli", "numpy_seq2seq.functional.self_attention"]
assert not set(late) & set(sys.modules), "these must be imported inside the block"
with use_functions({f.__name__: f for f in mine}):
    import numpy_seq2seq.analysis, numpy_seq2seq.cli  # self_attention comes with analysis
    inside, swapped = holders(), all(KERNELS[f.__name__] is f for f in mine)
print(inside, holders(), swapped, KERNELS == LIBRARY)
"""


def test_the_cli_imported_inside_the_block_uses_the_replacement(tmp_path, monkeypatch):
    """Through the command line, loaded inside the block (as the payoff's training run may):
    ``translate`` decodes with the replacement; after the block, with the library's."""
    calls = Counter()

    def greedy_decode(model, src, max_len=None, length_penalty=0.0):
        calls["greedy_decode"] += 1
        return LIBRARY["greedy_decode"](model, src, max_len, length_penalty)

    def beam_search(model, src, beam=5, max_len=None, length_penalty=1.0):
        calls["beam_search"] += 1
        return LIBRARY["beam_search"](model, src, beam, max_len, length_penalty)

    vocab = Vocab.from_texts(["abcdef"])
    save_checkpoint(tmp_path / "m.npz", Seq2Seq(len(vocab), len(vocab), 8, 12, seed=0), vocab,
                    vocab)
    monkeypatch.delitem(sys.modules, "numpy_seq2seq.cli", raising=False)  # a fresh import
    monkeypatch.delattr(numpy_seq2seq, "cli", raising=False)
    argv = ["translate", "--checkpoint", str(tmp_path / "m.npz"), "--beam"]
    with use_functions({"greedy_decode": greedy_decode, "beam_search": beam_search}):
        from numpy_seq2seq import cli

        for beam in ("1", "3"):
            assert cli.main([*argv, beam, "abc"]) == 0
    assert calls == {"greedy_decode": 1, "beam_search": 1}
    assert cli.main([*argv, "3", "abc"]) == 0
    assert calls == {"greedy_decode": 1, "beam_search": 1}  # the library's ran, not mine
    assert cli.greedy_decode is decoding.greedy_decode


def test_nested_blocks_restore_in_turn():
    outer = functools.partial(LIBRARY["attention_backward"])
    inner = functools.partial(LIBRARY["attention_backward"])
    with use_functions({"attention_backward": outer}):
        with use_functions({"attention_backward": inner}):
            assert KERNELS["attention_backward"] is inner
        assert KERNELS["attention_backward"] is outer
    assert KERNELS["attention_backward"] is LIBRARY["attention_backward"]


# ---------------------------------------------------------------------------------------------
# the library's own functions through the swap give the library's numbers

@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("score", [None, "dot", "general", "concat"])
def test_library_functions_through_the_swap_give_the_same_gradients(cell, score, ragged_batch,
                                                                     rng):
    feed = score is not None and cell == "gru"  # the GRU with input feeding: dhw's n block
    m = _model(cell, score, input_feeding=feed, bidirectional=cell == "lstm")
    randomize(m.params, rng)
    loss, grads = m.loss_and_grads(*ragged_batch)
    with use_functions(_passed_through(LIBRARY)):
        loss_swapped, grads_swapped = m.loss_and_grads(*ragged_batch)
    assert abs(loss - loss_swapped) <= 1e-6 * abs(loss)
    assert _max_rel(grads_swapped, grads) <= 1e-6


def test_training_through_the_swap_gives_the_same_numbers():
    train_pairs, valid_pairs = split_pairs(make_task("dates", 300, seed=3), 0.2, seed=3)
    src_vocab = Vocab.from_texts([s for s, _ in train_pairs])
    tgt_vocab = Vocab.from_texts([t for _, t in train_pairs])
    data = (encode_pairs(train_pairs, src_vocab, tgt_vocab),
            encode_pairs(valid_pairs, src_vocab, tgt_vocab))

    def run(functions):
        m = Seq2Seq(len(src_vocab), len(tgt_vocab), 16, 24, seed=1)  # float32, as training is
        with use_functions(functions):
            h = train(m, *data, epochs=1, batch_size=40, lr=1e-2, progress=False)
        return h, m.params

    (h0, p0), (h1, p1) = run({}), run(_passed_through(LIBRARY))
    assert np.allclose(h1.loss, h0.loss, rtol=1e-6, atol=0)
    assert h1.valid_exact_match == h0.valid_exact_match
    assert _max_rel(p1, p0) <= 1e-6


def test_a_gru_step_with_its_own_cache_works_through_the_swap(ragged_batch, rng):
    """A step pair whose cache is not a GRUCache: the adapter recomputes the reset gate."""
    def forward(x, h_prev, Wx, Wh, b, bhn):
        h, cache = LIBRARY["gru_step_forward"](x, h_prev, Wx, Wh, b, bhn)
        return h, ("mine", cache)

    def backward(dh, cache):
        return LIBRARY["gru_step_backward"](dh, cache[1])

    m = _model("gru", "dot", input_feeding=True)
    randomize(m.params, rng)
    _, grads = m.loss_and_grads(*ragged_batch)
    with use_functions({"gru_step_forward": forward, "gru_step_backward": backward}):
        _, swapped = m.loss_and_grads(*ragged_batch)
    assert _max_rel(swapped, grads) <= 1e-6


def test_twin_a_wrong_replacement_changes_the_numbers(ragged_batch, rng):
    """The swap is live: a GRU backward that halves dh_prev changes the gradients."""
    def halved(dh, cache):
        out = list(LIBRARY["gru_step_backward"](dh, cache))
        out[1] = 0.5 * out[1]
        return tuple(out)

    m = _model("gru")
    randomize(m.params, rng)
    _, grads = m.loss_and_grads(*ragged_batch)
    with use_functions({"gru_step_backward": halved}):
        _, swapped = m.loss_and_grads(*ragged_batch)
    assert _max_rel(swapped, grads) > 1e-3


def test_every_replaceable_function_is_reached(ragged_batch):
    """Each replacement is called by the model, the loss, or the decoders: no private copies."""
    calls = Counter()

    def counted(name):
        @functools.wraps(LIBRARY[name])
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return LIBRARY[name](*args, **kwargs)
        return wrapper

    src, tgt = ragged_batch
    with use_functions({name: counted(name) for name in LIBRARY}):
        for cell, score in [("rnn", "dot"), ("gru", "general"), ("lstm", "concat")]:
            m = _model(cell, score)
            m.loss_and_grads(src, tgt)
            decoding.greedy_decode(m, src, max_len=3)
            decoding.beam_search(m, src, beam=2, max_len=3)
    assert set(calls) == set(LIBRARY), sorted(set(LIBRARY) - set(calls))
