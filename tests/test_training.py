"""The trainer: reproducible numbers, what it records, metric definitions, how it stops on a
non-finite loss without touching the last checkpoint, best.npz, and resuming: a run stopped
after an epoch or by a signal in the middle of one, then resumed, equals a run never stopped."""

import math
import signal
import sys

import numpy as np
import pytest
import sacrebleu

from numpy_seq2seq import training
from numpy_seq2seq.checkpoint import load_checkpoint, read_extra, save_checkpoint
from numpy_seq2seq.config import TrainConfig
from numpy_seq2seq.data import UNK_ID, Tokenizer, Vocab, encode_pairs, make_task, split_pairs
from numpy_seq2seq.decoding import Hypothesis
from numpy_seq2seq.model import Seq2Seq
from numpy_seq2seq.schedule import make_schedule
from numpy_seq2seq.training import TrainingDiverged, TrainingInterrupted, evaluate, train


@pytest.fixture(scope="module")
def task():
    """A tiny reverse task: vocabularies and (train, valid) id sequences."""
    pairs = make_task("reverse", 160, seed=3, min_len=2, max_len=5)
    train_pairs, valid_pairs = split_pairs(pairs, 0.2, seed=3)
    src_vocab = Vocab.from_texts([s for s, _ in pairs])
    tgt_vocab = Vocab.from_texts([t for _, t in pairs])
    return (src_vocab, tgt_vocab, encode_pairs(train_pairs, src_vocab, tgt_vocab),
            encode_pairs(valid_pairs, src_vocab, tgt_vocab))


def _model(task, seed=0, **kwargs):
    src_vocab, tgt_vocab = task[:2]
    return Seq2Seq(len(src_vocab), len(tgt_vocab), embed_dim=6, hidden_dim=10, seed=seed,
                   **kwargs)


def _run(task, model=None, **kwargs):
    args = {"epochs": 2, "batch_size": 16, "lr": 0.02, "progress": False}
    args.update(kwargs)
    model = _model(task) if model is None else model
    return model, train(model, task[2], task[3], **args)


# ---------------------------------------------------------------------------------------------
def test_same_seed_gives_identical_numbers(task):
    _, a = _run(task, seed=5)
    _, b = _run(task, seed=5)
    _, c = _run(task, seed=6)
    assert a.loss == b.loss and a.grad_norm == b.grad_norm
    assert a.valid_loss == b.valid_loss and a.valid_exact_match == b.valid_exact_match
    assert a.param_grad_norms == b.param_grad_norms
    assert a.loss != c.loss  # the seed does change the batch order


