"""Run folders: unique default names, no silent overwrite, metrics.json written compactly."""

import json
import os

import pytest

from numpy_seq2seq import runs
from numpy_seq2seq.runs import RUN_FILES, claim_run_dir, new_run_dir, read_metrics, write_metrics


def test_default_names_are_unique_within_one_second(monkeypatch, tmp_path):
    monkeypatch.setattr(runs.time, "strftime", lambda fmt: "20261130-094121")
    made = [new_run_dir(tmp_path / "runs") for _ in range(3)]
    assert [p.name for p in made] == ["20261130-094121", "20261130-094121-2", "20261130-094121-3"]
    assert all(p.is_dir() for p in made)
    assert new_run_dir(tmp_path / "runs", prefix="mine-").name == "mine-20261130-094121"


def test_a_non_empty_folder_is_refused_and_left_intact(tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"the old run")
    with pytest.raises(FileExistsError, match=r"is not empty \(checkpoint.npz\)"):
        claim_run_dir(tmp_path)
    assert (tmp_path / "checkpoint.npz").read_bytes() == b"the old run"


def test_replace_removes_only_run_files(tmp_path):
    for name in RUN_FILES:
        (tmp_path / name).write_text("old")
    (tmp_path / "notes.txt").write_text("mine")
    assert claim_run_dir(tmp_path, replace=True) == tmp_path
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_empty_or_new_folders_are_claimed(tmp_path):
    assert claim_run_dir(tmp_path / "new" / "run").is_dir()
    assert claim_run_dir(tmp_path / "new" / "run").is_dir()  # empty: fine again
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        claim_run_dir(tmp_path / "file")


def test_metrics_round_trip_with_numbers_on_one_line(tmp_path):
    metrics = {"status": "complete", "history": {"loss": [2.5, 1.25, 0.1 + 0.2], "step": [1, 2, 3]},
               "epochs": [{"epoch": 1, "exact_match": 0.5}], "data": {"task": "날짜"},
               "best": None, "empty": {}}
    path = write_metrics(tmp_path, metrics)
    assert read_metrics(tmp_path) == metrics
    text = path.read_text(encoding="utf-8")
    assert '"loss": [2.5, 1.25, 0.30000000000000004]' in text and "날짜" in text
    assert json.loads(text) == metrics


def test_check_run_dir_creates_nothing(tmp_path):
    assert runs.check_run_dir(tmp_path / "new") == tmp_path / "new"
    assert not (tmp_path / "new").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt"):
        runs.check_run_dir(tmp_path / "full")


def test_library_versions_name_python_and_the_data_packages():
    versions = runs.library_versions()
    assert set(versions) == {"python", *runs.DATA_PACKAGES}
    assert versions["numpy"] == __import__("numpy").__version__


@pytest.mark.parametrize("written, expected", [
    (None, []),  # a new run
    ({"wall_time_s": 12.5}, [{"wall_time_s": 12.5}]),  # metrics.json from before sessions
    ({"wall_time_s": 3.0, "sessions": [{"wall_time_s": 1.0}, {"wall_time_s": 2.0}]},
     [{"wall_time_s": 1.0}, {"wall_time_s": 2.0}]),
])
def test_earlier_sessions(written, expected, tmp_path):
    if written is not None:
        write_metrics(tmp_path, written)
    assert runs.earlier_sessions(tmp_path) == expected
