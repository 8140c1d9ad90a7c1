"""BERT's uncased WordPiece tokenizer in plain Python, for the static model's vocabulary (``static``).

The default install has no ``tokenizers``; this gives the same token ids as its ``BertWordPiece``
pipeline for all-MiniLM-L6-v2 (clean, split CJK characters, lower-case, strip accents, split on white space
and punctuation, then greedy longest-match word pieces with ``##`` continuations), checked against
``tokenizers`` in the tests.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping

__all__ = ["WordPiece"]

#: A word longer than this is one unknown token, as in BERT.
_MAX_WORD_CHARS = 100
#: ASCII text's words and punctuation marks (the fast path: most of every corpus), once control
#: characters are gone.
_ASCII_WORDS = re.compile(r"[a-z0-9]+|[!-/:-@\[-`{-~]")
_ASCII_CONTROLS = {code: None for code in (*range(0, 9), 11, 12, *range(14, 32), 127)}


class WordPiece:
    """Token ids of a text under one vocabulary (token → id)."""

    def __init__(self, vocab: Mapping[str, int], unknown: str = "[UNK]") -> None:
        self.vocab = dict(vocab)
        self.unknown = self.vocab[unknown]
        self._word = functools.lru_cache(maxsize=1 << 16)(self._pieces)

    def ids(self, text: str) -> list[int]:
        """The ids of ``text``'s word pieces, without ``[CLS]`` / ``[SEP]``."""
        out: list[int] = []
        for word in _words(text):
            out.extend(self._word(word))
        return out

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