def test_history_records_every_step(task):
    model, h = _run(task, clip=0.01)
    n_steps = 2 * math.ceil(len(task[2][0]) / 16)
    assert h.step == list(range(1, n_steps + 1))
    assert len(h.loss) == len(h.grad_norm) == len(h.lr) == n_steps
    assert set(h.param_grad_norms) == set(model.params)
    assert all(len(v) == n_steps for v in h.param_grad_norms.values())
    # the global norm is recorded before clipping: far above the threshold, and the
    # root-sum-square of the per-parameter norms of the same step
    assert min(h.grad_norm) > 0.01 and h.max_norm == 0.01
    for i in range(n_steps):
        rss = math.sqrt(sum(v[i] ** 2 for v in h.param_grad_norms.values()))
        assert h.grad_norm[i] == pytest.approx(rss, rel=1e-6)
    assert h.epoch_end_steps == [n_steps // 2, n_steps]
    for key in ("valid_loss", "valid_exact_match", "valid_token_accuracy", "train_loss",
                "epoch_time", "epoch_end_time"):
        assert len(getattr(h, key)) == 2
    assert all(t > 0 for t in h.epoch_end_time)  # held-out scoring is timed apart from steps
    assert h.valid_bleu == []  # char-level task: no BLEU
    d = h.to_dict()
    assert d["valid_bleu"] is None and d["step"] == h.step


@pytest.mark.parametrize("kind, scored", [("char", False), ("word", True), ("bpe", True)])
def test_bleu_by_default_unless_the_target_vocabulary_is_char_level(task, kind, scored):
    # the same ids, read through a target vocabulary of another tokenizer kind
    tgt_vocab = Vocab(task[1].tokens[4:], Tokenizer(kind))
    _, h = _run(task, epochs=1, tgt_vocab=tgt_vocab)
    assert (len(h.valid_bleu), len(h.valid_chrf)) == ((1, 1) if scored else (0, 0))
    assert h.epoch_record(-1)["chrf"] == (h.valid_chrf[0] if scored else None)


def test_training_learns(task):
    _, h = _run(task, epochs=6, lr=0.03)
    assert h.train_loss[-1] < 0.85 * h.train_loss[0]
    assert h.valid_loss[-1] < h.valid_loss[0]


def test_epoch_callback_and_checkpoint(task, tmp_path):
    seen = []
    model, h = _run(task, out_dir=tmp_path, src_vocab=task[0], tgt_vocab=task[1],
                    on_epoch_end=lambda e, m, hist: seen.append((e, m)),
                    checkpoint_extra={"note": "hi"})
    assert [e for e, _ in seen] == [1, 2]
    assert seen[-1][1] == h.epoch_record(-1) == h.epoch_records()[1]
    assert {"epoch", "step", "train_loss", "lr", "time", "end_time", "exact_match",
            "token_accuracy", "valid_loss", "bleu", "char_bleu", "chrf"} == set(seen[-1][1])
    ckpt = load_checkpoint(tmp_path / "checkpoint.npz")
    assert ckpt.extra["epoch"] == 2 and ckpt.extra["step"] == h.step[-1]
    assert ckpt.extra["note"] == "hi" and ckpt.tgt_vocab == task[1]
    _assert_same_record(ckpt.extra["metrics"], h.epoch_record(-1))
    for k, v in model.params.items():
        np.testing.assert_array_equal(ckpt.model.params[k], v)


def _assert_same_record(stored, recorded):
    """A checkpoint's epoch record is the history's, but for the end time: the file cannot hold
    the time it took to write itself, so its end time is the part before (scoring)."""
    assert {**stored, "end_time": None} == {**recorded, "end_time": None}
    assert 0 < stored["end_time"] <= recorded["end_time"]


def test_best_checkpoint_holds_the_best_epoch(task, tmp_path):
    snapshots = {}
    model = _model(task)
    h = train(model, task[2], task[3], epochs=4, batch_size=16, lr=0.05, progress=False,
              out_dir=tmp_path, on_epoch_end=lambda e, m, hist: snapshots.update(
                  {e: {k: v.copy() for k, v in model.params.items()}}))
    best = h.best_epoch()
    assert best == max(range(1, 5), key=lambda e: (h.valid_exact_match[e - 1],
                                                   -h.valid_loss[e - 1], -e))
    ckpt = load_checkpoint(tmp_path / "best.npz")
    assert ckpt.extra["epoch"] == best
    _assert_same_record(ckpt.extra["metrics"], h.epoch_record(best - 1))
    assert "training" not in ckpt.extra  # best.npz is for using, checkpoint.npz for resuming
    for k, v in snapshots[best].items():
        np.testing.assert_array_equal(ckpt.model.params[k], v)
    assert read_extra(tmp_path / "checkpoint.npz")["epoch"] == 4


def test_config_and_keyword_overrides(task):
    _, a = _run(task, seed=5)
    model = _model(task)
    b = train(model, task[2], task[3], TrainConfig(epochs=2, batch_size=16, lr=0.02, seed=9),
              seed=5, progress=False)
    assert a.loss == b.loss
    with pytest.raises(TypeError, match=r"unknown keyword\(s\) \['learning_rate'\]; the "
                       "TrainConfig fields are"):
        train(model, task[2], learning_rate=0.1)


@pytest.mark.parametrize("terminal, progress", [(True, True), (True, False), (False, True)])
def test_progress_bar_only_where_it_redraws(terminal, progress, task, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)  # pytest's stderr is no tty
    _run(task, epochs=1, progress=progress)
    assert ("epoch 1/1" in capsys.readouterr().err) == (terminal and progress)


def test_nan_stops_training_and_keeps_the_checkpoint(task, tmp_path):
    model = _model(task)
    steps_per_epoch = math.ceil(len(task[2][0]) / 16)
    saved = {}

    def poison(epoch, metrics, history):
        saved["bytes"] = (tmp_path / "checkpoint.npz").read_bytes()
        model.params["W_s"][0, 0] = np.nan  # the next batch's loss is NaN

    with pytest.raises(TrainingDiverged, match=f"step {steps_per_epoch + 1} ") as info:
        train(model, task[2], task[3], epochs=3, batch_size=16, lr=0.02, progress=False,
              out_dir=tmp_path, src_vocab=task[0], tgt_vocab=task[1], on_epoch_end=poison)
    assert info.value.step == steps_per_epoch + 1
    assert len(info.value.history.loss) == steps_per_epoch  # the bad step is not recorded
    assert info.value.checkpoint == tmp_path / "checkpoint.npz"
    assert (tmp_path / "checkpoint.npz").read_bytes() == saved["bytes"]
    restored = load_checkpoint(tmp_path / "checkpoint.npz").model
    assert all(np.isfinite(v).all() for v in restored.params.values())
    assert np.isnan(model.params["W_s"][0, 0])  # the update was not applied on top of it
    assert np.isfinite(np.delete(model.params["W_s"].ravel(), 0)).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0}, "epochs must be an integer >= 1, got 0"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ({"lr_decay": 1.5}, r"lr_decay must be a number in \(0, 1\]"),
    ({"clip": float("nan")}, "clip must be a number >= 0, got nan"),
    ({"optimizer": "rmsprop"}, "unknown optimizer"),
])
def test_bad_arguments(task, kwargs, match):
    args = {"epochs": 1, "batch_size": 8, "lr": 0.01, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        train(_model(task), task[2], task[3], **args)


# ---------------------------------------------------------------------------------------------
# dropout: its own generator, seeded by the run's seed, drawn from at training steps only

def _spied_run(task, monkeypatch, dropout):
    """A run whose generators and model calls are watched: (history, the run's generators,
    the batches and ``rng`` of every training step, the ``rng`` of every held-out loss)."""
    made, steps, held_out = [], [], []
    real_generators = training._generators
    monkeypatch.setattr(training, "_generators",
                        lambda seed: made.append(real_generators(seed)) or made[-1])
    model = _model(task, dropout=dropout)
    real_step, real_loss = model.loss_and_grads, model.loss

    def step(src, tgt, rng=None):
        steps.append((src, rng))
        return real_step(src, tgt, rng=rng)

    def loss(src, tgt, rng=None):
        held_out.append(rng)
        return real_loss(src, tgt, rng=rng)

    model.loss_and_grads, model.loss = step, loss
    _, history = _run(task, model, seed=5)
    return history, made[0], steps, held_out


def test_dropout_masks_come_from_the_runs_own_generator_in_training_only(task, monkeypatch):
    history, rngs, steps, held_out = _spied_run(task, monkeypatch, DROPOUT)
    assert len(steps) == len(history.loss) and all(rng is rngs["dropout"] for _, rng in steps)
    assert held_out and all(rng is None for rng in held_out)  # held-out scores: no dropout
    fresh = np.random.default_rng([5, 1]).bit_generator.state
    assert rngs["dropout"].bit_generator.state != fresh  # masks were drawn
    # a second stream: the batch order is that of the same run without dropout
    _, plain_rngs, plain_steps, _ = _spied_run(task, monkeypatch, 0.0)
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(steps, plain_steps, strict=True))
    assert plain_rngs["dropout"].bit_generator.state == fresh  # dropout 0 draws nothing


