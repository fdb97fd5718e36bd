"""The "dates" task: human-written dates in many languages -> ISO 8601.

A source is one date written by Babel from the Unicode CLDR data, e.g.
``"2022년 3월 14일 월요일"``, ``"Monday, March 14, 2022"``, ``"14/03/2022"``,
``"lundi 14 mars 2022"``; its target is ``"2022-03-14"``. Both sides are
char-tokenized. Nothing is downloaded: CLDR ships inside Babel.

Formats
-------
Every locale in :data:`DATE_LOCALES` is used with the four CLDR styles
("short", "medium", "long", "full") and the custom patterns in
:data:`CUSTOM_PATTERNS`, which put spelled-out month and weekday names in
unusual orders. Two choices keep every source string unambiguous -- each source
maps to exactly one date, checked exhaustively over the whole range when the
list was made and re-checked on a sample by ``tests/test_tasks.py``:

* Dates are drawn uniformly from :data:`DATE_MIN` .. :data:`DATE_MAX`, a
  100-year window, so a two-digit year ("3/14/22", "14.03.22", "22. 3. 14.")
  names exactly one year (00-49 -> 20xx, 50-99 -> 19xx).
* es_ES "short" (``d/M/yy``) is left out: it writes 4 March 2022 as "4/3/22",
  which en_US "short" (``M/d/yy``) uses for 3 April 2022. The day-first slash
  form is still taught by en_GB and fr_FR ``dd/MM/y``.

Babel writes some separators as U+00A0 or U+202F (no-break spaces) in some
locales and versions; :func:`normalize_spaces` turns every whitespace run into a
single ASCII space so the vocabulary doesn't need look-alike characters.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

# Babel is imported inside the two functions that write dates, so that importing the package
# (or only its model) does not need it.
if TYPE_CHECKING:
    from babel import Locale

from .tokenize import normalize_spaces

DATE_LOCALES: tuple[str, ...] = ("en_US", "en_GB", "ko_KR", "fr_FR", "de_DE", "es_ES", "ja_JP")
CLDR_STYLES: tuple[str, ...] = ("short", "medium", "long", "full")
CUSTOM_PATTERNS: tuple[str, ...] = ("d MMM y", "EEEE d MMMM y", "dd.MM.yyyy", "y/MM/dd")
# (locale, style) pairs whose output collides with another format; see module docstring.
EXCLUDED_FORMATS: frozenset[tuple[str, str]] = frozenset({("es_ES", "short")})
DATE_FORMATS: tuple[tuple[str, str], ...] = tuple(
    (loc, fmt)
    for loc in DATE_LOCALES
    for fmt in CLDR_STYLES + CUSTOM_PATTERNS
    if (loc, fmt) not in EXCLUDED_FORMATS
)
DATE_MIN = dt.date(1950, 1, 1)
DATE_MAX = dt.date(2049, 12, 31)

@lru_cache(maxsize=None)
def _locale(name: str) -> Locale:
    from babel import Locale

    # Parsing the locale once is most of the speed-up over format_date(..., locale="xx_YY").
    return Locale.parse(name)


def format_source(date: dt.date, locale: str, fmt: str) -> str:
    """Write ``date`` in ``locale`` with a CLDR style or pattern ``fmt``, spaces normalized."""
    from babel.dates import format_date

    return normalize_spaces(format_date(date, fmt, locale=_locale(locale)))


def make_dates(n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """Draw ``n`` (source, ISO target) pairs: a uniform date and a uniform format.

    Duplicated sources are possible (and harmless); use
    :func:`numpy_seq2seq.data.corpus.split_pairs` to keep them on one side of a split.
    """
    n_days = (DATE_MAX - DATE_MIN).days + 1
    offsets = rng.integers(0, n_days, size=n)
    formats = rng.integers(0, len(DATE_FORMATS), size=n)
    pairs = []
    for off, k in zip(offsets.tolist(), formats.tolist(), strict=True):
        date = DATE_MIN + dt.timedelta(days=off)
        locale, fmt = DATE_FORMATS[k]
        pairs.append((format_source(date, locale, fmt), date.isoformat()))
    return pairs
