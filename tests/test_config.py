"""The config dataclasses: one source of defaults (Seq2Seq, train and the command line take
theirs from here), fields checked with messages that name them, stored dicts read back."""

import dataclasses
import inspect
import re

import numpy as np
import pytest

from numpy_seq2seq import config
from numpy_seq2seq.cli import build_parser
from numpy_seq2seq.config import DataConfig, ModelConfig, TrainConfig
from numpy_seq2seq.model import Seq2Seq
from numpy_seq2seq.training import train


def test_model_config_mirrors_the_constructor():
    params = inspect.signature(Seq2Seq.__init__).parameters
    names = [n for n in params if n != "self"]
    assert [f.name for f in dataclasses.fields(ModelConfig)] == names
    for name in names[2:]:  # the vocabulary sizes have no default
        assert params[name].default == getattr(ModelConfig, name), name
    model = Seq2Seq(11, 13)
    assert model.config == {**ModelConfig(11, 13).to_dict(), "attention_dim": 64}


def test_train_takes_its_defaults_from_train_config():
    params = inspect.signature(train).parameters
    assert "config" in params and "epochs" not in params and "lr_decay" not in params
    assert TrainConfig().lr_decay == 0.5  # the CLI's and train()'s decay are the same value


def _train_option(flag):
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return next(a for a in sub.choices["train"]._actions if flag in a.option_strings)


@pytest.mark.parametrize("cls, option, field", [
    (TrainConfig, "--lr", "lr"),
    (TrainConfig, "--lr-decay", "lr_decay"),
    (TrainConfig, "--clip", "clip"),
    (TrainConfig, "--epochs", "epochs"),
    (TrainConfig, "--optimizer", "optimizer"),
    (ModelConfig, "--hidden-dim", "hidden_dim"),
    (ModelConfig, "--cell", "cell"),
    (DataConfig, "--num-examples", "num_examples"),
])
def test_command_line_options_come_from_the_config(cls, option, field):
    action = _train_option(option)
    assert action.dest == field
    assert action.help.startswith(cls.spec(field).metadata["help"].replace("%", "%%"))
    # the default, then any task's own ("; numbers: 10")
    assert re.search(rf"\(default {re.escape(str(getattr(cls, field)))}(; [\w -]+: [^;]+)*\)$",
                     action.help)
    # no default of its own: the config fills what was not given
    assert field not in vars(build_parser().parse_args(["train"]))


