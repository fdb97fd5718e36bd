"""Built-in tasks, generated from a seed or shipped with the package; nothing is downloaded.

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
tatoeba    "I'm home." -> "Je suis chez      word (ko:   1-10 words
           moi." (real sentences, shipped;   char)       (see tatoeba.py)
           en <-> fr, en <-> ko)
=========  ===============================  ==========  ====================

All are generated from the seed except ``tatoeba``, whose pairs are read from the package
(CC BY 2.0 FR, with its credit: ``data/pairs/README.md``) and sampled with the seed.

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
from .tatoeba import DEFAULT_WORDS, make_tatoeba, tatoeba_tokenizers
from .tokenize import Tokenizer
from .toy import make_addition, make_copy, make_reverse, make_sort

TASKS: tuple[str, ...] = ("dates", "numbers", "addition", "reverse", "copy", "sort", "tatoeba")
LANGUAGE_TASKS: tuple[str, ...] = ("numbers", "tatoeba")  # tasks with source_lang, target_lang
DEFAULT_LENGTHS: dict[str, tuple[int, int]] = {
    "numbers": (1, 6),
    "tatoeba": DEFAULT_WORDS,
    "addition": (1, 3),
    "reverse": (3, 8),
    "copy": (3, 8),
    "sort": (3, 8),
}
_TOY = {"addition": make_addition, "reverse": make_reverse, "copy": make_copy, "sort": make_sort}
# Tasks scored like translation: sacreBLEU's BLEU and chrF next to exact match.
TRANSLATION_TASKS: tuple[str, ...] = ("numbers", "tatoeba")


def task_tokenizers(name: str, source_lang: str | None = None,
                    target_lang: str | None = None) -> tuple[Tokenizer, Tokenizer]:
    """The (source, target) tokenizers of a built-in task: char-level except for numbers and
    tatoeba (per language)."""
    if name == "tatoeba":
        return tatoeba_tokenizers(source_lang or DEFAULT_SOURCE_LANG,
                                  target_lang or DEFAULT_TARGET_LANG)
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
    """Generate ``n`` (source, target) string pairs of a built-in task (tatoeba: at most n).

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
        number for ``numbers``, words of each side for ``tatoeba``, letters for the others);
        ``None`` takes the task's default. ``dates`` has no length range and rejects them.
    source_lang, target_lang : str, optional
        ``numbers`` and ``tatoeba`` only: language codes (default en -> fr); other tasks
        reject them.

    Returns
    -------
    pairs : list of (str, str)
    """
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    NON_NEGATIVE_INT.check("n", n)
    rng = np.random.default_rng(seed)
    if name not in LANGUAGE_TASKS and (source_lang is not None or target_lang is not None):
        raise ValueError(f"task {name!r} has no languages; source_lang and target_lang are for "
                         f"the {' and '.join(LANGUAGE_TASKS)} tasks")
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
    if name == "tatoeba":
        return make_tatoeba(int(n), rng, int(lo), int(hi), source_lang or DEFAULT_SOURCE_LANG,
                            target_lang or DEFAULT_TARGET_LANG)
    if name == "numbers":
        return make_numbers(int(n), rng, int(lo), int(hi), source_lang or DEFAULT_SOURCE_LANG,
                            target_lang or DEFAULT_TARGET_LANG)
    return _TOY[name](int(n), rng, int(lo), int(hi))
