"""Own work only (numpy_seq2seq/course/ownership.py): every way of handing in the library's
function, or of calling it from an answer, scores 0 with one line naming it; an answer of the
student's own that uses what the notebooks import (RNNCache, SCORE_BACKWARD, log_softmax) passes.

The shortcuts are written as answer cells and run into a namespace of their own, as the grader
runs them (answers.run_answers), so they meet the checks as a student's functions would."""

from __future__ import annotations

import pytest

from numpy_seq2seq.course.answers import AnswerCode, run_answers
from numpy_seq2seq.course.exercises import evaluate

OWN_STEP = """
def rnn_step_backward(dh, cache):
    da = dh * (1 - cache.h ** 2)
    return (da @ cache.Wx.T, da @ cache.Wh.T, cache.x.T @ da, cache.h_prev.T @ da,
            da.sum(axis=0))
"""

SHORTCUTS = {
    "imported": ("from numpy_seq2seq.functional.rnn import rnn_step_backward", "is the library's"),
    "from-the-package": ("from numpy_seq2seq.functional import rnn_step_backward",
                         "is the library's"),
    "assigned": ("import numpy_seq2seq.functional.rnn as R\nrnn_step_backward = "
                 "R.rnn_step_backward", "is the library's"),
    "partial": ("import functools\nfrom numpy_seq2seq.functional import rnn as R\n"
                "rnn_step_backward = functools.partial(R.rnn_step_backward)", "is the library's"),
    "code-object": ("import types\nfrom numpy_seq2seq.functional import rnn as R\n"
                    "rnn_step_backward = types.FunctionType(R.rnn_step_backward.__code__, "
                    "globals(), 'rnn_step_backward')", "is the library's"),
    "wrapper": ("from numpy_seq2seq.functional.rnn import rnn_step_backward as _lib\n"
                "def rnn_step_backward(dh, cache):\n    return _lib(dh, cache)",
                "calls the library's numpy_seq2seq.functional.rnn.rnn_step_backward (as `_lib`)"),
    "helper-of-a-helper": ("from numpy_seq2seq.functional.rnn import rnn_step_backward as _lib\n"
                           "def _inner(dh, cache):\n    return _lib(dh, cache)\n"
                           "def _outer(dh, cache):\n    return _inner(dh, cache)\n"
                           "def rnn_step_backward(dh, cache):\n    return _outer(dh, cache)",
                           "(as `_lib`)"),
    "module-attribute": ("import numpy_seq2seq\ndef rnn_step_backward(dh, cache):\n"
                         "    return numpy_seq2seq.functional.rnn.rnn_step_backward(dh, cache)",
                         "calls the library's numpy_seq2seq.functional"),
    "import-inside": ("def rnn_step_backward(dh, cache):\n"
                      "    from numpy_seq2seq.functional.rnn import rnn_step_backward as f\n"
                      "    return f(dh, cache)", "calls the library's"),
    "default-argument": ("from numpy_seq2seq.functional import rnn as R\n"
                         "def rnn_step_backward(dh, cache, _f=R.rnn_step_backward):\n"
                         "    return _f(dh, cache)", "calls the library's"),
    "closure": ("from numpy_seq2seq.functional import rnn as R\ndef _make(f):\n"
                "    def rnn_step_backward(dh, cache):\n        return f(dh, cache)\n"
                "    return rnn_step_backward\nrnn_step_backward = _make(R.rnn_step_backward)",
                "calls the library's"),
    "lambda": ("from numpy_seq2seq.functional import rnn as R\n"
               "rnn_step_backward = lambda dh, cache: R.rnn_step_backward(dh, cache)",
               "calls the library's"),
    "generic-engine": ("from numpy_seq2seq.functional.recurrent import recurrent_backward\n"
                       "def rnn_step_backward(dh, cache):\n"
                       "    return recurrent_backward(dh, cache)",
                       "numpy_seq2seq.functional.recurrent.recurrent_backward"),
}