def test_a_dropout_run_is_deterministic_given_the_seed(task):
    (ma, a), (mb, b) = (_run(task, _model(task, dropout=DROPOUT), seed=5) for _ in range(2))
    assert a.loss == b.loss and a.valid_loss == b.valid_loss
    assert all(np.array_equal(ma.params[k], mb.params[k]) for k in ma.params)
    _, plain = _run(task, seed=5)  # same initialisation and first batch, no masks
    assert a.loss[0] != plain.loss[0]


# ---------------------------------------------------------------------------------------------
# resuming

RUN = {"batch_size": 16, "lr": 0.03, "seed": 4, "progress": False}
DROPOUT = 0.3


def _assert_same_run(model_a, history_a, model_b, history_b):
    """Parameters equal to 1e-6 (float32) and every recorded number equal."""
    for k, v in model_a.params.items():
        np.testing.assert_allclose(model_b.params[k], v, rtol=0, atol=1e-6, err_msg=k)
    for key in ("step", "loss", "grad_norm", "param_grad_norms", "lr", "epoch_end_steps",
                "train_loss", "valid_loss", "valid_exact_match", "valid_token_accuracy",
                "epoch_lr"):
        assert getattr(history_b, key) == getattr(history_a, key), key


@pytest.fixture(scope="module")
def uninterrupted(task, tmp_path_factory):
    """Three epochs without a stop, per optimizer, and with adam and dropout."""
    runs = {}
    for name, optimizer, dropout in (("adam", "adam", 0.0), ("momentum", "momentum", 0.0),
                                     ("dropout", "adam", DROPOUT)):
        model = _model(task, dropout=dropout)
        out = tmp_path_factory.mktemp(name)
        runs[name] = model, train(model, task[2], task[3], epochs=3, out_dir=out,
                                  optimizer=optimizer, **RUN)
    return runs


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_a_finished_run_extended_equals_a_longer_run_when_the_schedule_plans_nothing(
        optimizer, task, tmp_path):
    """plateau (and constant) rates do not depend on the planned length: one epoch, then
    resumed to three, is the three-epoch run."""
    straight = _model(task)
    history_straight = train(straight, task[2], task[3], epochs=3, optimizer=optimizer,
                             schedule="plateau", **RUN)
    train(_model(task), task[2], task[3], epochs=1, out_dir=tmp_path, optimizer=optimizer,
          schedule="plateau", **RUN)
    model = _model(task, seed=7)  # as in a new process: resuming overwrites its initialisation
    history = train(model, task[2], task[3], resume=tmp_path, epochs=3, progress=False)
    _assert_same_run(straight, history_straight, model, history)
    assert read_extra(tmp_path / "checkpoint.npz")["training"]["config"]["epochs"] == 3


