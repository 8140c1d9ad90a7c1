"""Load and faults: many runs in a row leak nothing, hang-ups at random points are cleaned up, dead search never hangs.

The long versions are marked ``slow`` (``pytest -m slow``); the default run does short versions of
the same tests. Servers run in this process (tests/helpers/servers.py), so the process's sockets and file
descriptors cover client and server alike. Measured figures are printed (``-s`` shows them).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from knowledge_agg import KnowledgeAggregator
from knowledge_agg.events import DoneEvent, ErrorEvent, StatusEvent, parse_event
from knowledge_agg.settings import Settings
from tests.helpers.corpus_server import running_server

KEY = "BSAsoak-test-key"
QUERIES = [
    "how do I cancel an asyncio task",
    "sqlite full text search ranking",
    "json decode error line and column",
    "pathlib glob files below a folder",
    "daemon threads and the event loop",
    "asyncio gather and TaskGroup",
]


#: asyncio.to_thread's default pool size: the most index reads that can run at once.
_WORKERS = min(32, (os.cpu_count() or 1) + 4)


async def _released(before: dict[str, int], seconds: float = 5.0, *, server_port: int | None = None) -> dict[str, int]:
    """Resources once the last connections have closed (keep-alive sockets close a moment after their run)."""
    deadline = time.monotonic() + seconds
    now = _resources(server_port)
    while (now["sockets"] > before["sockets"] + 2 or now["fds"] > before["fds"] + 2) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        now = _resources(server_port)
    return now


def _resources(server_port: int | None = None) -> dict[str, int]:
    """Open sockets, file descriptors, RSS of this process, and asyncio tasks of the current loop.

    ``fds`` leaves out the local index's pooled SQLite connections, counted apart in ``index_fds``. With
    ``server_port``, the test's own client connections to that port are counted apart too (``client_sockets``):
    a stream the test abandons can leave its client end open until httpx's pool lets go of it, which says
    nothing about the server, whose end of each connection stays in ``sockets``.
    """
    gc.collect()
    proc = psutil.Process()
    index = sum(1 for f in proc.open_files() if f.path.endswith(".sqlite") and "index" in Path(f.path).parts)
    connections = proc.net_connections(kind="inet")
    clients = sum(1 for c in connections if server_port is not None and c.raddr and c.raddr.port == server_port)
    return {
        "sockets": len(connections) - clients,
        "client_sockets": clients,
        "fds": proc.num_fds() - index - clients,
        "index_fds": index,
        "rss": proc.memory_info().rss,
        "tasks": len(asyncio.all_tasks()),
    }


def _brave(url: str, **overrides: Any) -> Settings:
    """Brave provider settings against the stand-in at ``url``; no response cache, so every run searches."""
    options: dict[str, Any] = {
        "provider": "brave", "brave_api_key": KEY, "brave_base_url": url, "brave_rate_limit": 10_000,
        "brave_cache": False, "fetch_allow_hosts": [url.removeprefix("http://")], **overrides,
    }
    return Settings(**options)


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("soak"), standin_rate_per_second=0, standin_quota_per_month=0) as url:
        yield url


# ---------------------------------------------------------------- many runs in a row


@pytest.mark.parametrize("runs", [pytest.param(30, id="30"), pytest.param(1000, id="1000", marks=pytest.mark.slow)])
async def test_runs_in_a_row_leak_nothing(standin: str, runs: int) -> None:
    async with KnowledgeAggregator(_brave(standin)) as agg:
        for query in QUERIES * 2:  # warm-up: connection pools, the index, extractor caches
            await agg.run(query)
        before = _resources()
        started = time.perf_counter()
        for i in range(runs):
            async with asyncio.timeout(30):
                run = await agg.run(QUERIES[i % len(QUERIES)])
            assert run.done is not None and not run.partial, [e.message for e in run.errors]
            assert run.results and run.results[0].provider == "brave" and run.passages
            if i == runs // 2:
                mid = _resources()
        elapsed = time.perf_counter() - started
        after = _resources()
    closed = _resources()
    growth_mb = (after["rss"] - before["rss"]) / 1e6
    print(f"\n{runs} runs in {elapsed:.1f} s ({elapsed / runs * 1000:.0f} ms/run); before {before}; half-way {mid}; "
          f"after {after}; after close {closed}; RSS growth {growth_mb:.1f} MB")
    for baseline in (before, mid):
        assert after["tasks"] <= baseline["tasks"], "asyncio tasks left behind"
        assert after["sockets"] <= baseline["sockets"], "sockets left open"
        assert after["fds"] <= baseline["fds"], "file descriptors left open"
    # The stand-in's index pools one read-only SQLite connection per concurrent read: bounded by the
    # worker threads that run them, it may reach its high-water mark late, but never beyond it.
    assert after["index_fds"] <= _WORKERS
    assert closed["sockets"] <= before["sockets"] and closed["fds"] <= before["fds"]
    assert growth_mb < 150, f"RSS grew {growth_mb:.0f} MB over {runs} runs"


# ---------------------------------------------------------------- clients hanging up at random points


async def _client(client: httpx.AsyncClient, url: str, rng: random.Random, outcome: dict[str, int]) -> None:
    """One client: a run, abandoned after a random number of SSE lines (or read to the end)."""
    stop_after = rng.choice([0, 1, 2, 5, 10, 20, 40, 10_000])
    params = {"q": rng.choice(QUERIES), "max_sources": rng.randint(1, 5)}
    async with client.stream("GET", f"{url}/v1/stream", params=params) as response:
        if response.status_code == 503:
            outcome["busy"] += 1
            return
        assert response.status_code == 200, response.status_code
        if stop_after == 0:  # hang up as soon as the headers are in, before any event
            outcome["hung_up"] += 1
            return
        lines = 0
        async for _line in response.aiter_lines():
            lines += 1
            if lines >= stop_after:
                outcome["hung_up"] += 1
                return  # leaving the block closes the connection mid-stream
        outcome["finished"] += 1


async def _settled(client: httpx.AsyncClient, url: str, tasks: int) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        health = (await client.get(f"{url}/health")).json()
        quiet = health["runs_in_flight"] == 0 and health["runs_waiting"] == 0 and health["tasks"] <= tasks
        if quiet or time.monotonic() > deadline:
            return health
        await asyncio.sleep(0.05)


def _metric(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (re.escape("{" + labels + "}") if labels else "") + r" ([0-9.e+]+)"
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


@pytest.mark.parametrize("clients", [pytest.param(40, id="40"), pytest.param(200, id="200", marks=pytest.mark.slow)])
async def test_clients_hanging_up_at_random_points(tmp_path: Path, clients: int) -> None:
    settings = {
        "max_concurrent_runs": 4, "run_queue_size": 4, "run_queue_wait": 5.0,
        "flags": "error_injection=on", "standin_injection": {"page_latency": 0.05, "search_latency": 0.02},
        "resume_grace": 0,  # hung-up runs end at once, so the server settles
        # The extraction pool that load starts is the server's, not a run's: it stays up while the server
        # does (its start and shutdown are tested in tests/test_workers.py), so it would count as ~10 fds here.
        "extract_workers": 0,
    }
    rng = random.Random(20250107)
    outcome = {"busy": 0, "hung_up": 0, "finished": 0}
    with running_server(tmp_path, **settings) as url:
        async with httpx.AsyncClient(timeout=60) as client:
            (await client.get(f"{url}/v1/stream", params={"q": "asyncio"})).raise_for_status()  # sse-starlette warm-up
            baseline = (await client.get(f"{url}/health")).json()["tasks"]
            port = httpx.URL(url).port
            before = _resources(port)
            started = time.perf_counter()
            for wave in range(0, clients, 10):  # ten at a time: more than the cap and its queue together
                async with asyncio.timeout(120):
                    await asyncio.gather(*(_client(client, url, rng, outcome) for _ in range(min(10, clients - wave))))
            elapsed = time.perf_counter() - started
            health = await _settled(client, url, baseline)
            metrics = (await client.get(f"{url}/metrics")).text
            after_run = (await client.post(f"{url}/v1/answer", json={"query": "asyncio tasks"})).json()
        # An abandoned stream's connection stays open at the client; the server closes its end once the
        # connection has idled for uvicorn's keep-alive timeout (5 s), so give it longer than that.
        after = await _released(before, seconds=10.0, server_port=port)
    print(f"\n{clients} clients in {elapsed:.1f} s: {outcome}; health {health}; before {before}; after {after}")
    assert sum(outcome.values()) == clients and outcome["hung_up"] > clients // 3
    assert health["status"] == "ok" and health["runs_in_flight"] == 0 and health["runs_waiting"] == 0
    assert health["tasks"] <= baseline, "the server kept tasks of abandoned runs"
    assert _metric(metrics, "knowledge_agg_runs_in_flight") == 0
    ended = sum(_metric(metrics, "knowledge_agg_runs_total", f'outcome="{o}"') for o in ("cancelled", "complete", "partial"))
    assert ended == clients + 1 - outcome["busy"], "every admitted run is counted as ended once"
    assert _metric(metrics, "knowledge_agg_runs_rejected_total") == outcome["busy"]
    # Only "busy" 503s; page reads abandoned by cancelled runs count as 499, not as server errors.
    assert set(re.findall(r'status="(5\d\d)"', metrics)) <= {"503"}, [m for m in metrics.splitlines() if 'status="5' in m]
    assert after_run["partial"] is False and after_run["sources"], "the server still answers normally"
    assert after["sockets"] <= before["sockets"] + 2 and after["fds"] <= before["fds"] + 2


# ---------------------------------------------------------------- a search that always fails


def _check_failed_search(events: list[Any], explains: str) -> None:
    assert isinstance(events[-1], DoneEvent) and events[-1].partial
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert errors and all(e.stage == "searching" for e in errors)
    assert re.search(explains, errors[0].message, re.IGNORECASE), errors[0].message
    assert any(isinstance(e, StatusEvent) and e.stage == "done" for e in events)


@pytest.mark.parametrize(
    ("runs", "injection", "explains"),
    [
        pytest.param(8, {"search_failure_rate": 1.0}, r"503|unavailable|failure", id="503-x8"),
        pytest.param(8, {"search_failure_rate": 1.0, "search_failure_status": 500}, r"500|server|failure", id="500-x8"),
        pytest.param(4, {"search_429_rate": 1.0}, r"rate limit", id="429-x4"),
        pytest.param(100, {"search_failure_rate": 1.0}, r"503|unavailable|failure", id="503-x100",
                     marks=pytest.mark.slow),
    ],
)
async def test_brave_failing_every_request_ends_each_run_partial(
    tmp_path: Path, runs: int, injection: dict[str, Any], explains: str
) -> None:
    with running_server(tmp_path, flags="error_injection=on", standin_injection=injection, standin_rate_per_second=0) as url:
        settings = _brave(url, brave_max_retries=1, search_timeout=10)
        async with KnowledgeAggregator(settings) as agg:

            async def one(query: str) -> list[Any]:
                async with asyncio.timeout(30):  # a hang fails the test instead of stalling it
                    return (await agg.run(query)).events

            started = time.perf_counter()
            results = await asyncio.gather(*(one(QUERIES[i % len(QUERIES)]) for i in range(runs)))
            elapsed = time.perf_counter() - started
    print(f"\n{runs} runs against a search failing every request ({injection}): {elapsed:.1f} s")
    for events in results:
        _check_failed_search(events, explains)


@pytest.mark.parametrize("runs", [pytest.param(10, id="10"), pytest.param(100, id="100", marks=pytest.mark.slow)])
async def test_server_runs_with_every_search_failing_end_in_done(tmp_path: Path, runs: int) -> None:
    """The server's own runs (its corpus provider under injection), over SSE and /v1/answer at once."""
    inject = {"X-Inject": json.dumps({"search_failure_rate": 1.0})}
    with running_server(tmp_path, flags="error_injection=on", max_concurrent_runs=runs, run_queue_size=runs) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30, headers=inject) as client:

            async def sse(query: str) -> list[Any]:
                async with asyncio.timeout(30):
                    text = (await client.get("/v1/stream", params={"q": query})).text
                return [parse_event(line[6:]) for line in text.splitlines() if line.startswith("data: ")]

            async def answer(query: str) -> list[Any]:
                async with asyncio.timeout(30):
                    body = (await client.post("/v1/answer", json={"query": query})).json()
                return [parse_event(e) for e in body["events"]]

            calls = [(sse if i % 2 else answer)(QUERIES[i % len(QUERIES)]) for i in range(runs)]
            results = await asyncio.gather(*calls)
            health = (await client.get("/health")).json()
    for events in results:
        _check_failed_search(events, r"failed with HTTP 503")
    assert health["runs_in_flight"] == 0
