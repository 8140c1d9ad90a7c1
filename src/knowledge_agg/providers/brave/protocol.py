"""Brave Search API's wire protocol: endpoints, parameters and their rules, headers, error bodies.

The public contract shared by the client (which checks parameters before sending and reads the
headers and error bodies) and the Brave-compatible stand-in (which enforces and writes them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ._errors import BraveParameterError

__all__ = [
    "Endpoint",
    "PATHS",
    "TOKEN_HEADER",
    "RATE_LIMIT_HEADERS",
    "Problem",
    "PARAMS",
    "problems",
    "encode",
    "error_body",
    "key_digest",
]

Endpoint = Literal["web", "news"]

#: Where each endpoint answers, below the API's base URL.
PATHS: dict[Endpoint, str] = {"web": "/res/v1/web/search", "news": "/res/v1/news/search"}
#: The request header that carries the API key.
TOKEN_HEADER = "X-Subscription-Token"
#: The rate-limit headers (each a comma-separated list, one entry per window: per second, per month).
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Policy", "X-RateLimit-Remaining", "X-RateLimit-Reset")

#: Parameter names each endpoint accepts; ``goggles`` may repeat.
PARAMS: dict[str, frozenset[str]] = {
    "web": frozenset({
        "q", "count", "offset", "country", "search_lang", "ui_lang", "safesearch", "freshness", "result_filter",
        "text_decorations", "spellcheck", "extra_snippets", "goggles", "units", "summary",
    }),
    "news": frozenset({
        "q", "count", "offset", "country", "search_lang", "ui_lang", "safesearch", "freshness",
        "spellcheck", "extra_snippets", "goggles",
    }),
}
_MAX_COUNT: dict[str, int] = {"web": 20, "news": 50}
_BOOLS = frozenset({"text_decorations", "spellcheck", "extra_snippets", "summary"})
_CHOICES = {"safesearch": ("off", "moderate", "strict"), "units": ("metric", "imperial")}
_RESULT_TYPES = frozenset(
    {"discussions", "faq", "infobox", "news", "query", "summarizer", "videos", "web", "locations"}
)
_PATTERNS = {
    "country": (re.compile(r"[A-Za-z]{2}|ALL|all"), "a 2-letter country code such as 'us', or 'ALL'"),
    "search_lang": (re.compile(r"[A-Za-z]{2}(-[A-Za-z]{2,4})?"), "a language code such as 'en' or 'pt-br'"),
    "ui_lang": (re.compile(r"[A-Za-z]{2}-[A-Za-z]{2}"), "a locale such as 'en-US'"),
}
_FRESHNESS = re.compile(r"(\d{4}-\d{2}-\d{2})to(\d{4}-\d{2}-\d{2})")
_MAX_CHARS, _MAX_WORDS = 400, 50


@dataclass(frozen=True, slots=True)
class Problem:
    """One parameter Brave would refuse: its name, why, the value sent, and a pydantic-style error type."""

    param: str
    message: str
    input: str | None
    type: str = "value_error"


def key_digest(api_key: str) -> str:
    """A short SHA-256 fingerprint of a key: the only form of it that is ever stored or compared."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def error_body(status: int, code: str, detail: str, meta: dict[str, Any] | None, *, error_id: str, time: int) -> dict[str, Any]:
    """Brave's error body: ``{"type": "ErrorResponse", "error": {id, status, code, detail, meta}, "time"}``."""
    return {
        "type": "ErrorResponse",
        "error": {"id": error_id, "status": status, "code": code, "detail": detail, "meta": meta or {}},
        "time": time,
    }


def problems(endpoint: Endpoint, items: Sequence[tuple[str, str]]) -> list[Problem]:
    """Every rule the raw (string) query parameters break, in parameter order; unknown names are ignored."""
    allowed = PARAMS[endpoint]
    found: list[Problem] = []
    seen: set[str] = set()
    for name, value in items:
        if name not in allowed:
            continue
        if name in seen and name != "goggles":
            found.append(Problem(name, "given more than once", value))
        seen.add(name)
        problem = _check(endpoint, name, value)
        if problem is not None:
            found.append(problem)
    if "q" not in seen:
        found.append(Problem("q", "field required", None, "missing"))
    return found


