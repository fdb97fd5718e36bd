"""Vocabulary: a two-way map between tokens and integer ids.

Every vocabulary (source and target) starts with the same four reserved ids,
so padding, start and end tokens mean the same thing on both sides::

    0 <pad>   1 <s>   2 </s>   3 <unk>

The vocabulary also holds the :class:`~numpy_seq2seq.data.tokenize.Tokenizer`
that produced its tokens (kind, lowercasing, a trained subword model), and saves
it with its tokens, so a string is encoded and ids decoded back to text the same
way in training, ``translate`` and ``evaluate``.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import POSITIVE_INT
from ..files import write_text_atomic
from .tokenize import Tokenizer, as_tokenizer

PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, BOS, EOS, UNK)

UNKNOWN_MODES: tuple[str, ...] = ("unk", "error")


class Vocab:
    """Token <-> id map with the four reserved ids first.

    Parameters
    ----------
    tokens : sequence of str
        The ordinary tokens, in id order; they receive ids 4, 5, ... Reserved
        strings and repeats are ignored.
    tokenizer : Tokenizer or {"char", "word", "bpe"}
        The tokenizer that produced the tokens (used by :meth:`tokenize`,
        :meth:`detokenize` and when :meth:`encode` is given a str); a name means
        ``Tokenizer(name)``.
    """

    def __init__(self, tokens: Sequence[str] = (), tokenizer: Tokenizer | str = "char") -> None:
        self.tokenizer = as_tokenizer(tokenizer)
        self.itos: list[str] = list(SPECIAL_TOKENS)
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        for tok in tokens:
            if tok not in self.stoi:
                self.stoi[tok] = len(self.itos)
                self.itos.append(tok)

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        token_sequences: Iterable[Sequence[str]],
        min_freq: int = 1,
        tokenizer: Tokenizer | str = "char",
    ) -> Vocab:
        """Count tokens and keep those seen at least ``min_freq`` times.

        Order is by descending frequency, ties broken by the token string, so the
        same data always gives the same ids regardless of input order.

        Parameters
        ----------
        token_sequences : iterable of sequences of str
            Already-tokenized sequences (a plain ``str`` counts as a sequence of
            characters, which is what the char tokenizer would give).
        min_freq : int
            Minimum count for a token to get its own id; rarer ones map to <unk>.
        tokenizer : Tokenizer or str
            Stored in the vocabulary; see the class docstring.
        """
        POSITIVE_INT.check("min_freq", min_freq)
        counts = Counter(tok for seq in token_sequences for tok in seq)
        for special in SPECIAL_TOKENS:
            counts.pop(special, None)
        kept = [t for t, c in counts.items() if c >= min_freq]
        kept.sort(key=lambda t: (-counts[t], t))
        return cls(kept, tokenizer=tokenizer)

    @classmethod
    def from_texts(cls, texts: Iterable[str], tokenizer: Tokenizer | str = "char",
                   min_freq: int = 1) -> Vocab:
        """Fit ``tokenizer`` on ``texts`` (learns a bpe model), tokenize them, :meth:`build`."""
        texts = list(texts)
        tok = as_tokenizer(tokenizer).fit(texts)
        return cls.build((tok.tokenize(t) for t in texts), min_freq=min_freq, tokenizer=tok)

    # ------------------------------------------------------------------ lookups
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self.itos == other.itos and self.tokenizer == other.tokenizer

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, tokenizer={self.tokenizer.describe()!r})"

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order, the four reserved ones included (a copy)."""
        return list(self.itos)

    def token_to_id(self, token: str) -> int:
        """Id of ``token``; raises KeyError if it is not in the vocabulary."""
        try:
            return self.stoi[token]
        except KeyError:
            raise KeyError(f"token {token!r} is not in the vocabulary") from None

    def id_to_token(self, idx: int) -> str:
        """Token with id ``idx``; raises IndexError if out of range."""
        if not 0 <= idx < len(self.itos):
            raise IndexError(f"id {idx} out of range for vocabulary of size {len(self)}")
        return self.itos[idx]

    # ------------------------------------------------------------------ text
    def tokenize(self, text: str) -> list[str]:
        """Split ``text`` with this vocabulary's tokenizer."""
        return self.tokenizer.tokenize(text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Join tokens with this vocabulary's tokenizer."""
        return self.tokenizer.detokenize(tokens)

    def canonical(self, text: str) -> str:
        """``text`` as this vocabulary writes it: ``detokenize(tokenize(text))``.

        Outputs are compared with references in this form, so a reference is normalised
        exactly as the model's training targets were.
        """
        return self.tokenizer.canonical(text)

    def unknown(self, tokens: str | Sequence[str]) -> list[str]:
        """The distinct tokens of ``tokens`` (a str is tokenized first) not in the vocabulary."""
        if isinstance(tokens, str):
            tokens = self.tokenize(tokens)
        # a literal "<unk>" token is in stoi, so it does not count as missing
        return list(dict.fromkeys(t for t in tokens if t not in self.stoi))

    def encode(
        self,
        tokens: str | Sequence[str],
        add_bos: bool = False,
        add_eos: bool = False,
        unknown: str = "unk",
    ) -> np.ndarray:
        """Map tokens to ids.

        Parameters
        ----------
        tokens : str or sequence of str
            A ``str`` is first split with this vocabulary's tokenizer; a list is
            used as given.
        add_bos, add_eos : bool
            Prepend ``<s>`` / append ``</s>``.
        unknown : {"unk", "error"}
            "unk" maps unseen tokens to ``UNK_ID``; "error" raises instead (the
            command line uses this to reject characters the model never saw).

        Returns
        -------
        ids : ndarray of shape (L,), int64

        Raises
        ------
        ValueError
            With ``unknown="error"``, naming every distinct unknown token.
        """
        if unknown not in UNKNOWN_MODES:
            raise ValueError(f"unknown must be one of {UNKNOWN_MODES}, got {unknown!r}")
        if isinstance(tokens, str):
            tokens = self.tokenize(tokens)
        ids = [self.stoi.get(t, UNK_ID) for t in tokens]
        if unknown == "error" and UNK_ID in ids:
            missing = self.unknown(tokens)
            if missing:
                shown = ", ".join(repr(t) for t in missing)
                raise ValueError(f"{len(missing)} token(s) not in the vocabulary: {shown}")
        if add_bos:
            ids.insert(0, BOS_ID)
        if add_eos:
            ids.append(EOS_ID)
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: Iterable[int], strip_special: bool = True) -> list[str]:
        """Map ids back to tokens.

        With ``strip_special`` (the default) decoding stops at the first ``</s>``
        and drops ``<pad>`` and ``<s>``; ``<unk>`` is kept so the reader sees that
        something was unknown. Without it every id is mapped verbatim.
        """
        out = []
        for i in ids:
            i = int(i)
            if strip_special:
                if i == EOS_ID:
                    break
                if i in (PAD_ID, BOS_ID):
                    continue
            out.append(self.id_to_token(i))
        return out

    def decode_text(self, ids: Iterable[int]) -> str:
        """``detokenize(decode(ids))``: ids to a display string, specials stripped."""
        return self.detokenize(self.decode(ids))

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """Tokenizer description and all tokens in id order.

        JSON-ready except for a bpe model, which is a uint8 ndarray: checkpoints store it as a
        plain array entry, :meth:`to_json` as base64 text.
        """
        return {"tokenizer": self.tokenizer.to_dict(), "tokens": list(self.itos)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocab:
        """Inverse of :meth:`to_dict`; checks that the reserved tokens come first."""
        try:
            tokens, tokenizer = list(d["tokens"]), d["tokenizer"]
        except (KeyError, TypeError) as e:
            raise ValueError(f"vocab dict needs 'tokens' and 'tokenizer' keys: {e}") from None
        if tuple(tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(
                f"vocab must start with {list(SPECIAL_TOKENS)}, got {tokens[: len(SPECIAL_TOKENS)]}"
            )
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocab tokens contain duplicates")
        return cls(tokens[len(SPECIAL_TOKENS) :], tokenizer=Tokenizer.from_dict(tokenizer))

    def to_json(self) -> str:
        """JSON string (non-ASCII kept as is, not escaped; a bpe model as base64)."""

        def default(obj: Any) -> Any:
            if isinstance(obj, np.ndarray):  # the bpe model; Tokenizer.from_dict reads base64
                return base64.b64encode(obj.tobytes()).decode("ascii")
            raise TypeError(f"cannot store a {type(obj).__name__} in a vocabulary")

        return json.dumps(self.to_dict(), ensure_ascii=False, default=default)

    @classmethod
    def from_json(cls, text: str) -> Vocab:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    def save(self, path: str | PathLike[str]) -> None:
        """Write :meth:`to_json` to ``path`` as UTF-8, atomically (`files.write_text_atomic`)."""
        write_text_atomic(path, self.to_json())

    @classmethod
    def load(cls, path: str | PathLike[str]) -> Vocab:
        """Read a vocabulary written by :meth:`save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
