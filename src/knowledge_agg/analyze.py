"""The analyze stage: what kind of query this is, its key terms, and the search string to send."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace

from .errors import QueryError
from .models import Analysis
from .settings import setting_default
from .text import SEARCH_KEEPS, STOPWORDS, TOKEN, nearest_spelling, stem
from .text import respell as _respell

__all__ = [
    "analyze", "respell", "read_as", "altered_terms", "clean", "key_terms", "code_names", "python_words", "compared",
    "error_name", "asks_how_to", "EXCEPTION_SUFFIX", "MAX_SEARCH_CHARS", "MAX_SEARCH_WORDS",
]

#: Brave Search's limits on the ``q`` parameter.
MAX_SEARCH_CHARS = 400
MAX_SEARCH_WORDS = 50
#: At most this many key terms are kept (they feed BM25; more only slows ranking down).
_MAX_TERMS = 64

#: The words left out of a query's key terms.
_STOP_WORDS = STOPWORDS - SEARCH_KEEPS
_WORD = re.compile(r"[A-Za-z]+")
#: How an exception's name ends (``ValueError``, ``UserWarning``, ``SystemExit``, ``KeyboardInterrupt``,
#: ``StopIteration``, ``subprocess.TimeoutExpired``; ``Fault`` for a runtime's fault line): one list for the line of
#: an error message, the exception an error question names and the page of an exception (``select.py``).
EXCEPTION_SUFFIX = "(?:Error|Exception|Warning|Exit|Interrupt|Iteration|Expired|Fault)"
_EXCEPTION_NAME = re.compile(rf"^\s*([A-Za-z_][\w.]*{EXCEPTION_SUFFIX})\b")
#: Words that frame a comparison rather than name what is compared: not searched for in the pages.
_COMPARISON_WORDS = frozenset({"vs", "versus", "difference", "differences", "compare", "comparison", "actual"})
_BETWEEN = re.compile(r"\bdifferences?\s+between\s+(.+?)\s*(?:[?!;:]|\s[-–—]\s|$)", re.IGNORECASE)
_VERSUS = re.compile(r"\s+(?:vs\.?|versus)\s+", re.IGNORECASE)
_CLAUSE_END = re.compile(r"\s+[-–—]\s+|[?!;:]\s*")
_LIST_SEPARATOR = re.compile(r",\s*|\s+(?:and|or)\s+", re.IGNORECASE)
_BOUNDARY = re.compile(r"\s+(?:in|for|when|to|at|of|on|with|which|that|from|between|is|are)\s+", re.IGNORECASE)
_URL_WORDS = frozenset({"http", "https", "www", "com", "org", "net", "html", "htm", "php", "index"})
#: The verb of asking whether something holds ("check if", "see whether", "find out if"): the question is about
#: what follows, and "check" or "test" would find pages named so (``tabnanny.check``) instead (pydocs-qa dev:
#: "pyhton check if file exsits" finds ``pathlib.Path.exists`` among the results; quality log, round nine).
_ASKING_WHETHER = re.compile(r"\b(?:check|see|test|tell|find\s+out|figure\s+out)\s+(?=(?:if|whether)\b)")

_FILLER = re.compile(
    r"\b(?:(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?(?:tell|show|explain\s+to|explain)\s+me"
    r"|(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?(?:explain|tell)"
    r"|i\s+(?:want|wanted|would\s+like|'d\s+like|d\s+like|need)\s+to\s+(?:know|understand|learn)"
    r"|i(?:'m|\s+am)\s+(?:wondering|curious)(?:\s+(?:about|if|whether))?"
    r"|(?:please\s+)?(?:tell|show)\s+me|help\s+me\s+understand|do\s+you\s+know"
    r"|please|kindly|thanks(?:\s+in\s+advance)?|thank\s+you)\b[\s,:;]*",
    re.IGNORECASE,
)
_GREETING = re.compile(r"^\s*(?:hi|hello|hey)\b[\s,!.:;]*", re.IGNORECASE)
_QUESTION_START = re.compile(
    r"^(?:how|what|why|when|where|who|whom|whose|which|is|are|was|were|can|could|should|would|will"
    r"|do|does|did|has|have|explain|describe|compare|difference|tell)\b",
    re.IGNORECASE,
)
_URL = re.compile(r"^(?:https?://|www\.)\S+$", re.IGNORECASE)
#: How a question asking how to do something starts ("how to …", "how do/can/should I …", "how would one …").
_HOW_TO = re.compile(r"\bhow\s+(?:to|(?:do|can|could|should|would|shall)\s+(?:i|you|we|one)\b)", re.IGNORECASE)
_ERROR_LINE = re.compile(
    rf"^\s*(?:[A-Za-z_][\w.]*{EXCEPTION_SUFFIX}\b(?::.*)?"
    r"|(?:error|fatal error|fatal|panic)(?:\[\w+\])?:\s.+"
    r"|Segmentation fault.*|Uncaught \w+.*)$",
)
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+at .+\(.+:\d+(?::\d+)?\)$", re.MULTILINE)
_CODE_SIGNALS = re.compile(
    r"^\s*(?:def|class|import|from\s+\S+\s+import|return|async\s+def|for\s+\w+\s+in|if\s+.+:$|elif|fn|let|const"
    r"|var|func|public|private|static|#include|SELECT\s.+\sFROM)\b"
    r"|[;{}]\s*$|=>|->|::|\w+\([^()]*\)\s*$|\w\[|\]\s*$|^\s*@\w+|\b\w+\s*=\s*\S|`",
    re.IGNORECASE | re.MULTILINE,
)
_CODE_NAME = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?![\w.]*\w)|(?<![\w.])([A-Za-z_]\w*)\(")
_HEX_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
_QUOTES = frozenset({'"', "'", "`", "\u201c", "\u201d", "\u2018", "\u2019"})
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))


def clean(text: str) -> str:
    """Drop control, format and surrogate characters (keeping line breaks and word boundaries)."""
    text = text.translate(_INVISIBLE)
    return "".join(
        ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" or unicodedata.category(ch) in ("Co", "Cn") else " "
        for ch in text
    )


def key_terms(text: str) -> tuple[str, ...]:
    """Lower-cased key terms of ``text``: stop words (unless quoted, as in ``"with"``) and the verb of asking
    whether ("check if") dropped, order kept."""
    terms: dict[str, None] = {}
    lowered = _ASKING_WHETHER.sub("", clean(text).lower())
    for match in TOKEN.finditer(lowered):
        token = match.group()
        quoted = lowered[match.start() - 1 : match.start()] in _QUOTES and lowered[match.end() : match.end() + 1] in _QUOTES
        if token.strip("_") == "" or (len(token) == 1 and token.isascii()) or (token in _STOP_WORDS and not quoted):
            continue
        terms.setdefault(token)
        if len(terms) >= _MAX_TERMS:
            break
    return tuple(terms)


def python_words(text: str) -> tuple[str, ...]:
    """The Python keywords written in ``text`` (``global``; ``else`` and ``for`` together) and the ``help()``
    topic names of the operator symbols standing alone in it (``...`` → ellipsis, ``<`` → operators comparison,
    ``__x`` → privatenames), lower-cased: the pydocs topics carry these names as aliases."""
    keywords, symbols = _python_vocabulary()
    written = [word for word in _WORD.findall(text) if word in keywords]
    # A keyword that is an English stop word (if, for, is) speaks of Python only beside another keyword.
    found = dict.fromkeys(w.lower() for w in written if len(written) > 1 or w not in _STOP_WORDS)
    for token in text.split():
        token = token.strip("'\"`,;?!()")
        symbol = "__" if token.startswith("__") else "_" if token.startswith("_") and token != "_" else token
        found.update(dict.fromkeys(name.lower() for name in symbols.get(symbol, "").split()))
    return tuple(found)


@functools.cache
def _python_vocabulary() -> tuple[frozenset[str], dict[str, str]]:
    """The running Python's keywords and its operator symbols with the help() topics they lead to."""
    import pydoc

    symbols = {symbol: topics for symbol, topics in pydoc.Helper.symbols.items() if not symbol.isalnum()}
    return frozenset(pydoc.Helper.keywords), symbols