@pytest.mark.parametrize("cls, kwargs, match", [
    (TrainConfig, {"clip": float("nan")}, r"clip must be a number >= 0, got nan"),
    (TrainConfig, {"lr": 0}, r"lr must be a number > 0, got 0"),
    (TrainConfig, {"lr_decay": 1.5}, r"lr_decay must be a number in \(0, 1\], got 1.5"),
    (TrainConfig, {"epochs": 2.0}, r"epochs must be an integer >= 1, got 2.0"),
    (TrainConfig, {"batch_size": True}, r"batch_size must be an integer >= 1, got True"),
    (TrainConfig, {"threads": 0}, r"threads must be an integer >= 1, got 0"),
    (TrainConfig, {"optimizer": "rmsprop"}, r"unknown optimizer 'rmsprop'; choose one of"),
    (DataConfig, {"valid_fraction": 1.0}, r"valid_fraction must be a number in \(0, 1\)"),
    (DataConfig, {"task": None}, r"exactly one of task and data"),
    (DataConfig, {"data": "x.tsv"}, r"exactly one of task and data"),
    (ModelConfig, {"src_vocab_size": 9, "tgt_vocab_size": 9, "hidden_dim": -2},
     r"hidden_dim must be an integer >= 1, got -2"),
    (ModelConfig, {"src_vocab_size": 9, "tgt_vocab_size": 9, "dropout": 1.0},
     r"dropout must be a number in \[0, 1\), got 1.0"),
    (ModelConfig, {"src_vocab_size": 9, "tgt_vocab_size": 9, "num_layers": 0},
     r"num_layers must be an integer >= 1, got 0"),
    (DataConfig, {"vocab_size": 1}, r"vocab_size must be an integer >= 2, got 1"),
    (DataConfig, {"min_freq": 0}, r"min_freq must be an integer >= 1, got 0"),
])
def test_fields_are_checked_by_name(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("cls, kwargs, match", [
    (ModelConfig, {"cell": "transformer"}, r"cell must be one of \('rnn', 'gru', 'lstm'\)"),
    (ModelConfig, {"attention": "luong"}, r"attention must be one of \(None, 'dot', "),
    (ModelConfig, {"dtype": "float16"}, r"dtype must be one of \('float32', 'float64'\)"),
    (ModelConfig, {"bidirectional": "no"}, "bidirectional must be True or False, got 'no'"),
    (ModelConfig, {"reverse_source": None}, "reverse_source must be True or False, got None"),
    (ModelConfig, {"seed": -1}, "seed must be an integer >= 0, got -1"),
    (ModelConfig, {"bidirectional": True, "hidden_dim": 7}, "hidden_dim into two halves"),
    (ModelConfig, {"input_feeding": True, "attention": None}, "input_feeding .* needs attention"),
    (ModelConfig, {"src_vocab_size": 4}, "vocabulary sizes must be at least 5"),
    (TrainConfig, {"bucket": "yes"}, "bucket must be True or False, got 'yes'"),
    (DataConfig, {"lowercase": 1}, "lowercase must be True or False, got 1"),
])
def test_every_kind_of_field_is_checked_by_name(cls, kwargs, match):
    """Choices, bools (no truthy strings) and combinations, not only numbers (issue S5)."""
    if cls is ModelConfig:
        kwargs = {"src_vocab_size": 9, "tgt_vocab_size": 9, **kwargs}
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_values_are_stored_plain():
    """NumPy scalars and dtypes become the JSON-ready values ``asdict`` stores."""
    c = ModelConfig(np.int64(9), 9, dtype=np.float64, attention="None", bidirectional=np.True_,
                    dropout=np.float32(0.5))
    assert c.dtype == "float64" and c.attention is None and c.bidirectional is True
    assert type(c.src_vocab_size) is int and type(c.dropout) is float
    assert TrainConfig(lr=1).lr == 1.0 and type(TrainConfig(lr=1).lr) is float


def test_none_is_accepted_where_the_field_allows_it():
    assert TrainConfig(threads=None, bleu=None).threads is None
    assert DataConfig(min_len=None).min_len is None
    with pytest.raises(ValueError, match="epochs must be"):
        TrainConfig(epochs=None)


def test_from_dict_fills_missing_keys_and_refuses_unknown_ones():
    stored = TrainConfig(epochs=3).to_dict()
    del stored["eval_batch_size"]  # a file written before this field existed
    assert TrainConfig.from_dict(stored) == TrainConfig(epochs=3)
    with pytest.raises(ValueError, match=r"unknown TrainConfig key\(s\) \[.cooldown.\]"):
        TrainConfig.from_dict({**stored, "cooldown": 100})


def test_an_old_corpus_data_spec_reads_as_a_corpus():
    # what `numpy-seq2seq train --data` stored before DataConfig existed: no "task" key
    old = {"data": "pairs.tsv", "valid": None, "tokenize": "word", "seed": 1,
           "valid_fraction": 0.1}
    cfg = DataConfig.from_dict(old)
    assert cfg.task is None and cfg.data == "pairs.tsv" and cfg.tokenize == "word"
    old_task = {"task": "reverse", "num_examples": 200, "min_len": None, "max_len": None,
                "seed": 0, "valid_fraction": 0.1}
    assert DataConfig.from_dict(old_task) == DataConfig(task="reverse", num_examples=200)


def test_a_task_default_is_shown_and_applied_under_given_values():
    assert "(default 15; numbers: 10; tatoeba: 10; " in _train_option("--epochs").help
    assert TrainConfig.for_task("numbers").epochs == 10
    assert TrainConfig.for_task("numbers", epochs=3).epochs == 3  # an option given still wins
    assert TrainConfig.for_task("dates") == TrainConfig.for_task(None) == TrainConfig()
    assert DataConfig.for_task("numbers") == DataConfig()  # numbers has no data defaults


def test_a_data_spec_written_before_data_config_reads_the_same():
    # what `numpy-seq2seq train --data` stored with per-side tokenizer descriptions
    stored = {"data": "pairs.tsv", "valid": None, "seed": 3, "valid_fraction": 0.2,
              "src_tokenize": {"kind": "bpe", "lowercase": True, "vocab_size": 60},
              "tgt_tokenize": {"kind": "char", "lowercase": True, "vocab_size": 60},
              "max_pairs": 30, "max_len": 5, "min_freq": 2}
    cfg = DataConfig.from_dict(stored)
    assert cfg == DataConfig(task=None, data="pairs.tsv", src_tokenize="bpe", tgt_tokenize="char",
                             lowercase=True, vocab_size=60, seed=3, valid_fraction=0.2,
                             max_pairs=30, max_len=5, min_freq=2,
                             split="source")  # as it was split then: resumes the same pairs
    assert cfg.tokenizer_kinds() == ("bpe", "char")
    assert DataConfig.from_dict(cfg.to_dict()) == cfg


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().lr = np.float64(1.0)


def test_a_direction_refines_its_tasks_defaults(monkeypatch):
    """"tatoeba ko-en" defaults apply over "tatoeba"'s to that direction only; a value given
    still wins; DataConfig.direction names the direction, the default languages filling in."""
    monkeypatch.setattr(config, "TASK_DEFAULTS", {"tatoeba": {"epochs": 8, "hidden_dim": 96},
                                                  "tatoeba ko-en": {"epochs": 40}})
    assert TrainConfig.for_task("tatoeba", "ko-en").epochs == 40
    assert TrainConfig.for_task("tatoeba", "en-fr").epochs == 8
    assert TrainConfig.for_task("tatoeba", "ko-en", epochs=2).epochs == 2
    assert ModelConfig.for_task("tatoeba", "ko-en", src_vocab_size=9,
                                tgt_vocab_size=9).hidden_dim == 96
    assert DataConfig(task="tatoeba").direction() == "en-fr"
    assert DataConfig(task="tatoeba", source_lang="ko", target_lang="en").direction() == "ko-en"
    assert DataConfig(task=None, data="x.tsv").direction() is None
