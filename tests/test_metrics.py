"""Tests for numpy_seq2seq.metrics: sacreBLEU's BLEU and chrF, word and character level."""

import pytest
import sacrebleu

from numpy_seq2seq.metrics import translation_scores

REFS = ["quatre-vingt-dix-sept mille deux cents", "vingt et un mille trois cent dix", "cent"]


def test_scores_are_sacrebleu():
    hyps = ["quatre-vingt-dix-sept mille deux cents", "vingt et une mille trois cent", "cent"]
    scores = translation_scores(hyps, REFS)
    assert scores["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [REFS]).score)
    assert scores["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [REFS]).score)
    assert translation_scores(REFS, REFS) == {"bleu": pytest.approx(100),
                                              "chrf": pytest.approx(100)}


def test_char_level_bleu_sees_nearly_right_single_words():
    refs = ["einundzwanzigtausend", "siebenundneunzig"]
    hyps = ["einundzwanzigtausend", "siebenundachtzig"]
    word = translation_scores(hyps, refs)["bleu"]
    char_scores = translation_scores(hyps, refs, char_level=True)
    assert "bleu" not in char_scores  # char-BLEU is another number: never reported as BLEU
    char = char_scores["char_bleu"]
    assert word < 50 < char < 100  # one-word sentences have no word 4-grams to match


def test_lengths_must_agree():
    with pytest.raises(ValueError, match="2 hypotheses but 3 references"):
        translation_scores(["a", "b"], REFS)
