"""Tests for the built-in tasks (numpy_seq2seq.data.tasks, .dates, .toy)."""

import dataclasses
import datetime as dt
import re
from collections import Counter
from itertools import product

import pytest
from babel import Locale
from babel.dates import format_date
from num2words import num2words

from numpy_seq2seq.config import DataConfig, ModelConfig, TrainConfig
from numpy_seq2seq.data import (
    DEFAULT_TASK,
    TASK_DEFAULTS,
    TASKS,
    TRANSLATION_TASKS,
    Tokenizer,
    make_task,
    task_tokenizers,
)
from numpy_seq2seq.data.dates import DATE_FORMATS, DATE_LOCALES, DATE_MAX, DATE_MIN
from numpy_seq2seq.data.toy import TOY_ALPHABET

LOCALES = {name: Locale.parse(name) for name in DATE_LOCALES}
ENGLISH_MONTHS = (
    "January February March April May June July August September October November December"
).split()
KOREAN_WEEKDAYS = ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일")


@pytest.fixture
def seed():
    return 1234


@pytest.fixture(scope="module")
def date_draw():
    return make_task("dates", 2000, seed=7)


# ---------------------------------------------------------------- all tasks
def test_task_list():
    assert TASKS == ("dates", "numbers", "addition", "reverse", "copy", "sort", "tatoeba")
    assert DEFAULT_TASK == "dates" and TRANSLATION_TASKS == ("numbers", "tatoeba")
    for name in set(TASKS) - {"numbers", "tatoeba"}:
        assert task_tokenizers(name) == (Tokenizer("char"), Tokenizer("char"))
    # task defaults override config fields that exist
    fields = {f.name for cls in (DataConfig, ModelConfig, TrainConfig)
              for f in dataclasses.fields(cls)}
    assert set(TASK_DEFAULTS["numbers"]) <= fields


@pytest.mark.parametrize("name", TASKS)
def test_deterministic_per_seed(name, seed):
    a = make_task(name, 200, seed=seed)
    assert a == make_task(name, 200, seed=seed)
    assert a != make_task(name, 200, seed=seed + 1)
    assert len(a) == 200
    assert all(isinstance(s, str) and isinstance(t, str) and s and t for s, t in a)
    assert make_task(name, 0, seed=seed) == []


def test_unknown_task_lists_choices():
    with pytest.raises(ValueError, match="dates, numbers, addition, reverse, copy, sort"):
        make_task("translate", 10)


@pytest.mark.parametrize("n", [-1, 2.5, "10"])
def test_bad_n(n):
    with pytest.raises(ValueError, match="n must be"):
        make_task("copy", n)


@pytest.mark.parametrize(
    ("min_len", "max_len", "message"),
    [
        (0, 5, "min_len must be an integer >= 1"),
        (3, -1, "max_len must be an integer >= 1"),
        (2.5, 4, "min_len"),
        (True, 3, "min_len"),
        ("3", 5, "min_len"),
        (5, 3, "min_len must be <= max_len, got min_len=5, max_len=3"),
    ],
)
@pytest.mark.parametrize("name", ["addition", "reverse", "copy", "sort"])
def test_bad_length_range(name, min_len, max_len, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_task(name, 5, min_len=min_len, max_len=max_len)


def test_dates_reject_length_range():
    with pytest.raises(ValueError, match="no length range"):
        make_task("dates", 5, min_len=3)


# ---------------------------------------------------------------- numbers
SMALL = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
SMALL.update({w: 10 * i for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)})


def english_value(text):
    """Read an English number name written by num2words, without asking num2words."""
    total = current = 0
    for word in text.replace("-", " ").replace(",", " ").split():
        if word in SMALL:
            current += SMALL[word]
        elif word == "hundred":
            current *= 100
        elif word in ("thousand", "million"):
            total += current * (1000 if word == "thousand" else 10**6)
            current = 0
        else:
            assert word == "and", word
    return total + current


