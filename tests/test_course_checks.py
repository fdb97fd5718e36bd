"""The course's checks: the library's own functions pass; every plausible wrong answer in
wrong_solutions.py loses its exercise's points with a message, of one line, that names the fault;
a function still raising NotImplementedError, raising an error or with the wrong signature is
reported in one line, never with a traceback."""

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from numpy_seq2seq.course.exercises import EXERCISES, check, evaluate
from numpy_seq2seq.course.functional_checks import FUNCTION_PAIRS, reference
from numpy_seq2seq.course.grading import CheckFailed
from numpy_seq2seq.functional.rnn import RNNCache

from wrong_solutions import WRONG, _gru_backward, _lstm_backward

FORWARD_FOR = {"rnn_backward": reference("rnn_forward")}  # its cache is the student's own
README = (Path(__file__).resolve().parent.parent / "course" / "UPKEEP.md").read_text("utf-8")
# course/UPKEEP.md's table of wrong answers: | `exercise` | `wrong answer` | message |
README_MESSAGES = dict(re.findall(r"^\| `\w+` \| `(\w+)` \| (.*) \|$", README, re.M))


@pytest.mark.parametrize("name", EXERCISES)
def test_the_library_passes_its_own_checks(name):
    result = evaluate(name, reference(name), FORWARD_FOR.get(name), own_work=False)
    assert result.passed, result.message


@pytest.mark.parametrize("name", EXERCISES)
def test_the_library_as_an_answer_scores_zero_naming_it(name):
    """Own work only: the library's function handed in as the student's (ownership.py)."""
    result = evaluate(name, reference(name), FORWARD_FOR.get(name))
    assert not result.passed
    assert result.message == (f"{name} is the library's {reference(name).__module__}.{name}, "
                              "not your own work (it scores 0): write it in its answer cell.")


@pytest.mark.parametrize("name, fn, forward, words", WRONG, ids=[w[1].__name__ for w in WRONG])
def test_a_wrong_answer_fails_and_the_message_names_the_fault(name, fn, forward, words):
    # some wrong answers are made from the library's (the decoders): their fault is the subject
    result = evaluate(name, fn, forward, own_work=False)
    assert not result.passed
    assert words in result.message, result.message
    assert "\n" not in result.message and "Traceback" not in result.message
    assert result.message.startswith(name)
    assert README_MESSAGES.get(fn.__name__) == result.message, (
        f"course/UPKEEP.md's message for {fn.__name__} is stale; it is now: {result.message}")


# the missing-σ′ faults of the gates WRONG (and so course/README.md's table) leaves out
NO_SIGMOID_PRIME = [
    ("lstm_step_backward", lambda dh, dc, cache: _lstm_backward(dh, dc, cache, i_prime=False),
     "input", "i"),
    ("lstm_step_backward", lambda dh, dc, cache: _lstm_backward(dh, dc, cache, o_prime=False),
     "output", "o"),
    ("gru_step_backward", lambda dh, cache: _gru_backward(dh, cache, r_prime=False), "reset", "r"),
]


@pytest.mark.parametrize("name, fn, role, gate", NO_SIGMOID_PRIME,
                         ids=[f"{w[0]}-{w[3]}" for w in NO_SIGMOID_PRIME])
def test_a_missing_sigmoid_derivative_names_its_gate(name, fn, role, gate):
    result = evaluate(name, fn)
    assert not result.passed
    assert result.message.endswith(f"σ′ of the {role} gate, {gate} ⊙ (1 − {gate}), is missing."), \
        result.message


def test_a_decoder_with_nan_scores_fails():  # made from the library's: own_work=False below
    """NaN compares unequal to everything: the right tokens with NaN log_prob and score fail."""
    def greedy_decode(model, src, max_len=None, length_penalty=0.0):
        return [dataclasses.replace(h, score=float("nan"), log_prob=float("nan"))
                for h in reference("greedy_decode")(model, src, max_len, length_penalty)]

    result = evaluate("greedy_decode", greedy_decode, own_work=False)
    assert not result.passed
    assert "row 0: log_prob nan, expected" in result.message, result.message


def test_the_right_bptt_that_pairs_with_the_wrong_forwards_passes():
    """wrong_solutions.rnn_backward (course/exploit_table.py grades a wrong rnn_forward with it,
    so that only rnn_forward's points are lost) is right, float32 included."""
    import wrong_solutions

    result = evaluate("rnn_backward", wrong_solutions.rnn_backward, wrong_solutions.rnn_forward,
                      own_work=False)
    assert result.passed, result.message


def test_every_exercise_has_a_wrong_answer_that_fails():
    assert {w[0] for w in WRONG} >= set(EXERCISES) - {"lstm_step_forward", "gru_step_forward",
                                                      "attention_forward"}


