"""The aggregator over HTTP: SSE, NDJSON, /v1/answer, the seed's POST /search, bad input, OpenAPI."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from httpx_sse import connect_sse

from knowledge_agg.events import DoneEvent, Event, StatusEvent, parse_event
from knowledge_agg.run import Run
from tests.helpers.corpus_server import DOCS, running_server


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("server")) as base:
        yield base


def _check_run(events: list[Event]) -> None:
    assert isinstance(events[0], StatusEvent) and events[0].stage == "started"
    assert isinstance(events[-1], DoneEvent)
    assert [e.seq for e in events] == list(range(len(events)))
    assert sum(isinstance(e, DoneEvent) for e in events) == 1


def test_sse_stream_follows_the_event_contract(url: str) -> None:
    with httpx.Client(timeout=30) as client, connect_sse(
        client, "GET", f"{url}/v1/stream", params={"q": "how do I cancel an asyncio task", "max_sources": 2}
    ) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        messages = list(source.iter_sse())
    events = [parse_event(m.data) for m in messages]
    assert [m.event for m in messages] == [e.type for e in events]
    assert [int(m.id) for m in messages] == [e.seq for e in events]
    _check_run(events)
    run = Run("q", events)
    assert run.sources and len(run.sources) <= 2
    assert run.results[0].title == "Coroutines and Tasks"
    assert not run.partial
    assert "[1]" in run.answer


def test_ndjson_stream_on_request(url: str) -> None:
    headers = {"Accept": "application/x-ndjson"}
    params = {"q": "sqlite full text search"}
    with httpx.stream("GET", f"{url}/v1/stream", params=params, headers=headers, timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        lines = [line for line in r.iter_lines() if line]
    events = [parse_event(line) for line in lines]
    _check_run(events)
    assert any(e.type == "result" and "sqlite3" in e.title for e in events)


def test_post_stream_takes_a_json_body(url: str) -> None:
    body = {"query": "json decode error", "flags": "synthesis=off", "max_sources": 1}
    with httpx.Client(timeout=30) as client, connect_sse(client, "POST", f"{url}/v1/stream", json=body) as source:
        events = [parse_event(m.data) for m in source.iter_sse()]
    _check_run(events)
    assert not any(e.type == "synthesis" for e in events)  # the run's own flag applied
    assert len(Run("q", events).sources) == 1


def test_seed_search_endpoint_streams_sse(url: str) -> None:
    body = {"query": "pathlib glob"}
    with httpx.Client(timeout=30) as client, connect_sse(client, "POST", f"{url}/search", json=body) as source:
        events = [parse_event(m.data) for m in source.iter_sse()]
    _check_run(events)


def test_answer_returns_the_finished_run(url: str) -> None:
    r = httpx.post(f"{url}/v1/answer", json={"query": "what is the asyncio event loop"}, timeout=30)
    assert r.status_code == 200
    data = r.json()
    run = Run.from_dicts(data["query"], data["events"])
    _check_run(run.events)
    assert data["partial"] is False and data["metrics"]["total_ms"] > 0
    assert data["synthesis"]["text"] == run.answer
    assert [s["id"] for s in data["sources"]] == [s.id for s in run.sources]
    texts = {d["id"]: d["text"] for d in DOCS}
    assert any(p.text.split("\n")[-1] in texts["asyncio-loop"] for p in run.passages)


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"q": ""}, "empty"),
        ({"q": "   "}, "empty"),
        ({"q": "x" * 5000}, "limit"),
        ({"q": "asyncio", "colour": "blue"}, "unknown option 'colour'"),
        ({"q": "asyncio", "max_sources": "many"}, "max_sources"),
        ({"q": "asyncio", "flags": "turbo=on"}, "unknown feature flag"),
        ({}, "q is required"),
    ],
)
def test_bad_input_is_a_clear_422(url: str, params: dict[str, str], needle: str) -> None:
    r = httpx.get(f"{url}/v1/stream", params=params, timeout=10)
    assert r.status_code == 422
    assert needle in r.text


def test_malformed_or_incomplete_json_bodies_are_422(url: str) -> None:
    headers = {"Content-Type": "application/json"}
    r = httpx.post(f"{url}/v1/answer", content=b'{"query": "asyncio', headers=headers)
    assert r.status_code == 422 and "malformed JSON" in r.json()["message"]
    r = httpx.post(f"{url}/v1/stream", json=["asyncio"])
    assert r.status_code == 422 and "JSON object" in r.json()["message"]
    r = httpx.post(f"{url}/search", json={"query": "asyncio", "brave_api_key": "x"})
    assert r.status_code == 422 and "unknown option 'brave_api_key'" in r.json()["message"]


def test_openapi_describes_every_endpoint_and_event(url: str) -> None:
    schema = httpx.get(f"{url}/openapi.json").json()
    for path in ("/v1/stream", "/v1/answer", "/search", "/health", "/config", "/metrics", "/v1/flags",
                 "/pages/{doc_id}", "/res/v1/web/search", "/res/v1/news/search"):
        assert path in schema["paths"], path
    names = set(schema["components"]["schemas"])
    assert {"StatusEvent", "AnalysisEvent", "ResultEvent", "SourcesEvent", "PassageEvent", "SynthesisEvent",
            "ErrorEvent", "DoneEvent"} <= names
    stream = schema["paths"]["/v1/stream"]["get"]["responses"]
    assert {"text/event-stream", "application/x-ndjson"} <= set(stream["200"]["content"])
    assert {"422", "503"} <= set(stream)
    assert httpx.get(f"{url}/docs").status_code == 200
    json.dumps(schema)
