"""The run cap (a short queue, then 503 with Retry-After) and clean-up after a client hangs up."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from tests.helpers.corpus_server import running_server

SLOW_SEARCH = {"X-Inject": json.dumps({"search_latency": 30})}


async def _first_line(lines: AsyncIterator[str]) -> str:
    """The next non-empty line (the iterator is kept open: closing it would hang up)."""
    async for line in lines:
        if line:
            return line
    raise AssertionError("stream ended without an event")


async def _health(client: httpx.AsyncClient, url: str) -> dict[str, int]:
    return (await client.get(f"{url}/health")).json()


async def _settled(client: httpx.AsyncClient, url: str, tasks: int) -> dict[str, int]:
    """Poll /health until no run is in flight and the server's task count is back to ``tasks``."""
    deadline = time.monotonic() + 10
    while True:
        health = await _health(client, url)
        if (health["runs_in_flight"] == 0 and health["tasks"] <= tasks) or time.monotonic() > deadline:
            return health
        await asyncio.sleep(0.05)


async def test_beyond_the_cap_requests_wait_then_get_503(tmp_path: Path) -> None:
    settings = {
        "max_concurrent_runs": 2, "run_queue_size": 1, "run_queue_wait": 0.3, "flags": "error_injection=on",
        "resume_grace": 0,  # a hang-up cancels at once, so the slots come back for the last request
    }
    with running_server(tmp_path, **settings) as url:
        async with httpx.AsyncClient(timeout=30) as client:
            params = {"q": "asyncio"}
            streams = [client.stream("GET", f"{url}/v1/stream", params=params, headers=SLOW_SEARCH) for _ in range(2)]
            responses = [await s.__aenter__() for s in streams]
            try:
                assert all(r.status_code == 200 for r in responses)
                lines = [r.aiter_lines() for r in responses]
                assert [await _first_line(it) for it in lines] == ["id: 0"] * 2
                queued, over = await asyncio.gather(
                    client.get(f"{url}/v1/stream", params={"q": "asyncio"}),
                    client.post(f"{url}/v1/answer", json={"query": "asyncio"}),
                )
                for r in (queued, over):
                    assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1
                    assert "server busy" in r.json()["detail"]
                assert (await _health(client, url))["runs_in_flight"] == 2
            finally:
                for s in streams:
                    await s.__aexit__(None, None, None)
            await _settled(client, url, tasks=10**6)
            r = await client.post(f"{url}/v1/answer", json={"query": "asyncio"})  # slots were given back
            assert r.status_code == 200
            metrics = (await client.get(f"{url}/metrics")).text
    assert re.search(r"knowledge_agg_runs_rejected_total 2\.0", metrics)


async def test_client_disconnect_cancels_the_run_and_frees_everything(tmp_path: Path) -> None:
    # With no resume grace a hang-up cancels the run at once (test_server_history covers the grace).
    with running_server(tmp_path, flags="error_injection=on", resume_grace=0) as url:
        async with httpx.AsyncClient(timeout=30) as client:
            # One full SSE run first: sse-starlette starts one shutdown watcher per loop, on first use.
            (await client.get(f"{url}/v1/stream", params={"q": "asyncio"})).raise_for_status()
            baseline = (await _health(client, url))["tasks"]
            for inject in ({"search_latency": 30}, {"page_latency": 30}):
                headers = {"X-Inject": json.dumps(inject)}
                for accept in ("text/event-stream", "application/x-ndjson"):
                    async with client.stream(
                        "GET", f"{url}/v1/stream", params={"q": "asyncio tasks"}, headers={**headers, "Accept": accept}
                    ) as response:
                        seen = 0
                        async for line in response.aiter_lines():
                            seen += bool(line)
                            if "fetching" in line or ("searching" in line and "search_latency" in headers["X-Inject"]):
                                break  # hang up mid-run: while searching, or while the pages are being read
                        assert seen
                    health = await _settled(client, url, baseline)
                    assert health["runs_in_flight"] == 0
                    assert health["tasks"] <= baseline, f"tasks leaked after a hang-up ({inject}, {accept})"
            metrics = (await client.get(f"{url}/metrics")).text
    assert re.search(r'knowledge_agg_runs_total\{outcome="cancelled"\} 4\.0', metrics)
