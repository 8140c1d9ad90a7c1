"""Main text out of HTML: trafilatura, cross-checked with readability when it looks short, and bot-challenge pages.

The combination was chosen by measuring F1 and time on the article-extraction benchmark
(``python -m benchmarks.extraction``; every variant is in ``benchmarks/results/quality_log.md``):
trafilatura alone scores 0.949, with ``favor_precision`` and without comments 0.966, and with the
readability cross-check below on every page 0.973 at ~80 ms a page. Readability is most of that
time, so the page is parsed once, trafilatura runs without its own internal fallbacks (``fast``),
and readability's second opinion is asked only when trafilatura kept little of the page's
paragraph text (a quarter of the pages): F1 0.970 at a third of the time.

Memory: a page stays bytes from the socket to the parser. Its codec is checked without decoding it
(``decode.detect_codec``), a UTF-8 page goes to lxml as is (another codec is re-encoded to UTF-8 once),
trafilatura reads that tree, readability gets a tree of its own from the same bytes, and the bot-check
markers are looked for in the bytes a window at a time. Decoding a 1 MB page with non-Latin-1
characters to a ``str`` took 3.3 MB at its peak and ``str.lower()`` of it 15 MB (tracemalloc); no
page's text other than the extracted one is ever a ``str`` now.
"""

from __future__ import annotations

import logging
import re
from collections import Counter

import lxml.etree
import lxml.html
import trafilatura
from readability import Document
from readability.readability import Unparseable

from .decode import detect_codec
from .errors import KnowledgeAggError

__all__ = [
    "ChallengePageError",
    "cross_check",
    "extract_page",
    "extract_text",
    "main_text",
    "needs_second_opinion",
    "paragraph_words",
    "readability_text",
]

_TOKEN = re.compile(r"\w+")
_MARKUP = re.compile(rb"<\s*(!doctype|html|head|body|p|div|article|main|span|a|table|br|h[1-6])\b", re.IGNORECASE)
#: trafilatura's own parser settings (``trafilatura.utils.HTML_PARSER``), fed UTF-8 bytes instead of a ``str``.
_PARSER = lxml.html.HTMLParser(
    collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
)
#: readability's own parser (``readability.htmls.build_doc``): it too parses UTF-8 bytes.
_READABILITY_PARSER = lxml.html.HTMLParser(encoding="utf-8")
_UTF8 = frozenset({"utf-8", "utf-8-sig"})
#: Elements whose content is never article text (cut before readability measures text).
_NOT_TEXT = ("script", "style", "noscript", "template", "svg")
#: Bytes searched for bot-check markers at a time (lower-cased window by window, not the whole page).
_WINDOW = 1 << 16
_BLOCKS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption footer h1 h2 h3 h4 h5 h6 header li main ol p pre "
    "section table td th tr ul".split()
)
#: What bot-check pages say (lower case). Plain substrings: one regex of these alternatives took 340 ms
#: on a 1 MB page, ``in`` on the lowered page takes about one.
_CHALLENGE_MARKERS = (
    "checking if the site connection is secure", "checking your browser", "just a moment...",
    "attention required! | cloudflare", "cdn-cgi/challenge-platform", "cf-browser-verification", "cf_chl_",
    "_incapsula_resource", "px-captcha", "enable javascript and cookies to continue", "verify you are human",
    "verify you are a human", "verifying you are human", "verifying you are a human", "ddos protection by",
)
#: Below this many words, a page carrying a challenge marker is taken for the challenge itself.
_CHALLENGE_MAX_WORDS = 150
#: Readability's second opinion is asked when trafilatura kept fewer words than this...
_SECOND_OPINION_WORDS = 100
#: ...or less than this share of the words in the page's ``<p>`` elements (F1 0.9701 on the dev pages,
#: readability on 15 of 60; at 0.5 it was 0.9699 on 8, at 0.9 0.9722 on 30).
_SECOND_OPINION_SHARE = 0.7

logging.getLogger("readability.readability").setLevel(logging.ERROR)


class ChallengePageError(KnowledgeAggError):
    """The page is a bot check ("checking your browser"), not the article; a browser is needed to read it."""

    kind = "challenge_page"


def main_text(html: str | lxml.html.HtmlElement, url: str | None = None, *, fast: bool = False) -> str:
    """trafilatura's main text, tuned for precision and without reader comments (``fast``: no internal fallbacks)."""
    return trafilatura.extract(html, url=url, favor_precision=True, include_comments=False, fast=fast) or ""


