"""The Brave client over real loopback HTTP: errors, retries, waits, quota, cache, gzip, timeouts, pages."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response

from benchmarks.data import BRAVE_FIXTURES
from knowledge_agg.providers.brave import (
    BraveAuthError,
    BraveError,
    BraveParameterError,
    BravePlanError,
    BraveProvider,
    BraveQuotaExceeded,
    BraveRateLimited,
    BraveResponseError,
    BraveServerError,
    BraveUnavailable,
    BraveValidationError,
)
from knowledge_agg.settings import Settings
from tests.helpers.servers import serve

KEY = "BSAk3y-d0-not-leak-7f3a9c"
LIMITS = {"X-RateLimit-Limit": "100, 2000", "X-RateLimit-Policy": "100;w=1, 2000;w=2592000"}


@dataclass
class Reply:
    """One scripted answer: status, body (JSON-able or raw bytes), headers, and a delay before sending."""

    status: int = 200
    body: Any = field(default_factory=lambda: {"query": {"original": "q"}, "web": {"results": []}})
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str = "application/json"
    gzip: bool = False


class Script:
    """A loopback server in Brave's format answering each request with the next scripted reply."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[tuple[float, dict[str, str], list[tuple[str, str]]]] = []
        self.app = FastAPI()
        self.app.add_api_route("/res/v1/{kind}/search", self._answer, methods=["GET"])

    async def _answer(self, request: Request, kind: str) -> Response:
        self.requests.append((time.monotonic(), dict(request.headers), request.query_params.multi_items()))
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if callable(reply):
            reply = reply(request)
        await asyncio.sleep(reply.delay)
        content = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        headers = dict(reply.headers)
        if reply.gzip:
            content = gzip.compress(content)
            headers["Content-Encoding"] = "gzip"
        return Response(content, status_code=reply.status, headers=headers, media_type=reply.content_type)


def brave_error(status: int, code: str, detail: str = "", meta: dict | None = None, *, errors_list: bool = False,
                headers: dict[str, str] | None = None) -> Reply:
    error = {"id": "0f8e", "status": status, "code": code, "detail": detail, "meta": meta or {}}
    body = {"type": "ErrorResponse", "errors": [error]} if errors_list else {"type": "ErrorResponse", "error": error}
    return Reply(status, body, headers or {})


@pytest.fixture(autouse=True)
def _key_never_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in (record.exc_text or "")


@pytest.fixture
def script_server() -> Iterator[Any]:
    stack: list[Any] = []

    def start(*replies: Reply) -> tuple[Script, str]:
        script = Script(*replies)
        ctx = serve(script.app)
        stack.append(ctx)
        return script, ctx.__enter__()

    yield start
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)


def provider(url: str, **options: Any) -> BraveProvider:
    options.setdefault("rate_limit", 100.0)
    options.setdefault("retry_backoff", 0.05)
    return BraveProvider(KEY, base_url=url, **options)


async def expect(error_type: type[BaseException], prov: BraveProvider, **params: Any) -> BaseException:
    """Run a web search that must fail with ``error_type``; check the key is nowhere in the error chain."""
    with pytest.raises(error_type) as info:
        await prov.web_search(params.pop("q", "hello world"), **params)
    error: BaseException | None = info.value
    while error is not None:
        assert KEY not in str(error) and KEY not in repr(error)
        error = error.__cause__ or error.__context__
    return info.value


async def test_fixture_through_http_with_brave_headers(script_server: Any) -> None:
    data = json.loads((BRAVE_FIXTURES / "web_hello_world.json").read_text())
    script, url = script_server(Reply(body=data, headers={**LIMITS, "X-RateLimit-Remaining": "99, 1965",
                                                          "X-RateLimit-Reset": "1, 1398406"}))
    prov = provider(url)
    try:
        hits = await prov.search("hello world", count=20)
    finally:
        await prov.aclose()
    assert [h.url for h in hits] == [r["url"] for r in data["web"]["results"]]
    _, headers, params = script.requests[0]
    assert headers["x-subscription-token"] == KEY
    assert headers["accept"] == "application/json" and "gzip" in headers["accept-encoding"]
    assert ("q", "hello world") in params and ("count", "20") in params
    assert str(prov.quota) == "1,965 of 2,000 left this month"
    assert 16 <= prov.quota.resets_in() / 86400 <= 17
    assert KEY not in repr(prov)


