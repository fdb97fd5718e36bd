"""Built-in tasks, generated from a seed; nothing is downloaded.

=========  ===============================  ==========  ====================
name       example                           tokenizer   default lengths
=========  ===============================  ==========  ====================
dates      "Monday, March 14, 2022"          char        n/a (see dates.py)
           -> "2022-03-14"
addition   "57+168" -> "225"                 char        1-3 digits/operand
reverse    "abcde" -> "edcba"                char        3-8 letters
copy       "abcde" -> "abcde"                char        3-8 letters
sort       "cabad" -> "aabcd"                char        3-8 letters
=========  ===============================  ==========  ====================
"""

from __future__ import annotations

import numpy as np

from ..checks import check_int
from .dates import make_dates
from .toy import make_addition, make_copy, make_reverse, make_sort

TASKS: tuple[str, ...] = ("dates", "addition", "reverse", "copy", "sort")
DEFAULT_TASK = "dates"
# Every built-in task is char-level on both sides.
TASK_TOKENIZERS: dict[str, str] = {name: "char" for name in TASKS}
DEFAULT_LENGTHS: dict[str, tuple[int, int]] = {
    "addition": (1, 3),
    "reverse": (3, 8),
    "copy": (3, 8),
    "sort": (3, 8),
}
_TOY = {"addition": make_addition, "reverse": make_reverse, "copy": make_copy, "sort": make_sort}


def make_task(
    name: str,
    n: int,
    seed: int = 0,
    min_len: int | None = None,
    max_len: int | None = None,
) -> list[tuple[str, str]]:
    """Generate ``n`` (source, target) string pairs of a built-in task.

    Parameters
    ----------
    name : str
        One of :data:`TASKS`.
    n : int
        Number of pairs (>= 0).
    seed : int
        Seed for ``np.random.default_rng``; the same seed gives the same pairs.
    min_len, max_len : int, optional
        Inclusive length range (digits per operand for ``addition``, letters for
        the others); ``None`` takes the task's default. ``dates`` has no length
        range and rejects them.

    Returns
    -------
    pairs : list of (str, str)
    """
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    check_int("n", n, minimum=0)
    rng = np.random.default_rng(seed)
    if name == "dates":
        if min_len is not None or max_len is not None:
            raise ValueError(
                f"task 'dates' has no length range; got min_len={min_len!r}, max_len={max_len!r}"
            )
        return make_dates(int(n), rng)

    lo_default, hi_default = DEFAULT_LENGTHS[name]
    lo = lo_default if min_len is None else min_len
    hi = hi_default if max_len is None else max_len
    for label, value in (("min_len", lo), ("max_len", hi)):
        check_int(label, value)
    if lo > hi:
        raise ValueError(f"min_len must be <= max_len, got min_len={lo}, max_len={hi}")
    return _TOY[name](int(n), rng, int(lo), int(hi))
