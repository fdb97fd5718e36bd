"""The shared argument checks: ints accepted, bools and floats refused, messages name the range;
`Number` checks config fields and parses command-line text with the same words."""

import numpy as np
import pytest

from numpy_seq2seq.checks import Number, check_int, is_int


@pytest.mark.parametrize("value,expected", [(3, True), (np.int64(3), True), (True, False),
                                            (3.0, False), ("3", False), (None, False)])
def test_is_int(value, expected):
    assert is_int(value) is expected


def test_check_int_returns_a_python_int():
    assert check_int("n", np.int32(4)) == 4 and type(check_int("n", np.int32(4))) is int
    assert check_int("n", 0, minimum=0) == 0


@pytest.mark.parametrize("kwargs,match", [
    ({"value": 0}, "n must be a positive int, got 0"),
    ({"value": -1, "minimum": 0}, "n must be a non-negative int, got -1"),
    ({"value": 2, "minimum": 3}, "n must be an int >= 3, got 2"),
    ({"value": 1.5, "or_none": True}, "n must be a positive int or None, got 1.5"),
])
def test_check_int_names_what_was_expected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_int("n", **kwargs)


@pytest.mark.parametrize("number, text", [
    (Number(int, low=1), "an integer >= 1"),
    (Number(float, low=0, low_open=True), "a number > 0"),
    (Number(float, low=0, high=1, low_open=True), "a number in (0, 1]"),
    (Number(float, low=0, high=1, low_open=True, high_open=True), "a number in (0, 1)"),
    (Number(float, high=2, high_open=True), "a number < 2"),
    (Number(float), "a finite number"),
])
def test_number_describes_its_range(number, text):
    assert number.describe() == text


@pytest.mark.parametrize("number, good, bad", [
    (Number(int, low=1), [1, np.int64(7)], [0, 1.0, True, "1", None]),
    (Number(float, low=0), [0, 0.0, 2.5, np.float32(1)], [-1e-9, float("nan"), float("inf"), True]),
    (Number(float, low=0, high=1, low_open=True), [1, 0.5], [0, 1.0001]),
    (Number(float, low=0, high=1, high_open=True), [0, 0.999], [1, -0.1]),
])
def test_number_accepts_and_refuses(number, good, bad):
    assert all(number.accepts(v) for v in good)
    assert not any(number.accepts(v) for v in bad)
    with pytest.raises(ValueError, match=rf"^x must be {number.describe()[:8]}"):
        number.check("x", bad[0])


@pytest.mark.parametrize("text", ["nan", "inf", "-1", "abc", "", "1e400"])
def test_number_parse_says_what_was_expected(text):
    with pytest.raises(ValueError, match=f"expected a number >= 0, got '{text}'"):
        Number(float, low=0).parse(text)
    assert Number(float, low=0).parse("2.5") == 2.5
    assert Number(int, low=1).parse("3") == 3
    with pytest.raises(ValueError, match="expected an integer >= 1, got '2.0'"):
        Number(int, low=1).parse("2.0")
