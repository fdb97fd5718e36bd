"""Tokenizers: how a string becomes a list of tokens and back.

A :class:`Tokenizer` is a small frozen description (kind, lowercasing, and for subwords the
trained model) that every vocabulary stores in its JSON, so training, ``translate`` and
``evaluate`` always split text the same way: the checkpoint carries the tokenizer with it.

Every kind first **normalises** the text:

1. Unicode NFKC, so look-alike code points become one (full-width ``Ａ`` -> ``A``, ``…`` ->
   ``...``, the no-break spaces U+00A0 and U+202F that French puts before ``!`` -> a space),
   except Hangul compatibility jamo (U+3130–U+318F, the ``ㅋㅋ`` of Korean chat), which NFKC
   would turn into conjoining jamo that fuse with their neighbours;
2. every run of whitespace becomes one ASCII space and the ends are stripped;
3. optionally, lowercasing.

Kinds
-----
``"char"``
    Every code point is a token, spaces included; detokenize joins with "".
``"word"``
    Words and punctuation: a run of letters or digits is a word (``3.14`` and ``1,000`` stay
    whole); every other visible character is a token of its own, so ``cat.`` is ``cat`` + ``.``
    and the vocabulary never holds both ``pomme`` and ``pomme.``. A hyphen or apostrophe
    *between* two letters stays on the piece before it: ``quatre-vingt-dix`` is ``quatre-`` +
    ``vingt-`` + ``dix``, ``l'homme`` is ``l'`` + ``homme``, ``don't`` is ``don'`` + ``t`` (one
    rule for French elision and English contractions, and compound numbers become small
    reusable pieces). Detokenize joins with spaces, except after such a joined piece, before
    closing punctuation ``. , ! ? ; : % ) ] } ”`` (unless the training text writes it after a
    space, as French does ``!`` and ``?``: learnt by ``fit``), after opening ``( [ { ¿ ¡ “``
    and ``# @``, inside straight quotes (``"hi"``, ``'hi'``: odd ones open, even ones close)
    and between a currency sign and its number (``$5``, ``5€``). Scripts
    written without spaces (Japanese, Chinese) come out as one "word" per run of text: use
    ``char`` or ``bpe`` for them.
``"bpe"``
    Subwords learnt by sentencepiece's byte-pair encoding (:meth:`Tokenizer.fit`, with
    ``vocab_size`` pieces at most) on the normalised training text. Pieces carry ``▁`` for a
    preceding space, so detokenizing is joining and turning ``▁`` back into spaces. The trained
    model (a serialised protobuf) is kept as bytes in the tokenizer; the vocabulary stores it
    as a uint8 array, which checkpoints hold as a plain array entry (no pickle).

Comparing outputs with references: :meth:`Tokenizer.canonical` is ``detokenize(tokenize(text))``;
a reference written ``Ils aiment le pain\\u202f!`` and an output ``Ils aiment le pain!`` have
the same canonical form, so they count as equal (as their token ids do).

Vocabularies written before tokenizers had options store just ``"char"`` or ``"word"``; they
load as ``Tokenizer(kind, normalize=False)``, which splits exactly as those versions did
(``list(text)`` and ``text.split()``), so old checkpoints translate as before.
"""

from __future__ import annotations

import base64
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from ..config import DEFAULT_BPE_VOCAB_SIZE

TOKENIZERS: tuple[str, ...] = ("char", "word", "bpe")
BPE_SPACE = "\u2581"  # sentencepiece's "▁": this piece starts after a space

