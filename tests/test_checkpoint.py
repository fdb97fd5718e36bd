"""Tests for numpy_seq2seq.checkpoint: round trips, atomic writes, rejection of foreign files."""

import json
import os
import pickle
import re
import stat

import numpy as np
import pytest

from numpy_seq2seq.checkpoint import (
    FORMAT,
    Checkpoint,
    load_checkpoint,
    read_extra,
    save_checkpoint,
)
from numpy_seq2seq.data.vocab import Vocab
from numpy_seq2seq.decoding import greedy_decode
from numpy_seq2seq.model import Seq2Seq
from numpy_seq2seq.optim import Adam

V_SRC, V_TGT, E, H, N, S, T = 11, 13, 5, 6, 3, 7, 4

CONFIGS = [
    dict(cell="lstm", attention="general", dtype=np.float32),
    dict(cell="gru", attention="concat", bidirectional=True, attention_dim=3, dtype=np.float64),
    dict(cell="rnn", attention=None, reverse_source=True, dtype=np.float64),
    dict(cell="lstm", attention="dot", input_feeding=True, dtype=np.float32),
    dict(cell="gru", attention="bahdanau", bidirectional=True, num_layers=2, dropout=0.2,
         dtype=np.float64),
]


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


def make_model(seed=0, **kwargs):
    kwargs = {**CONFIGS[0], **kwargs}
    return Seq2Seq(V_SRC, V_TGT, embed_dim=E, hidden_dim=H, seed=seed, **kwargs)


def make_batch(rng):
    src = rng.integers(4, V_SRC, size=(N, S))
    src[0, -2:] = 0  # one padded row
    tgt = np.zeros((N, T), dtype=np.int64)
    tgt[:, 0] = 1
    tgt[:, 1:-1] = rng.integers(4, V_TGT, size=(N, T - 2))
    tgt[:, -1] = 2
    return src, tgt


def perturb(model, rng):
    """Move every param away from its initial value, so a restore from the seed would fail."""
    for p in model.params.values():
        p += rng.standard_normal(p.shape).astype(p.dtype) * 0.1


# ----------------------------------------------------------------------------------------------
# round trips

@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c['cell']}-{c['attention']}")
def test_round_trip_restores_params_dtype_and_loss(cfg, rng, tmp_path):
    model = make_model(seed=1, **cfg)
    perturb(model, rng)
    src, tgt = make_batch(rng)

    path = save_checkpoint(tmp_path / "model.npz", model)
    loaded = load_checkpoint(path)

    assert isinstance(loaded, Checkpoint)
    restored = loaded.model
    assert restored.config == model.config
    assert restored.params.keys() == model.params.keys()
    for key, p in model.params.items():
        assert restored.params[key].dtype == p.dtype == np.dtype(cfg["dtype"]), key
        np.testing.assert_array_equal(restored.params[key], p, err_msg=key)
    assert restored.loss(src, tgt) == model.loss(src, tgt)
    # identical predictions, attention included
    for before, after in zip(greedy_decode(model, src, max_len=6),
                             greedy_decode(restored, src, max_len=6), strict=True):
        np.testing.assert_array_equal(before.tokens, after.tokens)
        if before.attention is not None:
            np.testing.assert_array_equal(before.attention, after.attention)
    assert loaded.src_vocab is None and loaded.tgt_vocab is None and loaded.extra is None


def test_round_trip_vocabs_and_extra(rng, tmp_path):
    src_vocab = Vocab(list("abcdefg") + ["한", "日"], tokenizer="char")
    tgt_vocab = Vocab(["2024", "-", "01"], tokenizer="word")
    model = make_model(seed=2)
    opt = Adam(model.params, lr=1e-2)
    src, tgt = make_batch(rng)
    opt.step(model.loss_and_grads(src, tgt)[1])
    extra = {"step": np.int64(1), "history": {"loss": [3.5, 2.25]}, "optimizer": opt.state_dict(),
             "note": "Unicode ✓"}

    model2, sv, tv, extra2 = load_checkpoint(
        save_checkpoint(tmp_path / "m.npz", model, src_vocab, tgt_vocab, extra=extra)
    )

    assert sv == src_vocab and tv == tgt_vocab
    assert extra2["step"] == 1 and extra2["history"] == {"loss": [3.5, 2.25]}
    assert extra2["note"] == "Unicode ✓"
    # optimizer state comes back as arrays, so training can resume exactly
    opt2 = Adam(model2.params)
    opt2.load_state_dict(extra2["optimizer"])
    grads = model.loss_and_grads(src, tgt)[1]
    opt.step(grads)
    opt2.step({k: g.copy() for k, g in grads.items()})
    for key in model.params:
        np.testing.assert_array_equal(model2.params[key], model.params[key], err_msg=key)