def test_not_implemented_scores_zero_in_one_line():
    def rnn_step_backward(dh, cache):
        raise NotImplementedError()

    result = evaluate("rnn_step_backward", rnn_step_backward)
    assert not result.passed
    assert result.message == ("rnn_step_backward: not implemented yet (it raises "
                              "NotImplementedError).")


def test_a_helper_that_is_not_implemented_is_named():
    def masked_softmax_backward(dp, cache):
        raise NotImplementedError()

    def attention_backward(dh_tilde, cache):
        return masked_softmax_backward(dh_tilde, cache)

    result = evaluate("attention_backward", attention_backward)
    assert "calls masked_softmax_backward, which is not implemented yet" in result.message


def test_an_error_in_student_code_is_one_line_with_its_line():
    def rnn_step_forward(x, h_prev, Wx, Wh, b):
        return np.tanh(x @ Wh), None  # (N, D) @ (H, H): a shape error

    result = evaluate("rnn_step_forward", rnn_step_forward)
    assert result.message.startswith("rnn_step_forward raised ValueError: matmul")
    assert "`return np.tanh(x @ Wh), None" in result.message and "\n" not in result.message


def test_a_wrong_signature_is_reported():
    def rnn_step_forward(x, prev_h, Wx, Wh, b):
        return None

    result = evaluate("rnn_step_forward", rnn_step_forward)
    assert result.message == ("rnn_step_forward's signature differs from the library's: "
                              "parameter 2 is 'prev_h', expected 'h_prev'.")


def test_wrong_return_structure_is_reported():
    result = evaluate("lstm_step_backward", lambda dh, dc, cache: (dh, dc))
    assert "should return 6 values (dx, dh_prev, dc_prev, dWx, dWh, db)" in result.message


def _not_implemented(x, h_prev, Wx, Wh, b):
    raise NotImplementedError()


def _own_rnn_step_forward(x, h_prev, Wx, Wh, b):
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return h, RNNCache(h_prev, h, Wh, x, Wx)


def test_check_prints_one_line_and_the_notebook_runs_on(capsys, monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    check("rnn_step_forward", _not_implemented)
    check("rnn_step_forward", _own_rnn_step_forward)
    out, err = capsys.readouterr()
    assert err == "✘ rnn_step_forward: not implemented yet (it raises NotImplementedError).\n"
    assert out.startswith("✔ rnn_step_forward passes") and out.count("\n") == 1


def test_under_nbgrader_a_failing_check_raises_its_one_line(capsys, monkeypatch):
    """nbgrader scores a cell that raised 0, and no stream redirection can hide an error."""
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(CheckFailed) as e:
        check("rnn_step_forward", _not_implemented)
    assert e.value._render_traceback_() == [
        "✘ rnn_step_forward: not implemented yet (it raises NotImplementedError)."]
    check("rnn_step_forward", _own_rnn_step_forward)  # a pass still prints, no raise
    assert capsys.readouterr().out.startswith("✔ rnn_step_forward passes")


def test_unknown_exercise_lists_the_exercises():
    with pytest.raises(ValueError, match="rnn_step_forward, rnn_step_backward, rnn_forward"):
        evaluate("rnn_step_forwards", reference("rnn_step_forward"))


def test_every_pair_is_an_exercise_of_the_functional_contract():
    assert set(FUNCTION_PAIRS) <= set(EXERCISES)


def test_in_the_kernel_a_failing_step_is_stood_in_for_and_put_back():
    """As under nbgrader: the answer cells run into one namespace, where rnn_backward calls the
    student's wrong rnn_step_backward by name; its check binds the library's there for the
    check only, and says so."""
    from numpy_seq2seq.course.answers import answer_code, run_answers
    from numpy_seq2seq.course.notebooks import SOURCES, read_notebook

    from wrong_solutions import put_answer, rnn_step_backward_transposed_dwh

    src = read_notebook(SOURCES / "a1_rnn" / "rnn_and_bptt.ipynb")
    nb = read_notebook(SOURCES / "a1_rnn" / "rnn_and_bptt.ipynb")
    put_answer(nb, "rnn_step_backward", rnn_step_backward_transposed_dwh)
    ns, problem = run_answers(answer_code(nb, src, "a1_rnn/rnn_and_bptt.ipynb"))
    assert problem is None
    wrong_step = ns["rnn_step_backward"]
    assert not evaluate("rnn_step_backward", wrong_step, ns["rnn_step_forward"]).passed
    result = evaluate("rnn_backward", ns["rnn_backward"], ns["rnn_forward"])
    assert result.passed and result.message.endswith(
        "Graded with the reference rnn_step_backward, since yours fails its check."), \
        result.message
    assert ns["rnn_step_backward"] is wrong_step  # put back
    # the twin: with the stand-in refused (nothing failed, says the grader) it fails
    assert not evaluate("rnn_backward", ns["rnn_backward"], ns["rnn_forward"], failed=()).passed