def test_extending_a_cosine_run_re_plans_its_decay(task, tmp_path):
    """A cosine run planned for one epoch ends at the floor; resumed to three epochs, the rate
    goes back up to what a three-epoch plan has at that step and decays to the floor again."""
    per_epoch = math.ceil(len(task[2][0]) / RUN["batch_size"])
    first = train(_model(task), task[2], task[3], epochs=1, out_dir=tmp_path, **RUN)
    assert first.lr[-1] == pytest.approx(TrainConfig.min_lr)
    history = train(_model(task), task[2], task[3], resume=tmp_path, epochs=3, progress=False)
    planned = make_schedule("cosine", RUN["lr"], 3 * per_epoch, TrainConfig.min_lr,
                            TrainConfig.warmup)
    assert history.lr[:per_epoch] == first.lr  # the first epoch as it was
    assert history.lr[per_epoch:] == pytest.approx(
        [planned.lr(t) for t in range(per_epoch + 1, 3 * per_epoch + 1)])
    assert history.lr[-1] == pytest.approx(TrainConfig.min_lr)


@pytest.mark.parametrize("signum, into_epoch_2, dropout", [
    (signal.SIGINT, 3, 0.0), (signal.SIGTERM, 5, 0.0), (signal.SIGINT, 0, 0.0),
    (signal.SIGINT, 3, DROPOUT), (signal.SIGTERM, 0, DROPOUT),
], ids=["SIGINT-mid-epoch", "SIGTERM-mid-epoch", "SIGINT-epoch-end", "SIGINT-mid-epoch-dropout",
        "SIGTERM-epoch-end-dropout"])