def test_path_is_used_as_given_and_parents_created(tmp_path):
    path = tmp_path / "runs" / "a" / "best.ckpt"
    assert save_checkpoint(path, make_model()) == path
    assert sorted(os.listdir(path.parent)) == ["best.ckpt"]  # no ".npz" appended, no temp file
    load_checkpoint(str(path))  # str paths work too


def test_overwrite_replaces_and_leaves_no_temp_file(rng, tmp_path):
    path = tmp_path / "model.npz"
    save_checkpoint(path, make_model(seed=0))
    second = make_model(seed=5)
    save_checkpoint(path, second)
    assert os.listdir(tmp_path) == ["model.npz"]
    np.testing.assert_array_equal(load_checkpoint(path).model.params["W_s"], second.params["W_s"])


def test_interrupted_write_keeps_previous_checkpoint(monkeypatch, tmp_path):
    path = tmp_path / "model.npz"
    first = make_model(seed=0)
    save_checkpoint(path, first)

    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")  # something reached the disk, then it died
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, make_model(seed=9))
    monkeypatch.undo()

    assert os.listdir(tmp_path) == ["model.npz"]  # temp file cleaned up
    restored = load_checkpoint(path).model
    for key, p in first.params.items():
        np.testing.assert_array_equal(restored.params[key], p, err_msg=key)


# ----------------------------------------------------------------------------------------------
# no pickle

def test_load_never_needs_pickle(monkeypatch, tmp_path):
    path = save_checkpoint(tmp_path / "m.npz", make_model(), Vocab(list("ab")), Vocab(list("cd")),
                           extra={"arr": np.arange(3), "x": 1.5})
    # every entry is a plain array: np.load with pickle refused reads them all
    with np.load(path, allow_pickle=False) as f:
        assert f["format"][()] == FORMAT
        assert all(f[k].dtype != object for k in f.files)

    def no_pickle(*args, **kwargs):
        raise AssertionError("pickle used while loading a checkpoint")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    ckpt = load_checkpoint(path)
    np.testing.assert_array_equal(ckpt.extra["arr"], np.arange(3))


def test_save_rejects_what_would_need_pickle(tmp_path):
    with pytest.raises(ValueError, match="extra"):
        save_checkpoint(tmp_path / "m.npz", make_model(), extra={"f": object()})
    with pytest.raises(ValueError, match="object array"):
        save_checkpoint(tmp_path / "m.npz", make_model(),
                        extra={"ragged": np.array([1, "a", None], dtype=object)})
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------------------------------
# rejected files

