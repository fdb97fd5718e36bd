"""The shared argument checks: ints accepted, bools and floats refused, messages name the range."""

import numpy as np
import pytest

from numpy_seq2seq.checks import check_int, is_int


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
