"""Tests for numpy_seq2seq.data.vocab and numpy_seq2seq.data.tokenize."""

import json

import numpy as np
import pytest

from numpy_seq2seq.checkpoint import load_checkpoint, save_checkpoint
from numpy_seq2seq.data import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Tokenizer, Vocab
from numpy_seq2seq.model import Seq2Seq

TEXTS = {
    "char": ["hello world", "2022년 3월 14일 월요일", "lundi 14 mars"],
    "word": ["the cat sat on the mat.", "le chat est là !", "der Hund bellt"],
    "bpe": ["the cat sat on the mat", "the mat is flat", "a cat and a hat"],
}


@pytest.fixture(params=["char", "word", "bpe"])
def tokenizer(request):
    return request.param


@pytest.fixture
def vocab(tokenizer):
    kind = Tokenizer("bpe", vocab_size=30) if tokenizer == "bpe" else tokenizer
    return Vocab.from_texts(TEXTS[tokenizer], tokenizer=kind)


def test_reserved_ids_come_first(vocab):
    assert (PAD_ID, BOS_ID, EOS_ID, UNK_ID) == (0, 1, 2, 3)
    assert vocab.tokens[:4] == ["<pad>", "<s>", "</s>", "<unk>"]
    assert [vocab.token_to_id(t) for t in vocab.tokens] == list(range(len(vocab)))


def test_encode_decode_round_trip(vocab, tokenizer):
    for text in TEXTS[tokenizer]:
        ids = vocab.encode(text, add_bos=True, add_eos=True)
        assert ids.dtype == np.int64 and ids.ndim == 1
        assert ids[0] == BOS_ID and ids[-1] == EOS_ID
        assert UNK_ID not in ids
        assert vocab.decode(ids) == vocab.tokenize(text)
        assert vocab.decode_text(ids) == vocab.canonical(text)
        if tokenizer != "word":  # word spacing before "." and "!" is canonicalised
            assert vocab.decode_text(ids) == text


def test_str_is_tokenized_with_the_stored_tokenizer():
    v = Vocab.from_texts(["a bb a"], tokenizer="word")
    # A str goes through the word tokenizer; a list is taken as tokens already.
    assert v.encode("a bb").tolist() == v.encode(["a", "bb"]).tolist()
    assert v.tokenizer == Tokenizer("word")
    assert len(v) == 4 + 2
    assert v.detokenize(["a", "bb"]) == "a bb"
    assert Vocab.from_texts(["ab"], tokenizer="char").detokenize(["a", "b"]) == "ab"


def test_build_is_deterministic_and_ordered_by_frequency():
    seqs = ["abcab", "bcb", "d"]  # counts: b 4, a 2, c 2, d 1
    v1 = Vocab.build(seqs)
    v2 = Vocab.build(list(reversed(seqs)))
    assert v1 == v2
    assert v1.tokens[4:] == ["b", "a", "c", "d"]  # ties (a, c) broken by the token


def test_min_freq_maps_rare_tokens_to_unk():
    v = Vocab.build(["aab"], min_freq=2)
    assert "b" not in v
    assert v.encode("ab").tolist() == [v.token_to_id("a"), UNK_ID]
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build(["a"], min_freq=0)


def test_decode_stops_at_eos_and_drops_padding():
    v = Vocab.build(["ab"])
    a, b = v.token_to_id("a"), v.token_to_id("b")
    ids = [BOS_ID, a, UNK_ID, b, EOS_ID, a, PAD_ID]
    assert v.decode(ids) == ["a", "<unk>", "b"]
    assert v.decode(np.array([a, PAD_ID, b])) == ["a", "b"]
    assert v.decode(ids, strip_special=False) == ["<s>", "a", "<unk>", "b", "</s>", "a", "<pad>"]
    with pytest.raises(IndexError, match="out of range"):
        v.decode([len(v)])


