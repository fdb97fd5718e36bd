"""Tests for numpy_seq2seq.data.split: a split that cannot flatter, storing it, checking overlap."""

import hashlib
from collections import Counter

import numpy as np
import pytest

from numpy_seq2seq.config import DataConfig
from numpy_seq2seq.data import (
    Tokenizer,
    count_overlap,
    file_sha256,
    load_tsv,
    side_key,
    split_pairs,
    write_heldout,
)


@pytest.fixture
def seed():
    return 5


def _tangled(n, seed):
    """n pairs over few sentences: many sources with several targets and targets with several
    sources, as in Tatoeba (each side drawn from 3n/4 sentences)."""
    rng = np.random.default_rng(seed)
    return [(f"s{a}", f"t{b}") for a, b in rng.integers(0, 3 * n // 4, size=(n, 2)).tolist()]


def _sides(pairs):
    return {s for s, _ in pairs}, {t for _, t in pairs}


def test_either_split_holds_out_no_training_source_or_target(seed):
    pairs = _tangled(400, seed)
    train, valid = split_pairs(pairs, 0.2, seed=seed, together="either")
    (train_src, train_tgt), (valid_src, valid_tgt) = _sides(train), _sides(valid)
    assert valid and not train_src & valid_src and not train_tgt & valid_tgt
    assert Counter(train + valid) == Counter(pairs)
    assert train == [p for p in pairs if p in set(train)]  # input order kept
    # the old split (by source) on the same pairs lets targets leak: the test can fail
    old_train, old_valid = split_pairs(pairs, 0.2, seed=seed)
    assert _sides(old_train)[1] & _sides(old_valid)[1]


def test_either_split_is_seeded_and_meets_the_share(seed):
    pairs = [(f"s{i}", f"t{i // 2}") for i in range(1000)]  # components of 2 pairs
    train, valid = split_pairs(pairs, 0.1, seed=seed, together="either")
    assert (train, valid) == split_pairs(pairs, 0.1, seed=seed, together="either")
    assert valid != split_pairs(pairs, 0.1, seed=seed + 1, together="either")[1]
    assert len(valid) == 100


def test_either_split_links_through_chains():
    # (a, x) - (b, x) - (b, y): one component; (c, z) another
    pairs = [("a", "x"), ("b", "x"), ("b", "y"), ("c", "z")]
    for s in range(10):
        _, valid = split_pairs(pairs, 0.5, seed=s, together="either")
        assert valid in ([("c", "z")], [])  # the chain of 3 never fits into 2 held-out pairs
    train, valid = split_pairs(pairs, 0.75, seed=0, together="either")
    assert len(train) >= 1 and sorted(train + valid) == sorted(pairs)


def test_either_split_compares_normalised_sentences():
    pairs = [("Go.", "Va\u202f!"), ("Run.", "Va !"), ("go.", "Cours !")]
    key = {p: i for i, p in enumerate(pairs)}
    # as written, the three differ in both sides except through normalisation
    for s in range(20):
        train, valid = split_pairs(pairs, 0.4, seed=s, together="either")
        assert not ({key[p] for p in valid} & {0, 1} and {key[p] for p in train} & {0, 1})
    lower = (Tokenizer("word", lowercase=True), Tokenizer("word", lowercase=True))
    for s in range(20):  # lowercased, "Go." and "go." link all three: nothing can be held out
        assert split_pairs(pairs, 0.4, seed=s, together="either", tokenizers=lower)[1] == []


def test_side_key():
    assert side_key("Pain\u202f!") == side_key("Pain!") == "Pain !"
    assert side_key("  Ｇo   home. ") == "Go home ."
    assert side_key("Go.", Tokenizer("char", lowercase=True)) == "go ."


def test_source_split_is_unchanged(seed):
    """together="source" draws exactly what split_pairs drew before the "either" mode."""
    pairs = [(f"s{i % 97}", f"t{i}") for i in range(300)]
    sources = list(dict.fromkeys(s for s, _ in pairs))
    order = np.random.default_rng(seed).permutation(len(sources))
    held = {sources[i] for i in order[: round(0.2 * 97)].tolist()}
    assert split_pairs(pairs, 0.2, seed=seed)[1] == [p for p in pairs if p[0] in held]


def test_split_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="unknown split 'target'; choose one of source, either"):
        split_pairs([("a", "b")], together="target")


def test_count_overlap():
    train = [("a", "x"), ("b", "y")]
    pairs = [("a", "x"), ("a", "z"), ("c", "y"), ("d", "w"), ("B", "Y")]
    overlap = count_overlap(pairs, train)
    assert overlap == (5, 2, 2, 3, 1)
    assert overlap.describe().startswith("3 of 5 pairs share a source or a target")
    lower = (Tokenizer("word", lowercase=True),) * 2
    assert count_overlap(pairs, train, lower).pairs == 2


def test_heldout_round_trip(tmp_path):
    pairs = [("Go.", "Va !"), ("내 일", "my work"), ("a b", "c")]
    path = write_heldout(tmp_path / "run" / "heldout.tsv", pairs)
    assert load_tsv(path) == pairs
    with pytest.raises(ValueError, match=r"pair 1: the target 'a\\tb' cannot be one TSV field"):
        write_heldout(tmp_path / "bad.tsv", [("a", "b"), ("c", "a\tb")])
    assert not (tmp_path / "bad.tsv").exists()


def test_file_sha256(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_bytes(b"a\tb\n")
    assert file_sha256(path) == hashlib.sha256(b"a\tb\n").hexdigest()


def test_data_config_split_mode():
    assert DataConfig(task=None, data="/x.tsv").split_mode() == "either"
    assert DataConfig(task="dates").split_mode() == "source"
    assert DataConfig(task="dates", split="either").split_mode() == "either"
    old = {"task": None, "data": "/x.tsv", "valid_fraction": 0.1, "seed": 0}
    assert DataConfig.from_dict(old).split_mode() == "source"  # as it was trained
    with pytest.raises(ValueError, match="split"):
        DataConfig(split="target")
