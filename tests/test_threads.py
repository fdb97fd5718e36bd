"""The BLAS thread limit: applied inside, restored after, validated."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from numpy_seq2seq.threads import blas_threads


def _blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_limit_applies_and_is_restored():
    np.ones((2, 2)) @ np.ones((2, 2))  # make sure BLAS is loaded
    before = _blas_threads()
    with blas_threads(1):
        assert _blas_threads() and all(n == 1 for n in _blas_threads())
    assert _blas_threads() == before


def test_none_leaves_the_setting_alone():
    before = _blas_threads()
    with blas_threads(None):
        assert _blas_threads() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_rejected(bad):
    with pytest.raises(ValueError, match="threads must be an integer >= 1 or None"):
        blas_threads(bad)
