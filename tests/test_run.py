"""The run layer from Python: prepare, fit and finish a run, resume it to the numbers of a run
never stopped, get its exact split back; bad settings are plain one-line errors that leave no
folder behind."""

import itertools
import shutil
import signal
import warnings

import numpy as np
import pytest

from numpy_seq2seq import run as runs
from numpy_seq2seq.checkpoint import load_checkpoint
from numpy_seq2seq.config import DataConfig, TrainConfig
from numpy_seq2seq.runs import RUN_FILES, read_metrics
from numpy_seq2seq.training import TrainingInterrupted, train

from conftest import resumed_numbers

DATA = {"task": "reverse", "num_examples": 200}
MODEL = {"hidden_dim": 16, "embed_dim": 8}
# plateau: a finished run extended equals a longer run only for rates that follow no plan (a
# cosine run extended re-plans its decay: tests/test_training.py)
TRAIN = {"batch_size": 16, "schedule": "plateau"}
DROPOUT = {**MODEL, "dropout": 0.2}  # a resumed run must also continue the masks' generator


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    """A finished one-epoch run's folder, shared: copy it before changing it."""
    out = tmp_path_factory.mktemp("one_epoch") / "run"
    runs.fit(runs.prepare(DATA, DROPOUT, {**TRAIN, "epochs": 1}, out=out), progress=False)
    return out


def test_prepare_then_train_and_finish_by_hand(tmp_path):
    run = runs.prepare(DATA, MODEL, {"epochs": 1}, out=tmp_path / "run")
    assert run.out == tmp_path / "run" and run.out.is_dir() and run.files() == []
    assert len(run.train_pairs) + len(run.valid_pairs) == 200
    assert run.model.config["hidden_dim"] == 16
    assert run.model.config["tgt_vocab_size"] == len(run.tgt_vocab)
    assert runs.load_pairs(run.data) == run.split  # the exact split, from the config alone
    history = train(run.model, run.train_ids, run.valid_ids, run.config, progress=False,
                    out_dir=run.out, src_vocab=run.src_vocab, tgt_vocab=run.tgt_vocab)
    summary = runs.finish(run, history)
    assert summary.files == list(RUN_FILES) == run.files()
    metrics = read_metrics(run.out)
    assert metrics == summary.metrics and metrics["status"] == "complete"
    assert metrics["data"]["task"] == "reverse" and metrics["n_valid"] == len(run.valid_pairs)
    assert metrics["sessions"][0]["wall_time_s"] == summary.seconds > 0
    assert [p for _, p in summary.examples.pairs] == [t for _, t in run.valid_pairs[:5]]


def test_a_dict_takes_the_task_defaults_and_a_config_is_used_as_given(tmp_path):
    numbers = {"task": "numbers", "num_examples": 60}
    assert runs.prepare(numbers, MODEL, None, out=tmp_path / "a").config.epochs == 10
    assert runs.prepare(numbers, MODEL, {"epochs": 2}, out=tmp_path / "b").config.epochs == 2
    run = runs.prepare(DataConfig(**numbers), MODEL, TrainConfig(), out=tmp_path / "c")
    assert run.config == TrainConfig() and run.config.epochs == 15
    assert runs.prepare(numbers, None, None, out=tmp_path / "d").config.bleu is True


def test_resume_ends_with_the_numbers_of_a_run_never_stopped(one_epoch, tmp_path):
    shutil.copytree(one_epoch, tmp_path / "stopped")
    resumed = runs.resume(tmp_path / "stopped", epochs=2)
    assert resumed.resumed.epoch == 1 and resumed.config.epochs == 2
    assert resumed.split == runs.load_pairs(resumed.data)
    runs.fit(resumed, progress=False)
    straight = runs.prepare(DATA, DROPOUT, {**TRAIN, "epochs": 2}, out=tmp_path / "straight")
    runs.fit(straight, progress=False)
    one, two = (read_metrics(tmp_path / name) for name in ("stopped", "straight"))
    assert resumed_numbers(one) == resumed_numbers(two) and len(one["sessions"]) == 2
    a, b = (load_checkpoint(tmp_path / name / "checkpoint.npz").model.params
            for name in ("stopped", "straight"))
    assert all(np.array_equal(a[k], b[k]) for k in b)


def test_a_stopped_run_is_finished_and_the_stop_raised_on(tmp_path):
    def stop_after_the_first_epoch(epoch, record, history):
        signal.raise_signal(signal.SIGINT)  # as Ctrl-C: train stops at the next step

    run = runs.prepare(DATA, MODEL, {"epochs": 3}, out=tmp_path)
    with pytest.raises(TrainingInterrupted):
        runs.fit(run, progress=False, on_epoch_end=stop_after_the_first_epoch)
    metrics = read_metrics(tmp_path)
    assert metrics["status"] == "interrupted" and len(metrics["epochs"]) == 1
    assert run.files() == ["checkpoint.npz", "best.npz", "metrics.json", "training.png",
                           "attention.png", "heldout.tsv"]


