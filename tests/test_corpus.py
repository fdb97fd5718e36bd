"""Tests for numpy_seq2seq.data.corpus: TSV loading, hold-out split, encoding."""

from collections import Counter

import pytest

from numpy_seq2seq.data import BOS_ID, EOS_ID, UNK_ID, Vocab, encode_pairs, load_tsv, split_pairs


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