def code_names(text: str) -> tuple[str, ...]:
    """The code names typed in ``text``, in order: dotted names (``time.perf_counter``) and names called
    (``eval()``, ``@dataclass(frozen=True)``): a question that names a thing asks about its page."""
    found = dict.fromkeys(m.group(1) or m.group(2) for m in _CODE_NAME.finditer(clean(text)))
    return tuple(name for name in found if name)


def analyze(query: str, *, max_chars: int = setting_default("max_query_chars")) -> Analysis:
    """Classify ``query`` and derive its terms and search string; only empty or oversized is refused."""
    if len(query) > max_chars:
        raise QueryError(
            f"The query is {len(query):,} characters long; the limit is {max_chars:,}. "
            "Shorten it (for an error, paste just its last line) or raise KNOWLEDGE_AGG_MAX_QUERY_CHARS."
        )
    text = clean(query).strip()
    if not text:
        raise QueryError("The query is empty: type a question, some keywords, an error message or a URL.")
    kind, search = _classify(text)
    terms = key_terms(search if kind == "error" else _drop_filler(text))
    if kind == "url":
        terms = tuple(t for t in terms if t not in _URL_WORDS)
    sides = compared(text) if kind in ("question", "keywords") else ()
    if sides:
        kind = "difference"
        terms = tuple(t for t in terms if t not in _COMPARISON_WORDS)
    return Analysis(query=query, kind=kind, terms=terms, search_query=_fit(search) or _fit(text), sides=sides)


def error_name(analysis: Analysis) -> str | None:
    """The exception an error query names (``TypeError``, ``subprocess.CalledProcessError``), or ``None``."""
    if analysis.kind != "error":
        return None
    match = _EXCEPTION_NAME.match(analysis.search_query)
    return match.group(1) if match else None