def readability_text(html: str | bytes) -> str:
    """readability-lxml's article as plain text, one line per block (``bytes``: UTF-8, parsed without a ``str``).

    Scripts and styles are cut from its tree first (readability drops them itself, but only after
    measuring every element's text, scripts included: 2.5 MB at the peak for a page of 160 KB of
    inline script, 0.09 MB without).
    """
    page = html if isinstance(html, bytes) else html.encode("utf-8", errors="replace")
    try:
        tree = lxml.html.document_fromstring(page, parser=_READABILITY_PARSER)
        lxml.etree.strip_elements(tree, *_NOT_TEXT, with_tail=False)
        summary = Document(tree).summary(html_partial=True)
        tree = lxml.html.fromstring(summary)
    except (Unparseable, ValueError, lxml.etree.ParserError):
        return ""
    for element in tree.iter():
        if isinstance(element.tag, str) and element.tag in _BLOCKS:
            element.tail = "\n" + (element.tail or "")
    return _tidy(tree.text_content())


def _tidy(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text)
    return Counter(tuple(tokens[i : i + 4]) for i in range(max(0, len(tokens) - 3)))


def cross_check(main: str, alt: str) -> str:
    """Prefer readability's text when trafilatura kept under half of it, or when it is a trimmed subset of it."""
    main_words, alt_words = len(_TOKEN.findall(main)), len(_TOKEN.findall(alt))
    if main_words < 0.5 * alt_words:
        return alt
    if 0.5 * main_words <= alt_words < main_words:
        alt_shingles = _shingles(alt)
        shared = sum((alt_shingles & _shingles(main)).values())
        if shared >= 0.95 * max(1, sum(alt_shingles.values())):
            return alt
    return main


_CHALLENGE_BYTES = tuple(marker.encode() for marker in _CHALLENGE_MARKERS)
_OVERLAP = max(map(len, _CHALLENGE_BYTES))


def _is_challenge(page: bytes) -> bool:
    """Whether a bot-check marker is in the page, a lower-cased window at a time (overlapping by a marker)."""
    for start in range(0, max(1, len(page)), _WINDOW):
        window = page[start : start + _WINDOW + _OVERLAP].lower()
        if any(marker in window for marker in _CHALLENGE_BYTES):
            return True
    return False


def paragraph_words(tree: lxml.html.HtmlElement) -> int:
    """How many words the page's ``<p>`` elements hold: what a good extraction keeps most of."""
    return sum(len(_TOKEN.findall(p.text_content())) for p in tree.iter("p"))


def needs_second_opinion(main: str, paragraphs: int) -> bool:
    """Whether trafilatura's text is short enough, alone or beside the page's paragraphs, to ask readability."""
    words = len(_TOKEN.findall(main))
    return words < _SECOND_OPINION_WORDS or words < _SECOND_OPINION_SHARE * paragraphs


def _parse(page: bytes) -> lxml.html.HtmlElement | None:
    """The page's tree as trafilatura would build it, from UTF-8 bytes."""
    try:
        tree = lxml.html.fromstring(page, parser=_PARSER)
    except (lxml.etree.ParserError, ValueError):
        return None
    return tree if isinstance(tree, lxml.html.HtmlElement) else None


def _extract(page: bytes, url: str | None) -> str:
    """The main text of a UTF-8 page: plain text passes through, markup goes to trafilatura (and readability)."""
    if not _MARKUP.search(page[:5000]):
        return _tidy(page.decode("utf-8", errors="replace"))
    tree = _parse(page)  # parsed once: counted here, then extracted by trafilatura from this tree
    paragraphs = paragraph_words(tree) if tree is not None else 0
    text = main_text(tree, url, fast=True) if tree is not None else ""
    del tree
    if needs_second_opinion(text, paragraphs):
        text = cross_check(text, readability_text(page))
    if len(_TOKEN.findall(text)) < _CHALLENGE_MAX_WORDS and _is_challenge(page):
        raise ChallengePageError(
            "The site answered with a bot check ('checking your browser') instead of the page; "
            "it cannot be read without a browser, so its search snippet is used."
        )
    return text


def extract_text(html: str, url: str | None = None) -> str:
    """The main text of ``html`` ('' when none); plain text passes through; raises on bot-challenge pages."""
    return _extract(html.encode("utf-8", errors="replace"), url)


def extract_page(body: bytes, charset: str | None, url: str | None = None) -> str:
    """``extract_text`` of a page as fetched, kept as bytes (in an extraction worker): only its text becomes a ``str``."""
    codec = detect_codec(body, charset)
    if codec not in _UTF8 and not body.isascii():  # another codec: one UTF-8 copy, what the parsers read
        body = body.decode(codec, errors="replace").encode("utf-8")
    return _extract(body, url)
