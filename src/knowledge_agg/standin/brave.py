"""A Brave-compatible search endpoint (``/res/v1/web/search``, ``/res/v1/news/search``) over any search function.

It speaks Brave's protocol exactly — subscription-token header, parameter validation, response schema,
rate-limit headers and error bodies — so the real Brave client can be exercised offline. It holds no
corpus: the caller passes in ``search`` (query, limit → ranked hits); a hit with a document id points
at ``/pages/{id}`` on the same server. It knows Brave only through the client's public
``providers.brave.protocol`` module.
"""

from __future__ import annotations

import hmac
import html
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..models import Hit, Hits
from ..providers.brave.protocol import PATHS, RATE_LIMIT_HEADERS, TOKEN_HEADER, Endpoint, error_body, key_digest, problems
from .injection import INJECT_HEADER, InjectionError, InjectionLookup, request_injection
from .pages import page_url

__all__ = ["Plan", "StandinSearch", "Guard", "brave_router", "error_response", "injection_guard"]

#: ``(query, limit)`` → up to ``limit`` hits, best first.
StandinSearch = Callable[[str, int], Awaitable[Sequence[Hit]]]
#: Runs after auth and validation; a response it returns is sent instead (error injection goes here).
Guard = Callable[[Request, Endpoint], Awaitable[Response | None]]

_MONTH = 2_592_000  # Brave's quota window, in seconds
#: The statuses the stand-in answers besides 200, as Brave does (error injection may add others).
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "an X-Inject header sent while error injection is off"},
    422: {"description": "missing or invalid subscription token, or invalid parameters (Brave's error body)"},
    429: {"description": "rate or monthly quota of the plan exceeded (Brave's error body and headers)"},
}


@dataclass(frozen=True, slots=True)
class Plan:
    """A subscription plan: requests per second and per month (0 = no cap)."""

    name: str = "Free"
    per_second: int = 1
    per_month: int = 2000


@dataclass
class _Usage:
    """One key's accepted requests: recent times for the per-second window, a count for the month."""

    started: float = field(default_factory=time.monotonic)
    recent: deque[float] = field(default_factory=deque)
    month: int = 0


class _Meter:
    """Counts requests per key against a plan and renders Brave's ``X-RateLimit-*`` headers."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._usage: dict[str, _Usage] = {}
        self._lock = threading.Lock()

    def admit(self, token: str) -> tuple[str | None, dict[str, str], dict[str, Any]]:
        """Count one request; return the refusal code (or ``None``), the headers, and the error meta."""
        plan = self.plan
        with self._lock:
            usage = self._usage.setdefault(key_digest(token), _Usage())
            now = time.monotonic()
            if now - usage.started >= _MONTH:
                usage.started, usage.month = now, 0
            while usage.recent and usage.recent[0] <= now - 1.0:
                usage.recent.popleft()
            code = None
            if plan.per_month and usage.month >= plan.per_month:
                code = "QUOTA_LIMITED"
            elif plan.per_second and len(usage.recent) >= plan.per_second:
                code = "RATE_LIMITED"
            else:
                usage.recent.append(now)
                usage.month += 1
            second_reset = math.ceil(usage.recent[0] + 1.0 - now) if usage.recent else 1
            month_reset = math.ceil(_MONTH - (now - usage.started))
            values = (
                f"{plan.per_second}, {plan.per_month}",
                f"{plan.per_second};w=1, {plan.per_month};w={_MONTH}",
                f"{max(0, plan.per_second - len(usage.recent))}, {max(0, plan.per_month - usage.month)}",
                f"{max(1, second_reset)}, {month_reset}",
            )
            headers = dict(zip(RATE_LIMIT_HEADERS, values, strict=True))
            meta = {
                "plan": plan.name, "rate_limit": plan.per_second, "rate_current": len(usage.recent),
                "quota_limit": plan.per_month, "quota_current": usage.month, "component": "rate_limiter",
            }
        return code, headers, meta


def error_response(
    status: int, code: str, detail: str, meta: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A response in Brave's error shape: ``{"type": "ErrorResponse", "error": {id, status, code, detail, meta}}``."""
    body = error_body(status, code, detail, meta, error_id=str(uuid.uuid4()), time=int(time.time()))
    return JSONResponse(body, status_code=status, headers=headers)


