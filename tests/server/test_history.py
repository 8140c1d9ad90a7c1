"""Runs by id over real HTTP: X-Run-Id, /v1/runs, resuming a stream with Last-Event-ID, the grace, restarts and kill -9."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from knowledge_agg.events import DoneEvent, Event, parse_event
from knowledge_agg.store import RunStore
from tests.helpers.corpus_server import running_server, write_corpus

QUERY = "how do I cancel an asyncio task"
SLOW_PAGES = {"X-Inject": json.dumps({"page_latency": 1.0})}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    store = tmp_path / "runs.sqlite3"
    with running_server(tmp_path, store=str(store), flags="error_injection=on") as url:
        yield url, store


def _sse(client: httpx.Client, url: str, **kwargs: Any) -> tuple[str, list[Event]]:
    with connect_sse(client, "GET", url, **kwargs) as source:
        source.response.raise_for_status()
        return source.response.headers["X-Run-Id"], [parse_event(m.data) for m in source.iter_sse()]


def _ended(store: RunStore, run_id: str) -> list[Event]:
    """The run's stored events once the server's writer has committed its end (a few ms after done)."""
    deadline = time.monotonic() + 10
    while (stored := store.get(run_id)) is None or stored.ended_at is None:
        assert time.monotonic() < deadline, f"run {run_id} was never stored as ended"
        time.sleep(0.01)
    return store.events(run_id)


def test_every_run_carries_its_id_and_is_served_by_it(server: tuple[str, Path]) -> None:
    url, store = server
    with httpx.Client(timeout=30) as client:
        run_id, events = _sse(client, f"{url}/v1/stream", params={"q": QUERY})
        ndjson = client.get(f"{url}/v1/stream", params={"q": "sqlite"}, headers={"Accept": "application/x-ndjson"})
        answer = client.post(f"{url}/v1/answer", json={"query": "json"})
        ids = [run_id, ndjson.headers["X-Run-Id"], answer.headers["X-Run-Id"]]
        assert len(set(ids)) == 3
        doc = client.get(f"{url}/v1/runs/{run_id}").json()
        assert doc["state"] == "done" and doc["query"] == QUERY and doc["event_count"] == len(events)
        assert [parse_event(e) for e in doc["events"]] == events
        assert doc["synthesis"]["text"] and doc["sources"]
        listed = client.get(f"{url}/v1/runs").json()
        assert [r["run_id"] for r in listed] == ids[::-1]  # newest first
        assert [r["run_id"] for r in client.get(f"{url}/v1/runs", params={"q": "SQLITE"}).json()] == [ids[1]]
        replayed = _sse(client, f"{url}/v1/runs/{run_id}/events", headers={"Last-Event-ID": "4"})[1]
        assert replayed == events[5:]
        assert client.get(f"{url}/v1/runs/nope").status_code == 404
        assert client.get(f"{url}/v1/runs/nope/events").status_code == 404
    assert RunStore(store).get(run_id).state == "done"  # type: ignore[union-attr]


def _searches(client: httpx.Client, standin: str) -> float:
    """How many web searches the stand-in answered, from its own /metrics."""
    text = client.get(f"{standin}/metrics").text
    found = re.findall(r'knowledge_agg_http_requests_total\{[^}]*route="/res/v1/web/search"[^}]*\} ([0-9.]+)', text)
    return sum(float(n) for n in found)


def test_a_reconnect_within_the_grace_gets_the_rest_with_no_new_search(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite3"
    (tmp_path / "standin").mkdir()
    (tmp_path / "server").mkdir()
    slow_pages = {"flags": "error_injection=on", "standin_injection": {"page_latency": 1.0}, "standin_rate_per_second": 0}
    with running_server(tmp_path / "standin", **slow_pages) as standin, running_server(
        tmp_path / "server", provider="brave", brave_api_key="k", brave_base_url=standin, brave_cache=False,
        fetch_allow_hosts=[standin.removeprefix("http://")], store=str(store),
    ) as url, httpx.Client(timeout=30) as client:
        seen: list[Event] = []
        with connect_sse(client, "GET", f"{url}/v1/stream", params={"q": QUERY}) as source:
            run_id = source.response.headers["X-Run-Id"]
            for message in source.iter_sse():
                seen.append(parse_event(message.data))
                if seen[-1].type == "sources":
                    break  # hang up while the pages are being read
        live = client.get(f"{url}/v1/runs/{run_id}").json()
        assert live["state"] == "running" and live["event_count"] >= len(seen)
        last = seen[-1].seq
        _, rest = _sse(client, f"{url}/v1/runs/{run_id}/events", headers={"Last-Event-ID": str(last)})
        searches = _searches(client, standin)
    events = seen + rest
    assert [e.seq for e in events] == list(range(len(events)))
    assert isinstance(events[-1], DoneEvent) and not events[-1].partial
    assert events[-1].metrics["passages"] > 0 and any(e.type == "result" and e.provider == "brave" for e in events)
    assert searches == 1
    assert _ended(RunStore(store), run_id) == events


def test_a_run_nobody_comes_back_for_is_cancelled_after_the_grace(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite3"
    with running_server(tmp_path, store=str(store), flags="error_injection=on", resume_grace=0.5) as url, \
            httpx.Client(timeout=30) as client:
        slow = {"X-Inject": json.dumps({"page_latency": 5.0})}
        with connect_sse(client, "GET", f"{url}/v1/stream", params={"q": QUERY}, headers=slow) as source:
            run_id = source.response.headers["X-Run-Id"]
            next(m for m in source.iter_sse() if m.event == "sources")
        assert client.get(f"{url}/health").json()["runs_in_flight"] == 1  # still going within the grace
        deadline = time.monotonic() + 10
        while (doc := client.get(f"{url}/v1/runs/{run_id}").json())["state"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert doc["state"] == "cancelled" and doc["ended_at"] is not None
        assert client.get(f"{url}/health").json()["runs_in_flight"] == 0
        assert doc["events"][-1]["type"] != "done"


def test_a_restarted_server_serves_finished_runs_from_the_store(tmp_path: Path) -> None:
    store = str(tmp_path / "runs.sqlite3")
    with running_server(tmp_path, store=store) as url, httpx.Client(timeout=30) as client:
        run_id, events = _sse(client, f"{url}/v1/stream", params={"q": QUERY})
    with running_server(tmp_path, store=store) as url, httpx.Client(timeout=30) as client:
        assert [parse_event(e) for e in client.get(f"{url}/v1/runs/{run_id}").json()["events"]] == events
        assert _sse(client, f"{url}/v1/runs/{run_id}/events", params={"after": 2})[1] == events[3:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(tmp_path: Path, store: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KNOWLEDGE_AGG_STORE": str(store), "KNOWLEDGE_AGG_CACHE_DIR": str(tmp_path / "cache")}
    args = ["-m", "knowledge_agg.cli", "serve", "--port", str(port), "--flags", "error_injection=on",
            "--corpus", str(write_corpus(tmp_path))]
    process = subprocess.Popen([sys.executable, *args], env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)


def test_kill_9_of_the_server_mid_run_keeps_earlier_runs_and_marks_that_one_unfinished(tmp_path: Path) -> None:
    store, port = tmp_path / "runs.sqlite3", _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _start(tmp_path, store, port)
    try:
        with httpx.Client(timeout=30) as client:
            finished, events = _sse(client, f"{url}/v1/stream", params={"q": QUERY})
            with connect_sse(client, "GET", f"{url}/v1/stream", params={"q": "sqlite"}, headers=SLOW_PAGES) as source:
                killed = source.response.headers["X-Run-Id"]
                seen = [parse_event(m.data) for m, _ in zip(source.iter_sse(), range(6), strict=False)]
                time.sleep(0.3)  # the writer thread commits what is queued
                server.send_signal(signal.SIGKILL)
                assert server.wait(10) == -signal.SIGKILL
    finally:
        server.kill()
    stored = RunStore(store)
    assert stored.get(finished).state == "done"  # type: ignore[union-attr]
    assert stored.events(finished) == events
    assert stored.get(killed).state == "unfinished"  # type: ignore[union-attr]
    kept = stored.events(killed)  # the run went on ahead of its client until the kill
    assert kept[: len(seen)] == seen and not any(isinstance(e, DoneEvent) for e in kept)

    server = _start(tmp_path, store, port)  # a restarted server serves both from the store
    try:
        with httpx.Client(timeout=30) as client:
            assert client.get(f"{url}/v1/runs/{finished}").json()["state"] == "done"
            assert _sse(client, f"{url}/v1/runs/{finished}/events", headers={"Last-Event-ID": "2"})[1] == events[3:]
            doc = client.get(f"{url}/v1/runs/{killed}").json()
            assert doc["state"] == "unfinished" and [parse_event(e) for e in doc["events"]] == kept
            assert [r["state"] for r in client.get(f"{url}/v1/runs").json()] == ["unfinished", "done"]
    finally:
        server.terminate()
        server.wait(10)


def test_with_the_store_off_runs_still_carry_ids_and_resume_while_live(tmp_path: Path) -> None:
    with running_server(tmp_path, store="off", flags="error_injection=on") as url, httpx.Client(timeout=30) as client:
        with connect_sse(client, "GET", f"{url}/v1/stream", params={"q": QUERY}, headers=SLOW_PAGES) as source:
            run_id = source.response.headers["X-Run-Id"]
            seen = [parse_event(next(source.iter_sse()).data)]
        rest = _sse(client, f"{url}/v1/runs/{run_id}/events", headers={"Last-Event-ID": "0"})[1]
        assert [e.seq for e in seen + rest] == list(range(len(rest) + 1)) and isinstance(rest[-1], DoneEvent)
        listed = client.get(f"{url}/v1/runs")
        assert listed.status_code == 409 and "run store is off" in listed.json()["detail"]
        assert client.get(f"{url}/v1/runs/{run_id}").status_code == 404  # over, and nothing kept
