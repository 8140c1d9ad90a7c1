"""Hostile queries end to end (aggregator, /v1/stream, /v1/answer, CLI) and property tests of what parses input.

Every hostile query is either refused with a clear ``invalid_query`` error (a 422 over HTTP, exit
status 2 in the CLI) or runs normally to ``done``; never a traceback, a 500 or a hang. The Brave
response parser, fed any JSON, never raises; the Brave client, fed any 200 body over real HTTP,
raises only ``BraveError``; passage splitting loses no text; events survive every wire format.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from knowledge_agg import KnowledgeAggregator
from knowledge_agg.events import (
    AnalysisEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    PassageEvent,
    ResultEvent,
    SourceInfo,
    SourcesEvent,
    StatusEvent,
    SynthesisEvent,
    SynthesisPoint,
    parse_event,
    to_ndjson,
    to_sse,
)
from knowledge_agg.providers.brave import BraveError, BraveProvider
from knowledge_agg.providers.brave.response import hits_with_faq, parse_response
from knowledge_agg.rank import split_passages
from tests.helpers.corpus_server import corpus_settings, running_server, write_corpus
from tests.helpers.servers import serve

_SIXTY_WORDS = " ".join(
    ("how do asyncio tasks get cancelled when the event loop stops and what happens to the coroutines "
     "that were wrapped in them by create_task or gather while sqlite connections json files and pathlib "
     "paths stay open in other threads that the threading module started as daemon threads before the main "
     "thread ended the interpreter").split()[:60]
)

#: (id, query, refused): refused queries end in one ``invalid_query`` error; the others run normally.
QUERIES: list[tuple[str, str, bool]] = [
    ("empty", "", True),
    ("whitespace", " \t\n\r\u00a0\u2003 ", True),
    ("10000-chars", "asyncio " * 1250, True),
    ("60-words", _SIXTY_WORDS, False),
    ("control-chars", "asyncio\x00 tasks\x07\x1b[31m cancel\x7f\u200b\ufeff", False),
    ("mixed-scripts", "asyncio задачи 任务 مهام タスク εργασίες", False),
    ("emoji", "🐍🚀 asyncio tasks 🎉👩‍💻", False),
    ("emoji-only", "🐍🚀🎉", False),
    ("double-quote", '"', False),
    ("unbalanced-quotes", 'asyncio "tasks', False),
    ("star", "*", False),
    ("prefix-star", "async* tasks*", False),
    ("NEAR", "NEAR", False),
    ("NEAR-call", 'asyncio NEAR("event loop", 2)', False),
    ("AND", "AND", False),
    ("boolean-soup", "AND OR NOT asyncio AND (tasks OR", False),
    ("sql-injection", "'; DROP TABLE docs; --", False),
    ("fts-column", "title:asyncio {text} ^tasks", False),
]
_IDS = [q[0] for q in QUERIES]


def _check_contract(events: list[Event]) -> None:
    """First a ``started`` status, seqs 0..n-1, exactly one ``done`` and it is last."""
    assert isinstance(events[0], StatusEvent) and events[0].stage == "started"
    assert [e.seq for e in events] == list(range(len(events)))
    assert isinstance(events[-1], DoneEvent)
    assert sum(isinstance(e, DoneEvent) for e in events) == 1


def _check_outcome(events: list[Event], refused: bool) -> None:
    _check_contract(events)
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    done = events[-1]
    assert isinstance(done, DoneEvent)
    if refused:
        (error,) = errors
        assert error.kind == "invalid_query" and not error.recoverable and error.stage == "analyzing"
        assert "Traceback" not in error.message and len(error.message) < 300
        assert done.partial and not any(isinstance(e, ResultEvent) for e in events)
    else:
        assert errors == [], [e.message for e in errors]
        assert not done.partial
        assert any(isinstance(e, AnalysisEvent) for e in events)
        assert any(isinstance(e, SynthesisEvent) for e in events)  # "no relevant sources" is an outcome too


# ---------------------------------------------------------------- through the aggregator


@pytest.mark.parametrize(("query", "refused"), [q[1:] for q in QUERIES], ids=_IDS)
async def test_hostile_query_through_the_aggregator(tmp_path: Path, query: str, refused: bool) -> None:
    async with KnowledgeAggregator(corpus_settings(tmp_path)) as agg:
        async with asyncio.timeout(30):
            run = await agg.run(query)
    _check_outcome(run.events, refused)
    for event in run.events:
        assert parse_event(event.to_json()) == event


async def test_sixty_word_query_is_cut_to_what_a_search_takes(tmp_path: Path) -> None:
    async with KnowledgeAggregator(corpus_settings(tmp_path)) as agg:
        run = await agg.run(_SIXTY_WORDS)
    assert run.analysis is not None
    assert len(run.analysis.search_query) <= 400 and len(run.analysis.search_query.split()) <= 50
    assert run.results, "a long question about the corpus still finds it"


# ---------------------------------------------------------------- through the server


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("hostile-server")) as base:
        yield base


def _check_refusal(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text[:300]
    body = response.json()
    assert body["detail"] and isinstance(body["detail"], list)
    msg = body["detail"][0]["msg"]
    assert re.search(r"empty|characters", msg), msg
    assert "Traceback" not in response.text


@pytest.mark.parametrize(("query", "refused"), [q[1:] for q in QUERIES], ids=_IDS)
def test_hostile_query_through_the_server(url: str, query: str, refused: bool) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        sse = client.get("/v1/stream", params={"q": query})
        ndjson = client.post("/v1/stream", json={"query": query}, headers={"Accept": "application/x-ndjson"})
        answer = client.post("/v1/answer", json={"query": query})
    for response in (sse, ndjson, answer):
        assert "Traceback" not in response.text
        if refused:
            _check_refusal(response)
    if refused:
        return
    assert sse.status_code == ndjson.status_code == answer.status_code == 200
    sse_events = [parse_event(line[len("data: "):]) for line in sse.text.splitlines() if line.startswith("data: ")]
    ndjson_events = [parse_event(line) for line in ndjson.text.splitlines() if line]
    answer_events = [parse_event(e) for e in answer.json()["events"]]
    for events in (sse_events, ndjson_events, answer_events):
        _check_outcome(events, refused=False)
    assert answer.json()["partial"] is False


def test_no_request_ended_in_a_server_error(url: str) -> None:
    """After every hostile query above (and a few malformed bodies), /metrics counts no 5xx."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for body in (b"{", b"[]", b'{"query": null}', b'{"query": 12}', b'{"query": "x", "max_sources": -1}'):
            r = client.post("/v1/answer", content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 422 and r.json()["message"], body
        metrics = client.get("/metrics").text
        health = client.get("/health").json()
    assert not re.search(r'knowledge_agg_http_requests_total\{[^}]*status="5\d\d"', metrics)
    assert health["status"] == "ok" and health["runs_in_flight"] == 0


# ---------------------------------------------------------------- the Brave parser, any JSON

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)


def _brave_shaped(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Brave's keys with arbitrary values: reaches the parser's inner branches more often than noise."""
    result = st.fixed_dictionaries(
        {},
        optional={
            "url": st.sampled_from(["https://a.test/x", "http://b.test", "ftp://c.test", "", "//x", "javascript:1"])
            | values,
            "title": st.text(max_size=40) | values,
            "description": st.text(alphabet="<>&;/ab#x0123", max_size=40) | values,
            "meta_url": st.fixed_dictionaries({}, optional={"hostname": values}) | values,
            "age": values,
            "page_age": values,
            "extra_snippets": st.lists(values, max_size=3) | values,
        },
    )
    results = st.lists(result | values, max_size=4) | values
    query = st.fixed_dictionaries(
        {}, optional={"original": values, "altered": values, "more_results_available": values}
    ) | values
    faq = st.fixed_dictionaries(
        {}, optional={"results": st.lists(st.fixed_dictionaries(
            {}, optional={"question": values, "answer": values, "url": values, "title": values}) | values, max_size=3)}
    ) | values
    return st.fixed_dictionaries(
        {}, optional={"query": query, "web": st.fixed_dictionaries({}, optional={"results": results}) | values,
                      "results": results, "faq": faq, "type": values}
    )


@hsettings(max_examples=300, deadline=None)
@given(endpoint=st.sampled_from(["web", "news"]), body=_JSON | _brave_shaped(_JSON), first=st.integers(1, 200))
def test_brave_parser_never_raises_on_any_json(endpoint: str, body: Any, first: int) -> None:
    response = parse_response(endpoint, body, first_rank=first)  # type: ignore[arg-type]
    assert [h.rank for h in response.hits] == list(range(first, first + len(response.hits)))
    for hit in response.hits:
        assert hit.url.startswith(("http://", "https://")) and hit.title and hit.provider == "brave"
        assert "<" not in hit.snippet or "<" in str(body)  # tags dropped; a literal "<" can only come from input
    assert isinstance(response.original_query, str)
    assert len(hits_with_faq(response)) == len(response.hits)


# The client, fed any 200 body over real HTTP: a BraveResponse or a BraveError, nothing else.
_BODY: dict[str, Any] = {"content": b"{}", "type": "application/json"}


async def _brave_body(request: Request) -> Response:
    return Response(_BODY["content"], media_type=_BODY["type"])


@pytest.fixture(scope="module")
def body_server() -> Iterator[str]:
    app = Starlette(routes=[Route("/res/v1/web/search", _brave_body)])
    with serve(app) as base:
        yield base


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    content=st.binary(max_size=300)
    | _JSON.map(lambda v: json.dumps(v).encode())
    | _brave_shaped(_JSON).map(lambda v: json.dumps(v).encode()),
    ctype=st.sampled_from(["application/json", "text/html", "application/octet-stream"]),
)
def test_brave_client_raises_only_brave_errors_on_any_body(body_server: str, content: bytes, ctype: str) -> None:
    _BODY.update(content=content, type=ctype)

    async def search() -> None:
        provider = BraveProvider("k", base_url=body_server, rate_limit=1000, max_retries=0, cache_dir=None)
        try:
            hits = await provider.search("q", count=5)
            assert all(h.url.startswith(("http://", "https://")) for h in hits)
        except BraveError as exc:
            assert exc.kind == "bad_response" and str(exc)
        finally:
            await provider.aclose()

    asyncio.run(search())


# ---------------------------------------------------------------- passage splitting, any text

_PIECES = st.text(max_size=12) | st.sampled_from(
    [". ", "! ", "? ", "\n\n", " ", "e.g. ", "Mr. ", "3.14 ", "…", "。", "\u2028", "\x00", "```", "\t>>> "]
)


@hsettings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=200).map("".join), st.integers(1, 60), st.integers(0, 100))
def test_passages_cover_any_text_in_order_and_lose_nothing(text: str, min_words: int, extra: int) -> None:
    passages = split_passages(text, min_words=min_words, max_words=min_words + extra)
    position = 0
    for passage in passages:
        assert passage.strip()
        found = text.find(passage, position)
        assert found >= 0, "each passage is the next stretch of the text"
        position = found + len(passage)
    assert "".join(text.split()) == "".join("".join(passages).split()), "no text is dropped between passages"


# ---------------------------------------------------------------- event serialisation round trips

_text = st.text(max_size=60)
_float = st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)
_common = {"seq": st.integers(0, 10**6), "t_ms": _float}
_stage = st.sampled_from(
    ["started", "analyzing", "searching", "selecting", "fetching", "extracting", "ranking", "synthesizing", "done"]
)
_metric = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _float | _text
_source = st.builds(SourceInfo, id=st.integers(1, 50), url=_text, title=_text, domain=_text,
                    score=st.floats(allow_nan=False, allow_infinity=False), reason=_text)

EVENTS: st.SearchStrategy[Event] = st.one_of(
    st.builds(StatusEvent, stage=_stage, message=_text, progress=st.floats(0, 1), **_common),
    st.builds(AnalysisEvent, kind=st.sampled_from(["question", "keywords", "code", "error", "url", "difference"]),
              terms=st.lists(_text, max_size=5), search_query=_text, **_common),
    st.builds(ResultEvent, rank=st.integers(1, 200), title=_text, url=_text, snippet=_text, domain=_text,
              age=st.none() | _text, provider=_text, **_common),
    st.builds(SourcesEvent, sources=st.lists(_source, max_size=4), **_common),
    st.builds(PassageEvent, source_id=st.integers(1, 50), url=_text, text=st.text(max_size=300),
              score=st.floats(allow_nan=False, allow_infinity=False), **_common),
    st.builds(SynthesisEvent, text=st.text(max_size=300), points=st.lists(
        st.builds(SynthesisPoint, text=_text, source_ids=st.lists(st.integers(1, 50), max_size=3)), max_size=4),
        **_common),
    st.builds(ErrorEvent, stage=_stage, kind=_text, message=_text, recoverable=st.booleans(),
              url=st.none() | _text, **_common),
    st.builds(DoneEvent, partial=st.booleans(), metrics=st.dictionaries(_text, _metric, max_size=8), **_common),
)


@hsettings(max_examples=400, deadline=None)
@given(EVENTS)
def test_events_round_trip_through_every_wire_format(event: Event) -> None:
    assert parse_event(event.to_json()) == event
    assert parse_event(event.to_dict()) == event
    line = to_ndjson(event)
    assert line.endswith("\n") and "\n" not in line[:-1] and "\r" not in line  # one event, one line
    assert parse_event(line) == event
    sse = to_sse(event)
    assert sse["event"] == event.type and sse["id"] == str(event.seq)
    assert not re.search(r"[\r\n]", sse["data"])  # a raw line break would split the SSE message
    assert parse_event(sse["data"]) == event
    assert all(not isinstance(v, float) or math.isfinite(v) for v in json.loads(sse["data"]).values())


# ---------------------------------------------------------------- through the CLI


def _cli(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KNOWLEDGE_AGG_", "BRAVE_"))}
    clean.update(KNOWLEDGE_AGG_PROVIDER="local", KNOWLEDGE_AGG_CORPUS=str(write_corpus(tmp_path)),
                 KNOWLEDGE_AGG_CACHE_DIR=str(tmp_path / "cache"), KNOWLEDGE_AGG_STORE=str(tmp_path / "runs.sqlite3"),
                 **env)
    cmd = [sys.executable, "-m", "knowledge_agg.cli", *argv]
    return subprocess.run(cmd, env=clean, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    ("argv", "env", "status", "says"),
    [
        (["ask", "   ", "--format", "ndjson"], {}, 2, "empty"),
        (["ask", "asyncio " * 1250, "--format", "text"], {}, 2, "limit"),
        # runs, finds nothing by words (the sentence model's nearest documents would answer it)
        (["ask", "'; DROP TABLE docs; -- NEAR(\"a\" *)", "--format", "ndjson"], {"KNOWLEDGE_AGG_FLAGS": "semantic=off"}, 1, ""),
        (["ask", "🐍 asyncio задачи\x1b[2J tasks", "--format", "text"], {}, 0, ""),
        (["ask", "asyncio", "--max-sources", "0"], {}, 2, "argument --max-sources: must be >= 1"),
        (["ask", "asyncio"], {"KNOWLEDGE_AGG_MAX_SOURCES": "zero", "KNOWLEDGE_AGG_FLAGS": "bogus=on"}, 2, "bogus"),
    ],
    ids=["whitespace", "10000-chars", "fts-sql-syntax", "emoji-scripts-escape", "bad-option", "bad-environment"],
)
def test_hostile_input_through_the_cli(tmp_path: Path, argv: list[str], env: dict[str, str], status: int,
                                       says: str) -> None:
    proc = _cli(tmp_path, *argv, **env)
    assert proc.returncode == status, proc.stderr[-1500:]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert says in proc.stderr + proc.stdout
    if "ndjson" in argv:
        events = [parse_event(line) for line in proc.stdout.splitlines() if line]
        _check_contract(events)
