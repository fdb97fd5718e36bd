"""benchmarks/tatoeba_style_sample.py, which makes README's sample corpus: the format README
describes, the vocabulary sizes it states, the same pairs for the same seed."""

import subprocess
import sys
from pathlib import Path

import pytest

from numpy_seq2seq.data import Tokenizer, read_tsv

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "tatoeba_style_sample.py"


def _sample(tmp_path, pairs, seed=0):
    res = subprocess.run([sys.executable, str(SCRIPT), "--pairs", str(pairs), "--seed", str(seed)],
                         capture_output=True, text=True, timeout=120, check=True)
    path = tmp_path / f"sample_{pairs}_{seed}.tsv"
    path.write_text(res.stdout, encoding="utf-8")
    return path, res.stdout


def test_the_sample_is_a_tatoeba_style_pair_file(tmp_path):
    path, text = _sample(tmp_path, 50)
    corpus = read_tsv(path)
    assert len(corpus.pairs) == corpus.attributed == 50
    assert all(line.count("\t") == 2 for line in text.splitlines())
    french = [t for _, t in corpus.pairs]
    assert any(t.endswith("\u202f!") for t in french) and any(t.endswith("\u202f?") for t in french)
    assert _sample(tmp_path, 50)[1] == text and _sample(tmp_path, 50, seed=1)[1] != text


@pytest.mark.parametrize("side, tokens", [(0, 48), (1, 67)])  # README: "about 50 and 70"
def test_the_vocabulary_sizes_readme_states(side, tokens, tmp_path):
    corpus = read_tsv(_sample(tmp_path, 4000)[0])
    word = Tokenizer("word")
    assert len({t for pair in corpus.pairs for t in word.tokenize(pair[side])}) == tokens
