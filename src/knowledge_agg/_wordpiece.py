"""BERT's uncased WordPiece tokenizer in plain Python, for the static model's vocabulary (``static``).

The default install has no ``tokenizers``; this gives the same token ids as its ``BertWordPiece``
pipeline for all-MiniLM-L6-v2 (clean, split CJK characters, lower-case, strip accents, split on white space
and punctuation, then greedy longest-match word pieces with ``##`` continuations), checked against
``tokenizers`` in the tests.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from array import array
from collections.abc import Mapping
from typing import Protocol

__all__ = ["Lookup", "SortedVocab", "WordPiece"]

#: A word longer than this is one unknown token, as in BERT.
_MAX_WORD_CHARS = 100
#: ASCII text's words and punctuation marks (the fast path: most of every corpus), once control
#: characters are gone.
_ASCII_WORDS = re.compile(r"[a-z0-9]+|[!-/:-@\[-`{-~]")
_ASCII_CONTROLS = {code: None for code in (*range(0, 9), 11, 12, *range(14, 32), 127)}


class Lookup(Protocol):
    """A vocabulary: a token's id, or ``None`` when it is not in it (a dict, or a :class:`SortedVocab`)."""

    def get(self, token: str, /) -> int | None: ...


class SortedVocab:
    """Token → id by bisection over the tokens sorted as UTF-8 bytes, kept as one bytes string with each
    token's end and id: read as stored, with nothing to build, where a dict of BERT's 30,522 tokens costs
    ~8 ms of a fresh process's first query (which looks up a few dozen pieces)."""

    def __init__(self, tokens: bytes, ends: array[int], ids: array[int]) -> None:
        if len(ends) != len(ids) or (ends and ends[-1] != len(tokens)):
            raise ValueError("a sorted vocabulary needs one end and one id per token")
        self.tokens = tokens
        self.ends = ends
        self.ids = ids

    @classmethod
    def of(cls, vocab: Mapping[str, int]) -> SortedVocab:
        """The sorted form of ``vocab``."""
        items = sorted((token.encode(), index) for token, index in vocab.items())
        ends = array("I", itertools.accumulate(len(token) for token, _ in items))
        return cls(b"".join(token for token, _ in items), ends, array("I", (index for _, index in items)))

    def get(self, token: str, /) -> int | None:
        """The id of ``token``, or ``None``."""
        key, tokens, ends = token.encode(), self.tokens, self.ends
        low, high = 0, len(ends)
        while low < high:
            middle = (low + high) // 2
            if tokens[ends[middle - 1] if middle else 0 : ends[middle]] < key:
                low = middle + 1
            else:
                high = middle
        if low < len(ends) and tokens[ends[low - 1] if low else 0 : ends[low]] == key:
            return self.ids[low]
        return None


class WordPiece:
    """Token ids of a text under one vocabulary (token → id)."""

    def __init__(self, vocab: Lookup, unknown: str = "[UNK]") -> None:
        self.vocab = vocab
        found = vocab.get(unknown)
        if found is None:
            raise ValueError(f"the vocabulary has no {unknown!r} token")
        self.unknown = found
        self._word = functools.lru_cache(maxsize=1 << 16)(self._pieces)

    def ids(self, text: str) -> list[int]:
        """The ids of ``text``'s word pieces, without ``[CLS]`` / ``[SEP]``."""
        return list(itertools.chain.from_iterable(map(self._word, _words(text))))

    def _pieces(self, word: str) -> tuple[int, ...]:
        if len(word) > _MAX_WORD_CHARS:
            return (self.unknown,)
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.vocab.get(piece)
                if found is not None:
                    pieces.append(found)
                    break
                end -= 1
            else:
                return (self.unknown,)
            start = end
        return tuple(pieces)


def _words(text: str) -> list[str]:
    """BERT's basic tokenization: the lower-cased, accent-stripped words and punctuation marks."""
    if text.isascii():
        return _ASCII_WORDS.findall(text.lower().translate(_ASCII_CONTROLS))
    text = unicodedata.normalize("NFD", text.lower())
    words: list[str] = []
    current: list[str] = []
    for char in text:
        code = ord(char)
        if code == 0 or code == 0xFFFD or _control(char):
            continue
        if unicodedata.category(char) == "Mn":
            continue
        if char.isspace() or _cjk(code) or _punctuation(char):
            if current:
                words.append("".join(current))
                current = []
            if not char.isspace():
                words.append(char)
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words


def _control(char: str) -> bool:
    if char in "\t\n\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


def _punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _cjk(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F or 0x2B740 <= code <= 0x2B81F or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F
    )
