"""The Brave-compatible stand-in: Brave's contract (in process, and over real HTTP), and the real client paced against it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import Response

from benchmarks.data import BRAVE_FIXTURES
from knowledge_agg.models import Hit
from knowledge_agg.providers.brave import BraveProvider, BraveQuotaExceeded
from knowledge_agg.standin import Plan, brave_router, error_response
from tests.helpers.servers import serve

KEY = "BSAstandin-secret-key-42"
WORDS = "asyncio tasks event loop coroutine futures streams queues locks".split()
DOCS = [
    Hit(rank=0, title=f"Doc {i}: {WORDS[i % len(WORDS)]} & friends",
        url=f"local://doc{i}", snippet=f"How {WORDS[i % len(WORDS)]} work in \"Python\" <3 — part {i}.",
        provider="local", doc_id=f"doc-{i}", age="2 days ago", page_age="2024-12-29T09:10:04",
        extra_snippets=(f"more about {WORDS[i % len(WORDS)]}",))
    for i in range(45)
]


async def corpus_search(query: str, limit: int) -> Sequence[Hit]:
    """A stand-in corpus: every document matches, in order (the protocol layer is what is tested)."""
    return DOCS[:limit]


def make_app(plan: Plan | None = None, keys: set[str] | None = None, guard: Any = None) -> tuple[FastAPI, list]:
    """The stand-in under GZip, with every request's arrival time and status recorded server-side."""
    app = FastAPI()
    app.add_middleware(GZipMiddleware, minimum_size=500)
    log: list[tuple[float, int]] = []

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Response:
        arrived = time.monotonic()
        response = await call_next(request)
        log.append((arrived, response.status_code))
        return response

    app.include_router(brave_router(corpus_search, plan=plan or Plan("Test", 1000, 100000), keys=keys, guard=guard))
    return app, log


@pytest.fixture(autouse=True)
def _key_never_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    assert all(KEY not in r.getMessage() and KEY not in (r.exc_text or "") for r in caplog.records)


