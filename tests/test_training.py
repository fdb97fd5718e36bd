"""The trainer: reproducible numbers, what it records, metric definitions, and how it stops on
a non-finite loss without touching the last checkpoint."""

import math

import numpy as np
import pytest
import sacrebleu

from numpy_seq2seq import training
from numpy_seq2seq.checkpoint import load_checkpoint
from numpy_seq2seq.data import UNK_ID, Vocab, encode_pairs, make_task, split_pairs
from numpy_seq2seq.decoding import Hypothesis
from numpy_seq2seq.model import Seq2Seq
from numpy_seq2seq.training import TrainingDiverged, evaluate, train


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


def _run(task, **kwargs):
    args = {"epochs": 2, "batch_size": 16, "lr": 0.02, "progress": False}
    args.update(kwargs)
    model = _model(task)
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
                "epoch_time"):
        assert len(getattr(h, key)) == 2
    assert h.valid_bleu == []  # char-level task: no BLEU
    d = h.to_dict()
    assert d["valid_bleu"] is None and d["step"] == h.step


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
    assert {"epoch", "train_loss", "lr", "time", "exact_match", "token_accuracy", "valid_loss",
            "bleu"} <= set(seen[-1][1])
    ckpt = load_checkpoint(tmp_path / "checkpoint.npz")
    assert ckpt.extra["epoch"] == 2 and ckpt.extra["step"] == h.step[-1]
    assert ckpt.extra["note"] == "hi" and ckpt.tgt_vocab == task[1]
    for k, v in model.params.items():
        np.testing.assert_array_equal(ckpt.model.params[k], v)


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
    ({"epochs": 0}, "epochs must be a positive int"),
    ({"batch_size": 0}, "batch_size must be a positive int"),
    ({"lr_decay": 1.5}, "lr_decay must be in"),
    ({"optimizer": "rmsprop"}, "unknown optimizer"),
])
def test_bad_arguments(task, kwargs, match):
    args = {"epochs": 1, "batch_size": 8, "lr": 0.01, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        train(_model(task), task[2], task[3], **args)


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
