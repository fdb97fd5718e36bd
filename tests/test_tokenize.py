"""Tests for numpy_seq2seq.data.tokenize: normalisation, the three kinds, persistence."""

import numpy as np
import pytest

from numpy_seq2seq.data import Tokenizer, normalize_text
from numpy_seq2seq.data.tokenize import BPE_SPACE

BPE_TEXTS = ["I like apples.", "She likes bread!", "We eat apples and bread.",
             "Ils aiment le pain !", "Nous aimons les pommes."] * 4


@pytest.fixture(scope="module")
def bpe():
    return Tokenizer("bpe", vocab_size=40).fit(BPE_TEXTS)


@pytest.mark.parametrize("text, expected", [
    ("Ils aiment le pain\u202f!", "Ils aiment le pain !"),  # narrow no-break space
    ("a\u00a0b\t\tc\n", "a b c"),  # no-break space, tabs, newline
    ("  ＡＢＣ１２ ", "ABC12"),  # full-width forms
    ("wait…", "wait..."),
    ("ｶﾀｶﾅ", "カタカナ"),  # half-width katakana
    ("2022년 3월", "2022년 3월"),  # Hangul is left alone
    ("ㅋㅋㅋ 웃겨", "ㅋㅋㅋ 웃겨"),  # compatibility jamo stay (NFKC: conjoining 'ᄏᄏᄏ')
    ("ㅎㅏㄴ", "ㅎㅏㄴ"),  # NFKC would fuse them into '하ᄂ'
    ("ㅠㅠ１", "ㅠㅠ1"),  # the text around them is still normalised
])
def test_normalize_text(text, expected):
    assert normalize_text(text) == expected
    assert normalize_text(text, lowercase=True) == expected.lower()


@pytest.mark.parametrize("text, tokens", [
    ("Hello, world!", ["Hello", ",", "world", "!"]),
    ("cat.", ["cat", "."]),
    ("We", ["We"]),
    ("I don't know.", ["I", "don'", "t", "know", "."]),
    ("l'homme", ["l'", "homme"]),
    ("quatre-vingt-dix-sept", ["quatre-", "vingt-", "dix-", "sept"]),
    ("3.14 and 1,000 apples", ["3.14", "and", "1,000", "apples"]),
    ("(yes) - no", ["(", "yes", ")", "-", "no"]),
    ("¿Qué?", ["¿", "Qué", "?"]),
    ("나는 학생이다.", ["나는", "학생이다", "."]),
    ("Ils aiment le pain\u202f!", ["Ils", "aiment", "le", "pain", "!"]),
])
def test_word_tokens(text, tokens):
    assert Tokenizer("word").tokenize(text) == tokens


@pytest.mark.parametrize("text", [
    "Hello, world!", "I don't know.", "Qu'est-ce que c'est?", "one thousand, two hundred and "
    "thirty-four", "It costs 3.50 (or 1,000 yen).", "¿Dónde está?", "“Yes,” he said.",
    '"Hi," she said, "and bye."', "It's 'quoted' here.", "We're #1 at 100% for $5 or 5€.",
    'He said "no" and "yes".', "The students' books.", "James' car is 'red'.",
    "the students' 'best' day", "rock 'n' roll", 'He said "no',
])
def test_word_round_trip(text):
    tok = Tokenizer("word")
    assert tok.detokenize(tok.tokenize(text)) == text


@pytest.mark.parametrize("texts, spaced, written", [
    (["Ils aiment le pain !", "Tu viens ?", "Oui, 50 %."], "!%?", "Tu viens aujourd'hui ?"),
    (["I like bread!", "Are you coming?", "Yes, 50%."], "", "Are you coming today?"),
])
def test_word_spacing_before_punctuation_is_learnt_from_the_text(texts, spaced, written):
    tok = Tokenizer("word").fit(texts)
    assert tok.spaced == spaced
    assert tok.canonical(written) == written  # French keeps the space before ?, English not
    assert Tokenizer.from_dict(tok.to_dict()) == tok
    assert ("spaced" in tok.to_dict()) == bool(spaced)  # older files stay as they were