def test_a_signal_stops_at_a_step_boundary_and_resume_continues(signum, into_epoch_2, dropout,
                                                                 task, uninterrupted, tmp_path):
    per_epoch = math.ceil(len(task[2][0]) / RUN["batch_size"])
    at_step = per_epoch + into_epoch_2
    model = _model(task, dropout=dropout)
    steps = []
    real = model.loss_and_grads

    def signalled(src, tgt, rng=None):  # the signal arrives while a step is computed
        steps.append(1)
        if len(steps) == at_step:
            signal.raise_signal(signum)
        return real(src, tgt, rng=rng)

    model.loss_and_grads = signalled
    previous = signal.getsignal(signum)
    with pytest.raises(TrainingInterrupted) as info:
        train(model, task[2], task[3], epochs=3, out_dir=tmp_path, **RUN)
    assert signal.getsignal(signum) is previous  # the handlers are put back
    stop = info.value
    assert isinstance(stop, KeyboardInterrupt) and stop.signal == signal.Signals(signum).name
    assert len(stop.history.loss) == at_step  # the step under way was finished, no more
    assert stop.checkpoint == tmp_path / "checkpoint.npz"
    state = read_extra(stop.checkpoint)
    assert state["step"] == at_step and state["epoch"] == 1
    resumed = _model(task, dropout=dropout)
    history = train(resumed, task[2], task[3], resume=tmp_path / "checkpoint.npz")
    _assert_same_run(*uninterrupted["dropout" if dropout else "adam"], resumed, history)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_the_last_epoch_ends_is_not_swallowed(signum, task, tmp_path):
    def ask_to_stop(epoch, record, history):  # e.g. a cluster stopping the job just then
        if epoch == 2:
            signal.raise_signal(signum)

    with pytest.raises(TrainingInterrupted) as info:
        _run(task, epochs=2, out_dir=tmp_path, on_epoch_end=ask_to_stop)
    assert info.value.signal == signal.Signals(signum).name
    assert info.value.history.epochs_done == 2 and "the end of epoch 2" in str(info.value)
    assert read_extra(tmp_path / "checkpoint.npz")["epoch"] == 2


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_ignored_signal_stays_ignored(signum, task, uninterrupted):
    """A job started with ``&`` by a script ignores SIGINT: training must not start to obey
    it (the run ends as one never signalled), and leaves it ignored."""
    model = _model(task)
    real = model.loss_and_grads

    def signalled(src, tgt, rng=None):
        signal.raise_signal(signum)
        return real(src, tgt, rng=rng)

    model.loss_and_grads = signalled
    previous = signal.signal(signum, signal.SIG_IGN)
    try:
        history = train(model, task[2], task[3], epochs=3, **RUN)
        assert signal.getsignal(signum) is signal.SIG_IGN
    finally:
        signal.signal(signum, previous)
    _assert_same_run(*uninterrupted["adam"], model, history)


def test_a_second_signal_stops_at_once(task):
    model = _model(task)
    real = model.loss_and_grads

    def twice(src, tgt, rng=None):
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)  # the impatient user: Python's own handler again
        return real(src, tgt, rng=rng)

    model.loss_and_grads = twice
    with pytest.raises(KeyboardInterrupt) as info:
        train(model, task[2], task[3], epochs=1, **RUN)
    assert not isinstance(info.value, TrainingInterrupted)


def test_out_dir_with_a_run_is_refused_and_kept(task, tmp_path):
    _run(task, epochs=1, out_dir=tmp_path)
    before = (tmp_path / "checkpoint.npz").read_bytes()
    with pytest.raises(FileExistsError, match="already holds a run"):
        _run(task, epochs=1, out_dir=tmp_path)
    assert (tmp_path / "checkpoint.npz").read_bytes() == before


