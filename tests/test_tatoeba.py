"""The tatoeba task (numpy_seq2seq.data.tatoeba): shipped offline with its licence and credit,
every direction loads, the sample is seeded, lengths are as asked, and its split cannot flatter."""

import configparser
from pathlib import Path

import pytest

from numpy_seq2seq import cli, run
from numpy_seq2seq.config import DataConfig
from numpy_seq2seq.data import Tokenizer, count_overlap, make_task, task_tokenizers
from numpy_seq2seq.data.tatoeba import (
    DATA_DIR,
    FILES,
    SHIPPED_MAX_WORDS,
    TATOEBA_PAIRS,
    read_tatoeba,
)

ROOT = Path(__file__).resolve().parent.parent
WORD = Tokenizer("word")


@pytest.fixture
def seed():
    return 11


@pytest.mark.parametrize("direction", TATOEBA_PAIRS, ids="->".join)
def test_every_direction_loads_and_is_seeded(direction, seed):
    src_lang, tgt_lang = direction
    pairs = make_task("tatoeba", 500, seed=seed, source_lang=src_lang, target_lang=tgt_lang)
    assert len(pairs) == 500
    assert pairs == make_task("tatoeba", 500, seed=seed, source_lang=src_lang,
                              target_lang=tgt_lang)
    assert pairs != make_task("tatoeba", 500, seed=seed + 1, source_lang=src_lang,
                              target_lang=tgt_lang)
    hangul = [any("\uac00" <= ch <= "\ud7a3" for ch in s) for s, _ in pairs]
    assert all(hangul) if src_lang == "ko" else not any(hangul)
    for s, t in pairs:
        assert 1 <= len(WORD.tokenize(s)) <= 10 and 1 <= len(WORD.tokenize(t)) <= 10


def test_reverse_directions_swap_the_columns():
    forward, backward = read_tatoeba("en", "ko"), read_tatoeba("ko", "en")
    assert backward.pairs == [(t, s) for s, t in forward.pairs]
    assert make_task("tatoeba", 10**6, source_lang="fr", target_lang="en") == [
        (t, s) for s, t in make_task("tatoeba", 10**6)]  # all pairs: no sample


def test_default_selection_and_word_range(seed):
    everything = make_task("tatoeba", 10**6, seed=seed)
    assert len(everything) == len(read_tatoeba("en", "fr").pairs) > 50_000
    short = make_task("tatoeba", 10**6, seed=seed, min_len=3, max_len=4)
    assert short and all(3 <= len(WORD.tokenize(side)) <= 4 for p in short for side in p)
    assert set(short) < set(everything)
    with pytest.raises(ValueError, match=f"max_len must be <= {SHIPPED_MAX_WORDS} words"):
        make_task("tatoeba", 10, max_len=SHIPPED_MAX_WORDS + 1)
    with pytest.raises(ValueError, match="translates en -> fr, fr -> en, en -> ko, ko -> en; "
                                         "got ko -> fr"):
        make_task("tatoeba", 10, source_lang="ko", target_lang="fr")


def test_tokenizers():
    assert task_tokenizers("tatoeba") == (Tokenizer("word"), Tokenizer("word"))
    assert task_tokenizers("tatoeba", "ko", "en") == (Tokenizer("char"), Tokenizer("word"))


def test_shipped_with_licence_and_attribution():
    readme = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    for needed in ("https://tatoeba.org", "CC BY 2.0 FR", "creativecommons.org/licenses/by/2.0/fr",
                   "Changes made"):
        assert needed in readme
    korean = read_tatoeba("en", "ko")
    assert korean.attributed == len(korean.pairs)  # every line keeps its attribution column
    for _, name in FILES.values():
        assert (DATA_DIR / name).stat().st_size < 1_000_000  # mind the wheel
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    shipped = setup["options.package_data"]["numpy_seq2seq.data"]
    assert "pairs/*.tsv.gz" in shipped and "pairs/README.md" in shipped
    assert "numpy_seq2seq/data/pairs/README.md" in (ROOT / "MANIFEST.in").read_text()


@pytest.mark.parametrize("direction", [("ko", "en"), ("en", "fr")], ids="->".join)
def test_the_task_is_split_so_nothing_held_out_was_seen(direction):
    cfg = DataConfig(task="tatoeba", source_lang=direction[0], target_lang=direction[1],
                     num_examples=3000)
    assert cfg.split_mode() == "either"
    train, valid, summary = run.load_pairs(cfg)
    assert "CC BY 2.0 FR" in summary and len(valid) > 200
    overlap = count_overlap(valid, train, run.pair_tokenizers(cfg))
    assert overlap.either == 0


def test_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["train", "--task", "tatoeba", "--source-lang", "ko", "--target-lang", "en",
                     "--num-examples", "300", "--epochs", "1", "--hidden-dim", "16",
                     "--embed-dim", "8", "--out", str(out)])
    text, err = capsys.readouterr()
    assert code == 0, err
    header, data_line = text.splitlines()[:2]
    assert "task tatoeba ko -> en" in header and "(char) ->" in header and "(word)" in header
    assert data_line.startswith("data: 300 shipped pairs (Tatoeba sentence pairs")
    code = cli.main(["evaluate", "--checkpoint", str(out / "checkpoint.npz"), "--task",
                     "tatoeba", "--num-examples", "50"])
    text, err = capsys.readouterr()
    assert code == 0 and "BLEU" in text and "share a source or a target" in err
    code = cli.main(["train", "--task", "tatoeba", "--source-lang", "es"])
    _, err = capsys.readouterr()
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "got es -> fr" in err