def test_canonical_forms_agree_across_spellings():
    tok = Tokenizer("word")
    assert tok.canonical("Ils aiment le pain\u202f!") == tok.canonical("Ils  aiment le pain!")
    assert tok.canonical("Ils aiment le pain !") == "Ils aiment le pain!"
    assert tok.canonical("Apples") != tok.canonical("apples")
    lower = Tokenizer("word", lowercase=True)
    assert lower.tokenize("Apples, PEARS") == ["apples", ",", "pears"]
    assert lower.canonical("Apples") == lower.canonical("apples")


def test_char_tokens():
    assert Tokenizer("char").tokenize(" a\u202fB ") == ["a", " ", "B"]
    assert Tokenizer("char", lowercase=True).tokenize("AB") == ["a", "b"]
    assert Tokenizer("char").detokenize(["월", " ", "1"]) == "월 1"


def test_old_vocabularies_split_exactly_as_before():
    # vocabularies saved before tokenizers had options stored only the name
    char, word = Tokenizer.from_dict("char"), Tokenizer.from_dict("word")
    assert char.tokenize("a\u00a0B") == ["a", "\u00a0", "B"]  # no normalisation
    assert word.tokenize("  Hello,  world \t!") == ["Hello,", "world", "!"]  # str.split
    assert word.detokenize(["Hello,", "world"]) == "Hello, world"
    assert char.describe() == "char, not normalised"
    with pytest.raises(ValueError, match="old vocabularies use char or word"):
        Tokenizer.from_dict("bpe")


def test_bpe_learns_pieces_and_round_trips(bpe):
    assert bpe.model is not None
    tokens = bpe.tokenize("We like apples.")
    assert len(tokens) < len("We like apples.")  # merges happened
    assert tokens[0].startswith(BPE_SPACE)
    assert bpe.detokenize(tokens) == "We like apples."
    assert bpe.canonical("We  like\u202fapples.") == "We like apples."
    # a character never seen comes back as its own piece (the vocabulary then maps it to <unk>)
    assert "z" in bpe.tokenize("zebra")
    assert Tokenizer("bpe", vocab_size=40).fit(BPE_TEXTS) == bpe  # deterministic
    assert bpe.fit(["other text"]) is bpe  # a trained model is kept


def test_bpe_label_says_when_fewer_pieces_were_learnt_than_asked(bpe):
    assert bpe.describe() == "bpe 40"
    few = Tokenizer("bpe", vocab_size=4000).fit(BPE_TEXTS)
    n = few._processor.get_piece_size()
    assert n < 4000 and few.describe() == f"bpe {n} (4000 asked)"
    assert Tokenizer("bpe", vocab_size=4000).describe() == "bpe 4000"  # not trained yet


def test_bpe_errors():
    with pytest.raises(ValueError, match="not been trained"):
        Tokenizer("bpe").tokenize("abc")
    with pytest.raises(ValueError, match="too small: the text's 23 distinct characters and "
                                         "<unk> need at least 24 pieces"):
        Tokenizer("bpe", vocab_size=10).fit(BPE_TEXTS)
    with pytest.raises(ValueError, match="no text"):
        Tokenizer("bpe").fit(["", "  "])


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="sentencepiece"), "choose one of char, word, bpe"),
    (dict(kind="bpe", vocab_size=1), "vocab_size must be an int >= 2"),
    (dict(kind="word", normalize=False, lowercase=True), "only for old"),
])
def test_bad_tokenizers(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Tokenizer(**kwargs)


@pytest.mark.parametrize("tok", [Tokenizer("char"), Tokenizer("word", lowercase=True),
                                 Tokenizer.from_dict("word")], ids=lambda t: t.describe())
def test_to_dict_round_trip(tok):
    assert Tokenizer.from_dict(tok.to_dict()) == tok


def test_bpe_model_is_a_uint8_array(bpe):
    d = bpe.to_dict()
    assert isinstance(d["model"], np.ndarray) and d["model"].dtype == np.uint8
    back = Tokenizer.from_dict(d)
    assert back == bpe and back.tokenize("We eat bread.") == bpe.tokenize("We eat bread.")
    with pytest.raises(ValueError, match="unknown tokenizer fields"):
        Tokenizer.from_dict({**d, "merges": 3})
    with pytest.raises(ValueError, match="needs a 'kind'"):
        Tokenizer.from_dict({"lowercase": True})