def shape(value: Any) -> Any:
    """Keys and types of a JSON value (lists by their first element)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def assert_same_shape(ours: dict, results: list[dict], nested: Sequence[str]) -> None:
    """Our result has every key all real results share, no key they never have, and the same types."""
    common = set.intersection(*(set(r) for r in results))
    union = set.union(*(set(r) for r in results)) | {"extra_snippets"}
    assert common <= set(ours) <= union, (common - set(ours), set(ours) - union)
    for key in set(ours) & set(results[0]):
        real = next(r[key] for r in results if key in r)
        if key in nested:
            assert shape(ours[key]) == shape(real), key
        else:
            assert type(ours[key]) is type(real), key


def get(url: str, path: str = "/res/v1/web/search", token: str | None = KEY, **params: Any) -> httpx.Response:
    headers = {"X-Subscription-Token": token} if token is not None else {}
    return httpx.get(url + path, params=params, headers=headers)


@contextlib.asynccontextmanager
async def in_process(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that calls ``app`` in this process (httpx's ASGI transport): the protocol, without a socket."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://standin.test") as client:
        yield client


async def aget(
    client: httpx.AsyncClient, path: str = "/res/v1/web/search", token: str | None = KEY, **params: Any
) -> httpx.Response:
    headers = {"X-Subscription-Token": token} if token is not None else {}
    return await client.get(path, params=params, headers=headers)


async def test_web_response_has_the_real_schema() -> None:
    real = json.loads((BRAVE_FIXTURES / "web_hello_world.json").read_text())
    app, _ = make_app()
    async with in_process(app) as client:
        body = (await aget(client, q="asyncio tasks", count=20, extra_snippets="true")).json()
    assert set(body) >= {"query", "mixed", "type", "web"} and body["type"] == real["type"]
    assert shape(body["query"]) == shape(real["query"])
    assert set(body["web"]) == set(real["web"]) and body["web"]["type"] == real["web"]["type"]
    assert shape(body["mixed"]) == shape(real["mixed"])
    assert len(body["web"]["results"]) == 20
    assert_same_shape(body["web"]["results"][0], real["web"]["results"], ("meta_url", "profile"))
    assert body["web"]["results"][0]["extra_snippets"] == ["more about asyncio"]


async def test_news_response_has_the_real_schema() -> None:
    real = json.loads((BRAVE_FIXTURES / "news_hello_world.json").read_text())
    app, _ = make_app()
    async with in_process(app) as client:
        body = (await aget(client, "/res/v1/news/search", q="asyncio", count=30)).json()
    assert set(body) == set(real) and body["type"] == real["type"]
    assert shape(body["query"]) == shape(real["query"])
    assert len(body["results"]) == 30
    assert_same_shape(body["results"][0], real["results"], ("meta_url",))


def test_descriptions_highlight_and_escape_like_brave() -> None:
    app, _ = make_app()
    with serve(app) as url:
        result = get(url, q="asyncio work", count=1).json()["web"]["results"][0]
    assert result["description"] == (
        "How <strong>asyncio</strong> <strong>work</strong> in &quot;Python&quot; &lt;3 — part 0."
    )
    assert result["url"] == f"{url}/pages/doc-0"
    assert result["meta_url"]["hostname"] == "127.0.0.1" and result["meta_url"]["path"] == "\u203a pages  \u203a doc-0"


async def test_token_rules() -> None:
    app, _ = make_app(keys={KEY})
    async with in_process(app) as client:
        missing = await aget(client, token=None, q="x")
        wrong = await aget(client, token="someone-else", q="x")
        right = await aget(client, q="x")
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "VALIDATION"
    assert missing.json()["error"]["meta"]["errors"][0]["loc"] == ["header", "x-subscription-token"]
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "SUBSCRIPTION_TOKEN_INVALID"
    assert wrong.json()["type"] == "ErrorResponse" and right.status_code == 200
    open_app, _ = make_app()
    async with in_process(open_app) as client:
        assert (await aget(client, token="any-non-empty-key", q="x")).status_code == 200


async def test_parameter_validation_names_fields() -> None:
    app, _ = make_app()
    async with in_process(app) as client:
        response = await aget(client, q="x", count=21, offset=10, safesearch="high")
        no_query = await aget(client, count=5)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION" and error["status"] == 422
    assert [e["loc"] for e in error["meta"]["errors"]] == [["query", "count"], ["query", "offset"],
                                                           ["query", "safesearch"]]
    assert no_query.json()["error"]["meta"]["errors"][0]["type"] == "missing"


def test_rate_limit_headers_and_both_429s() -> None:
    app, _ = make_app(Plan("Free", per_second=1, per_month=3))
    with serve(app) as url:
        first = get(url, q="a")
        second = get(url, q="b")  # same second: over the 1/s plan
        time.sleep(1.05)
        third = get(url, q="c")
        time.sleep(1.05)
        fourth = get(url, q="d")
        time.sleep(1.05)
        fifth = get(url, q="e")  # the month's 3 requests are gone
    assert first.headers["x-ratelimit-limit"] == "1, 3"
    assert first.headers["x-ratelimit-policy"] == "1;w=1, 3;w=2592000"
    assert first.headers["x-ratelimit-remaining"] == "0, 2"
    assert first.headers["x-ratelimit-reset"].startswith("1, ")
    assert second.status_code == 429 and second.json()["error"]["code"] == "RATE_LIMITED"
    assert second.headers["x-ratelimit-remaining"] == "0, 2"
    assert third.status_code == 200 and fourth.status_code == 200
    assert fourth.headers["x-ratelimit-remaining"] == "0, 0"
    assert fifth.status_code == 429 and fifth.json()["error"]["code"] == "QUOTA_LIMITED"


def test_gzip_through_the_servers_middleware() -> None:
    app, _ = make_app()
    with serve(app) as url:
        response = get(url, q="asyncio", count=20)
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.json()["web"]["results"]) == 20


async def test_guard_can_answer_instead() -> None:
    async def forced_429(request: Request, endpoint: str) -> Response | None:
        if request.query_params.get("q") == "fail":
            return error_response(429, "RATE_LIMITED", "injected", headers={"X-RateLimit-Reset": "1"})
        return None

    app, _ = make_app(guard=forced_429)
    async with in_process(app) as client:
        assert (await aget(client, q="fail")).json()["error"]["detail"] == "injected"
        assert (await aget(client, q="ok")).status_code == 200


async def test_real_client_pages_and_quota_against_the_standin() -> None:
    app, _ = make_app(Plan("Test", per_second=100, per_month=4))
    with serve(app) as url:
        prov = BraveProvider(KEY, base_url=url, rate_limit=100)
        try:
            hits = await prov.search("asyncio", count=45)
            assert [h.title for h in hits] == [d.title for d in DOCS]
            assert hits[0].snippet == DOCS[0].snippet and hits[0].url == f"{url}/pages/doc-0"
            assert str(prov.quota) == "1 of 4 left this month"
            await prov.web_search("asyncio")
            assert str(prov.quota) == "0 of 4 left this month"
            with pytest.raises(BraveQuotaExceeded, match="resets in 30 days"):
                await prov.web_search("again")
        finally:
            await prov.aclose()


def _max_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


async def test_25_concurrent_runs_under_a_5_per_second_plan() -> None:
    app, log = make_app(Plan("Base", per_second=5, per_month=20000))
    with serve(app) as url:
        providers = [BraveProvider(KEY, base_url=url, rate_limit=5) for _ in range(25)]
        started = time.monotonic()
        try:
            results = await asyncio.gather(*(p.search(f"asyncio {i}", count=10) for i, p in enumerate(providers)))
        finally:
            await asyncio.gather(*(p.aclose() for p in providers))
        elapsed = time.monotonic() - started
    statuses = [status for _, status in log]
    busiest = _max_in_any_second([t for t, _ in log])
    print(f"\n25 concurrent runs at 5 req/s: {statuses.count(429)} x 429, {len(statuses)} requests, "
          f"max {busiest} in any 1-s window, total {elapsed:.2f} s")
    assert all(len(hits) == 10 for hits in results)
    assert statuses.count(429) == 0 and len(statuses) == 25
    assert busiest <= 5
