"""Built-in tasks, generated from a seed; nothing is downloaded.

=========  ===============================  ==========  ====================
name       example                           tokenizer   default lengths
=========  ===============================  ==========  ====================
dates      "Monday, March 14, 2022"          char        n/a (see dates.py)
           -> "2022-03-14"
numbers    "twenty-one" -> "vingt et un"     per         1-6 digits
           (en, fr, es, de, ko, ja; any      language    (see numbers.py)
           two, default en -> fr)
addition   "57+168" -> "225"                 char        1-3 digits/operand
reverse    "abcde" -> "edcba"                char        3-8 letters
copy       "abcde" -> "abcde"                char        3-8 letters
sort       "cabad" -> "aabcd"                char        3-8 letters
=========  ===============================  ==========  ====================

:data:`TASK_DEFAULTS` (defined in ``config.py``, with the defaults it overrides) holds the
settings in which a task differs from the general defaults; the command line applies them
through ``config.task_defaults``, and an option given explicitly still wins.
:data:`TRANSLATION_TASKS` are scored with BLEU and chrF as well.
"""

from __future__ import annotations

import numpy as np

from ..checks import NON_NEGATIVE_INT, POSITIVE_INT
from ..config import DEFAULT_TASK, TASK_DEFAULTS  # noqa: F401 (re-exported by data)
from .dates import make_dates
from .numbers import DEFAULT_SOURCE_LANG, DEFAULT_TARGET_LANG, make_numbers, number_tokenizers
from .tokenize import Tokenizer
from .toy import make_addition, make_copy, make_reverse, make_sort

TASKS: tuple[str, ...] = ("dates", "numbers", "addition", "reverse", "copy", "sort")
DEFAULT_LENGTHS: dict[str, tuple[int, int]] = {
    "numbers": (1, 6),
    "addition": (1, 3),
    "reverse": (3, 8),
    "copy": (3, 8),
    "sort": (3, 8),
}
_TOY = {"addition": make_addition, "reverse": make_reverse, "copy": make_copy, "sort": make_sort}
# Tasks scored like translation: sacreBLEU's BLEU and chrF next to exact match.
TRANSLATION_TASKS: tuple[str, ...] = ("numbers",)


def task_tokenizers(name: str, source_lang: str | None = None,
                    target_lang: str | None = None) -> tuple[Tokenizer, Tokenizer]:
    """The (source, target) tokenizers of a built-in task: char-level except for numbers."""
    if name == "numbers":
        return number_tokenizers(source_lang or DEFAULT_SOURCE_LANG,
                                 target_lang or DEFAULT_TARGET_LANG)
    return Tokenizer("char"), Tokenizer("char")


def make_task(
    name: str,
    n: int,
    seed: int = 0,
    min_len: int | None = None,
    max_len: int | None = None,
    source_lang: str | None = None,
    target_lang: str | None = None,
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
        Inclusive length range (digits per operand for ``addition``, digits of the
        number for ``numbers``, letters for the others); ``None`` takes the task's
        default. ``dates`` has no length range and rejects them.
    source_lang, target_lang : str, optional
        ``numbers`` only: language codes (default en -> fr); other tasks reject them.

    Returns
    -------
    pairs : list of (str, str)
    """
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    NON_NEGATIVE_INT.check("n", n)
    rng = np.random.default_rng(seed)
    if name != "numbers" and (source_lang is not None or target_lang is not None):
        raise ValueError(f"task {name!r} has no languages; source_lang and target_lang are for "
                         "the numbers task")
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
        POSITIVE_INT.check(label, value)
    if lo > hi:
        raise ValueError(f"min_len must be <= max_len, got min_len={lo}, max_len={hi}")
    if name == "numbers":
        return make_numbers(int(n), rng, int(lo), int(hi), source_lang or DEFAULT_SOURCE_LANG,
                            target_lang or DEFAULT_TARGET_LANG)
    return _TOY[name](int(n), rng, int(lo), int(hi))