def _answers(code: str) -> dict:
    namespace, problem = run_answers(AnswerCode("a1_rnn/test.ipynb", (code,), ()))
    assert problem is None, problem
    return namespace


@pytest.mark.parametrize("shortcut", SHORTCUTS)
def test_every_way_of_handing_in_the_library_scores_zero(shortcut):
    code, words = SHORTCUTS[shortcut]
    result = evaluate("rnn_step_backward", _answers(code)["rnn_step_backward"])
    assert not result.passed
    assert result.message.startswith("rnn_step_backward ") and "not your own work" in \
        result.message and words in result.message, result.message
    assert "\n" not in result.message


def test_own_work_passes_whatever_its_globals_are_named():
    """``cache.h`` is an attribute: a global ``h`` bound to the library changes nothing."""
    ns = _answers("from numpy_seq2seq.functional.rnn import rnn_step_backward as h\n"
                  "import numpy as np\n" + OWN_STEP.replace("def rnn_step_backward",
                                                            "def mine"))
    result = evaluate("rnn_step_backward", ns["mine"])
    assert result.passed, result.message


def test_a_step_of_the_library_under_another_name_is_named_in_rnn_backward():
    """rnn_backward's loop calls the library's step under a name of its own: rnn_backward is
    not the student's work."""
    code = ("import numpy as np\nfrom numpy_seq2seq.functional.rnn import rnn_step_backward as s\n"
            "def rnn_backward(dhs, cache):\n    return s(dhs, cache)")
    result = evaluate("rnn_backward", _answers(code)["rnn_backward"])
    assert "rnn_backward calls the library's numpy_seq2seq.functional.rnn.rnn_step_backward " \
        "(as `s`)" in result.message, result.message


def test_an_exercise_it_builds_on_is_charged_there_alone():
    """rnn_step_backward imported under its own name is charged to rnn_step_backward; the
    student's own rnn_backward, which calls it by that name, is not charged again."""
    code = ("from numpy_seq2seq.functional.rnn import rnn_step_backward\n"
            "def rnn_backward(dhs, cache):\n    return rnn_step_backward(dhs, cache)")
    ns = _answers(code)
    assert "not your own work" in evaluate("rnn_step_backward", ns["rnn_step_backward"]).message
    assert "not your own work" not in evaluate("rnn_backward", ns["rnn_backward"]).message


def test_what_the_notebooks_hand_out_may_be_used():
    """attention_backward reaches the score's backward through the library's SCORE_BACKWARD
    table, as assignment 3's model answer does; log_softmax and RNNCache are given too."""
    code = OWN_STEP + (
        "\nimport numpy as np\nfrom numpy_seq2seq.functional.attention import SCORE_BACKWARD\n"
        "from numpy_seq2seq.functional.softmax import log_softmax\n"
        "from numpy_seq2seq.functional.rnn import RNNCache\n"
        "def rnn_step_forward(x, h_prev, Wx, Wh, b):\n"
        "    h = np.tanh(x @ Wx + h_prev @ Wh + b)\n"
        "    _unused = (SCORE_BACKWARD, log_softmax)\n"
        "    return h, RNNCache(h_prev, h, Wh, x, Wx)\n")
    ns = _answers(code)
    assert evaluate("rnn_step_forward", ns["rnn_step_forward"]).passed
    assert evaluate("rnn_step_backward", ns["rnn_step_backward"]).passed


def test_an_object_that_cannot_be_inspected_scores_zero():
    code = ("class _Sly:\n    __name__ = 'rnn_step_backward'\n"
            "    @property\n    def __wrapped__(self):\n        raise RuntimeError('no')\n"
            "    def __call__(self, dh, cache):\n        return None\n"
            "rnn_step_backward = _Sly()")
    result = evaluate("rnn_step_backward", _answers(code)["rnn_step_backward"])
    assert not result.passed and "could not be inspected" in result.message, result.message