@pytest.mark.parametrize("target", ["fr", "de", "es", "ko", "ja"])
def test_numbers_pairs_name_the_same_number(target, seed):
    pairs = make_task("numbers", 300, seed=seed, source_lang="en", target_lang=target)
    values = [english_value(src) for src, _ in pairs]
    assert len(set(values)) == 300  # distinct numbers
    for value, (_, tgt) in zip(values, pairs, strict=True):
        assert num2words(value, lang=target) == tgt
    assert min(values) < 1000 and max(values) >= 10**5  # 1 to 6 digits by default


def test_numbers_share_lengths_equally(seed):
    pairs = make_task("numbers", 3000, seed=seed)
    digits = Counter(len(str(english_value(src))) for src, _ in pairs)
    # all 10 one-digit and 90 two-digit numbers, the rest split evenly
    assert [digits[d] for d in range(1, 7)] == [10, 90, 725, 725, 725, 725]
    long = make_task("numbers", 50, seed=seed, min_len=7, max_len=9)
    assert {len(str(english_value(s))) for s, _ in long} == {7, 8, 9}


@pytest.mark.parametrize(("source", "target", "kinds"), [
    ("en", "fr", ("word", "word")), ("en", "de", ("word", "char")),
    ("ko", "en", ("char", "word")), ("ja", "es", ("char", "word")),
])
def test_numbers_tokenizers(source, target, kinds):
    src_tok, tgt_tok = task_tokenizers("numbers", source, target)
    assert (src_tok.kind, tgt_tok.kind) == kinds
    assert task_tokenizers("numbers") == (Tokenizer("word"), Tokenizer("word"))  # en -> fr


@pytest.mark.parametrize(("value", "lang", "words"), [
    (97, "fr", "quatre-vingt-dix-sept"), (21, "de", "einundzwanzig"),
    (123456, "ko", "십이만 삼천사백오십육"), (123456, "ja", "十二万三千四百五十六"),
])
def test_numbers_docstring_examples(value, lang, words):
    assert num2words(value, lang=lang) == words


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(source_lang="en", target_lang="en"), "must differ"),
    (dict(source_lang="xx"), "source_lang must be one of en, fr, es, de, ko, ja"),
    (dict(max_len=10), "max_len must be <= 9 digits"),
    (dict(n=1001, max_len=3), "n must be <= 1,000"),
])
def test_numbers_errors(kwargs, message):
    n = kwargs.pop("n", 5)
    with pytest.raises(ValueError, match=re.escape(message)):
        make_task("numbers", n, **kwargs)


def test_languages_are_for_numbers_only():
    with pytest.raises(ValueError, match="has no languages"):
        make_task("dates", 5, source_lang="ko")


# ---------------------------------------------------------------- toy tasks
TOY_CHECKS = {
    "reverse": lambda s: s[::-1],
    "copy": lambda s: s,
    "sort": lambda s: "".join(sorted(s)),
}


@pytest.mark.parametrize("name", sorted(TOY_CHECKS))
def test_string_tasks_are_correct(name, seed):
    pairs = make_task(name, 500, seed=seed, min_len=2, max_len=6)
    for src, tgt in pairs:
        assert tgt == TOY_CHECKS[name](src)
        assert set(src) <= set(TOY_ALPHABET)
    lengths = {len(s) for s, _ in pairs}
    assert lengths == {2, 3, 4, 5, 6}  # both ends of the inclusive range are reached


def test_addition_is_correct(seed):
    pairs = make_task("addition", 500, seed=seed, min_len=1, max_len=4)
    digit_counts = set()
    for src, tgt in pairs:
        assert re.fullmatch(r"\d+\+\d+", src), src
        a, b = src.split("+")
        assert int(a) + int(b) == int(tgt) and tgt == str(int(tgt))
        for operand in (a, b):
            assert operand == str(int(operand))  # no leading zeros
            digit_counts.add(len(operand))
    assert digit_counts == {1, 2, 3, 4}


def test_toy_default_lengths(seed):
    assert {len(s) for s, _ in make_task("reverse", 300, seed=seed)} == set(range(3, 9))
    operands = [x for s, _ in make_task("addition", 300, seed=seed) for x in s.split("+")]
    assert {len(x) for x in operands} == {1, 2, 3}


