"""Tests for numpy_seq2seq.data.corpus: TSV loading, choosing pairs, hold-out split, encoding."""

from collections import Counter
from pathlib import Path

import pytest

from numpy_seq2seq.data import (
    BOS_ID,
    EOS_ID,
    UNK_ID,
    Tokenizer,
    Vocab,
    count_unknown,
    describe_selection,
    encode_pairs,
    load_tsv,
    read_tsv,
    select_pairs,
    split_pairs,
)

# A Tatoeba/manythings-format file written for these tests (not Tatoeba data): English TAB
# French TAB attribution, with capitals, punctuation and U+202F before "!" and "?".
TATOEBA_STYLE = Path(__file__).parent / "data" / "tatoeba_style.tsv"


@pytest.fixture
def seed():
    return 3


@pytest.fixture
def write(tmp_path):
    def _write(content, name="pairs.tsv"):
        path = tmp_path / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return _write


def test_load_tsv_ignores_extra_columns_and_blank_lines(write):
    path = write(
        "\ufeffGo.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\n"
        "\n"
        "Hi.\tSalut !\r\n"
        "   \n"
        " Run! \t Cours !\n"
    )
    assert load_tsv(path) == [("Go.", "Va !"), ("Hi.", "Salut !"), ("Run!", "Cours !")]
    assert load_tsv(str(path)) == load_tsv(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a\tb\n\nno tab here\n", ":3: expected 'source<TAB>target', found no TAB"),
        ("a\tb\n\tb\n", ":2: empty source"),
        ("a\tb\nc\t  \tx\n", ":2: empty target"),
        ("a\tb\n12\tHi.\t34\tSalut.\n", ":2: expected 2 or 3 TAB-separated columns"),
        (b"a\tb\n\xff\xfe\tc\n", ":2: not valid UTF-8"),
        ("", "no sentence pairs found"),
        ("\n  \n\n", "no sentence pairs found"),
    ],
)
def test_load_tsv_errors_name_file_and_line(write, content, message):
    path = write(content)
    with pytest.raises(ValueError) as info:
        load_tsv(path)
    text = str(info.value)
    assert message in text and str(path) in text
    assert "\n" not in text


def test_swap_reads_the_columns_the_other_way(write):
    path = write("Go.\tVa !\tCC-BY\nHi.\tSalut !\n")
    assert load_tsv(path, swap=True) == [("Va !", "Go."), ("Salut !", "Hi.")]
    corpus = read_tsv(path, swap=True)
    assert corpus.attributed == 1 and corpus.pairs == [(t, s) for s, t in load_tsv(path)]


def test_read_tsv_decompresses_gz(write):
    import gzip

    path = write(gzip.compress("Go.\tVa !\n".encode()), name="pairs.tsv.gz")
    assert load_tsv(path) == [("Go.", "Va !")]
    broken = write(b"not gzip", name="broken.tsv.gz")
    with pytest.raises(ValueError, match="broken.tsv.gz: not a readable gzip file"):
        load_tsv(broken)


def test_load_tsv_missing_file(tmp_path):
    path = tmp_path / "nope.tsv"
    with pytest.raises(FileNotFoundError, match="nope.tsv"):
        load_tsv(path)


def _pairs(n):
    return [(f"src{i}", f"tgt{i}") for i in range(n)]


def test_split_is_deterministic_and_ten_percent(seed):
    pairs = _pairs(1000)
    train, valid = split_pairs(pairs, seed=seed)
    assert (train, valid) == split_pairs(pairs, seed=seed)
    assert valid != split_pairs(pairs, seed=seed + 1)[1]
    assert len(valid) == 100 and len(train) == 900
    assert Counter(train + valid) == Counter(pairs)
    assert train == [p for p in pairs if p in set(train)]  # input order kept


def test_split_keeps_equal_sources_together(seed):
    # Each source appears 1-4 times with varying targets.
    pairs = [(f"s{i % 97}", f"t{i}") for i in range(300)]
    train, valid = split_pairs(pairs, valid_fraction=0.2, seed=seed)
    assert not {s for s, _ in train} & {s for s, _ in valid}
    assert len({s for s, _ in valid}) == round(0.2 * 97)
    assert Counter(train + valid) == Counter(pairs)


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="valid_fraction must be in"):
        split_pairs(_pairs(10), valid_fraction=fraction)


def test_split_edge_cases():
    assert split_pairs(_pairs(10), valid_fraction=0.0) == (_pairs(10), [])
    assert split_pairs(_pairs(1), valid_fraction=0.9) == (_pairs(1), [])  # train never empty


