"""Translation metrics from sacreBLEU, on detokenized text: corpus BLEU and chrF (both 0-100).

* **BLEU** (Papineni et al. 2002): geometric mean of 1- to 4-gram precisions times a brevity
  penalty, over word n-grams after sacreBLEU's standard ``13a`` tokenization.
* **char-BLEU**: the same over characters (``tokenize="char"``), for character-level targets:
  German, Korean and Japanese write a whole number, and often a phrase, as one "word", so word
  4-grams would mostly not exist and BLEU would read 0 for nearly right outputs. It is another
  number than word BLEU (usually higher), so it is reported under its own name.
* **chrF** (Popović 2015): F-score (β = 2) of character n-grams up to 6, whitespace ignored; it
  needs no tokenization and suits every language here alike.

Hypotheses and references should be in the same canonical form (``Vocab.canonical``).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["translation_scores"]


def translation_scores(hypotheses: Sequence[str], references: Sequence[str],
                       char_level: bool = False) -> dict[str, float]:
    """Corpus BLEU and chrF of ``hypotheses`` against one reference each.

    Parameters
    ----------
    hypotheses, references : sequences of str of the same length
    char_level : bool
        BLEU over characters instead of 13a word tokens (see the module docstring).

    Returns
    -------
    dict with ``bleu`` (or ``char_bleu`` when ``char_level``: BLEU over characters is another
    number than word BLEU and is named apart) and ``chrf``, floats in [0, 100]
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} hypotheses but {len(references)} references")
    import sacrebleu  # lazy: importing it takes a moment and only translation tasks need it

    refs = [list(references)]
    bleu = sacrebleu.corpus_bleu(list(hypotheses), refs, tokenize="char" if char_level else "13a")
    chrf = sacrebleu.corpus_chrf(list(hypotheses), refs)
    return {"char_bleu" if char_level else "bleu": float(bleu.score), "chrf": float(chrf.score)}