def asks_how_to(query: str) -> bool:
    """Whether ``query`` asks how to do something ("How do I delete a directory?"): what answers it is what one
    calls, more often than how the language works."""
    return _HOW_TO.search(query) is not None


def compared(text: str) -> tuple[tuple[str, ...], ...]:
    """The key terms of each thing a question compares ("difference between A and B", "A vs B vs C"), or ().

    A side after "vs" or "between" ends at its first preposition and one before "vs" starts after its last
    ("list vs tuple in python" compares list and tuple); fewer than two sides with key terms is no comparison.
    """
    between = _BETWEEN.search(text)
    if between:
        parts = [_BOUNDARY.split(p)[0] for p in _LIST_SEPARATOR.split(between.group(1))]
    else:
        clause = next((c for c in _CLAUSE_END.split(text) if _VERSUS.search(c)), None)
        if clause is None:
            return ()
        parts = _VERSUS.split(clause)
        parts = [_BOUNDARY.split(p)[-1 if i == 0 else 0] for i, p in enumerate(parts)]
    sides = [side for side in (key_terms(p) for p in parts) if side]
    return tuple(dict.fromkeys(sides)) if len(set(sides)) >= 2 else ()


def respell(analysis: Analysis, texts: Iterable[str]) -> tuple[Analysis, dict[str, str]]:
    """The analysis with each key term that no text contains read as the texts' word spelt most like it.

    Search engines correct "Ghandi" to "Gandhi" and return pages that say "Gandhi"; ranking those
    pages by the word as typed would find nothing. Also returns the changes made (typed → read as).
    """
    words: Counter[str] = Counter()
    for text in texts:
        words.update(TOKEN.findall(text.lower()))
    stems: set[str] = set()

    def known(term: str) -> bool:  # stems are only needed for terms not found as typed
        if term in words:
            return True
        if not stems:
            stems.update(stem(w) for w in words)
        return stem(term) in stems

    commonest: list[str] = []

    def candidates(_: str) -> list[str]:
        if not commonest:
            commonest.extend(w for w, _ in words.most_common())
        return commonest

    changes = _respell(analysis.terms, known, candidates)
    return read_as(analysis, changes), changes


def read_as(analysis: Analysis, changes: Mapping[str, str]) -> Analysis:
    """The analysis with its key terms replaced as ``changes`` says (typed → spelling to read)."""
    if not changes:
        return analysis
    return replace(analysis, terms=tuple(dict.fromkeys(changes.get(t, t) for t in analysis.terms)))


def altered_terms(typed: str, altered: str) -> dict[str, str]:
    """What a search engine's altered query changed: each typed key term it dropped → the term it put instead.

    Engines correct word for word, so terms pair up by position when both queries have as many;
    otherwise each dropped term pairs with the new term spelt most like it.
    """
    before, after = key_terms(typed), key_terms(altered)
    dropped = [t for t in before if t not in after]
    added = [t for t in after if t not in before]
    if len(before) == len(after):
        return {b: a for b, a in zip(before, after, strict=True) if b != a}
    pairs = {t: nearest_spelling(t, added) for t in dropped}
    return {t: a for t, a in pairs.items() if a is not None}


def _classify(text: str) -> tuple[str, str]:
    """The query's kind and the text to search for it (before trimming to Brave's limits)."""
    if _URL.match(text):
        return "url", text
    error_line = _error_line(text)
    if error_line is not None:
        return "error", error_line
    lines = [line for line in text.splitlines() if line.strip()]
    signals = len(_CODE_SIGNALS.findall(text))
    if (len(lines) > 1 and signals >= 2) or (signals >= 2 and not _QUESTION_START.match(text)):
        return "code", text
    plain = _drop_filler(text)
    if text.rstrip().endswith("?") or _QUESTION_START.match(plain) or plain != _collapse(text):
        return "question", plain
    return "keywords", plain


def _error_line(text: str) -> str | None:
    """The distinctive line of an error message or traceback, or ``None`` when there is none."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    matches = [line for line in lines if _ERROR_LINE.match(line)]
    if not matches:
        return None
    if not _TRACEBACK.search(text) and len(lines) == 1 and _QUESTION_START.match(text):
        return None
    return _HEX_ADDRESS.sub("", matches[-1]).strip()


def _drop_filler(text: str) -> str:
    """``text`` without greetings and polite filler ("can you tell me", "please", ...)."""
    stripped = _collapse(_FILLER.sub(" ", _GREETING.sub("", text))).strip(" ,;:")
    if not stripped:
        return _collapse(text)
    return stripped[0].upper() + stripped[1:] if text[0].isupper() else stripped


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _fit(text: str) -> str:
    """``text`` on one line, cut at a word boundary to at most 50 words and 400 characters."""
    words = text.split()[:MAX_SEARCH_WORDS]
    out = " ".join(words)
    if len(out) <= MAX_SEARCH_CHARS:
        return out
    cut = out[: MAX_SEARCH_CHARS + 1].rsplit(" ", 1)[0]
    return cut if 0 < len(cut) <= MAX_SEARCH_CHARS else out[:MAX_SEARCH_CHARS]