def test_unknown_modes():
    v = Vocab.build(["abc"])
    assert v.encode("aZc€Z").tolist() == [
        v.token_to_id("a"),
        UNK_ID,
        v.token_to_id("c"),
        UNK_ID,
        UNK_ID,
    ]
    with pytest.raises(ValueError, match=r"2 token\(s\) not in the vocabulary: 'Z', '€'"):
        v.encode("aZc€Z", unknown="error")
    assert v.unknown("aZc€Z") == ["Z", "€"] and v.unknown(["a", "<unk>"]) == []
    assert v.encode("abc", unknown="error").tolist() == v.encode("abc").tolist()
    with pytest.raises(ValueError, match="unknown must be one of"):
        v.encode("a", unknown="ignore")


def test_json_round_trip(vocab, tmp_path):
    path = tmp_path / "vocab.json"
    vocab.save(path)
    loaded = Vocab.load(path)
    assert loaded == vocab
    assert loaded.tokenizer == vocab.tokenizer
    assert Vocab.from_json(vocab.to_json()) == vocab
    assert Vocab.from_dict(json.loads(path.read_text(encoding="utf-8"))) == vocab
    if vocab.tokenizer.kind == "char":  # non-ASCII is written as UTF-8, not \u escapes
        assert "년" in path.read_text(encoding="utf-8")
    assert loaded.encode(TEXTS[vocab.tokenizer.kind][0]).tolist() == \
        vocab.encode(TEXTS[vocab.tokenizer.kind][0]).tolist()


@pytest.mark.parametrize(
    "bad",
    [
        {"tokenizer": "char", "tokens": ["<s>", "<pad>", "</s>", "<unk>", "a"]},
        {"tokenizer": "char", "tokens": ["<pad>", "<s>", "</s>", "<unk>", "a", "a"]},
        {"tokens": ["<pad>", "<s>", "</s>", "<unk>"]},
    ],
)
def test_from_dict_rejects_malformed(bad):
    with pytest.raises(ValueError):
        Vocab.from_dict(bad)


def test_vocab_with_unknown_tokenizer_fails():
    with pytest.raises(ValueError, match="char, word, bpe"):
        Vocab([], tokenizer="sentencepiece")


def test_old_vocab_json_still_loads():
    # written by versions whose tokenizer was just a name
    old = Vocab.from_json('{"tokenizer": "word", "tokens": ["<pad>", "<s>", "</s>", "<unk>", '
                          '"pomme.", "Hello,"]}')
    assert old.tokenizer == Tokenizer("word", normalize=False)
    assert old.encode("Hello, pomme.", unknown="error").tolist() == [5, 4]  # split as before


@pytest.mark.parametrize("kind", ["word", "bpe"])
def test_checkpoint_carries_the_tokenizer(kind, tmp_path):
    texts = ["Ils aiment le pain !", "Nous aimons les pommes.", "Tu aimes le pain."]
    tokenizer = Tokenizer(kind, lowercase=True, vocab_size=40)
    src = Vocab.from_texts(texts, tokenizer=tokenizer)
    tgt = Vocab.from_texts(texts, tokenizer="char")
    model = Seq2Seq(len(src), len(tgt), embed_dim=4, hidden_dim=6)
    path = save_checkpoint(tmp_path / "m.npz", model, src, tgt)
    with np.load(path, allow_pickle=False) as data:  # no pickle needed for any entry
        arrays = {k: data[k] for k in data.files}
    if kind == "bpe":  # the sentencepiece model is a plain uint8 array entry
        assert arrays["src_vocab_array/0"].dtype == np.uint8
        assert arrays["src_vocab_array/0"].tobytes() == src.tokenizer.model
    _, src2, tgt2, _ = load_checkpoint(path)
    assert src2 == src and src2.tokenizer.lowercase and tgt2 == tgt
    text = "NOUS aimons le\u202fpain !"
    assert src2.tokenize(text) == src.tokenize(text)
    assert src2.encode(text).tolist() == src.encode(text).tolist()