@pytest.mark.parametrize(
    ("reply", "error_type", "words"),
    [
        (brave_error(422, "SUBSCRIPTION_TOKEN_INVALID", "The provided subscription token is invalid."),
         BraveAuthError, "rejected your API key"),
        (brave_error(422, "SUBSCRIPTION_TOKEN_INVALID", errors_list=True), BraveAuthError, "rejected your API key"),
        (brave_error(404, "SUBSCRIPTION_NOT_FOUND"), BraveAuthError, "no active subscription"),
        (brave_error(400, "OPTION_NOT_IN_PLAN", "extra_snippets requires Pro"), BravePlanError, "does not include"),
        (brave_error(422, "VALIDATION", "Unable to validate request parameter(s)",
                     {"errors": [{"type": "less_than_equal", "loc": ["query", "count"], "msg": "<= 20"}]}),
         BraveValidationError, "count"),
        (brave_error(429, "QUOTA_LIMITED", headers={**LIMITS, "X-RateLimit-Remaining": "99, 0",
                                                    "X-RateLimit-Reset": "1, 1036800"}),
         BraveQuotaExceeded, "monthly quota used up, resets in 12 days"),
    ],
)
async def test_each_error_code_is_typed_and_not_retried(
    script_server: Any, reply: Reply, error_type: type[BraveError], words: str
) -> None:
    script, url = script_server(reply)
    prov = provider(url, max_retries=3)
    try:
        error = await expect(error_type, prov)
    finally:
        await prov.aclose()
    assert words in str(error)
    assert isinstance(error, BraveError) and not error.retryable
    assert len(script.requests) == 1


async def test_validation_error_names_every_field(script_server: Any) -> None:
    meta = {"errors": [{"loc": ["query", "count"]}, {"loc": ["query", "freshness"]}]}
    _, url = script_server(brave_error(422, "VALIDATION", "bad", meta, errors_list=True))
    prov = provider(url)
    try:
        error = await expect(BraveValidationError, prov)
    finally:
        await prov.aclose()
    assert error.fields == ("count", "freshness") and error.code == "VALIDATION"


async def test_rate_limited_waits_the_reset_then_succeeds(script_server: Any) -> None:
    limited = brave_error(429, "RATE_LIMITED", "Request rate limit exceeded for plan.",
                          headers={**LIMITS, "X-RateLimit-Remaining": "0, 1500", "X-RateLimit-Reset": "1, 1000"})
    script, url = script_server(limited, Reply(headers={**LIMITS, "X-RateLimit-Remaining": "99, 1499",
                                                        "X-RateLimit-Reset": "1, 999"}))
    notes: list[str] = []
    prov = provider(url)
    try:
        await prov.search("hello", count=5, notify=notes.append)
    finally:
        await prov.aclose()
    assert len(script.requests) == 2
    assert script.requests[1][0] - script.requests[0][0] >= 0.95  # the 1 s reset was honoured
    assert any("rate limit" in note for note in notes)
    assert str(prov.quota) == "1,499 of 2,000 left this month"


async def test_rate_limited_retries_are_bounded(script_server: Any) -> None:
    script, url = script_server(brave_error(429, "RATE_LIMITED", headers={"X-RateLimit-Reset": "0"}))
    prov = provider(url, max_retries=2)
    try:
        error = await expect(BraveRateLimited, prov)
    finally:
        await prov.aclose()
    assert len(script.requests) == 3 and error.retryable