def test_what_cannot_be_resumed_is_named(task, tmp_path):
    _run(task, epochs=1, out_dir=tmp_path / "run")
    with pytest.raises(ValueError, match=r"has done 1 of its 1 epochs; ask for more"):
        train(_model(task), task[2], task[3], resume=tmp_path / "run")
    with pytest.raises(ValueError, match=r"model differs from the run .*hidden_dim=12 \(run: 10\)"):
        train(Seq2Seq(len(task[0]), len(task[1]), 6, 12), task[2], resume=tmp_path / "run",
              epochs=2)
    with pytest.raises(ValueError, match="only epochs, threads may be given with resume, not "
                       "lr, seed"):
        train(_model(task), task[2], resume=tmp_path / "run", epochs=2, lr=0.1, seed=3)
    with pytest.raises(ValueError, match="the training pairs differ"):
        train(_model(task), (task[2][0][1:], task[2][1][1:]), resume=tmp_path / "run", epochs=2)
    save_checkpoint(tmp_path / "plain.npz", _model(task))
    with pytest.raises(ValueError, match="holds no training state to resume"):
        train(_model(task), task[2], resume=tmp_path / "plain.npz", epochs=2)


# ---------------------------------------------------------------------------------------------
def _fake_decoder(outputs):
    """A stand-in for greedy_decode returning the given token lists, batch by batch."""
    queue = [np.array(o, dtype=np.int64) for o in outputs]

    def decode(model, src, max_len=None):
        return [Hypothesis(queue.pop(0), 0.0, 0.0, None, True) for _ in range(len(src))]

    return decode