def test_long_operands_do_not_overflow(seed):
    ((src, tgt),) = make_task("addition", 1, seed=seed, min_len=25, max_len=25)
    a, b = src.split("+")
    assert len(a) == len(b) == 25 and int(a) + int(b) == int(tgt)


# ---------------------------------------------------------------- dates
def _normalize(text):
    return re.sub(r"\s+", " ", text).strip()


def dates_writing(source, formats):
    """Every date in [DATE_MIN, DATE_MAX] that one of ``formats`` writes exactly as ``source``.

    This does not ask the generator which date or format it used. It relies on one
    property of the formats, checked by ``test_formats_write_day_and_year_as_digits``:
    the day of month and the year (4 or 2 digits) appear as numbers in the string, while
    the month may be spelled. So the candidates are: every year and day read from the
    numbers in the string, times all twelve months, each formatted in every format.
    """
    nums = [int(x) for x in re.findall(r"\d+", source)]
    years = {x for x in nums if DATE_MIN.year <= x <= DATE_MAX.year}
    years |= {
        c + x
        for x in nums
        if x < 100
        for c in (1900, 2000)
        if DATE_MIN.year <= c + x <= DATE_MAX.year
    }
    days = {x for x in nums if 1 <= x <= 31}
    found = set()
    for y, m, d in product(years, range(1, 13), days):
        try:
            cand = dt.date(y, m, d)
        except ValueError:
            continue
        if any(
            _normalize(format_date(cand, fmt, locale=LOCALES[loc])) == source
            for loc, fmt in formats
        ):
            found.add(cand)
    return found


def test_formats_write_day_and_year_as_digits():
    probe = dt.date(2037, 11, 28)
    for loc, fmt in DATE_FORMATS:
        nums = re.findall(r"\d+", format_date(probe, fmt, locale=LOCALES[loc]))
        assert "28" in nums and ("2037" in nums or "37" in nums), (loc, fmt)


def test_dates_are_correct_and_unambiguous(date_draw):
    """Each sampled source is written from its target date by some format, and by no other date.

    Honest check: the date is recovered from the source string alone (``dates_writing``);
    we then require the recovered set to be exactly {target}.
    """
    for src, tgt in date_draw[:150]:
        assert dates_writing(src, DATE_FORMATS) == {dt.date.fromisoformat(tgt)}, src


def test_ambiguity_check_can_fail():
    # es_ES short (d/M/yy) is excluded from DATE_FORMATS because "4/3/22" would be
    # both 4 March (es_ES) and 3 April (en_US M/d/yy); the check must notice it.
    formats = DATE_FORMATS + (("es_ES", "short"),)
    assert dates_writing("4/3/22", formats) == {dt.date(2022, 3, 4), dt.date(2022, 4, 3)}
    assert dates_writing("4/3/22", DATE_FORMATS) == {dt.date(2022, 4, 3)}


def test_dates_targets_and_spacing(date_draw):
    targets = [dt.date.fromisoformat(t) for _, t in date_draw]
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", t) for _, t in date_draw)
    assert all(DATE_MIN <= d <= DATE_MAX for d in targets)
    assert min(targets).year < 1960 and max(targets).year > 2040
    for src, _ in date_draw:
        assert src == src.strip() and "  " not in src
        assert not re.search(r"[^\S ]", src), repr(src)  # only plain spaces (no U+202F etc.)


def test_dates_cover_locales_and_spelled_names(date_draw):
    """All 7 locales show up with a source that only that locale writes for its date."""
    seen = set()
    for src, tgt in date_draw:
        date = dt.date.fromisoformat(tgt)
        writers = {
            loc
            for loc, fmt in DATE_FORMATS
            if _normalize(format_date(date, fmt, locale=LOCALES[loc])) == src
        }
        if len(writers) == 1:
            seen |= writers
    assert seen == set(DATE_LOCALES)
    sources = [s for s, _ in date_draw]
    assert any(w in s for s in sources for w in KOREAN_WEEKDAYS)
    assert any(m in s for s in sources for m in ENGLISH_MONTHS)
    assert any("月" in s for s in sources) and any("mars" in s for s in sources)
    assert any("März" in s for s in sources) and any(" de " in s for s in sources)