def test_resume_warns_of_other_threads(one_epoch):
    with pytest.warns(UserWarning, match=r"^threads=2: the run used 1; "):
        runs.resume(one_epoch, epochs=2, threads=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runs.resume(one_epoch, epochs=2, threads=1)  # its own: no warning


@pytest.mark.parametrize("data, model, error, match", [
    ({"task": "reverse", "tokenize": "word"}, {}, ValueError, "^tokenize applies to data only"),
    ({"task": "dates", "source_lang": "ko"}, {}, ValueError, "^source_lang applies to task "
     "numbers and task tatoeba only"),
    ({"task": "dates", "min_len": 3}, {}, ValueError, "no length range"),
    ({"task": "reverse", "data": "x.tsv"}, {}, ValueError, "exactly one of task and data"),
    ({"data": "no/such.tsv"}, {}, FileNotFoundError, "such.tsv"),
    ({"task": "reverse", "num_examples": 1}, {}, ValueError, "^no held-out pairs: .* "
     "valid=FILE.tsv$"),
    (DATA, {"src_vocab_size": 9}, ValueError, "the vocabularies decide"),
    (DATA, {"hidden_dim": 15, "bidirectional": True}, ValueError, "hidden_dim=15"),
    (DataConfig(task="reverse", num_examples=30, min_freq=1000), {}, ValueError,
     "^no source token occurs min_freq=1000 times in the 27 training pairs; lower min_freq$"),
])
def test_bad_settings_are_plain_one_line_errors_and_leave_no_folder(data, model, error, match,
                                                                    tmp_path):
    with pytest.raises(error, match=match) as caught:
        runs.prepare(data, model, {"epochs": 1}, out=tmp_path / "run")
    assert type(caught.value) is error and "\n" not in str(caught.value)
    assert not (tmp_path / "run").exists()


def test_no_pairs_left_names_the_field_to_raise(tmp_path):
    words = ["".join(w) for w in itertools.permutations("abcd")]  # 24 pairs
    (tmp_path / "pairs.tsv").write_text("".join(f"{w}\t{w[::-1]}\n" for w in words))
    with pytest.raises(ValueError, match=r"no pairs left .* raise max_len \(or max_pairs\)$"):
        runs.prepare({"data": tmp_path / "pairs.tsv", "max_len": 2})
    run = runs.prepare({"data": str(tmp_path / "pairs.tsv")}, MODEL, out=tmp_path / "run")
    assert run.data.data == str((tmp_path / "pairs.tsv").resolve())  # found from anywhere


def test_a_run_folder_is_never_replaced_silently(tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"the old run")
    with pytest.raises(FileExistsError, match="is not empty .* force=True replaces"):
        runs.prepare(DATA, MODEL, out=tmp_path)
    assert (tmp_path / "checkpoint.npz").read_bytes() == b"the old run"
    run = runs.prepare(DATA, MODEL, {"epochs": 1}, out=tmp_path, force=True)
    assert run.files() == []  # the old run's files are gone, not mixed with the new ones


def test_resume_refuses_what_it_cannot_continue(one_epoch, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint.npz there"):
        runs.resume(tmp_path)
    with pytest.raises(ValueError, match=r"has done 1 epoch\(s\); give epochs=N > 1 "):
        runs.resume(one_epoch)
    with pytest.raises(ValueError, match="epochs must be"):
        runs.resume(one_epoch, epochs=0)


def test_a_tatoeba_direction_takes_its_own_defaults(tmp_path, monkeypatch):
    """prepare gives each of the three configs the defaults of the run's direction: ko -> en's
    over tatoeba's, and en -> ko (another direction) only tatoeba's."""
    from numpy_seq2seq import config
    monkeypatch.setattr(config, "TASK_DEFAULTS", {
        "tatoeba": {"hidden_dim": 12, "epochs": 2},
        "tatoeba ko-en": {"embed_dim": 6, "epochs": 3, "min_freq": 2}})
    ko_en = runs.prepare({"task": "tatoeba", "source_lang": "ko", "target_lang": "en"},
                         out=tmp_path / "a")
    en_ko = runs.prepare({"task": "tatoeba", "source_lang": "en", "target_lang": "ko"},
                         out=tmp_path / "b")
    assert (ko_en.model.config["hidden_dim"], ko_en.model.config["embed_dim"]) == (12, 6)
    assert (ko_en.config.epochs, ko_en.data.min_freq) == (3, 2)
    assert en_ko.model.config["hidden_dim"] == 12 and en_ko.config.epochs == 2
    assert en_ko.model.config["embed_dim"] == config.ModelConfig.embed_dim
    assert en_ko.data.min_freq == DataConfig.min_freq


def test_tatoeba_picks_best_npz_by_chrf_and_generated_tasks_by_exact_match(tmp_path):
    """Real sentences have many right translations: the word-level tatoeba task selects by
    chrF; a generated task (numbers, word targets too) by exact match."""
    from numpy_seq2seq.training import selection_metric
    tatoeba = runs.prepare({"task": "tatoeba", "source_lang": "ko", "target_lang": "en"},
                           out=tmp_path / "a")
    numbers = runs.prepare({"task": "numbers", "num_examples": 60}, MODEL, out=tmp_path / "b")
    assert selection_metric(tatoeba.config, tatoeba.tgt_vocab) == "chrf"
    en_ko = runs.prepare({"task": "tatoeba", "source_lang": "en", "target_lang": "ko"},
                         out=tmp_path / "c")  # character targets: chrF by the task's own default
    assert selection_metric(en_ko.config, en_ko.tgt_vocab) == "chrf"
    assert selection_metric(numbers.config, numbers.tgt_vocab) == "exact"
