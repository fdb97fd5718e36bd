"""The "tatoeba" task: real sentences, English–French and English–Korean, shipped with the package.

The pairs come from the Tatoeba project (https://tatoeba.org), licence CC BY 2.0 France, as the
"bilingual sentence pairs" downloads lay them out (English first). The package holds them in
``data/pairs/`` (gzip-compressed TSV) with a README that states the licence and the credit; the
English–Korean file keeps its attribution column (the sentence numbers and contributors of both
sides), which is read and counted, never trained on. Nothing is downloaded.

Directions: ``en -> fr``, ``fr -> en``, ``en -> ko``, ``ko -> en`` (:data:`TATOEBA_PAIRS`).
English and French are word-level (words and punctuation), Korean is character-level (a
Hangul syllable per token: about 870 of them cover the Korean side, where its space-separated
words, each with its particles, number over 4,700 in 2,800 pairs).

Which pairs (:func:`make_tatoeba`)
----------------------------------
The package ships the pairs whose sides have at most :data:`SHIPPED_MAX_WORDS` (10) words each
(word tokens, punctuation counted: ``I'm home.`` is ``I'`` ``m`` ``home`` ``.``, four); that is
55,700 of 57,000 English–French pairs and 2,576 of 2,832 English–Korean ones. A run keeps those
with ``min_len`` to ``max_len`` words on both sides (default 1 to 10), then, if more than ``n``
remain, a seeded random sample of ``n`` (input order kept: the files run from short to long
sentences, so the first ``n`` would be only the shortest). The task's own defaults (the text
recipe, ``config.TASK_DEFAULTS``) take every pair: the 48,831 English–French pairs of at most 8
words, all 2,576 English–Korean ones.

A sentence of Tatoeba often has several translations, and a translation several sources, so
the task is held out with ``split="either"`` (data.split): no held-out source or target occurs
in training.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from .corpus import Pair, TsvCorpus, read_tsv
from .tokenize import Tokenizer

DATA_DIR = Path(str(resources.files(__package__) / "pairs"))
# (English, other) -> (the pair file it was built from, the shipped file)
FILES: dict[tuple[str, str], tuple[str, str]] = {
    ("en", "fr"): ("eng-fra.txt", "eng-fra.tsv.gz"),
    ("en", "ko"): ("eng-kor.txt", "eng-kor.tsv.gz"),
}
TATOEBA_PAIRS: tuple[tuple[str, str], ...] = (("en", "fr"), ("fr", "en"), ("en", "ko"),
                                              ("ko", "en"))
TATOEBA_TOKENIZERS: dict[str, str] = {"en": "word", "fr": "word", "ko": "char"}
SHIPPED_MAX_WORDS = 10  # the longest side shipped, in word tokens (benchmarks/make_tatoeba_data.py)
DEFAULT_WORDS = (1, 10)  # the default min_len, max_len
NOTICE = ("Tatoeba sentence pairs (https://tatoeba.org), CC BY 2.0 FR "
          "(https://creativecommons.org/licenses/by/2.0/fr/); see numpy_seq2seq/data/pairs/"
          "README.md")


def check_direction(source_lang: str, target_lang: str) -> None:
    """Raise ValueError unless (source_lang, target_lang) is one of :data:`TATOEBA_PAIRS`."""
    if (source_lang, target_lang) not in TATOEBA_PAIRS:
        choices = ", ".join(f"{s} -> {t}" for s, t in TATOEBA_PAIRS)
        raise ValueError(f"the tatoeba task translates {choices}; got {source_lang} -> "
                         f"{target_lang}")


def tatoeba_tokenizers(source_lang: str, target_lang: str) -> tuple[Tokenizer, Tokenizer]:
    """The (source, target) tokenizers of a direction: word for en and fr, char for ko."""
    check_direction(source_lang, target_lang)
    return Tokenizer(TATOEBA_TOKENIZERS[source_lang]), Tokenizer(TATOEBA_TOKENIZERS[target_lang])


def read_tatoeba(source_lang: str, target_lang: str) -> TsvCorpus:
    """Every shipped pair of a direction (``attributed``: lines with an attribution column)."""
    check_direction(source_lang, target_lang)
    english_first = source_lang == "en"
    _, name = FILES[(source_lang, target_lang) if english_first else (target_lang, source_lang)]
    return read_tsv(DATA_DIR / name, swap=not english_first)


@lru_cache(maxsize=len(TATOEBA_PAIRS))
def _counted(source_lang: str, target_lang: str) -> tuple[tuple[Pair, ...], np.ndarray]:
    """A direction's shipped pairs and the words of each side, (pairs, 2), read once."""
    word = Tokenizer("word")
    pairs = tuple(read_tatoeba(source_lang, target_lang).pairs)
    words = np.array([[len(word.tokenize(side)) for side in p] for p in pairs], dtype=np.int64)
    return pairs, words


def make_tatoeba(n: int, rng: np.random.Generator, min_len: int, max_len: int,
                 source_lang: str, target_lang: str) -> list[Pair]:
    """At most ``n`` pairs of a direction whose sides have ``min_len`` to ``max_len`` words
    (a random sample drawn with ``rng`` when more qualify, in file order)."""
    if max_len > SHIPPED_MAX_WORDS:
        raise ValueError(f"max_len must be <= {SHIPPED_MAX_WORDS} words for the tatoeba task "
                         f"(the package ships no longer sentences), got {max_len}; train on a "
                         "longer pair file with --data")
    pairs, words = _counted(source_lang, target_lang)
    keep = ((words >= min_len) & (words <= max_len)).all(axis=1)  # (pairs,)
    pairs = [pairs[i] for i in np.flatnonzero(keep).tolist()]
    if len(pairs) > n:
        chosen = np.sort(rng.permutation(len(pairs))[:n])
        pairs = [pairs[i] for i in chosen.tolist()]
    return pairs