def injection_guard(lookup: InjectionLookup) -> Guard:
    """The guard of error injection: search latency, forced 429s and failures in Brave's error shape."""

    async def guard(request: Request, endpoint: Endpoint) -> Response | None:
        try:
            config = request_injection(lookup(), request.headers.get(INJECT_HEADER))
        except InjectionError as exc:
            if exc.status == 403:
                return error_response(403, "INJECTION_OFF", str(exc))
            return error_response(422, "VALIDATION", str(exc), {"errors": []})
        if config is None:
            return None
        await config.delay_search()
        status = config.search_fault()
        if status == 429:
            return error_response(
                429, "RATE_LIMITED", "Request rate limit exceeded for plan. (injected)", {"component": "rate_limiter"},
                {"X-RateLimit-Limit": "1, 2000", "X-RateLimit-Remaining": "0, 1000", "X-RateLimit-Reset": "1, 86400"},
            )
        if status is not None:
            return error_response(status, "INJECTED_FAILURE", f"Injected {endpoint} search failure.")
        return None

    return guard


def brave_router(
    search: StandinSearch,
    *,
    plan: Plan | None = None,
    keys: set[str] | None = None,
    guard: Guard | None = None,
) -> APIRouter:
    """The stand-in's routes; ``keys`` restricts accepted tokens (default: any non-empty one)."""
    meter = _Meter(plan or Plan())
    router = APIRouter(tags=["brave-compatible"])

    async def answer(request: Request, endpoint: Endpoint) -> Response:
        token = request.headers.get(TOKEN_HEADER, "")
        if not token:
            return _validation_error([{"type": "missing", "loc": ["header", TOKEN_HEADER.lower()],
                                       "msg": "Field required", "input": None}])
        if keys is not None and not any(hmac.compare_digest(token, key) for key in keys):
            return error_response(422, "SUBSCRIPTION_TOKEN_INVALID", "The provided subscription token is invalid.",
                                  {"component": "authentication"})
        items = request.query_params.multi_items()
        refusals = problems(endpoint, items)
        if refusals:
            return _validation_error([
                {"type": p.type, "loc": ["query", p.param], "msg": p.message, "input": p.input} for p in refusals
            ])
        if guard is not None and (override := await guard(request, endpoint)) is not None:
            return override
        refused, headers, meta = meter.admit(token)
        if refused == "QUOTA_LIMITED":
            return error_response(429, refused, "Request quota limit exceeded for plan.", meta, headers)
        if refused == "RATE_LIMITED":
            return error_response(429, refused, "Request rate limit exceeded for plan.", meta, headers)
        params = dict(items)
        count = int(params.get("count", 20))
        offset = int(params.get("offset", 0))
        found = await search(params["q"], (offset + 1) * count + 1)
        hits = list(found)
        page = hits[offset * count:(offset + 1) * count]
        more = len(hits) > (offset + 1) * count
        results = [_result(endpoint, hit, _located(request, hit), params) for hit in page]
        body = _web_body(params, results, more) if endpoint == "web" else _news_body(params, results)
        if isinstance(found, Hits) and found.respelt:
            body["query"]["altered"] = _altered(params["q"], found.respelt)
        return JSONResponse(body, headers=headers)

    @router.get(PATHS["web"], summary="Brave-compatible web search", responses=_ERRORS)
    async def web_search(request: Request) -> Response:
        return await answer(request, "web")

    @router.get(PATHS["news"], summary="Brave-compatible news search", responses=_ERRORS)
    async def news_search(request: Request) -> Response:
        return await answer(request, "news")

    return router