def test_encode_pairs():
    pairs = [("ab", "x y"), ("ba", "y")]
    src_vocab = Vocab.from_texts([s for s, _ in pairs], tokenizer="char")
    tgt_vocab = Vocab.from_texts([t for _, t in pairs], tokenizer="word")
    src_ids, tgt_ids = encode_pairs(pairs, src_vocab, tgt_vocab)
    a, b = src_vocab.token_to_id("a"), src_vocab.token_to_id("b")
    x, y = tgt_vocab.token_to_id("x"), tgt_vocab.token_to_id("y")
    assert [s.tolist() for s in src_ids] == [[a, b], [b, a]]  # no specials on the source
    assert [t.tolist() for t in tgt_ids] == [[BOS_ID, x, y, EOS_ID], [BOS_ID, y, EOS_ID]]

    new = [("ab", "y"), ("ac", "z")]
    src_ids, tgt_ids = encode_pairs(new, src_vocab, tgt_vocab)
    assert src_ids[1].tolist() == [a, UNK_ID] and tgt_ids[1].tolist() == [BOS_ID, UNK_ID, EOS_ID]
    with pytest.raises(ValueError, match=r"pair 1 \('ac' -> 'z'\).*'c'"):
        encode_pairs(new, src_vocab, tgt_vocab, unknown="error")


# ---------------------------------------------------------------------------------------------
# Tatoeba-style files

def test_attribution_column_is_read_and_counted(write):
    corpus = read_tsv(write("Go.\tVa !\tCC-BY 2.0 (France) Attribution: x\nHi.\tSalut !\n"))
    assert corpus.pairs == [("Go.", "Va !"), ("Hi.", "Salut !")]
    assert corpus.attributed == 1
    with pytest.raises(ValueError, match=r"cut -f2,4"):
        read_tsv(write("1\tGo.\t2\tVa !\n"))


def test_tatoeba_style_round_trip_keeps_punctuation_and_capitals():
    corpus = read_tsv(TATOEBA_STYLE)
    assert len(corpus.pairs) == corpus.attributed == 42
    word = Tokenizer("word")
    src_vocab = Vocab.from_texts([s for s, _ in corpus.pairs], tokenizer=word)
    tgt_vocab = Vocab.from_texts([t for _, t in corpus.pairs], tokenizer=word)
    # punctuation is split off: no "bread." next to "bread", and capitals are kept
    assert {"bread", ".", "!", "?", "We", "Tom", "don'"} <= set(src_vocab.tokens)
    assert not [t for t in src_vocab.tokens + tgt_vocab.tokens if len(t) > 1 and t[-1] in ".!?"]
    assert "\u202f" not in "".join(tgt_vocab.tokens)
    src_ids, tgt_ids = encode_pairs(corpus.pairs, src_vocab, tgt_vocab, unknown="error")
    for (src, tgt), s_ids, t_ids in zip(corpus.pairs, src_ids, tgt_ids, strict=True):
        assert src_vocab.decode_text(s_ids) == src  # English round-trips exactly
        assert tgt_vocab.decode_text(t_ids) == tgt_vocab.canonical(tgt)
    # French writes a space before ! and ?: the target side learnt it, English did not
    assert tgt_vocab.canonical("Ils aiment le pain\u202f!") == "Ils aiment le pain !"
    assert src_vocab.canonical("We like bread !") == "We like bread!"
    assert src_vocab.unknown("The cat. We know!") == []  # no longer refused


def test_select_pairs_drops_and_says_why(seed):
    pairs = [(f"w{i} x", f"y{i}") for i in range(20)] + [("w0 x", "y0")] * 2
    pairs += [("a b c d e", "f"), ("g", "h i j k l m")]
    word = Tokenizer("word")
    kept, dropped = select_pairs(pairs, word, word, max_len=4, max_pairs=15, seed=seed)
    assert dropped == {"duplicates": 2, "longer than 4 tokens": 2, "beyond the 15-pair limit": 5}
    assert len(kept) == 15 and kept == sorted(kept, key=pairs.index)  # input order kept
    assert kept == select_pairs(pairs, word, word, max_len=4, max_pairs=15, seed=seed)[0]
    assert kept != select_pairs(pairs, word, word, max_len=4, max_pairs=15, seed=seed + 1)[0]
    assert describe_selection(len(pairs), dropped, len(kept)) == (
        "read 24 pairs; dropped 2 duplicates, 2 longer than 4 tokens, 5 beyond the 15-pair "
        "limit; kept 15")
    assert select_pairs(pairs[:3], word, word) == (pairs[:3], {})
    assert describe_selection(3, {}, 3) == "read 3 pairs; dropped none; kept 3"


def test_select_pairs_counts_each_side_in_its_own_tokens():
    pairs = [("one two", "abcdef"), ("one", "abc")]
    kept, _ = select_pairs(pairs, Tokenizer("word"), Tokenizer("char"), max_len=3)
    assert kept == [("one", "abc")]
    # bpe is learnt after the choice, so its length is counted in words
    kept, _ = select_pairs(pairs, Tokenizer("bpe"), Tokenizer("char"), max_len=6)
    assert kept == pairs


def test_count_unknown():
    src_vocab = Vocab.from_texts(["a b"], tokenizer="word")
    tgt_vocab = Vocab.from_texts(["xy"], tokenizer="char")
    res = count_unknown([("a c c", "xz"), ("b", "y")], src_vocab, tgt_vocab)
    assert (res.unknown, res.total) == (3, 7) and res.counts == Counter({"c": 2, "z": 1})
    assert res.fraction == pytest.approx(3 / 7)
