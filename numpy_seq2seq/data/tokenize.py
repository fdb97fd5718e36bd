"""Tokenizers: how a string becomes a list of tokens and back.

Two deliberately simple schemes, enough for the built-in tasks and for small
sentence-pair corpora:

* ``"char"`` -- every Unicode code point is a token; detokenize joins with "".
* ``"word"`` -- ``str.split()`` on runs of whitespace; detokenize joins with a
  single space. Punctuation stays attached to its word ("Hello," is one token),
  and runs of whitespace collapse, so ``word`` round-trips only text whose words
  are separated by single spaces. A real system would use subwords (BPE); this
  library keeps the vocabulary step transparent instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

TOKENIZERS: tuple[str, ...] = ("char", "word")


def char_tokenize(text: str) -> list[str]:
    """Split ``text`` into single characters (code points)."""
    return list(text)


def char_detokenize(tokens: Sequence[str]) -> str:
    """Join character tokens back into a string."""
    return "".join(tokens)


def word_tokenize(text: str) -> list[str]:
    """Split ``text`` on whitespace; leading/trailing whitespace is dropped."""
    return text.split()


def word_detokenize(tokens: Sequence[str]) -> str:
    """Join word tokens with single spaces."""
    return " ".join(tokens)


_TOKENIZE = {"char": char_tokenize, "word": word_tokenize}
_DETOKENIZE = {"char": char_detokenize, "word": word_detokenize}


def _check_name(name: str) -> None:
    if name not in _TOKENIZE:
        raise ValueError(f"unknown tokenizer {name!r}; choose one of {', '.join(TOKENIZERS)}")


def get_tokenizer(name: str) -> Callable[[str], list[str]]:
    """Return the tokenize function called ``name`` ("char" or "word").

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`TOKENIZERS`.
    """
    _check_name(name)
    return _TOKENIZE[name]


def get_detokenizer(name: str) -> Callable[[Sequence[str]], str]:
    """Return the detokenize function matching :func:`get_tokenizer` ``(name)``."""
    _check_name(name)
    return _DETOKENIZE[name]