def encode(endpoint: Endpoint, params: Mapping[str, object]) -> list[tuple[str, str]]:
    """Python values → Brave's query items, raising ``BraveParameterError`` on the first bad one."""
    items: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        if name not in PARAMS[endpoint]:
            known = ", ".join(sorted(PARAMS[endpoint]))
            raise BraveParameterError(name, f"not a {endpoint} search parameter (known: {known})")
        values = value if name == "goggles" and isinstance(value, Iterable) and not isinstance(value, str) else [value]
        for single in values:
            items.append((name, _to_text(name, single)))
    for problem in problems(endpoint, items):
        raise BraveParameterError(problem.param, problem.message)
    return items


def _to_text(name: str, value: object) -> str:
    """One Python value as Brave expects it on the wire."""
    if name in _BOOLS:
        if not isinstance(value, bool):
            raise BraveParameterError(name, f"must be True or False, not {value!r}")
        return "true" if value else "false"
    if name in ("count", "offset"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise BraveParameterError(name, f"must be an integer, not {value!r}")
        return str(value)
    if name == "result_filter" and not isinstance(value, str) and isinstance(value, Sequence):
        return ",".join(str(v) for v in value)
    if not isinstance(value, str):
        raise BraveParameterError(name, f"must be a string, not {value!r}")
    return value


def _check(endpoint: Endpoint, name: str, value: str) -> Problem | None:
    """The rule ``value`` breaks for parameter ``name``, if any."""
    if name == "q":
        if not value.strip():
            return Problem(name, "must not be empty", value, "string_too_short")
        if len(value) > _MAX_CHARS:
            return Problem(name, f"at most {_MAX_CHARS} characters (got {len(value)})", value, "string_too_long")
        if len(value.split()) > _MAX_WORDS:
            return Problem(name, f"at most {_MAX_WORDS} words (got {len(value.split())})", value, "too_long")
        return None
    if name in ("count", "offset"):
        low, high = (1, _MAX_COUNT[endpoint]) if name == "count" else (0, 9)
        if not re.fullmatch(r"-?\d+", value.strip()):
            return Problem(name, "must be an integer", value, "int_parsing")
        number = int(value)
        if not low <= number <= high:
            hint = " (offset is a page index, not a result index)" if name == "offset" else ""
            return Problem(name, f"must be between {low} and {high}, got {number}{hint}", value, "range")
        return None
    if name in _BOOLS:
        if value.lower() not in ("true", "false", "1", "0"):
            return Problem(name, "must be true or false", value, "bool_parsing")
        return None
    if name in _CHOICES:
        if value not in _CHOICES[name]:
            return Problem(name, f"must be one of {', '.join(_CHOICES[name])}", value, "enum")
        return None
    if name in _PATTERNS:
        pattern, what = _PATTERNS[name]
        return None if pattern.fullmatch(value) else Problem(name, f"must be {what}", value, "string_pattern_mismatch")
    if name == "freshness":
        return _check_freshness(value)
    if name == "result_filter":
        unknown = [part for part in value.split(",") if part.strip() not in _RESULT_TYPES]
        if unknown or not value:
            return Problem(name, f"unknown result types {unknown}; use {', '.join(sorted(_RESULT_TYPES))}", value)
        return None
    if name == "goggles" and not value.strip():
        return Problem(name, "must not be empty", value, "string_too_short")
    return None


def _check_freshness(value: str) -> Problem | None:
    """``pd``/``pw``/``pm``/``py`` or a ``YYYY-MM-DDtoYYYY-MM-DD`` range with real dates in order."""
    if value in ("pd", "pw", "pm", "py"):
        return None
    match = _FRESHNESS.fullmatch(value)
    what = "must be pd, pw, pm, py or a range like 2024-01-01to2024-06-30"
    if match is None:
        return Problem("freshness", what, value, "string_pattern_mismatch")
    try:
        start, end = (dt.date.fromisoformat(part) for part in match.groups())
    except ValueError:
        return Problem("freshness", f"{what} (not a real date)", value)
    if start > end:
        return Problem("freshness", "the range starts after it ends", value)
    return None
