"""The shared argument checks: numbers (ints accepted, bools and floats refused, messages name
the range; `Number` checks config fields and parses command-line text with the same words),
choices, and arrays (shapes in letters that must agree across arguments, dtypes, id ranges)."""

import numpy as np
import pytest

from numpy_seq2seq.checks import (
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    Number,
    check_arrays,
    check_choice,
    check_ids,
    check_mask,
    is_int,
)


@pytest.mark.parametrize("value,expected", [(3, True), (np.int64(3), True), (True, False),
                                            (3.0, False), ("3", False), (None, False)])
def test_is_int(value, expected):
    assert is_int(value) is expected


def test_check_returns_a_python_number():
    assert POSITIVE_INT.check("n", np.int32(4)) == 4 and type(POSITIVE_INT.check("n", 4)) is int
    assert NON_NEGATIVE_INT.check("n", 0) == 0
    assert type(Number(float).check("x", np.float32(2))) is float
    assert POSITIVE_INT.check("n", None, or_none=True) is None


@pytest.mark.parametrize("number,kwargs,match", [
    (POSITIVE_INT, {"value": 0}, "n must be an integer >= 1, got 0"),
    (NON_NEGATIVE_INT, {"value": -1}, "n must be an integer >= 0, got -1"),
    (Number(int, low=3), {"value": 2}, "n must be an integer >= 3, got 2"),
    (POSITIVE_INT, {"value": 1.5, "or_none": True}, "n must be an integer >= 1 or None, got 1.5"),
    (POSITIVE_INT, {"value": None}, "n must be an integer >= 1, got None"),
])
def test_check_names_what_was_expected(number, kwargs, match):
    with pytest.raises(ValueError, match=match):
        number.check("n", **kwargs)


def test_a_choice_is_refused_with_the_choices():
    assert check_choice("cell", "gru", ("rnn", "gru")) == "gru"
    with pytest.raises(ValueError, match=r"^cell must be one of \('rnn', 'gru'\), got 'GRU'$"):
        check_choice("cell", "GRU", ("rnn", "gru"))
    with pytest.raises(ValueError, match="got \\[1\\]"):  # unhashable: refused, not a TypeError
        check_choice("score", [1], {"dot": 1})


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


# ---------------------------------------------------------------------------------------------
# arrays: shapes in letters, bound by the first array that has the letter

def _z(*shape, dtype=np.float64):
    return np.zeros(shape, dtype=dtype)


def test_letters_take_their_sizes_from_the_first_array():
    sizes = check_arrays(x=(_z(2, 3), "N D"), W=(_z(3, 8), "D 4H"), b=(_z(8), "4H"),
                         hd=(_z(2, 5, 2), "N T H"), W_a=(_z(7, 4), "H+T A"),
                         ids=(_z(2, 7, dtype=np.int32), "... 7", int))
    assert sizes == {"N": 2, "D": 3, "H": 2, "T": 5, "A": 4}


BAD_ARRAYS = {  # specs, the message
    "batch": ({"x": (_z(2, 3), "N D"), "h": (_z(1, 4), "N H")},
              r"^h must have shape \(N, H\) = \(2, 4\), got \(1, 4\) \(N is 2 in x\)$"),
    "axes": ({"mask": (_z(6, dtype=bool), "N S", bool)},
             r"^mask must be 2-D of shape \(N, S\), got shape \(6,\)$"),
    "list": ({"x": ([[1.0]], "N D")}, r"^x must be an ndarray of shape \(N, D\), got list$"),
    "multiple": ({"h": (_z(2, 4), "N H"), "W": (_z(4, 12), "H 4H")},
                 r"^W must have shape \(H, 4H\) = \(4, 16\), got \(4, 12\) \(H is 4 in h\)$"),
    "no multiple fits": ({"b": (_z(6), "4H")},
                         r"^b must have shape \(4H,\) = \(\?,\), got \(6,\)$"),
    "sum": ({"hd": (_z(1, 2), "N H"), "hs": (_z(1, 3), "N H_s"), "W": (_z(4, 2), "H+H_s A")},
            r"W must have shape \(H\+H_s, A\) = \(5, 2\), got \(4, 2\)"),
    "float dtype": ({"x": (_z(2, dtype=np.int64), "N")},
                    r"^x must be float32 or float64, got int64$"),
    "one dtype": ({"x": (_z(2), "N"), "y": (_z(2, dtype=np.float32), "N")},
                  r"^y is float32 but x is float64: give every array one dtype$"),
    "bool": ({"m": (_z(2), "N", bool)}, r"^m must be a bool array, got float64$"),
    "ids": ({"t": (_z(2), "N", int)}, r"^t must hold integer token ids, got dtype float64$"),
    "state": ({"x": (_z(2, 3), "N D"), "state": ((_z(2, 4), _z(3, 4)), "N H")},
              r"^state\[1\] must have shape \(N, H\) = \(2, 4\), got \(3, 4\) \(N is 2 in x"),
}


@pytest.mark.parametrize("specs, message", BAD_ARRAYS.values(), ids=list(BAD_ARRAYS))
def test_bad_arrays_get_one_line_with_the_letters(specs, message):
    with pytest.raises(ValueError, match=message):
        check_arrays(**specs)


def test_ids_and_masks():
    check_ids("t", np.array([0, 4]), 5, "V")
    with pytest.raises(ValueError, match=r"t must be token ids in \[0, 4\] \(V = 5, the logits\), "
                                         r"got min -1 and max 4"):
        check_ids("t", np.array([-1, 4]), 5, "the logits")
    check_mask("m", _z(1, 3, dtype=bool), (2, 4, 3), "(N, T, S)")
    for bad in (_z(4, dtype=bool), _z(1, 2, 4, 3, dtype=bool), _z(1, 3)):
        with pytest.raises(ValueError, match=r"^m .*\(N, T, S\) = \(2, 4, 3\)"):
            check_mask("m", bad, (2, 4, 3), "(N, T, S)")
