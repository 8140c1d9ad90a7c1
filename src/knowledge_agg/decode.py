"""Turn a page's raw bytes into text safely: capped decompression, binary sniffing, charset choice."""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Iterator

import charset_normalizer

__all__ = ["BodyDecoder", "DecodeError", "decode_text", "detect_codec", "looks_binary"]

_MAGIC = (b"%PDF-", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b", b"RIFF", b"\x7fELF")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_CONTROL_BYTES = bytes(sorted(frozenset(range(32)) - {9, 10, 12, 13, 27}))
_SINGLE_BYTE = re.compile(r"^(ascii|iso8859-\d+|cp125\d|koi8-[ru]|mac-roman)$")
#: Labels browsers decode as windows-1252 (WHATWG Encoding Standard), so pages written for browsers read right.
_WHATWG = {"iso8859-1": "cp1252", "ascii": "cp1252"}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class DecodeError(Exception):
    """The body cannot become text; ``kind`` matches a ``FetchError`` kind."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


#: The most a decompressed piece holds.
_PIECE = 1 << 16


class BodyDecoder:
    """Undo a gzip/deflate ``Content-Encoding`` chunk by chunk, never producing more than ``limit`` bytes."""

    def __init__(self, encoding: str, limit: int) -> None:
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip() and c.strip() != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise DecodeError(f"The page uses the unsupported content encoding {encoding!r}.", "unsupported_content")
        self._coding = codings[0] if codings else ""
        self._limit = limit
        self._zlib = zlib.decompressobj(self._window_bits()) if self._coding else None
        self.size = 0

    def _window_bits(self) -> int:
        """zlib's window bits for the coding: with a gzip header or with a zlib header."""
        return zlib.MAX_WBITS | (16 if "gzip" in self._coding else 0)

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """The decoded bytes of ``chunk`` in pieces of at most 64 KiB; raises ``DecodeError("too_large")`` past the limit.

        Pieces, not one buffer: 64 KiB of gzip can inflate to megabytes, and each piece goes to the
        page's buffer as it comes, so no second copy of a chunk's output is ever held.
        """
        inflate = self._zlib
        if inflate is None:
            yield self._count(chunk)
            return
        data = chunk
        while data:
            try:
                piece = inflate.decompress(data, min(_PIECE, self._limit - self.size + 1))
            except zlib.error as exc:
                if self._coding == "deflate" and self.size == 0:  # raw deflate without zlib header
                    inflate = self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._coding = "raw-deflate"
                    continue
                raise DecodeError(f"The page's compressed body is corrupt ({exc}).", "binary_content") from exc
            yield self._count(piece)
            data = inflate.unconsumed_tail
            if inflate.eof and inflate.unused_data:  # another gzip member follows
                data = inflate.unused_data
                inflate = self._zlib = zlib.decompressobj(self._window_bits())

    def _count(self, data: bytes) -> bytes:
        self.size += len(data)
        if self.size > self._limit:
            raise DecodeError(
                f"The page is larger than the {self._limit:,}-byte cap (KNOWLEDGE_AGG_FETCH_MAX_BYTES).", "too_large"
            )
        return data


def looks_binary(head: bytes) -> bool:
    """Whether the first bytes of a body are binary data rather than text (magic numbers, NULs, controls)."""
    if head.startswith(_MAGIC):
        return True
    if any(head.startswith(bom) for bom, name in _BOMS if name == "utf-16"):
        return False
    if b"\x00" in head:
        return True
    sample = head[:4096]
    return len(sample) - len(sample.translate(None, _CONTROL_BYTES)) > len(sample) * 0.1  # counted in C


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    return _WHATWG.get(codec, codec)


#: Bytes validated at a time: a codec is checked without holding the whole page as a ``str``.
_CHUNK = 1 << 16


def _decodes(body: bytes, codec: str | None) -> bool:
    """Whether ``body`` decodes strictly with ``codec``, checked chunk by chunk (the text is not kept)."""
    if codec is None:
        return False
    try:
        decoder = codecs.getincrementaldecoder(codec)()
        for start in range(0, len(body), _CHUNK):
            decoder.decode(body[start : start + _CHUNK])
        decoder.decode(b"", final=True)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def detect_codec(body: bytes, header_charset: str | None) -> str:
    """The codec for ``body``: its BOM, the header charset, ``<meta charset>``, UTF-8, then detection.

    A declared or guessed codec is chosen only if the bytes decode with it, so ``body.decode(codec, "replace")``
    replaces nothing then; the page itself is never decoded here (a byte parser can take it as is).
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    meta = _META_CHARSET.search(body[:8192])
    declared = [c for c in (_codec(header_charset), _codec(meta.group(1).decode("ascii")) if meta else None) if c]
    for codec in dict.fromkeys(declared):
        # A single-byte label decodes anything; if the bytes are valid UTF-8 with non-ASCII, it is mislabelled.
        if _SINGLE_BYTE.match(codec) and not body.isascii() and _decodes(body, "utf-8"):
            return "utf-8"
        if _decodes(body, codec):
            return codec
    if _decodes(body, "utf-8"):
        return "utf-8"
    best = charset_normalizer.from_bytes(body[:200_000]).best()
    return best.encoding if best else "cp1252"


def decode_text(body: bytes, header_charset: str | None) -> str:
    """Decode ``body`` using its BOM, the header charset, ``<meta charset>``, then detection, never failing."""
    return body.decode(detect_codec(body, header_charset), errors="replace")