def test_missing_file_names_path(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_checkpoint(path)


def test_random_npz_is_rejected(rng, tmp_path):
    path = tmp_path / "random.npz"
    np.savez(path, a=rng.standard_normal(3), b=np.arange(4))
    with pytest.raises(ValueError, match="random.npz is not a numpy_seq2seq checkpoint"):
        load_checkpoint(path)


def _truncated_checkpoint(path):
    save_checkpoint(path, make_model())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # an interrupted copy: no zip directory at the end


@pytest.mark.parametrize("make, what", [
    (lambda p: p.write_text("hello, not an archive\n"), "it is a text file"),
    (lambda p: p.write_bytes(b""), "it is an empty file"),
    (lambda p: p.write_bytes(pickle.dumps({"a": 1})), "it is a Python pickle"),
    (lambda p: p.write_bytes(bytes(range(200, 256))), "it is a binary file"),
    (lambda p: np.save(open(p, "wb"), np.arange(3)), "it is a single NumPy array (.npy)"),
    (_truncated_checkpoint, "it is a truncated or corrupted zip archive"),
    (lambda p: np.savez(open(p, "wb"), a=np.arange(3)), "an .npz archive without the"),
    (lambda p: np.savez(open(p, "wb"), format=np.array([None], dtype=object)), "pickled"),
], ids=["text", "empty", "pickle", "binary", "npy", "truncated", "foreign-npz", "object"])
def test_what_is_not_a_checkpoint_is_named(make, what, tmp_path):
    path = tmp_path / "model.npz"
    make(path)
    with pytest.raises(ValueError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert message.startswith(f"{path} is not a numpy_seq2seq checkpoint: ")
    assert what in message
    assert "allow_pickle" not in message  # NumPy's advice would be wrong, and unsafe


def test_npy_file_is_rejected(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.arange(3))
    with pytest.raises(ValueError, match="is not a numpy_seq2seq checkpoint: it is a single"):
        load_checkpoint(path)


def _rewrite(path, **changes):
    """Rewrite the archive at ``path`` with some entries replaced (None deletes)."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def test_config_not_matching_params_names_key_and_shapes(tmp_path):
    model = make_model()
    path = save_checkpoint(tmp_path / "m.npz", model)
    config = dict(model.config, hidden_dim=H + 2)
    _rewrite(path, config=np.array(json.dumps(config)))
    shapes = r"param '\w+' has shape \(\d+, \d+\) in the file.*expects \(\d+, \d+\)"
    with pytest.raises(ValueError, match=shapes):
        load_checkpoint(path)


def test_checkpoint_from_before_num_layers_and_dropout_loads(rng, tmp_path):
    """A config written before the two keys existed builds one layer without dropout."""
    model = make_model()
    perturb(model, rng)
    path = save_checkpoint(tmp_path / "m.npz", model)
    old = {k: v for k, v in model.config.items() if k not in ("num_layers", "dropout")}
    _rewrite(path, config=np.array(json.dumps(old)))
    loaded = load_checkpoint(path).model
    assert loaded.config == model.config
    assert all(np.array_equal(loaded.params[k], v) for k, v in model.params.items())


def test_missing_param_is_named(tmp_path):
    path = save_checkpoint(tmp_path / "m.npz", make_model())
    _rewrite(path, **{"param/W_c": None})
    with pytest.raises(ValueError, match=r"missing from the file: \['W_c'\]"):
        load_checkpoint(path)


def test_newer_format_version_says_which_and_what_to_do(tmp_path):
    path = save_checkpoint(tmp_path / "m.npz", make_model())
    _rewrite(path, format_version=np.array(99))
    with pytest.raises(ValueError, match=r"format version 99, written by a newer numpy_seq2seq; "
                       r"this one \(\S+\) reads versions 1 to 1\. Upgrade it \(pip install "
                       r"--upgrade numpy_seq2seq\)"):
        load_checkpoint(path)


@pytest.mark.parametrize("version", [np.array(0), np.array(-3), np.array("2")])
def test_unknown_format_version_is_named(version, tmp_path):
    path = save_checkpoint(tmp_path / "m.npz", make_model())
    _rewrite(path, format_version=version)
    with pytest.raises(ValueError, match=r"format version .*which no numpy_seq2seq ever wrote"):
        load_checkpoint(path)


def test_a_config_from_before_a_field_existed_loads(tmp_path):
    model = make_model(attention_dim=None)
    path = save_checkpoint(tmp_path / "m.npz", model)
    config = {k: v for k, v in model.config.items() if k not in ("attention_dim", "seed")}
    _rewrite(path, config=np.array(json.dumps(config)))
    assert load_checkpoint(path).model.config == model.config
    _rewrite(path, config=np.array(json.dumps({**config, "num_heads": 4})))
    with pytest.raises(ValueError, match=r"model config cannot be used: unknown ModelConfig "
                       r"key\(s\) \['num_heads'\]"):
        load_checkpoint(path)


def test_read_extra_without_building_the_model(tmp_path):
    path = save_checkpoint(tmp_path / "m.npz", make_model(), extra={"epoch": 3, "a": np.ones(2)})
    extra = read_extra(path)
    assert extra["epoch"] == 3
    np.testing.assert_array_equal(extra["a"], np.ones(2))
    assert read_extra(save_checkpoint(tmp_path / "n.npz", make_model())) is None


def test_checkpoints_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "m.npz", make_model())
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # tempfile alone would give 0600


def test_checkpoint_from_before_tokenizer_options_loads(tmp_path):
    # vocabularies used to be stored as {"tokenizer": "word", "tokens": [...]}
    path = save_checkpoint(tmp_path / "new.npz", make_model(), Vocab(["a"], "char"),
                           Vocab(["x"], "word"))
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["src_vocab"] = np.array(json.dumps({"tokenizer": "char",
                                               "tokens": ["<pad>", "<s>", "</s>", "<unk>", "a"]}))
    arrays["tgt_vocab"] = np.array(json.dumps({"tokenizer": "word",
                                               "tokens": ["<pad>", "<s>", "</s>", "<unk>", "x,"]}))
    np.savez(tmp_path / "old.npz", **arrays)
    _, src_vocab, tgt_vocab, _ = load_checkpoint(tmp_path / "old.npz")
    assert src_vocab.tokenizer.kind == "char" and not src_vocab.tokenizer.normalize
    assert tgt_vocab.encode("x,", unknown="error").tolist() == [4]  # split on spaces, as before


# ---------------------------------------------------------------------------------------------
# edge cases: every refusal names the file, and what is wrong in plain words

def _corrupt_param(value_of):
    def change(path, model):
        key = "param/W_s"
        _rewrite(path, **{key: value_of(model.params["W_s"])})
    return change


BAD_FILES = {  # name: (change to a saved checkpoint, message after the file's name)
    "NaN parameters (would translate to empty lines)": (
        _corrupt_param(lambda w: np.full_like(w, np.nan)),
        rf": param 'W_s' holds {H * V_TGT} NaN or infinite value\(s\), so the model cannot "
        "translate"),
    "one inf": (_corrupt_param(lambda w: np.where(np.arange(w.size).reshape(w.shape) == 3,
                                                  np.inf, w)),
                r": param 'W_s' holds 1 NaN or infinite value\(s\)"),
    "integer parameters (would be cast)": (
        _corrupt_param(lambda w: np.ones(w.shape, dtype=np.int64)),
        r": param 'W_s' is stored as int64; a checkpoint holds float parameters \(float32 here\)"),
    "unknown cell": (lambda path, model: _rewrite(path, config=np.array(json.dumps(
        {**model.config, "cell": "transformer"}))),
        r": its model config cannot be used: cell must be one of \('rnn', 'gru', 'lstm'\)"),
    "damaged vocabulary": (lambda path, model: _rewrite(path, src_vocab=np.array('{"tokens": 3}')),
                           r": its src_vocab cannot be used: "),
    "vocabulary not JSON": (lambda path, model: _rewrite(path, tgt_vocab=np.array("{oops")),
                            r": its tgt_vocab cannot be used: "),
    "extra not JSON": (lambda path, model: _rewrite(path, extra=np.array("[1, 2")),
                       r": its extra cannot be read: "),
    "extra naming a missing array": (lambda path, model: _rewrite(path, extra=np.array(
        json.dumps({"a": {"__ndarray__": "extra_array/7"}}))), r": its extra cannot be read: "),
    "version 'one'": (lambda path, model: _rewrite(path, format_version=np.array("one")),
                      r" has checkpoint format version 'one', which no numpy_seq2seq ever wrote"),
}


@pytest.mark.parametrize("change, message", BAD_FILES.values(), ids=list(BAD_FILES))
def test_a_bad_checkpoint_is_refused_naming_the_file(tmp_path, change, message):
    model = make_model()
    vocab = Vocab(list("abcdefg"))
    path = save_checkpoint(tmp_path / "m.npz", model, vocab, vocab, extra={"epoch": 3})
    change(path, model)
    with pytest.raises(ValueError, match="^" + re.escape(str(path)) + message) as info:
        load_checkpoint(path)
    assert "np.str_" not in str(info.value)


def test_a_run_folder_names_its_checkpoints(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder with no checkpoint"):
        load_checkpoint(run)
    for name in ("checkpoint.npz", "best.npz"):
        save_checkpoint(run / name, make_model())
    with pytest.raises(IsADirectoryError, match=(
            re.escape(f"{run} is a folder, not a checkpoint file; it holds best.npz, "
                      f"checkpoint.npz: give one of them, e.g. {run / 'best.npz'}"))):
        load_checkpoint(run)
    with pytest.raises(IsADirectoryError, match="best.npz, checkpoint.npz"):
        read_extra(run)