def test_evaluate_metric_definitions(task, monkeypatch):
    src = [np.array([4, 5]), np.array([5, 4, 6]), np.array([6])]
    tgt = [np.array([1, 4, 5, 6, 2]), np.array([1, 4, 5, 2]), np.array([1, 6, 6, 6, 6, 2])]
    outputs = [[4, 5, 6],  # exact
               [4, 7, 5],  # 1 of 2 positions right, and too long
               [6, 6]]  # 2 of 4 positions right, too short
    monkeypatch.setattr(training, "greedy_decode", _fake_decoder(outputs))
    model = _model(task)
    res = evaluate(model, src, tgt, batch_size=2)
    assert res["exact_match"] == pytest.approx(1 / 3)
    assert res["token_accuracy"] == pytest.approx((3 + 1 + 2) / (3 + 2 + 4))
    n_labels = 4 + 3 + 5
    expected_loss = sum(model.loss(s[None], t[None]) * (len(t) - 1)
                        for s, t in zip(src, tgt, strict=True)) / n_labels
    assert res["loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert res["bleu"] is None and res["n"] == 3


@pytest.mark.parametrize("output, exact", [([4, 5], 1.0),  # the reference itself
                                             ([4, 5, 6], 0.0),  # it, and one token more
                                             ([4], 0.0)])  # its first token only
def test_evaluate_exact_match_needs_the_reference_length(task, monkeypatch, output, exact):
    monkeypatch.setattr(training, "greedy_decode", _fake_decoder([output]))
    res = evaluate(_model(task), [np.array([4, 5])], [np.array([1, 4, 5, 2])])
    assert res["exact_match"] == exact
    assert res["token_accuracy"] == pytest.approx(min(len(output), 2) / 2)


def test_evaluate_bleu_is_sacrebleu(task, monkeypatch):
    vocab = Vocab.from_texts(["the cat sat on the mat", "a dog ran"], tokenizer="word")
    refs = ["the cat sat on the mat", "a dog ran"]
    hyps = ["the cat sat on a mat", "a dog ran"]
    tgt = [vocab.encode(r, add_bos=True, add_eos=True) for r in refs]
    monkeypatch.setattr(training, "greedy_decode",
                        _fake_decoder([vocab.encode(h) for h in hyps]))
    model = Seq2Seq(len(task[0]), len(vocab), 6, 10)
    res = evaluate(model, [np.array([4, 5]), np.array([6])], tgt, tgt_vocab=vocab, bleu=True)
    assert res["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert res["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert 0 < res["bleu"] < res["chrf"] < 100


def test_evaluate_never_credits_unknown_reference_tokens(task, monkeypatch):
    vocab = Vocab.from_texts(["the cat sat"], tokenizer="word")
    refs = ["the cat sat", "the dog sat"]  # "dog" is unknown: <unk> in the reference ids
    tgt = [vocab.encode(r, add_bos=True, add_eos=True) for r in refs]
    assert UNK_ID in tgt[1]
    outputs = [vocab.encode("the cat sat"), vocab.encode(["the", "<unk>", "sat"])]
    monkeypatch.setattr(training, "greedy_decode", _fake_decoder(outputs))
    model = Seq2Seq(len(task[0]), len(vocab), 6, 10)
    res = evaluate(model, [np.array([4]), np.array([5])], tgt, tgt_vocab=vocab, bleu=True,
                   references=refs)
    assert res["exact_match"] == 0.5  # the <unk> output is not an exact match
    assert res["token_accuracy"] == pytest.approx(5 / 6)
    # scored against the real reference text, not "the <unk> sat"
    hyp_text = ["the cat sat", "the <unk> sat"]
    assert res["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyp_text, [refs]).score)


def test_evaluate_rejects_mismatched_input(task):
    with pytest.raises(ValueError, match="same length"):
        evaluate(_model(task), task[3][0], task[3][1][:-1])
    with pytest.raises(ValueError, match="needs tgt_vocab"):
        evaluate(_model(task), *task[3], bleu=True)


# ---------------------------------------------------------------------------------------------
# selection and early stopping

@pytest.mark.parametrize("select", ["exact", "loss"])
def test_best_npz_holds_the_epoch_the_selection_metric_picks_and_says_so(task, tmp_path, select):
    _, h = _run(task, epochs=4, out_dir=tmp_path, select=select)
    best = h.best_epoch(select)
    extra = read_extra(tmp_path / "best.npz")
    assert h.select == select and extra["epoch"] == best
    value = h.valid_exact_match[best - 1] if select == "exact" else h.valid_loss[best - 1]
    assert extra["selected_by"] == {"metric": select, "value": pytest.approx(value)}


def test_early_stopping_ends_the_run_after_patience_epochs_without_a_better_score(task):
    """A learning rate so small that nothing improves after the first epoch: with patience 2
    the run stops after epoch 3 of 10, and says so in its history."""
    _, h = _run(task, epochs=10, lr=1e-9, schedule="constant", select="exact", patience=2)
    assert h.best_epoch("exact") == 1
    assert h.epochs_done == 3 and h.stopped_early == 3
    _, full = _run(task, epochs=4, lr=1e-9, schedule="constant", select="exact")
    assert full.stopped_early is None and full.epochs_done == 4  # no patience, no stop


def test_select_chrf_needs_the_scores_it_selects_by(task):
    with pytest.raises(ValueError, match=r"select='chrf' needs BLEU and chrF after each epoch"):
        _run(task, select="chrf")  # no tgt_vocab: nothing to detokenize for chrF


def test_word_targets_select_by_chrf_and_char_targets_by_exact_match(task):
    word = Vocab.from_texts(["a b"], tokenizer=Tokenizer("word"))
    assert training.selection_metric(TrainConfig(), word) == "chrf"
    assert training.selection_metric(TrainConfig(), task[1]) == "exact"  # char-level
    assert training.selection_metric(TrainConfig(select="loss"), word) == "loss"


def test_per_epoch_scores_use_the_reference_texts_and_equal_evaluate(task):
    """With valid_references, the per-epoch BLEU and chrF are evaluate's on the same texts
    (without them, references are rebuilt from ids, where unknown tokens read <unk>)."""
    src_vocab, tgt_vocab, train_ids, valid_ids = task
    refs = [tgt_vocab.decode_text(np.asarray(t)[1:-1]) + "!" for t in valid_ids[1]]
    model, h = _run(task, epochs=1, tgt_vocab=tgt_vocab, bleu=True, valid_references=refs)
    res = evaluate(model, *valid_ids, tgt_vocab=tgt_vocab, bleu=True, references=refs)
    assert h.valid_chrf == [res["chrf"]] and h.valid_bleu == [res["char_bleu"]]
    assert h.bleu_name == "char_bleu" and h.epoch_record(-1)["bleu"] is None


def test_eval_every_scores_every_kth_epoch_and_the_last(task, tmp_path):
    """epochs=5, eval_every=2: scored after epochs 2, 4 and 5 (the last); the unscored epochs'
    records say None; best.npz is one of the scored epochs; the scores equal a run that scored
    every epoch (scoring draws no random numbers)."""
    _, every = _run(task, epochs=5, schedule="constant")
    _, some = _run(task, epochs=5, schedule="constant", eval_every=2, out_dir=tmp_path)
    assert some.valid_epochs == [2, 4, 5] and every.valid_epochs == [1, 2, 3, 4, 5]
    assert some.valid_loss == [every.valid_loss[e - 1] for e in (2, 4, 5)]
    assert some.loss == every.loss  # training itself is unchanged
    assert some.epoch_record(0)["valid_loss"] is None
    assert some.epoch_record(2)["exact_match"] is None
    assert some.epoch_record(3)["valid_loss"] == every.valid_loss[3]
    best = some.best_epoch("loss")
    assert best in (2, 4, 5) and some.score_at("loss", best) == min(some.valid_loss)
    assert read_extra(tmp_path / "best.npz")["epoch"] == best
    with pytest.raises(ValueError, match=r"epoch 3 has no held-out scores; scored epochs: "
                                         r"\[2, 4, 5\]"):
        some.score_at("loss", 3)


def test_eval_every_is_stored_and_resumed(task, tmp_path):
    """A run with eval_every=2 stopped after 3 epochs and resumed to 5 holds the same scores
    as one that ran straight (the History round-trips valid_epochs)."""
    _, straight = _run(task, epochs=5, schedule="constant", eval_every=2)
    _run(task, epochs=3, schedule="constant", eval_every=2, out_dir=tmp_path)
    resumed = train(_model(task), task[2], task[3], resume=tmp_path, epochs=5, progress=False)
    # the 3-epoch run scored its last epoch (3) too: the resumed run keeps that record
    assert resumed.valid_epochs == [2, 3, 4, 5]
    assert [resumed.score_at("loss", e) for e in (2, 4, 5)] == straight.valid_loss


def test_eval_max_scores_pairs_spread_over_the_held_out_list(task):
    """eval_max=5 of 32 held-out pairs: the per-epoch loss is evaluate's on the 5 pairs at
    evenly spaced positions (first and last included), not on all of them."""
    src, tgt = task[3]
    model, h = _run(task, epochs=1, eval_max=5)
    keep = np.unique(np.linspace(0, len(src) - 1, 5).round().astype(int))
    assert len(keep) == 5 and keep[0] == 0 and keep[-1] == len(src) - 1
    sub = evaluate(model, [src[i] for i in keep], [tgt[i] for i in keep])
    whole = evaluate(model, src, tgt)
    assert h.valid_loss[-1] == pytest.approx(sub["loss"], rel=1e-6)
    assert h.valid_loss[-1] != pytest.approx(whole["loss"], rel=1e-6)


@pytest.mark.parametrize("field, value, match", [
    ("eval_every", 0, r"eval_every must be an integer >= 1, got 0"),
    ("eval_max", -3, r"eval_max must be an integer >= 1, got -3"),
])
def test_eval_options_are_checked(field, value, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{field: value})
