"""Error injection: every run still ends with done, keeps what it found and reports what it lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from knowledge_agg.aggregator import KnowledgeAggregator
from knowledge_agg.events import parse_event
from knowledge_agg.run import Run
from knowledge_agg.settings import Settings
from tests.helpers.corpus_server import running_server

QUERY = "how do I cancel an asyncio task"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("inject"), flags="error_injection=on") as base:
        yield base


def _stream(url: str, inject: dict[str, Any], **params: Any) -> Run:
    headers = {"X-Inject": json.dumps(inject)}
    with httpx.Client(timeout=30) as client, connect_sse(
        client, "GET", f"{url}/v1/stream", params={"q": QUERY, **params}, headers=headers
    ) as source:
        events = [parse_event(m.data) for m in source.iter_sse()]
    run = Run(QUERY, events)
    assert run.done is not None and [e.seq for e in events] == list(range(len(events)))
    return run


def test_without_faults_injected_runs_read_the_pages_over_http(url: str) -> None:
    run = _stream(url, {})
    assert not run.partial and run.passages
    assert all(s.url.startswith(f"{url}/pages/") for s in run.sources)


@pytest.mark.parametrize(("status", "kind"), [(503, "search_failed"), (429, "rate_limited")])
def test_failed_search_ends_partial_with_an_error(url: str, status: int, kind: str) -> None:
    inject: dict[str, Any] = {"search_failure_rate": 1.0, "search_failure_status": status}
    if status == 429:
        inject = {"search_429_rate": 1.0}
    run = _stream(url, inject)
    assert run.partial and not run.results
    (error,) = run.errors
    assert error.stage == "searching" and error.kind == kind and str(status) in error.message


def test_a_failing_page_is_reported_and_the_other_sources_kept(url: str) -> None:
    run = _stream(url, {"page_fail_ids": ["asyncio-tasks"], "page_faults": ["500"]}, max_sources=3)
    assert run.partial
    (error,) = run.errors
    assert error.stage == "fetching" and "/pages/asyncio-tasks" in (error.url or "")
    kept = {p.source_id for p in run.passages}
    failed = next(s.id for s in run.sources if "asyncio-tasks" in s.url)
    assert kept - {failed}, "passages from the pages that did not fail are kept"
    assert run.synthesis is not None


@pytest.mark.parametrize("fault", ["500", "timeout", "truncated", "garbage", "content_type"])
def test_every_page_fault_becomes_an_error_event_with_its_url(url: str, fault: str) -> None:
    inject = {"page_failure_rate": 1.0, "page_faults": [fault], "page_timeout": 30}
    run = _stream(url, inject, max_sources=2, fetch_read_timeout=0.5, fetch_total_timeout=2)
    assert run.partial and run.results and len(run.sources) == 2
    assert {e.url for e in run.errors} == {s.url for s in run.sources}
    assert all(e.recoverable for e in run.errors)


async def test_brave_client_through_the_standin_under_injection(tmp_path: Path) -> None:
    injection = {"search_failure_rate": 1.0, "search_failure_status": 500}
    with running_server(tmp_path, flags="error_injection=on", standin_injection=injection) as url:
        settings = Settings(
            provider="brave", brave_api_key="anything", brave_base_url=url, brave_cache=False, brave_max_retries=0,
            allow_private_hosts=True, cache_dir=tmp_path / "client",
        )
        async with KnowledgeAggregator(settings) as agg:
            run = await agg.run(QUERY)
    assert run.partial and not run.results
    assert run.errors[0].stage == "searching" and "500" in run.errors[0].message


async def test_page_faults_reach_the_brave_client_path(tmp_path: Path) -> None:
    injection = {"page_fail_ids": ["asyncio-tasks"], "page_faults": ["truncated"]}
    with running_server(tmp_path, flags="error_injection=on", standin_injection=injection) as url:
        settings = Settings(
            provider="brave", brave_api_key="anything", brave_base_url=url, brave_cache=False,
            allow_private_hosts=True, cache_dir=tmp_path / "client", max_sources=3,
        )
        async with KnowledgeAggregator(settings) as agg:
            run = await agg.run(QUERY)
    assert run.partial and [e.url for e in run.errors] == [f"{url}/pages/asyncio-tasks"]
    assert any("asyncio-tasks" not in p.url for p in run.passages)