async def test_exhausted_quota_spends_no_further_request(script_server: Any) -> None:
    script, url = script_server(Reply(headers={**LIMITS, "X-RateLimit-Remaining": "99, 0",
                                               "X-RateLimit-Reset": "1, 172800"}))
    prov = provider(url)
    try:
        await prov.web_search("first")
        assert str(prov.quota) == "0 of 2,000 left this month"
        error = await expect(BraveQuotaExceeded, prov, q="second")
    finally:
        await prov.aclose()
    assert "resets in 2 days" in str(error)
    assert len(script.requests) == 1


async def test_headers_saying_remaining_zero_hold_the_next_request(script_server: Any) -> None:
    # Someone else spent the window: our pacer alone would send at once; the headers make us wait.
    script, url = script_server(Reply(headers={**LIMITS, "X-RateLimit-Remaining": "0, 1000",
                                               "X-RateLimit-Reset": "1, 5000"}))
    prov = provider(url)
    try:
        await prov.web_search("one")
        await prov.web_search("two")
    finally:
        await prov.aclose()
    assert script.requests[1][0] - script.requests[0][0] >= 0.9


async def test_server_errors_back_off_and_honour_retry_after(script_server: Any) -> None:
    script, url = script_server(
        Reply(503, b"<html><body>Service Unavailable</body></html>", {"Retry-After": "1"}, content_type="text/html"),
        Reply(500, {"type": "ErrorResponse", "error": {"code": "INTERNAL", "status": 500}}),
        Reply(),
    )
    notes: list[str] = []
    prov = provider(url, max_retries=3)
    try:
        await prov.web_search("hello", notify=notes.append)
    finally:
        await prov.aclose()
    assert len(script.requests) == 3
    assert script.requests[1][0] - script.requests[0][0] >= 0.95
    assert "retry 1 of 3" in notes[0] and "retry 2 of 3" in notes[1]


async def test_server_errors_give_up_after_max_retries(script_server: Any) -> None:
    script, url = script_server(Reply(502, b"bad gateway", content_type="text/plain"))
    prov = provider(url, max_retries=2)
    try:
        error = await expect(BraveServerError, prov)
    finally:
        await prov.aclose()
    assert len(script.requests) == 3 and error.status == 502


async def test_malformed_json_is_a_clear_error(script_server: Any) -> None:
    _, url = script_server(Reply(body=b'{"web": {"results": [', headers={}))
    prov = provider(url)
    try:
        error = await expect(BraveResponseError, prov)
    finally:
        await prov.aclose()
    assert "not valid JSON" in str(error)


async def test_html_403_page_from_a_proxy(script_server: Any) -> None:
    page = b"<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1></body></html>"
    script, url = script_server(Reply(403, page, content_type="text/html"))
    prov = provider(url)
    try:
        error = await expect(BraveResponseError, prov)
    finally:
        await prov.aclose()
    assert "HTML page" in str(error) and "proxy" in str(error) and len(script.requests) == 1


async def test_gzip_responses_are_decoded(script_server: Any) -> None:
    data = json.loads((BRAVE_FIXTURES / "news_hello_world.json").read_text())
    _, url = script_server(Reply(body=data, gzip=True))
    prov = provider(url)
    try:
        response = await prov.news_search("hello world", count=20)
    finally:
        await prov.aclose()
    assert [h.url for h in response.hits] == [r["url"] for r in data["results"]]


async def test_slow_response_hits_the_timeout(script_server: Any) -> None:
    script, url = script_server(Reply(delay=1.5))
    prov = provider(url, timeout=0.3, max_retries=1)
    try:
        error = await expect(BraveUnavailable, prov)
    finally:
        await prov.aclose()
    assert error.kind == "timeout" and "0.3 s" in str(error)
    assert len(script.requests) == 2


async def test_connection_refused_is_unavailable() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    prov = provider(f"http://127.0.0.1:{port}", max_retries=1)
    try:
        error = await expect(BraveUnavailable, prov)
    finally:
        await prov.aclose()
    assert "could not reach Brave" in str(error)