_WHITESPACE = re.compile(r"\s+")  # \s on str patterns matches U+00A0, U+202F, U+3000, ...
# A number with inner separators, or a run of letters/digits with an optional trailing joiner
# (hyphen or apostrophe) when another letter follows, or any single visible character.
_WORD_PIECE = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:[-'’](?=[^\W_]))?|\S")
_COMPAT_JAMO = re.compile("([\u3130-\u318f]+)")  # Hangul compatibility jamo, kept from NFKC
_JOINERS = "-'’"
_NO_SPACE_BEFORE = frozenset(".,!?;:%)]}”")
_NO_SPACE_AFTER = frozenset("([{¿¡“#@")
_QUOTES = "\"'"  # the same mark opens and closes: odd ones open, even ones close (as Moses does)
_CURRENCY = frozenset("$€£¥₩")  # sticks to the number beside it: $100, 100$
# a closing punctuation mark right after a word, or after a word and one space
_AFTER_WORD = re.compile(r"(?<=\w)( ?)([" + re.escape("".join(sorted(_NO_SPACE_BEFORE))) + "])")


def normalize_spaces(text: str) -> str:
    """Replace every run of (Unicode) whitespace with one ASCII space and strip the ends."""
    return _WHITESPACE.sub(" ", text).strip()


def normalize_text(text: str, lowercase: bool = False) -> str:
    """NFKC (except on Hangul compatibility jamo), whitespace runs to one ASCII space, ends
    stripped, optionally lowercased."""
    text = normalize_spaces(_nfkc_keeping_jamo(text))
    return text.lower() if lowercase else text


def _nfkc_keeping_jamo(text: str) -> str:
    """NFKC of everything but runs of Hangul compatibility jamo (U+3130–U+318F).

    NFKC maps those to conjoining jamo, which fuse with their neighbours or render as stray
    syllable parts: Korean chat's 'ㅋㅋㅋ' would become 'ᄏᄏᄏ' and 'ㅎㅏㄴ' '하ᄂ'. Korean
    writes them as they are, so they are left as they are.
    """
    parts = _COMPAT_JAMO.split(text)  # odd indices: the jamo runs
    return "".join(part if i % 2 else unicodedata.normalize("NFKC", part)
                   for i, part in enumerate(parts))


def show_token(token: str) -> str:
    """A token as figures and tables label it: a blank token (a space) becomes ``␣``, and so
    does a bpe piece's ``▁`` (this piece starts after a space): ``▁the`` reads ``␣the``."""
    return token.replace(BPE_SPACE, "␣") if token.strip() else "␣"


def display_width(text: str) -> int:
    """Terminal cells (or label widths) ``text`` takes: 2 for East Asian wide and fullwidth
    characters (Hangul, kana, kanji), 0 for combining marks, 1 otherwise."""
    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def split_words(text: str) -> list[str]:
    """The ``word`` kind's split of already normalised text (see the module docstring)."""
    return _WORD_PIECE.findall(text)


def join_words(tokens: Sequence[str], spaced: str = "") -> str:
    """Inverse of :func:`split_words` up to spacing around punctuation.

    ``spaced``: the closing punctuation this text writes after a space (French ``pain !``, see
    `Tokenizer.fit`), which keeps its space.
    """
    out: list[str] = []
    opened = {q: False for q in _QUOTES}  # inside a quotation opened by this mark
    apostrophe = _apostrophe(tokens)
    after_opening = False
    for i, tok in enumerate(tokens):
        quote = tok in _QUOTES
        lone = i == apostrophe  # closes nothing, opens nothing
        closing = quote and (opened[tok] or lone)
        if i and not (_glued(tokens[i - 1], tok, tokens[i + 1:i + 2], spaced)
                      or after_opening or closing):
            out.append(" ")
        out.append(tok)
        if quote and not lone:
            opened[tok] = not opened[tok]
        after_opening = quote and not closing
    return "".join(out)


def _apostrophe(tokens: Sequence[str]) -> int | None:
    """Where an odd number of ``'`` leaves one that quotes nothing: the first after a word
    ending in s or z (the students' books, James' car), else the last; None if they pair up."""
    marks = [i for i, tok in enumerate(tokens) if tok == "'"]
    if len(marks) % 2 == 0:
        return None
    plural = [i for i in marks if i and tokens[i - 1][-1:] in "sSzZ"]
    return plural[0] if plural else marks[-1]


def _glued(prev: str, tok: str, following: Sequence[str], spaced: str) -> bool:
    """No space between ``prev`` and ``tok`` (``following``: the token after, if any)."""
    before_number = bool(following) and following[0][:1].isdigit()
    return ((len(prev) > 1 and prev[-1] in _JOINERS)  # l' + homme
            or (tok in _NO_SPACE_BEFORE and tok not in spaced) or prev in _NO_SPACE_AFTER
            or (prev in _CURRENCY and tok[:1].isdigit())  # $ + 100
            or (tok in _CURRENCY and prev[-1:].isdigit() and not before_number))  # 100 + $


def _bpe_error(message: str, vocab_size: int) -> str:
    """sentencepiece's refusal as one line that says what to change."""
    too_small = re.search(r"smaller than required_chars\. \d+ vs (\d+)", message)
    if too_small:
        need = int(too_small.group(1))
        return (f"bpe vocab_size {vocab_size} is too small: the text's {need - 1} distinct "
                f"characters and <unk> need at least {need} pieces")
    return f"sentencepiece could not learn {vocab_size} pieces: {message.splitlines()[-1]}"


@dataclass(frozen=True)
class Tokenizer:
    """How text is split into tokens; stored with every vocabulary.

    Parameters
    ----------
    kind : {"char", "word", "bpe"}
        See the module docstring.
    lowercase : bool
        Lowercase after normalising (both when training and when reading new text).
    normalize : bool
        NFKC and whitespace normalisation; False only for vocabularies from before tokenizers
        had options (their exact old behaviour).
    vocab_size : int
        ``bpe`` only: the most pieces :meth:`fit` learns (sentencepiece may stop earlier on
        small text).
    spaced : str
        ``word`` only: the closing punctuation (of ``. , ! ? ; : % ) ] } ”``) that the text
        :meth:`fit` saw mostly writes after a space, as French does ``!``, ``?``, ``;`` and
        ``:``; :meth:`detokenize` keeps that space.
    model : bytes or None
        ``bpe`` only: the trained sentencepiece model; None until :meth:`fit`.
    """

    kind: str = "char"
    lowercase: bool = False
    normalize: bool = True
    vocab_size: int = DEFAULT_BPE_VOCAB_SIZE
    model: bytes | None = field(default=None, repr=False)
    spaced: str = ""

    def __post_init__(self) -> None:
        if self.kind not in TOKENIZERS:
            raise ValueError(f"unknown tokenizer {self.kind!r}; choose one of "
                             f"{', '.join(TOKENIZERS)}")
        if self.kind == "bpe" and (not isinstance(self.vocab_size, int) or self.vocab_size < 2):
            raise ValueError(f"vocab_size must be an int >= 2, got {self.vocab_size!r}")
        if not self.normalize and (self.kind == "bpe" or self.lowercase):
            raise ValueError("normalize=False is only for old char/word vocabularies")

    # ------------------------------------------------------------------ text
    def prepare(self, text: str) -> str:
        """The text as this tokenizer sees it: normalised and maybe lowercased."""
        return normalize_text(text, self.lowercase) if self.normalize else text

    def tokenize(self, text: str) -> list[str]:
        """Split ``text`` into tokens (after :meth:`prepare`)."""
        text = self.prepare(text)
        if self.kind == "char":
            return list(text)
        if self.kind == "word":
            return split_words(text) if self.normalize else text.split()
        if self.model is None:
            raise ValueError("this bpe tokenizer has not been trained; call fit(texts) first")
        return self._processor.encode(text, out_type=str)

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Join tokens back into text."""
        if self.kind == "char":
            return "".join(tokens)
        if self.kind == "word":
            return join_words(tokens, self.spaced) if self.normalize else " ".join(tokens)
        return "".join(tokens).replace(BPE_SPACE, " ").strip()

    def canonical(self, text: str) -> str:
        """``detokenize(tokenize(text))``: the form in which outputs and references are compared."""
        return self.detokenize(self.tokenize(text))

    # ------------------------------------------------------------------ subwords
    def fit(self, texts: Iterable[str]) -> Tokenizer:
        """A trained copy: for ``bpe``, learn the subword model on ``texts``; for ``word``, which
        closing punctuation they write after a space (``spaced``); ``char`` returns self.

        Training is deterministic (one thread, input in the order given), so the same texts
        give the same pieces.
        """
        if self.kind == "word" and self.normalize:
            return replace(self, spaced=_spaced_punctuation(self.prepare(t) for t in texts))
        if self.kind != "bpe" or self.model is not None:
            return self
        import sentencepiece as spm  # lazy: only the bpe kind needs it

        prepared = [t for t in (self.prepare(t) for t in texts) if t]
        if not prepared:
            raise ValueError("cannot learn a bpe model from no text")
        buffer = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(prepared), model_writer=buffer, model_type="bpe",
                vocab_size=self.vocab_size, hard_vocab_limit=False, character_coverage=1.0,
                # our own normalisation ran already; sentencepiece must not apply another
                normalization_rule_name="identity", num_threads=1, shuffle_input_sentence=False,
                unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, minloglevel=2,
            )
        except RuntimeError as err:
            raise ValueError(_bpe_error(str(err), self.vocab_size)) from None
        return replace(self, model=buffer.getvalue())

    @cached_property
    def _processor(self) -> Any:
        import sentencepiece as spm

        return spm.SentencePieceProcessor(model_proto=self.model)

    # ------------------------------------------------------------------ persistence
    def describe(self) -> str:
        """A short label such as ``word``, ``bpe 8000, lowercased`` or, when the text had too
        little for the pieces asked, ``bpe 49 (4000 asked)``."""
        parts = [self.kind]
        if self.kind == "bpe":
            learnt = self.vocab_size if self.model is None else self._processor.get_piece_size()
            parts = [f"bpe {learnt}" + (f" ({self.vocab_size} asked)"
                                         if learnt < self.vocab_size else "")]
        if self.lowercase:
            parts.append("lowercased")
        if not self.normalize:
            parts.append("not normalised")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; a bpe model is a uint8 ndarray (stored as a plain array)."""
        d: dict[str, Any] = {"kind": self.kind, "lowercase": self.lowercase,
                             "normalize": self.normalize, "vocab_size": self.vocab_size}
        if self.model is not None:
            d["model"] = np.frombuffer(self.model, dtype=np.uint8)
        if self.spaced:  # only then: files written before the field stay byte for byte
            d["spaced"] = self.spaced
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | str) -> Tokenizer:
        """Inverse of :meth:`to_dict` (the model also as base64 text); a bare ``"char"`` or
        ``"word"`` is an old vocabulary's."""
        if isinstance(d, str):
            if d not in ("char", "word"):
                raise ValueError(f"unknown tokenizer {d!r}; old vocabularies use char or word")
            return cls(kind=d, normalize=False)
        if not isinstance(d, dict) or "kind" not in d:
            raise ValueError(f"a tokenizer description needs a 'kind', got {d!r}")
        unknown = set(d) - {"kind", "lowercase", "normalize", "vocab_size", "model", "spaced"}
        if unknown:
            raise ValueError(f"unknown tokenizer fields {sorted(unknown)}")
        model = d.get("model")
        if isinstance(model, str):  # a standalone vocab JSON file holds it as base64
            model = base64.b64decode(model)
        elif model is not None:  # a checkpoint's uint8 array
            model = np.asarray(model, dtype=np.uint8).tobytes()
        return cls(kind=d["kind"], lowercase=bool(d.get("lowercase", False)),
                   normalize=bool(d.get("normalize", True)),
                   vocab_size=int(d.get("vocab_size", DEFAULT_BPE_VOCAB_SIZE)), model=model,
                   spaced=str(d.get("spaced", "")))


def _spaced_punctuation(texts: Iterable[str]) -> str:
    """The closing punctuation that ``texts`` (normalised) write after a space more often than
    right after a word: ``"!?"`` for French, ``""`` for English."""
    spaced: Counter = Counter()
    glued: Counter = Counter()
    for text in texts:
        for m in _AFTER_WORD.finditer(text):
            (spaced if m[1] else glued)[m[2]] += 1
    return "".join(sorted(p for p in spaced if spaced[p] > glued[p]))


def as_tokenizer(spec: Tokenizer | str) -> Tokenizer:
    """A :class:`Tokenizer` from itself or a kind name (``"word"`` -> ``Tokenizer("word")``)."""
    if isinstance(spec, Tokenizer):
        return spec
    if isinstance(spec, str):
        return Tokenizer(kind=spec)
    raise ValueError(f"expected a Tokenizer or one of {', '.join(TOKENIZERS)}, got {spec!r}")

