"""The grader's sandbox: values cross between the grader and the student's process as data only
(wire.py), and the student's functions behave as if called locally (sandbox.py, worker.py):
their results, their in-place writes, what they raise with its line, their signatures; a time
limit, a process that dies and one that sends junk end in one-line failures."""

from __future__ import annotations

import inspect
import io
import json
import time

import numpy as np
import pytest

from numpy_seq2seq.course.answers import AnswerCode
from numpy_seq2seq.course.grading import StudentRaised
from numpy_seq2seq.course.sandbox import Sandbox, TimeLimit, WorkerLost
from numpy_seq2seq.course.wire import (
    MAX_BYTES,
    Decoder,
    Encoder,
    Opaque,
    WireError,
    read_message,
    write_message,
)
from numpy_seq2seq.decoding import Hypothesis
from numpy_seq2seq.functional.rnn import RNNCache

STUDENT = AnswerCode("a0/test.ipynb", ("import numpy as np", '''
class Box:
    pass

def add_into(a, b=1.0):
    a += b  # in place: the caller's array changes
    return a.sum()

def broken(x):
    y = x + 1
    raise ValueError("no luck")

def chatty(x):
    print("hello", x)
    return [x, {"k": (x, None)}]

def boxed():
    return Box()

def unbox(box):
    return type(box).__name__

def outer(x):
    return inner(x) + 1

def inner(x):
    return x * 2

def sleepy(seconds):
    import time
    time.sleep(seconds)

def dies(status):
    import os
    os._exit(status)
'''), ())
NAMES = ("add_into", "broken", "chatty", "boxed", "unbox", "outer", "inner", "sleepy", "dies")


def _roundtrip(value):
    encoder = Encoder()
    node = json.loads(json.dumps(encoder.node(value)))
    return Decoder(encoder.buffers, resolve=lambda ref: ref).value(node)


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return type(b) is np.ndarray and a.dtype == b.dtype and np.array_equal(a, b,
                                                                               equal_nan=True)
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    if isinstance(a, Hypothesis):
        return type(b) is Hypothesis and all(_same(getattr(a, f), getattr(b, f))
                                             for f in ("tokens", "score", "finished"))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------------------------------------
# the wire

def test_values_cross_unchanged(rng):
    arrays = [rng.standard_normal((2, 3)).astype(dt) for dt in (np.float64, np.float32)]
    value = {"cache": RNNCache(*arrays, arrays[0].T, arrays[1], np.zeros((0, 3))),
             (1, "k"): [None, True, 3, float("nan"), float("-inf"), "ü",
                        np.float32(1.5), np.array([True, False])],
             "hyp": Hypothesis(np.arange(3), -0.5, -1.5, None, True)}
    back = _roundtrip(value)
    assert _same(value, back) and type(back["cache"]) is RNNCache


@pytest.mark.parametrize("node, words", [
    ({"$": "array", "dtype": "|O", "shape": [1], "buf": 0}, "not allowed"),
    ({"$": "array", "dtype": "<f8", "shape": [3], "buf": 0}, "do not make an array"),
    ({"$": "array", "dtype": "<f8", "shape": [-1], "buf": 0}, "not a shape"),
    ({"$": "named", "type": "Popen", "items": []}, "not a known NamedTuple"),
    ({"$": "model", "config": {}, "params": {"$": "dict", "items": []}}, "unknown node"),
    ({"$": "exec", "code": "import os"}, "unknown node"),
    ({"$": "list", "items": [{"$": "list", "items": []}]}, None),
], ids=["object-array", "short-bytes", "bad-shape", "unknown-type", "model-to-grader",
        "unknown-node", "nested-ok"])
def test_the_grader_decodes_data_and_nothing_else(node, words):
    decoder = Decoder([bytes(8)])  # the grader's side: no references resolved, no models
    if words is None:
        assert decoder.value(node) == [[]]
        return
    with pytest.raises(WireError, match=words):
        decoder.value(node)


def test_a_message_too_deep_or_too_large_is_refused():
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(WireError, match="nested more than"):
        Encoder().node(deep)
    stream = io.BytesIO()
    write_message(stream, {"value": None}, [])
    data = bytearray(stream.getvalue())
    data[4:12] = (MAX_BYTES + 1).to_bytes(8, "big")
    with pytest.raises(WireError, match="at most"):
        read_message(io.BytesIO(bytes(data)).read)


# ---------------------------------------------------------------------------------------------
# the sandbox

@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """The functions of ``STUDENT`` in one sandbox for the module's tests."""
    with Sandbox(tmp_path_factory.mktemp("student"), time.monotonic() + 300, 300) as box:
        functions, problem = box.load(STUDENT, NAMES)
        assert problem is None and set(functions) == set(NAMES)
        yield functions


def test_results_and_in_place_writes_are_as_if_local(student):
    a = np.ones((2, 2))
    assert student["add_into"](a, b=2.0) == 12.0
    assert np.array_equal(a, np.full((2, 2), 3.0))  # the student's write reached our array
    assert _same(student["chatty"](4), [4, {"k": (4, None)}])  # its print went nowhere


def test_what_the_student_raises_is_reported_with_its_line(student):
    with pytest.raises(StudentRaised) as e:
        student["broken"](np.zeros(2))
    raised = e.value.raised
    assert (raised.kind, raised.message, raised.raised_in) == ("ValueError", "no luck", "broken")
    assert raised.where.startswith(" (line ") and 'raise ValueError("no luck")' in raised.where


def test_other_objects_stay_in_the_sandbox_and_can_be_handed_back(student):
    box = student["boxed"]()
    assert isinstance(box, Opaque) and type(box).__name__ == "Box"
    assert student["unbox"](box) == "Box"


def test_signatures_and_calls_are_the_students(student):
    parameters = inspect.signature(student["add_into"]).parameters
    assert list(parameters) == ["a", "b"] and parameters["b"].default is not inspect._empty
    before = student["inner"].calls()
    assert student["outer"](3) == 7
    assert student["inner"].calls() == before + 1  # called by the student's own outer


def test_the_time_limit_kills_the_process_and_fails_in_one_line(tmp_path):
    with Sandbox(tmp_path, time.monotonic() + 3, 3) as box:
        functions, _ = box.load(STUDENT, NAMES)
        start = time.monotonic()
        with pytest.raises(TimeLimit, match="sleepy: the time limit of 3 s was reached"):
            functions["sleepy"](60)
        assert time.monotonic() - start < 4
        with pytest.raises(WorkerLost):  # nothing more runs after the limit
            functions["inner"](1)


def test_a_process_that_ends_is_reported_and_revived(tmp_path):
    with Sandbox(tmp_path, time.monotonic() + 120, 120) as box:
        functions, _ = box.load(STUDENT, NAMES)
        with pytest.raises(WorkerLost, match=r"dies: the process running your code ended "
                                             r"\(exit status 5\)"):
            functions["dies"](5)
        with pytest.raises(WorkerLost):
            functions["inner"](1)
        box.revive()
        assert functions["inner"](1) == 2