async def test_cache_hit_on_rerun_and_no_cache(script_server: Any, tmp_path: Path) -> None:
    script, url = script_server(Reply())
    for _ in range(2):  # a re-run: a new provider over the same cache directory
        prov = provider(url, cache_dir=tmp_path / "brave")
        try:
            await prov.web_search("cached query", count=3)
            await prov.web_search("cached query", count=3)
        finally:
            await prov.aclose()
    assert len(script.requests) == 1
    uncached = BraveProvider.from_settings(Settings(brave_api_key=KEY, brave_base_url=url, brave_cache=False,
                                                    brave_rate_limit=100, cache_dir=tmp_path))
    try:
        await uncached.web_search("cached query", count=3)
    finally:
        await uncached.aclose()
    assert len(script.requests) == 2
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes()


async def test_invalid_parameters_spend_no_request(script_server: Any) -> None:
    script, url = script_server(Reply())
    prov = provider(url)
    try:
        with pytest.raises(BraveParameterError, match="offset"):
            await prov.web_search("hello", offset=20)
        with pytest.raises(BraveParameterError, match="'q'"):
            await prov.search("", count=5)
    finally:
        await prov.aclose()
    assert script.requests == []


async def test_pagination_walks_offsets_dedups_and_stops(script_server: Any) -> None:
    def page(request: Request) -> Reply:
        offset = int(request.query_params["offset"])
        start = offset * 20 - 5 if offset else 0  # pages overlap by five results
        results = [{"title": f"r{i}", "url": f"https://example.org/{i}"} for i in range(start, start + 20)]
        return Reply(body={"query": {"original": "q", "more_results_available": offset < 2},
                           "web": {"results": results}})

    script, url = script_server(page)  # type: ignore[arg-type]
    prov = provider(url)
    try:
        hits = await prov.search("many", count=100)
    finally:
        await prov.aclose()
    assert [p for _, _, params in script.requests for k, p in params if k == "offset"] == ["0", "1", "2"]
    assert [h.url for h in hits] == [f"https://example.org/{i}" for i in range(55)]
    assert [h.rank for h in hits] == list(range(1, 56))


async def test_missing_key_is_a_clear_error() -> None:
    with pytest.raises(BraveAuthError, match="BRAVE_API_KEY"):
        BraveProvider.from_settings(Settings(provider="brave"))
    with pytest.raises(BraveAuthError, match="BRAVE_API_KEY"):
        BraveProvider("  ")


async def test_search_uses_altered_query_faq_and_extra_snippets(script_server: Any) -> None:
    body = {
        "query": {"original": "pyhton asyncio", "altered": "python asyncio", "more_results_available": True},
        "web": {"results": [
            {"title": "asyncio", "url": "https://docs.python.org/3/library/asyncio.html", "description": "I/O",
             "extra_snippets": ["Event loops &amp; tasks"]},
            {"title": "other", "url": "https://example.org/", "description": "x"},
        ]},
        "faq": {"results": [{"question": "What is asyncio?", "answer": "A library for <strong>async</strong> I/O.",
                             "title": "asyncio", "url": "https://docs.python.org/3/library/asyncio.html"}]},
    }
    script, url = script_server(Reply(body=body))
    notes: list[str] = []
    prov = provider(url, extra_snippets=True)
    try:
        hits = await prov.search("pyhton asyncio", count=5, notify=notes.append)
    finally:
        await prov.aclose()
    assert len(script.requests) == 1  # fewer hits than asked is not a reason to spend another request
    assert ("extra_snippets", "true") in script.requests[0][2]
    assert hits[0].extra_snippets == ("Event loops & tasks", "What is asyncio? A library for async I/O.")
    assert hits[1].extra_snippets == ()
    assert notes == ["Brave searched for 'python asyncio' instead"]
    assert hits.respelt == {"pyhton": "python"}  # so selection reads the hits with Brave's spelling
