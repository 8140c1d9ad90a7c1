"""Written answers against the stand-in model over real loopback HTTP: streaming, the citation check, and
every model failure ending in an ``error`` event plus the extractive synthesis."""

from __future__ import annotations

import itertools
import json
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from knowledge_agg import KnowledgeAggregator, Run
from knowledge_agg.cli import main
from knowledge_agg.events import SynthesisDeltaEvent, SynthesisEvent, parse_event
from knowledge_agg.server import create_app
from knowledge_agg.settings import Settings
from knowledge_agg.standin.model import model_router
from tests.helpers.corpus_server import corpus_settings, running_server
from tests.helpers.servers import serve

QUERY = "how do I cancel an asyncio task"


@pytest.fixture(scope="module")
def model_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The 8001 app (which hosts the stand-in model) on a free loopback port; its OpenAI base URL."""
    with running_server(tmp_path_factory.mktemp("model")) as url:
        yield f"{url}/v1"


def _settings(tmp_path: Path, base_url: str, model: str = "standin", **overrides: Any) -> Settings:
    options: dict[str, Any] = {"llm_max_retries": 0, "llm_timeout": 5, **overrides}
    return corpus_settings(tmp_path, answer="llm", llm_base_url=base_url, llm_model=model, **options)


async def _run(settings: Settings, **options: Any) -> Run:
    async with KnowledgeAggregator(settings) as agg:
        return await agg.run(QUERY, **options)


def _deltas(run: Run) -> list[SynthesisDeltaEvent]:
    return [e for e in run.events if isinstance(e, SynthesisDeltaEvent)]


async def test_a_written_answer_streams_then_comes_checked(tmp_path: Path, model_url: str) -> None:
    run = await _run(_settings(tmp_path, model_url))
    deltas = _deltas(run)
    synthesis = run.synthesis
    assert synthesis is not None and not run.errors and not run.partial
    assert len(deltas) > 10, "the answer arrives token by token"
    assert all(d.seq < synthesis.seq for d in deltas)
    written = "".join(d.text for d in deltas)
    assert written.count("[") == len(synthesis.points) >= 2
    assert all(p.supported and p.support == 1.0 and p.source_ids for p in synthesis.points)
    for point in synthesis.points:
        assert point.text in " ".join(" ".join(p.text.split()) for p in run.passages if p.source_id in point.source_ids)
    assert "Sources:\n[1]" in synthesis.text and "⚠" not in synthesis.text
    metrics = run.metrics
    assert metrics["first_token_ms"] <= metrics["first_delta_ms"] <= deltas[0].t_ms
    extractive = await _run(_settings(tmp_path, model_url), answer="extractive")
    assert not _deltas(extractive) and extractive.synthesis and extractive.synthesis.text != synthesis.text


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("uncited", "cites no source"),
        ("unlisted_citation", "not a listed source"),
        ("wrong_citation", "of its words are in ["),
        ("changed_name", "is not in ["),
    ],
)
async def test_each_planted_claim_fault_is_flagged_and_only_it(
    tmp_path: Path, model_url: str, fault: str, reason: str
) -> None:
    run = await _run(_settings(tmp_path, model_url, f"standin:{fault},at=0"))
    points = run.synthesis.points if run.synthesis else []
    assert [p.supported for p in points] == [False] + [True] * (len(points) - 1)
    assert reason in points[0].reason
    assert f"⚠ (unsupported: {points[0].reason})" in run.answer
    assert run.unsupported == points[:1]
    frame = run.points_df()
    assert frame["supported"].tolist() == [p.supported for p in points]
    assert frame.loc[0, "reason"] == points[0].reason


async def test_a_changed_number_is_flagged(tmp_path: Path) -> None:
    """The test corpus has no numbers in its answers, so this one serves a page that has."""
    docs = [{"id": "py", "title": "Python history",
             "text": "Python was first released in 1991 by Guido van Rossum. Version 3.0 came out in 2008."}]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs))
    settings = Settings(provider="local", corpus=str(corpus), cache_dir=tmp_path / "cache")
    with serve(create_app(settings)) as url:
        run_settings = settings.override(
            answer="llm", llm_base_url=f"{url}/v1", llm_model="standin:changed_number", llm_max_retries=0
        )
        async with KnowledgeAggregator(run_settings) as agg:
            run = await agg.run("when was python first released")
    (point,) = [p for p in run.synthesis.points if not p.supported] if run.synthesis else []
    assert point.reason == "1998 is not in [1]", point


async def test_drop_unsupported_leaves_them_out(tmp_path: Path, model_url: str) -> None:
    kept = await _run(_settings(tmp_path, model_url, "standin:uncited,at=1", llm_drop_unsupported=True))
    assert kept.synthesis is not None and not kept.errors
    assert all(p.supported for p in kept.synthesis.points) and len(kept.synthesis.points) == 2
    none_left = await _run(_settings(tmp_path, model_url, "standin:uncited", llm_drop_unsupported=True))
    (error,) = none_left.errors
    assert error.kind == "llm_unsupported"
    assert none_left.synthesis and all(p.supported for p in none_left.synthesis.points)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def keyed_model_url() -> Iterator[str]:
    """A stand-in model alone, accepting only the key ``right-key``."""
    app = FastAPI()
    app.include_router(model_router(keys={"right-key"}))
    with serve(app) as url:
        yield f"{url}/v1"


@pytest.mark.parametrize(
    ("model", "kind", "words"),
    [
        ("standin:status=429", "llm_rate_limited", "429"),
        ("standin:status=500", "llm_http_error", "500"),
        ("standin:status=503", "llm_http_error", "503"),
        ("standin:delay_ms=3000", "llm_timeout", "longer than 1 s"),
        ("standin:cut=6", "llm_cut_off", "broke off"),
        ("standin:empty", "llm_empty", "no text"),
        ("gpt-nonexistent", "llm_http_error", "404"),
        ("refused", "llm_unreachable", "could not reach"),
        ("unauthorised", "llm_auth", "401"),
    ],
)
async def test_every_model_failure_gives_an_error_then_the_extractive_synthesis(
    tmp_path: Path, model_url: str, keyed_model_url: str, model: str, kind: str, words: str
) -> None:
    base_url = model_url
    if model == "refused":
        base_url, model = f"http://127.0.0.1:{_free_port()}/v1", "standin"
    elif model == "unauthorised":
        base_url, model = keyed_model_url, "standin"
    # A generous timeout (the machine may be busy), but a short one where the timeout is the fault.
    timeout = 1.0 if kind == "llm_timeout" else 15.0
    settings = _settings(tmp_path, base_url, model, llm_timeout=timeout, llm_api_key="wrong-key")
    run = await _run(settings)
    extractive = await _run(settings, answer="extractive")
    (error,) = run.errors
    assert (error.stage, error.kind, error.recoverable) == ("synthesizing", kind, True)
    assert words in error.message
    assert run.synthesis is not None and extractive.synthesis is not None
    assert run.synthesis.text == extractive.synthesis.text and run.synthesis.points
    assert run.partial and run.done is not None
    assert run.events.index(error) < run.events.index(run.synthesis)


async def test_the_right_key_is_let_in(tmp_path: Path, keyed_model_url: str) -> None:
    run = await _run(_settings(tmp_path, keyed_model_url, llm_api_key="right-key"))
    assert not run.errors and _deltas(run)


async def test_retries_are_deliberate(tmp_path: Path, model_url: str) -> None:
    """``llm_max_retries`` is handed to the client: a 429 is asked again that often, then falls back."""
    counted: list[str] = []
    app = FastAPI()
    app.include_router(model_router())

    @app.middleware("http")
    async def count(request: Any, call_next: Any) -> Any:
        counted.append(request.url.path)
        return await call_next(request)

    with serve(app) as url:
        run = await _run(_settings(tmp_path, f"{url}/v1", "standin:status=429", llm_max_retries=2))
    assert counted == ["/v1/chat/completions"] * 3
    assert [e.kind for e in run.errors] == ["llm_rate_limited"]


async def test_a_missing_openai_package_fails_before_the_search(
    tmp_path: Path, model_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    run = await _run(_settings(tmp_path, model_url))
    (error,) = run.errors
    assert error.kind == "missing_dependency" and not error.recoverable
    assert "pip install 'knowledge-agg[llm]'" in error.message
    assert not run.results and run.synthesis is None


def test_cli_prints_the_answer_as_it_streams_and_marks_unsupported(
    tmp_path: Path, model_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = corpus_settings(tmp_path)
    monkeypatch.setenv("KNOWLEDGE_AGG_LLM_BASE_URL", model_url)
    monkeypatch.setenv("KNOWLEDGE_AGG_LLM_MAX_RETRIES", "0")
    monkeypatch.setenv("KNOWLEDGE_AGG_CACHE_DIR", str(settings.cache_dir))
    argv = ["ask", QUERY, "--provider", "local", "--corpus", settings.corpus, "--answer", "llm"]
    assert main([*argv, "--model", "standin:uncited,at=1"]) == 0
    out = capsys.readouterr().out
    assert "Answer (written by the model)" in out
    assert "Citation check: 2 of 3 sentences supported" in out and "— cites no source" in out
    assert main([*argv, "--model", "standin:uncited,at=1", "--drop-unsupported", "--format", "ndjson"]) == 0
    events = [parse_event(line) for line in capsys.readouterr().out.splitlines()]
    (synthesis,) = [e for e in events if isinstance(e, SynthesisEvent)]
    assert any(isinstance(e, SynthesisDeltaEvent) for e in events)
    assert len(synthesis.points) == 2 and all(p.supported for p in synthesis.points)
    assert main([*argv, "--model", "standin:cut=4"]) == 0
    captured = capsys.readouterr()
    assert "Answer (extractive)" in captured.out and "llm_cut_off" in captured.err


def test_server_streams_deltas_and_documents_them(tmp_path: Path, model_url: str) -> None:
    settings = _settings(tmp_path, model_url)
    with serve(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as client:
        body = {"query": QUERY, "answer": "llm", "llm_model": "standin:changed_name,at=0"}
        answer = client.post("/v1/answer", json=body).json()
        stream = client.get("/v1/stream", params={"q": QUERY, "answer": "llm"},
                            headers={"accept": "application/x-ndjson"})
        schema = client.get("/openapi.json").json()
        extractive = client.post("/v1/answer", json={"query": QUERY, "answer": "extractive"}).json()
    types = [e["type"] for e in answer["events"]]
    assert "synthesis_delta" in types and types.index("synthesis_delta") < types.index("synthesis")
    points = answer["synthesis"]["points"]
    assert points[0]["supported"] is False and all(p["supported"] for p in points[1:])
    streamed = [parse_event(line) for line in stream.text.splitlines()]
    assert sum(isinstance(e, SynthesisDeltaEvent) for e in streamed) > 10
    assert "SynthesisDeltaEvent" in schema["components"]["schemas"]
    assert set(schema["components"]["schemas"]["SynthesisPoint"]["properties"]) >= {"supported", "support", "reason"}
    assert "synthesis_delta" not in [e["type"] for e in extractive["events"]]


async def test_live_view_streams_the_answer_then_shows_it_checked(tmp_path: Path, model_url: str) -> None:
    from knowledge_agg.notebook import LiveView, TextView

    run = await _run(_settings(tmp_path, model_url, "standin:unlisted_citation,at=1"))
    view = LiveView(QUERY, interval=0.0)
    shown: list[str] = []
    for event in run.events:
        view.feed(event)
        if view.synthesis.outputs:
            shown.append(view.synthesis.outputs[0]["data"]["text/plain"])
    streamed = [text for text in shown if "Sources:" not in text]
    assert len(set(streamed)) > 5, "the answer grows in the widget as it streams"
    assert all(b.startswith(a) for a, b in itertools.pairwise(streamed))
    final = view.synthesis.outputs[0]["data"]["text/markdown"]
    # the stand-in cites the number after the last listed passage
    unlisted = re.search(r"⚠ \(unsupported: cites \[(\d+)\], not a listed source\)", final)
    assert unlisted and int(unlisted.group(1)) not in {s.id for s in run.sources}
    lines: list[str] = []
    text_view = TextView(QUERY, write=lines.append)
    for event in run.events:
        text_view.feed(event)
    written = "".join(lines)
    assert "written answer: When a coroutine" in written and f"[{unlisted.group(1)}]." in written
    assert 'color:#a00' in run._repr_html_()