def _validation_error(errors: list[dict[str, Any]]) -> JSONResponse:
    return error_response(422, "VALIDATION", "Unable to validate request parameter(s)", {"errors": errors})


def _located(request: Request, hit: Hit) -> str:
    """``/pages/{doc_id}`` on this server, or the hit's own URL when it has no document id."""
    return hit.url if hit.doc_id is None else page_url(str(request.base_url), hit.doc_id)


def _altered(query: str, respelt: dict[str, str]) -> str:
    """The query as searched: each respelt word replaced, the rest as typed (Brave's ``query.altered``)."""
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in respelt) + r")\b", re.IGNORECASE)
    return pattern.sub(lambda m: respelt.get(m.group(0).lower(), m.group(0)), query)


def _highlight(text: str, query: str) -> str:
    """HTML-escape ``text`` and wrap the query's words in ``<strong>``, as Brave's descriptions do."""
    words = sorted({w for w in re.findall(r"\w{2,}", query.lower())}, key=len, reverse=True)
    if not words:
        return html.escape(text)
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
    parts, last = [], 0
    for match in pattern.finditer(text):
        parts.append(html.escape(text[last:match.start()]))
        parts.append(f"<strong>{html.escape(match.group(0))}</strong>")
        last = match.end()
    parts.append(html.escape(text[last:]))
    return "".join(parts)


def _meta_url(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    return {
        "scheme": parts.scheme,
        "netloc": parts.netloc,
        "hostname": parts.hostname or "",
        "favicon": f"{parts.scheme}://{parts.netloc}/favicon.ico",
        "path": "  ".join(f"\u203a {s}" for s in segments),
    }


def _result(endpoint: Endpoint, hit: Hit, url: str, params: dict[str, str]) -> dict[str, Any]:
    """One hit in Brave's web or news result shape."""
    meta_url = _meta_url(url)
    result: dict[str, Any] = {"title": hit.title, "url": url, "description": _highlight(hit.snippet, params["q"])}
    if endpoint == "web":
        site = hit.domain or meta_url["hostname"]
        result.update({
            "is_source_local": False, "is_source_both": False,
            "profile": {"name": site, "url": url, "long_name": meta_url["hostname"], "img": meta_url["favicon"]},
            "language": "en", "family_friendly": True, "type": "search_result", "subtype": "generic",
            "is_live": False,
        })
    else:
        result["type"] = "news_result"
    if hit.page_age:
        result["page_age"] = hit.page_age
    result["meta_url"] = meta_url
    if hit.age:
        result["age"] = hit.age
    if hit.extra_snippets and params.get("extra_snippets", "").lower() in ("true", "1"):
        result["extra_snippets"] = list(hit.extra_snippets)
    return result


def _web_body(params: dict[str, str], results: list[dict[str, Any]], more: bool) -> dict[str, Any]:
    filters = params.get("result_filter")
    body: dict[str, Any] = {
        "query": {
            "original": params["q"], "show_strict_warning": False, "is_navigational": False,
            "is_news_breaking": False, "spellcheck_off": params.get("spellcheck", "true").lower() in ("false", "0"),
            "country": params.get("country", "us").lower(), "bad_results": False, "should_fallback": False,
            "postal_code": "", "city": "", "header_country": "", "more_results_available": more, "state": "",
        },
        "mixed": {
            "type": "mixed", "main": [{"type": "web", "index": i, "all": False} for i in range(len(results))],
            "top": [], "side": [],
        },
        "type": "search",
    }
    if filters is None or "web" in filters.split(","):
        body["web"] = {"type": "search", "results": results, "family_friendly": True}
    return body


def _news_body(params: dict[str, str], results: list[dict[str, Any]]) -> dict[str, Any]:
    spellcheck_off = params.get("spellcheck", "true").lower() in ("false", "0")
    return {
        "type": "news",
        "query": {"original": params["q"], "spellcheck_off": spellcheck_off, "show_strict_warning": False},
        "results": results,
    }
