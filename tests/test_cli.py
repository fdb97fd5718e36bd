"""The numpy-seq2seq command: every bad-input path is one error line and exit status 2; a tiny
end-to-end run trains, translates and evaluates; run folders are never overwritten silently;
Ctrl-C in a real process saves a run that resumes to the numbers of one never stopped."""

import io
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from numpy_seq2seq import __version__, cli, plots
from numpy_seq2seq.checkpoint import load_checkpoint, read_extra, save_checkpoint
from numpy_seq2seq.cli import attention_table, display_width, main
from numpy_seq2seq.data import file_sha256, load_tsv
from numpy_seq2seq.model import Seq2Seq
from numpy_seq2seq.plots import plot_training, save_figure
from numpy_seq2seq.run import step_limit
from numpy_seq2seq.runs import read_metrics

from conftest import resumed_numbers

ERROR = "numpy-seq2seq: error: "
TINY = ["--task", "reverse", "--num-examples", "200", "--epochs", "1", "--hidden-dim", "16",
        "--embed-dim", "8"]
SMALL_MODEL = ["--epochs", "1", "--hidden-dim", "16", "--embed-dim", "8"]
TATOEBA_STYLE = Path(__file__).parent / "data" / "tatoeba_style.tsv"


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(ERROR), err
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One tiny training run shared by the translate and evaluate tests."""
    out = tmp_path_factory.mktemp("run")
    assert main(["train", *TINY, "--quiet", "--out", str(out)]) == 0
    return out


@pytest.fixture
def files(tmp_path):
    (tmp_path / "empty.tsv").write_text("")
    (tmp_path / "blank.tsv").write_text("\n  \n")
    (tmp_path / "notab.tsv").write_text("hello\tbonjour\ncat chat\n")
    (tmp_path / "good.tsv").write_text("".join(f"{w}\t{w[::-1]}\n" for w in
                                               ["abc", "bca", "cab", "aab", "bba", "ccb"] * 3))
    (tmp_path / "not_a_checkpoint.npz").write_text("just text")
    return tmp_path


# ---------------------------------------------------------------------------------------------
# bad input

@pytest.mark.parametrize("argv, fragments", [
    ([], ["choose a command"]),
    (["fly"], ["invalid choice: 'fly'"]),
    (["train", "--task", "nosuch"], ["--task", "invalid choice: 'nosuch'"]),
    (["train", "--cell", "transformer"], ["--cell", "invalid choice"]),
    (["train", "--attention", "luong"], ["--attention", "invalid choice"]),
    (["train", "--attention", "bahdanau", "--input-feeding"],
     ["--input-feeding", "got --attention bahdanau"]),
    (["train", "--optimizer", "rmsprop"], ["--optimizer", "invalid choice"]),
    (["train", "--tokenize", "spm", "--data", "x.tsv"], ["--tokenize", "invalid choice"]),
    (["train", "--seed", "-3"], ["--seed"]),
    (["train", "--bogus-flag"], ["unrecognized arguments: --bogus-flag"]),
    (["train", "--task", "dates", "--min-len", "3"], ["dates", "no length range"]),
    (["train", "--task", "reverse", "--min-len", "6", "--max-len", "2"],
     ["--min-len must be <= --max-len, got --min-len 6, --max-len 2"]),
    (["train", "--task", "reverse", "--tokenize", "word"], ["--tokenize applies to --data"]),
    (["train", "--task", "reverse", "--data", "x.tsv"], ["not allowed with argument"]),
    (["train", "--bidirectional", "--hidden-dim", "15"], ["--hidden-dim 15", "even"]),
    (["train", "--attention", "none", "--input-feeding"], ["--input-feeding"]),
    (["train", "--task", "dates", "--source-lang", "ko"],
     ["--source-lang", "--task numbers and --task tatoeba only"]),
    (["train", "--data", "x.tsv", "--target-lang", "ko"],
     ["--target-lang", "--task numbers and --task tatoeba only"]),
    (["train", "--task", "numbers", "--source-lang", "xx"], ["--source-lang", "invalid choice"]),
    (["train", "--task", "numbers", "--source-lang", "fr"],
     ["--source-lang and --target-lang must differ"]),
    (["train", "--task", "numbers", "--max-len", "12"], ["--max-len must be <= 9"]),
    (["train", "--task", "numbers", "--max-pairs", "5"], ["--max-pairs applies to --data"]),
    (["train", "--lowercase", "--src-tokenize", "word"], ["--src-tokenize, --lowercase apply"]),
    (["train", "--data", "x.tsv", "--num-examples", "9"], ["--num-examples applies to --task"]),
    (["train", "--data", "x.tsv", "--vocab-size", "50"], ["--vocab-size applies to the bpe"]),
    (["train", "--data", "x.tsv", "--valid", "y.tsv", "--valid-fraction", "0.2"],
     ["with --valid FILE nothing is split"]),
    (["translate", "abc"], ["--checkpoint"]),
    (["evaluate"], ["--checkpoint"]),
])
def test_bad_arguments(argv, fragments, capsys):
    code, _, err = run(argv, capsys)
    assert_one_line_error(code, err, *fragments)


@pytest.mark.parametrize("argv, expected", [
    (["train", "--clip", "nan"], "--clip: expected a number >= 0, got 'nan'"),
    (["train", "--clip", "-1"], "--clip: expected a number >= 0, got '-1'"),
    (["train", "--lr", "inf"], "--lr: expected a number > 0, got 'inf'"),
    (["train", "--lr-decay", "0"], "--lr-decay: expected a number in (0, 1], got '0'"),
    (["train", "--epochs", "many"], "--epochs: expected an integer >= 1, got 'many'"),
    (["train", "--batch-size", "1.5"], "--batch-size: expected an integer >= 1, got '1.5'"),
    (["train", "--hidden-dim", "0"], "--hidden-dim: expected an integer >= 1, got '0'"),
    (["train", "--num-examples", "-5"], "--num-examples: expected an integer >= 1, got '-5'"),
    (["train", "--threads", "0"], "--threads: expected an integer >= 1, got '0'"),
    (["train", "--num-layers", "0"], "--num-layers: expected an integer >= 1, got '0'"),
    (["train", "--dropout", "1"], "--dropout: expected a number in [0, 1), got '1'"),
    (["train", "--data", "x.tsv", "--vocab-size", "1"],
     "--vocab-size: expected an integer >= 2, got '1'"),
    (["train", "--data", "x.tsv", "--valid-fraction", "1.5"],
     "--valid-fraction: expected a number in (0, 1), got '1.5'"),
    (["train", "--data", "x.tsv", "--min-freq", "0"],
     "--min-freq: expected an integer >= 1, got '0'"),
    (["train", "--data", "x.tsv", "--max-pairs", "0"],
     "--max-pairs: expected an integer >= 1, got '0'"),
    (["course", "grade", "x.ipynb", "--timeout", "0"], "--timeout: expected a number > 0, got '0'"),
    (["translate", "--checkpoint", "c.npz", "--length-penalty", "-1", "x"],
     "--length-penalty: expected a number >= 0, got '-1'"),
    (["translate", "--checkpoint", "c.npz", "--beam", "0", "x"],
     "--beam: expected an integer >= 1, got '0'"),
    (["evaluate", "--checkpoint", "c.npz", "--seed", "-1"],
     "--seed: expected an integer >= 0, got '-1'"),
])
def test_numeric_options_name_the_flag(argv, expected, capsys):
    code, _, err = run(argv, capsys)
    assert_one_line_error(code, err, f"argument {expected}")


@pytest.mark.parametrize("command", ["train", "translate", "evaluate"])
def test_every_option_has_help_in_flags_not_python_names(command):
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.choices and command in a.choices)
    for action in sub.choices[command]._actions:
        text = action.help or ""
        assert text, action.option_strings
        assert not re.search(r"(?<![\w/-])[a-z]+_[a-z_]+\b(?!\.py)", text), text  # hidden_dim
        assert "None" not in text, text
        assert action.metavar is None or action.choices or re.fullmatch(r"[A-Z]+(\.\w+)?",
                                                                        action.metavar)
        assert action.metavar is None or "_" not in action.metavar, action.metavar


@pytest.mark.parametrize("text, expected", [
    ("got hidden_dim=15", "got --hidden-dim 15"),
    ("needs attention in ('dot',), got attention='bahdanau'", "got --attention bahdanau"),
    ("min_len must be <= max_len.", "--min-len must be <= --max-len."),
    ("src_vocab_size=4", "src_vocab_size=4"),  # not an option: left as it is
    ("data/min_len.tsv:2: no TAB; min_len.tsv too", "data/min_len.tsv:2: no TAB; min_len.tsv too"),
])
def test_as_flags(text, expected):
    assert cli.as_flags(text, {"hidden_dim", "attention", "min_len", "max_len"}).endswith(expected)


def test_version(capsys):
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out == f"numpy-seq2seq {__version__}\n"


@pytest.mark.parametrize("name, fragments", [
    ("missing.tsv", ["not found", "missing.tsv"]),
    ("empty.tsv", ["no sentence pairs"]),
    ("blank.tsv", ["no sentence pairs"]),
    ("notab.tsv", ["notab.tsv:2", "no TAB"]),
])
@pytest.mark.parametrize("option", ["--data", "--valid"])
def test_bad_corpus_files(name, fragments, option, files, capsys):
    data = files / ("good.tsv" if option == "--valid" else name)
    argv = ["train", "--data", str(data), "--epochs", "1", "--out", str(files / "run")]
    if option == "--valid":
        argv += ["--valid", str(files / name)]
    code, _, err = run(argv, capsys)
    assert_one_line_error(code, err, *fragments)


def test_too_few_pairs_to_split(files, capsys):
    (files / "one.tsv").write_text("a\tb\n")
    code, _, err = run(["train", "--data", str(files / "one.tsv"), "--out", str(files / "r")],
                       capsys)
    assert_one_line_error(code, err, "no held-out pairs", "read 1 pair;", "kept 1;",
                          "1 pair are too few")
    assert not (files / "r").exists()  # a failed run leaves no empty folder behind


@pytest.mark.parametrize("extra, fragments", [
    (["--max-len", "1"], ["no pairs left", "18 longer than 1 tokens", "raise --max-len"]),
    (["--min-freq", "1000"], ["no source token occurs --min-freq 1000 times", "lower --min-freq"]),
    (["--attention", "bahdanau", "--input-feeding"], ["--input-feeding", "--attention bahdanau"]),
    (["--bidirectional", "--hidden-dim", "15"], ["--hidden-dim 15", "even"]),
])
def test_a_failed_run_names_the_option_and_leaves_no_folder(extra, fragments, files, capsys):
    out, data = files / "run", files / "two_words.tsv"
    data.write_text("".join(f"{a} {b}\t{b} {a}\n" for a in "xyz" for b in "pqrstu"))
    code, _, err = run(["train", "--data", str(data), "--tokenize", "word",
                        *SMALL_MODEL, "--out", str(out), *extra], capsys)
    assert_one_line_error(code, err, *fragments)
    assert not out.exists()


@pytest.mark.parametrize("argv, fragments", [
    (["translate", "--checkpoint", "{d}/missing.npz", "abc"], ["not found"]),
    (["translate", "--checkpoint", "{d}/not_a_checkpoint.npz", "abc"], ["not a numpy_seq2seq"]),
    (["evaluate", "--checkpoint", "{d}/missing.npz"], ["not found"]),
])
def test_bad_checkpoint(argv, fragments, files, capsys):
    code, _, err = run([a.format(d=files) for a in argv], capsys)
    assert_one_line_error(code, err, *fragments)


def test_translate_reads_unknown_tokens_as_unk_and_says_so(run_dir, capsys):
    code, out, err = run(["translate", "--checkpoint", str(run_dir / "checkpoint.npz"),
                          "abc", "ab9!"], capsys)
    assert code == 0 and len(out.splitlines()) == 2
    assert err.strip() == ("numpy-seq2seq: warning: input 2: 2 token(s) not in the vocabulary, "
                           "read as <unk>: '9', '!'")


@pytest.mark.parametrize("beam", ["1", "3"])
def test_translate_stops_loops_when_asked(run_dir, beam, capsys):
    ckpt = str(run_dir / "checkpoint.npz")
    texts = ["aaaaaaa", "abababab", "abc"]
    code, out, err = run(["translate", "--checkpoint", ckpt, "--beam", beam,
                          "--no-repeat-ngram", "1", *texts], capsys)
    assert code == 0, err
    assert all(len(set(line)) == len(line) for line in out.splitlines())  # no letter twice
    code, out, err = run(["translate", "--checkpoint", ckpt, "--beam", beam, "--max-ratio",
                          "0.5", *texts], capsys)
    assert code == 0, err
    assert all(len(line) <= -(-len(text) // 2) + 1 for line, text in
               zip(out.splitlines(), texts, strict=True))


def test_translate_one_bad_line_fails_alone(run_dir, capsys, monkeypatch):
    ckpt = str(run_dir / "checkpoint.npz")
    code, good, _ = run(["translate", "--checkpoint", ckpt, "abc", "cba"], capsys)
    monkeypatch.setattr(sys, "stdin", io.StringIO("abc\nab9!\n\ncba\n"))
    code, out, err = run(["translate", "--checkpoint", ckpt, "--unknown", "error"], capsys)
    assert code == 1  # some input failed
    first, second = good.splitlines()
    assert out.splitlines() == [first, "", "", second]  # failed and blank lines keep their place
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR + "input 2 ('ab9!'): 2 token(s)")


@pytest.mark.parametrize("text, stdin, expected", [
    ([""], "", "\n"), (["", "  "], "", "\n\n"), ([], "\n", "\n"), ([], "\n \n", "\n\n"),
])
def test_translate_blank_inputs_give_blank_lines(text, stdin, expected, run_dir, capsys,
                                                 monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code, out, err = run(["translate", "--checkpoint", str(run_dir / "checkpoint.npz"), *text],
                         capsys)
    assert (code, out, err) == (0, expected, "")


def test_translate_without_any_input_says_so(run_dir, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = run(["translate", "--checkpoint", str(run_dir / "checkpoint.npz")], capsys)
    assert_one_line_error(code, err, "no input text")


def test_translate_every_input_refused(run_dir, capsys):
    code, out, err = run(["translate", "--checkpoint", str(run_dir / "checkpoint.npz"),
                          "--unknown", "error", "XYZ", "9"], capsys)
    assert code == 1 and out == "\n\n" and err.count(ERROR) == 2


def test_translate_blank_inputs_keep_their_place(run_dir, capsys):
    ckpt = str(run_dir / "checkpoint.npz")
    code, out, err = run(["translate", "--checkpoint", ckpt, "abc", " ", "cba"], capsys)
    assert code == 0 and err == ""
    assert len(out.splitlines()) == 3 and out.splitlines()[1] == ""


def test_evaluate_warns_about_data_of_another_task(run_dir, capsys):
    ckpt = str(run_dir / "checkpoint.npz")
    code, out, err = run(["evaluate", "--checkpoint", ckpt, "--task", "addition",
                          "--num-examples", "20"], capsys)
    assert code == 0 and "exact match" in out
    warnings = err.strip().splitlines()
    assert warnings[0] == ("numpy-seq2seq: warning: the model was trained on task reverse, not "
                           "on task addition")
    assert "are not in the model's vocabularies, most often" in warnings[1]
    assert "more than 20 % of the tokens are unknown" in warnings[2]
    code, _, err = run(["evaluate", "--checkpoint", ckpt, "--task", "addition", "--unknown",
                        "error"], capsys)
    assert code == 2 and err.count(ERROR) == 1
    assert "not in the model's vocabularies" in err and "--unknown unk would read" in err


def test_evaluate_quiet_on_its_own_data(run_dir, capsys):
    code, _, err = run(["evaluate", "--checkpoint", str(run_dir / "checkpoint.npz")], capsys)
    assert code == 0 and err == ""


def test_evaluate_data_warns_when_it_overlaps_training(run_dir, tmp_path, capsys):
    from numpy_seq2seq.data import make_task, split_pairs, write_heldout

    train, valid = split_pairs(make_task("reverse", 200, seed=0), 0.1, seed=0)  # as TINY trains
    ckpt = str(run_dir / "checkpoint.npz")
    for name, pairs, warned in (("valid", valid, 0), ("mixed", train[:3] + valid, 3)):
        path = write_heldout(tmp_path / f"{name}.tsv", pairs)
        code, out, err = run(["evaluate", "--checkpoint", ckpt, "--data", str(path)], capsys)
        assert code == 0 and "exact match" in out, err
        if warned:
            assert (f"warning: {warned} of {len(pairs)} pairs share a source or a target with "
                    f"the training pairs ({warned} sources, {warned} targets, {warned} whole "
                    "pairs)") in err
        else:
            assert "training pairs" not in err


def test_evaluate_bad_data(run_dir, files, capsys):
    code, _, err = run(["evaluate", "--checkpoint", str(run_dir / "checkpoint.npz"),
                        "--data", str(files / "notab.tsv")], capsys)
    assert_one_line_error(code, err, "no TAB")
    code, _, err = run(["evaluate", "--checkpoint", str(run_dir / "checkpoint.npz"),
                        "--task", "nosuch"], capsys)
    assert_one_line_error(code, err, "invalid choice")


# ---------------------------------------------------------------------------------------------
# help

@pytest.mark.parametrize("command", ["train", "translate", "evaluate"])
def test_subcommand_help(command, capsys):
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0
    assert out.startswith(f"usage: numpy-seq2seq {command}")
    assert "--checkpoint" in out or "--task" in out


def test_python_dash_m_help():
    res = subprocess.run([sys.executable, "-m", "numpy_seq2seq", "--help"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: numpy-seq2seq")
    for command in ("train", "translate", "evaluate"):
        assert command in res.stdout


# ---------------------------------------------------------------------------------------------
# end to end

def test_train_writes_the_run_directory(tmp_path, capsys):
    out_dir = tmp_path / "run"
    old = os.umask(0o022)
    try:
        code, out, err = run(["train", *TINY, "--epochs", "2", "--out", str(out_dir)], capsys)
    finally:
        os.umask(old)
    assert code == 0, err
    for name in ("checkpoint.npz", "best.npz", "metrics.json", "attention.png", "training.png",
                 "heldout.tsv"):
        path = out_dir / name
        assert path.stat().st_size > 0, name
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, name  # readable by the whole class
    assert "task reverse" in out and "parameters" in out
    assert "epoch  2/2" in out and "exact match" in out and "(best.npz)" in out
    assert f"wrote {out_dir}" in out and "examples (held-out):" in out
    metrics = read_metrics(out_dir)
    assert metrics["status"] == "complete"
    assert metrics["model"]["hidden_dim"] == 16 and metrics["n_valid"] == 20
    assert metrics["training"]["epochs"] == 2 and metrics["data"]["task"] == "reverse"
    assert len(metrics["epochs"]) == 2 and metrics["final"] == metrics["epochs"][-1]
    for key in ("exact_match", "token_accuracy"):
        assert 0.0 <= metrics["final"][key] <= 1.0
    best = metrics["best"]["epoch"]
    assert metrics["checkpoints"] == {
        "checkpoint.npz": {"epoch": 2, "step": metrics["final"]["step"],
                           "steps_into_next_epoch": 0},
        "best.npz": {"epoch": best, "step": metrics["epochs"][best - 1]["step"],
                     "steps_into_next_epoch": 0}}
    assert read_extra(out_dir / "best.npz")["epoch"] == best
    [only] = metrics["sessions"]
    assert metrics["wall_time_s"] == only["wall_time_s"] > 0
    assert only["threads"] == 1 and only["versions"]["numpy"] == np.__version__
    # each epoch's line shows its steps and its end (scoring, checkpoints): they add up
    ends = [f"({e['time']:.1f} s + {e['end_time']:.1f} s scoring and saving)"
            for e in metrics["epochs"]]
    assert all(end in out for end in ends) and all(e["end_time"] > 0 for e in metrics["epochs"])


def test_resume_adds_a_session_and_warns_of_other_threads(run_dir, tmp_path, capsys):
    shutil.copytree(run_dir, tmp_path / "run")
    first = read_metrics(run_dir)["sessions"]
    code, out, err = run(["train", "--resume", str(tmp_path / "run"), "--epochs", "2",
                          "--threads", "2"], capsys)
    assert code == 0 and " s in all 2 sessions)" in out
    assert err.startswith("numpy-seq2seq: warning: --threads 2: the run used 1;")
    metrics = read_metrics(tmp_path / "run")
    assert metrics["sessions"][0] == first[0] and metrics["sessions"][1]["threads"] == 2
    assert metrics["wall_time_s"] == pytest.approx(sum(s["wall_time_s"]
                                                       for s in metrics["sessions"]))
    assert metrics["wall_time_s"] > metrics["sessions"][1]["wall_time_s"]
    # what it prints is what metrics.json holds (figures included in both)
    printed = re.search(r"wall time (\d+) s \((\d+) s in all 2 sessions\)", out).groups()
    assert [int(x) for x in printed] == [round(metrics["sessions"][1]["wall_time_s"]),
                                         round(metrics["wall_time_s"])]


def test_training_figure_redrawn_from_metrics_json_alone(run_dir, tmp_path):
    history = read_metrics(run_dir)["history"]
    assert len(history["loss"]) == len(history["grad_norm"]) == history["step"][-1] > 0
    fig = plot_training(history)
    assert [ax.get_title() for ax in fig.axes] == ["Training loss", "Gradient norm before "
                                                   "clipping", "Validation exact match"]
    assert save_figure(fig, tmp_path / "again.png").stat().st_size > 0


def test_a_run_folder_is_not_overwritten(run_dir, capsys):
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    code, _, err = run(["train", *TINY, "--seed", "1", "--out", str(run_dir)], capsys)
    assert_one_line_error(code, err, f"--out {run_dir} is not empty", "--force",
                          f"--resume {run_dir}")
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_force_replaces_the_run_without_mixing_files(tmp_path, capsys):
    for name in ("checkpoint.npz", "best.npz", "attention.png"):  # an old run with attention
        (tmp_path / name).write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = run(["train", *TINY, "--attention", "none", "--quiet", "--force",
                        "--out", str(tmp_path)], capsys)
    assert code == 0, err
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "checkpoint.npz", "heldout.tsv",
                                            "metrics.json", "notes.txt", "training.png"]
    assert read_metrics(tmp_path)["model"]["attention"] is None


def test_a_diverged_run_keeps_its_record(tmp_path, capsys, monkeypatch):
    real, calls = Seq2Seq.loss_and_grads, []

    def nan_at_step_2(self, src, tgt, rng=None):
        calls.append(1)
        loss, grads = real(self, src, tgt, rng=rng)
        return (float("nan") if len(calls) == 2 else loss), grads

    monkeypatch.setattr(Seq2Seq, "loss_and_grads", nan_at_step_2)
    code, _, err = run(["train", *TINY, "--quiet", "--out", str(tmp_path)], capsys)
    assert code == 1 and err.startswith("numpy-seq2seq: error: training diverged at step 2 ")
    assert "no checkpoint was written" in err
    metrics = read_metrics(tmp_path)
    assert metrics["status"] == "diverged" and len(metrics["history"]["loss"]) == 1
    assert metrics["checkpoints"] == {} and (tmp_path / "training.png").is_file()


def test_resume_options(run_dir, tmp_path, capsys):
    code, _, err = run(["train", "--resume", str(run_dir), "--lr", "0.1"], capsys)
    assert_one_line_error(code, err, "only --epochs, --threads, --quiet may be given", "not --lr")
    code, _, err = run(["train", "--resume", str(run_dir)], capsys)
    assert_one_line_error(code, err, "has done 1 epoch(s); give --epochs N > 1")
    code, _, err = run(["train", "--resume", str(tmp_path)], capsys)
    assert_one_line_error(code, err, "no checkpoint.npz there")


def test_a_checkpoint_from_before_resuming_existed_still_works(run_dir, tmp_path, capsys):
    model, src_vocab, tgt_vocab, _ = load_checkpoint(run_dir / "checkpoint.npz")
    old_spec = {"task": "reverse", "num_examples": 200, "min_len": None, "max_len": None,
                "seed": 0, "valid_fraction": 0.1}  # what numpy_seq2seq 0.1.0 stored
    save_checkpoint(tmp_path / "checkpoint.npz", model, src_vocab, tgt_vocab,
                    extra={"epoch": 1, "step": 4, "metrics": {}, "data": old_spec})
    code, out, err = run(["evaluate", "--checkpoint", str(tmp_path / "checkpoint.npz")], capsys)
    rebuilt = "held-out split used in training (rebuilt from the data): 20 pairs"
    assert code == 0 and rebuilt in out, err
    code, _, err = run(["train", "--resume", str(tmp_path), "--epochs", "2"], capsys)
    assert_one_line_error(code, err, "holds no training state", "still works for translate")


def test_ctrl_c_in_a_real_process_saves_a_run_that_resumes_exactly(tmp_path, capsys):
    out_dir = tmp_path / "stopped"
    # with dropout: the masks' generator must also resume where it stopped, mid-epoch
    argv = ["train", "--task", "reverse", "--num-examples", "600", "--hidden-dim", "16",
            "--embed-dim", "8", "--batch-size", "8", "--attention", "none", "--dropout", "0.3",
            "--quiet"]
    # planned for 6 epochs and resumed with that plan: the cosine rates depend on the plan
    proc = subprocess.Popen([sys.executable, "-m", "numpy_seq2seq", *argv, "--epochs", "6",
                             "--out", str(out_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            # as typed in a terminal, even if these tests run as a background
                            # job (whose children inherit an ignored SIGINT)
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not (out_dir / "checkpoint.npz").exists():  # the first epoch is done
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    stopped, resume = err.strip().splitlines()
    assert stopped.startswith("numpy-seq2seq: SIGINT: training stopped at step ")
    assert stopped.endswith(f"saved {out_dir}/: checkpoint.npz, best.npz, metrics.json, "
                            "training.png, heldout.tsv")
    assert resume == f"resume with: numpy-seq2seq train --resume {out_dir}"
    metrics, ckpt = read_metrics(out_dir), load_checkpoint(out_dir / "checkpoint.npz")
    assert metrics["status"] == "interrupted"
    assert metrics["checkpoints"]["checkpoint.npz"]["step"] == ckpt.extra["step"] \
        == len(metrics["history"]["loss"])
    # resume to the planned end, and compare with a run never stopped
    assert ckpt.extra["epoch"] < 6
    assert main(["train", "--resume", str(out_dir), "--quiet"]) == 0
    assert main([*argv, "--epochs", "6", "--out", str(tmp_path / "straight")]) == 0
    capsys.readouterr()
    straight_metrics = read_metrics(tmp_path / "straight")
    assert resumed_numbers(read_metrics(out_dir)) == resumed_numbers(straight_metrics)
    resumed = load_checkpoint(out_dir / "checkpoint.npz").model.params
    straight = load_checkpoint(tmp_path / "straight" / "checkpoint.npz").model.params
    assert max(float(np.abs(resumed[k] - straight[k]).max()) for k in straight) <= 1e-6


@pytest.mark.parametrize("at_call", [5, 2], ids=["after an epoch", "before any checkpoint"])
def test_a_second_ctrl_c_still_says_what_was_saved(at_call, tmp_path, capsys, monkeypatch):
    real, calls = Seq2Seq.loss_and_grads, []

    def impatient(self, src, tgt, rng=None):  # 3 steps an epoch: call 5 is in epoch 2
        calls.append(1)
        if len(calls) == at_call:
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
        return real(self, src, tgt, rng=rng)

    monkeypatch.setattr(Seq2Seq, "loss_and_grads", impatient)
    out_dir = tmp_path / "run"
    code, _, err = run(["train", *TINY, "--epochs", "3", "--quiet", "--out", str(out_dir)],
                       capsys)
    assert code == 130 and ERROR not in err
    if at_call == 5:
        stopped, resume = err.strip().splitlines()
        assert stopped == (f"numpy-seq2seq: stopped at once; {out_dir / 'checkpoint.npz'} holds "
                           "the run up to step 3 (1 epoch(s) done); later steps are lost")
        assert resume == f"resume with: numpy-seq2seq train --resume {out_dir}"
    else:
        assert err.strip().endswith("before the first checkpoint: nothing was saved")
        assert not out_dir.exists()  # the run made it: nothing of it is left


def test_a_second_ctrl_c_keeps_a_folder_the_user_made(tmp_path, capsys, monkeypatch):
    real = Seq2Seq.loss_and_grads

    def impatient(self, src, tgt, rng=None):
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
        return real(self, src, tgt, rng=rng)

    monkeypatch.setattr(Seq2Seq, "loss_and_grads", impatient)
    out_dir = tmp_path / "mine"
    out_dir.mkdir()
    code, _, err = run(["train", *TINY, "--quiet", "--out", str(out_dir)], capsys)
    assert code == 130 and "nothing was saved" in err
    assert out_dir.is_dir() and not any(out_dir.iterdir())


def test_train_stacked_bahdanau_with_dropout(tmp_path, capsys):
    argv = ["train", *TINY, "--attention", "bahdanau", "--num-layers", "2", "--dropout", "0.2",
            "--quiet", "--out", str(tmp_path)]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    config = read_metrics(tmp_path)["model"]
    assert (config["attention"], config["num_layers"], config["dropout"]) == ("bahdanau", 2, 0.2)
    ckpt = str(tmp_path / "checkpoint.npz")
    code, out, err = run(["translate", "--checkpoint", ckpt, "--beam", "2", "abc"], capsys)
    assert code == 0 and len(out.splitlines()) == 1, err


def test_train_on_a_word_level_corpus_reports_bleu(files, capsys):
    code, out, err = run(["train", "--data", str(files / "good.tsv"), "--tokenize", "word",
                          "--epochs", "1", "--hidden-dim", "8", "--quiet",
                          "--out", str(files / "run")], capsys)
    assert code == 0, err
    assert "BLEU" in out
    assert read_metrics(files / "run")["final"]["bleu"] is not None


def test_evaluate_finds_the_run_data_from_any_directory(files, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(files)
    assert main(["train", "--data", "good.tsv", "--epochs", "1", "--hidden-dim", "8",
                 "--quiet", "--out", "run"]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    ckpt = str(files / "run" / "best.npz")
    code, stored, err = run(["evaluate", "--checkpoint", ckpt], capsys)
    assert code == 0 and "the held-out pairs the run stored" in stored, err
    (files / "run" / "heldout.tsv").unlink()  # without it, the split is rebuilt: same pairs
    code, rebuilt, err = run(["evaluate", "--checkpoint", ckpt], capsys)
    assert code == 0 and "held-out split used in training (rebuilt" in rebuilt, err
    assert stored.splitlines()[-5:] == rebuilt.splitlines()[-5:]  # the same scores
    corpus = (files / "good.tsv").read_text(encoding="utf-8")
    (files / "good.tsv").write_text(corpus + "a new line\tune nouvelle ligne\n", encoding="utf-8")
    code, _, err = run(["evaluate", "--checkpoint", ckpt], capsys)
    assert_one_line_error(code, err, str(files / "good.tsv"), "has changed since the model was "
                          "trained on it", "--data FILE.tsv")
    (files / "good.tsv").unlink()
    code, _, err = run(["evaluate", "--checkpoint", ckpt], capsys)
    assert_one_line_error(code, err, str(files / "good.tsv"), "not there any more",
                          "--data FILE.tsv")


def test_translate(run_dir, capsys, monkeypatch):
    ckpt = str(run_dir / "checkpoint.npz")
    code, out, err = run(["translate", "--checkpoint", ckpt, "abc", "hgf"], capsys)
    assert code == 0, err
    assert len(out.splitlines()) == 2
    code, beam_out, _ = run(["translate", "--checkpoint", ckpt, "--beam", "3", "abc"], capsys)
    assert code == 0 and len(beam_out.splitlines()) == 1
    monkeypatch.setattr(sys, "stdin", io.StringIO("abc\nhgf\n"))
    code, stdin_out, _ = run(["translate", "--checkpoint", ckpt], capsys)
    assert code == 0 and stdin_out == out


def test_translate_shows_attention(run_dir, tmp_path, capsys):
    plot = tmp_path / "attn.png"
    code, out, err = run(["translate", "--checkpoint", str(run_dir / "checkpoint.npz"),
                          "--max-len", "4", "--show-attention", "--plot", str(plot), "abcd"],
                         capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].split() == ["a", "b", "c", "d"]  # the table's header: source tokens
    assert len(lines[2].split()) == 5  # an output token and 4 weights
    assert plot.stat().st_size > 0


def test_plot_is_written_exactly_where_asked(run_dir, tmp_path, capsys):
    ckpt = str(run_dir / "checkpoint.npz")
    code, _, err = run(["translate", "--checkpoint", ckpt, "--plot", str(tmp_path / "attn"),
                        "abc"], capsys)
    assert code == 0 and err == f"wrote {tmp_path / 'attn'}\n"
    assert sorted(os.listdir(tmp_path)) == ["attn"]  # no ".png" appended
    assert (tmp_path / "attn").read_bytes().startswith(b"\x89PNG")
    code, _, err = run(["translate", "--checkpoint", ckpt, "--plot", str(tmp_path / "a.xyz"),
                        "abc"], capsys)
    assert_one_line_error(code, err, "no image format '.xyz'", ".png", ".svg")


def test_plot_never_replaces_a_file_or_makes_folders_silently(run_dir, tmp_path, capsys):
    ckpt, plot = str(run_dir / "checkpoint.npz"), tmp_path / "attn.png"
    plot.write_bytes(b"an earlier figure")
    code, _, err = run(["translate", "--checkpoint", ckpt, "--plot", str(plot), "abc"], capsys)
    assert_one_line_error(code, err, f"--plot {plot} exists: add --force")
    assert plot.read_bytes() == b"an earlier figure"
    code, _, err = run(["translate", "--checkpoint", ckpt, "--plot", str(plot), "--force", "abc"],
                       capsys)
    assert code == 0 and plot.read_bytes().startswith(b"\x89PNG")
    deep = tmp_path / "no" / "such" / "x.png"
    code, _, err = run(["translate", "--checkpoint", ckpt, "--plot", str(deep), "abc"], capsys)
    assert_one_line_error(code, err, f"the folder {deep.parent} does not exist")
    assert not (tmp_path / "no").exists()


def _column_ends(line):
    """Where (in terminal cells) each run of non-spaces ends."""
    ends, col = [], 0
    for i, ch in enumerate(line):
        col += display_width(ch)
        if ch != " " and (i + 1 == len(line) or line[i + 1] == " "):
            ends.append(col)
    return ends


def test_attention_table_aligns_wide_characters():
    weights = np.array([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0]])
    table = attention_table(weights, ["한", "국어", "a"], ["日本", "</s>"])
    header, *rows = table.splitlines()
    for row in rows:  # every number ends under the end of its source token
        assert _column_ends(row)[1:] == _column_ends(header), table
    assert display_width("한국어 ab") == 9 and display_width("e\u0301") == 1


def test_evaluate(run_dir, capsys):
    ckpt = str(run_dir / "checkpoint.npz")
    code, out, err = run(["evaluate", "--checkpoint", ckpt], capsys)
    assert code == 0, err
    assert "held-out pairs the run stored" in out
    assert "exact match" in out and "token accuracy" in out
    metrics = read_metrics(run_dir)
    assert f"{100 * metrics['final']['exact_match']:.2f} %" in out
    code, out, _ = run(["evaluate", "--checkpoint", ckpt, "--task", "reverse",
                        "--num-examples", "30"], capsys)
    assert code == 0 and "30 pairs" in out and "BLEU" not in out


def test_numbers_task_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    code, text, err = run(["train", "--task", "numbers", "--source-lang", "ko", "--target-lang",
                           "en", "--num-examples", "300", *SMALL_MODEL, "--out", str(out)], capsys)
    assert code == 0, err
    header = text.splitlines()[0]
    assert "task numbers ko -> en" in header and "(char) ->" in header and "(word)" in header
    assert "BLEU" in text and "chrF" in text
    final = read_metrics(out)["final"]
    assert final["bleu"] is not None and 0 <= final["chrf"] <= 100
    ckpt = str(out / "checkpoint.npz")
    code, text, err = run(["evaluate", "--checkpoint", ckpt], capsys)
    assert code == 0 and err == "" and f"chrF            {final['chrf']:.2f}" in text
    # fresh pairs in the languages the model learnt, without being told them again
    code, text, err = run(["evaluate", "--checkpoint", ckpt, "--task", "numbers",
                           "--num-examples", "20"], capsys)
    assert code == 0 and "BLEU" in text and "trained on" not in err
    code, text, err = run(["translate", "--checkpoint", ckpt, "이십일"], capsys)
    assert code == 0 and err == "" and len(text.splitlines()) == 1


def test_tatoeba_style_corpus_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    code, text, err = run(["train", "--data", str(TATOEBA_STYLE), "--tokenize", "word",
                           "--max-len", "5", "--max-pairs", "30", "--valid-fraction", "0.2",
                           "--min-freq", "1", *SMALL_MODEL, "--out", str(out)], capsys)
    assert code == 0, err
    data_line = text.splitlines()[1]
    assert data_line.startswith(f"data: {TATOEBA_STYLE}: read 42 pairs; dropped ")
    assert "longer than 5 tokens" in data_line and "beyond the 30-pair limit" in data_line
    assert "kept 30; 42 lines carry an attribution column" in data_line
    assert "24 training / 6 held-out pairs" in data_line
    metrics = read_metrics(out)  # the split is stored: the held-out pairs and the corpus hash
    assert load_tsv(out / "heldout.tsv") == cli.load_pairs(cli.trained_on(
        load_checkpoint(out / "checkpoint.npz").extra)).valid
    assert metrics["split"]["together"] == "either" and metrics["split"]["n_valid"] == 6
    assert metrics["split"]["sha256"] == {str(TATOEBA_STYLE): file_sha256(TATOEBA_STYLE)}
    _, src_vocab, tgt_vocab, _ = load_checkpoint(out / "checkpoint.npz")
    assert "." in src_vocab and "cat." not in src_vocab and "!" in tgt_vocab
    code, text, err = run(["translate", "--checkpoint", str(out / "checkpoint.npz"),
                           "--unknown", "error", "The cat is here.", "We like bread!"], capsys)
    assert code == 0 and err == "" and len(text.splitlines()) == 2  # "cat." and "We" are read


def test_swap_trains_the_other_direction(tmp_path, capsys):
    out = tmp_path / "run"
    code, text, err = run(["train", "--data", str(TATOEBA_STYLE), "--tokenize", "word",
                           "--swap", *SMALL_MODEL, "--out", str(out)], capsys)
    assert code == 0, err
    assert f"data {TATOEBA_STYLE} (columns swapped)" in text.splitlines()[0]
    _, src_vocab, tgt_vocab, extra = load_checkpoint(out / "checkpoint.npz")
    assert "Cours" in src_vocab and "Cours" not in tgt_vocab and "Run" in tgt_vocab
    assert extra["data"]["swap"] is True
    code, text, err = run(["evaluate", "--checkpoint", str(out / "checkpoint.npz"), "--data",
                           str(TATOEBA_STYLE)], capsys)
    assert code == 0 and "(columns swapped, as in training): 42 pairs" in text, err
    # read the other way round, no pair would share a side with the training pairs
    assert re.search(r"warning: [1-9]\d* of 42 pairs share a source or a target with the "
                     "training pairs", err), err
    code, _, err = run(["train", "--task", "dates", "--swap"], capsys)
    assert_one_line_error(code, err, "--swap applies to --data only")


def test_bpe_corpus_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    code, text, err = run(["train", "--data", str(TATOEBA_STYLE), "--src-tokenize", "bpe",
                           "--tgt-tokenize", "char", "--vocab-size", "60", "--lowercase",
                           *SMALL_MODEL, "--out", str(out)], capsys)
    assert code == 0, err
    assert "(bpe 60, lowercased)" in text and "(char, lowercased)" in text
    with np.load(out / "checkpoint.npz", allow_pickle=False) as data:
        assert data["src_vocab_array/0"].dtype == np.uint8  # the sentencepiece model
    _, src_vocab, _, _ = load_checkpoint(out / "checkpoint.npz")
    assert src_vocab.tokenize("WE LIKE BREAD.") == src_vocab.tokenize("we like bread.")
    code, text, err = run(["translate", "--checkpoint", str(out / "checkpoint.npz"),
                           "We like bread."], capsys)
    assert code == 0 and err == ""


def test_examples_are_judged_on_canonical_text():
    vocab = cli.Vocab.from_texts(["Ils aiment le pain !"], tokenizer="word")
    output = vocab.decode_text(vocab.encode("Ils aiment le pain!"))  # as the model writes it
    assert cli._verdict(output, "Ils aiment le pain\u202f!", vocab) == "ok"
    assert cli._verdict("Ils aiment le pain.", "Ils aiment le pain\u202f!", vocab) == \
        "wrong, expected 'Ils aiment le pain !'"


def test_attention_png_panels_name_source_output_and_verdict(tmp_path, capsys, monkeypatch):
    drawn, original = [], plots.plot_attention_grid

    def capture(examples, **kwargs):
        drawn.extend(plots.AttentionExample(*ex) for ex in examples)
        return original(examples, **kwargs)

    monkeypatch.setattr(plots, "plot_attention_grid", capture)
    code, _, err = run(["train", *TINY, "--quiet", "--out", str(tmp_path)], capsys)
    assert code == 0, err
    assert len(drawn) == 4
    for ex in drawn:
        assert ex.source and ex.reference == ex.source[::-1]  # reverse task, held-out pairs
        assert ex.output == "".join(t for t in ex.out_tokens if t != "</s>")
        assert plots.attention_title(ex, 1).endswith("✓" if ex.output == ex.reference
                                                     else f"expected {ex.reference!r}")


def test_step_limit_follows_long_training_targets(tmp_path, capsys):
    # word sources, character targets: 2 x S + 10 steps would cut German number words short
    out = tmp_path / "run"
    code, _, err = run(["train", "--task", "numbers", "--target-lang", "de", "--num-examples",
                        "100", *SMALL_MODEL, "--out", str(out)], capsys)
    assert code == 0, err
    longest = load_checkpoint(out / "checkpoint.npz").extra["longest_target"]
    assert longest >= len("neunhundertneunundneunzigtausend")  # 6-digit numbers in the data
    one_word = np.zeros((1, 1), dtype=np.int64)
    assert step_limit(one_word, longest) == longest + 10
    assert step_limit(one_word, None) == 12  # old checkpoints: 2 x S + 10


def test_eval_every_and_eval_max_on_the_command_line(tmp_path, capsys):
    """--eval-every 2 over 3 epochs: epoch 1's line says it was not scored, the summary quotes
    the last scored epoch; --eval-max 5 is said in the summary's pair count."""
    code, out, err = run(["train", *TINY, "--epochs", "3", "--eval-every", "2", "--eval-max", "5",
                          "--out", str(tmp_path / "run")], capsys)
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert "held-out not scored this epoch" in lines[0]
    assert "held-out loss" in lines[1] and "held-out loss" in lines[2]
    assert "held-out after epoch 3:" in out and " on 5 of " in out
    metrics = read_metrics(tmp_path / "run")
    assert metrics["history"]["valid_epochs"] == [2, 3]
    assert metrics["epochs"][0]["valid_loss"] is None and metrics["final"]["valid_loss"] is not None


@pytest.mark.parametrize("split, leaked", [("source", True), ("either", False)])
def test_split_option_sets_what_stays_together(split, leaked, tmp_path, capsys):
    """A corpus where two sources share one target: --split source may put them on two sides
    (a held-out target seen in training), --split either never does; metrics.json says which."""
    lines = [f"source {i}\ttarget {i // 2}\n" for i in range(200)]
    corpus = tmp_path / "pairs.tsv"
    corpus.write_text("".join(lines), encoding="utf-8")
    code, _, err = run(["train", "--data", str(corpus), "--tokenize", "word", "--split", split,
                        *SMALL_MODEL, "--quiet", "--out", str(tmp_path / "run")], capsys)
    assert code == 0, err
    assert read_metrics(tmp_path / "run")["split"]["together"] == split
    held = set(load_tsv(tmp_path / "run" / "heldout.tsv"))
    training = set(load_tsv(corpus)) - held  # every pair is distinct
    assert len(held) == 20
    assert bool({t for _, t in held} & {t for _, t in training}) == leaked
