"""Concurrent clients against ``/v1/stream``: time to first event, time to ``done``, errors.

Run: ``python -m benchmarks.server_load [--clients 20] [--rounds 3] [--corpus pydocs]``.
The server runs in its own process (as ``knowledge-agg serve`` would), the clients in this one.
Prints the figures and writes ``benchmarks/results/server_load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

from .output import RESULTS, write_json

__all__ = ["main", "measure"]

_OUT = RESULTS / "server_load.json"
QUERIES = (
    "how do I cancel an asyncio task",
    "read a text file with pathlib",
    "json decode error expecting value",
    "is a sqlite3 connection thread safe",
    "what is a context manager",
    "sort a list of dictionaries by a key",
    "regular expression named groups",
    "convert a datetime to another timezone",
    "subprocess run and capture output",
    "threading lock example",
    "difference between a list and a tuple",
    "how does garbage collection work",
)
_SERVER = (
    "import sys; from knowledge_agg.server import ServerSettings, run_server; from knowledge_agg import Settings; "
    "run_server(Settings(provider='local', corpus=sys.argv[1]), "
    "ServerSettings(host='127.0.0.1', port=int(sys.argv[2]), max_concurrent_runs=int(sys.argv[3])))"
)


async def _one(client: httpx.AsyncClient, url: str, query: str) -> dict[str, Any]:
    """One streamed run: seconds to the first event and to ``done``, HTTP status, error events."""
    started = time.perf_counter()
    first = None
    errors = 0
    done = False
    async with client.stream("GET", f"{url}/v1/stream", params={"q": query}) as response:
        if response.status_code != 200:
            await response.aread()
            return {"status": response.status_code, "first": None, "total": time.perf_counter() - started,
                    "error_events": 0, "done": False}
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                first = first if first is not None else time.perf_counter() - started
            elif line == "event: error":
                errors += 1
            elif line == "event: done":
                done = True
    return {"status": 200, "first": first, "total": time.perf_counter() - started, "error_events": errors, "done": done}


async def measure(url: str, clients: int, rounds: int) -> list[dict[str, Any]]:
    """``clients`` concurrent clients, each running ``rounds`` queries one after another."""
    limits = httpx.Limits(max_connections=clients * 2)
    async with httpx.AsyncClient(timeout=120, limits=limits, trust_env=False) as client:

        async def worker(i: int) -> list[dict[str, Any]]:
            out = []
            for r in range(rounds):
                try:
                    out.append(await _one(client, url, QUERIES[(i + r) % len(QUERIES)]))
                except httpx.HTTPError as exc:
                    failed = {"status": type(exc).__name__, "first": None, "total": None, "error_events": 0}
                    out.append({**failed, "done": False})
            return out

        results = await asyncio.gather(*(worker(i) for i in range(clients)))
    return [r for per_client in results for r in per_client]


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000, 1)


def summarize(runs: list[dict[str, Any]], wall: float) -> dict[str, Any]:
    """Percentiles (ms) and error counts over every run."""
    firsts = [r["first"] for r in runs if r["first"] is not None]
    totals = [r["total"] for r in runs if r["status"] == 200 and r["total"] is not None]
    return {
        "runs": len(runs),
        "first_event_ms": {"p50": _pct(firsts, 0.5), "p95": _pct(firsts, 0.95), "max": _pct(firsts, 1.0)},
        "done_ms": {"p50": _pct(totals, 0.5), "p95": _pct(totals, 0.95), "max": _pct(totals, 1.0),
                    "mean": round(statistics.fmean(totals) * 1000, 1) if totals else None},
        "http_errors": sum(r["status"] != 200 for r in runs),
        "runs_without_done": sum(not r["done"] for r in runs),
        "runs_with_error_events": sum(r["error_events"] > 0 for r in runs),
        "wall_s": round(wall, 2),
        "runs_per_s": round(len(runs) / wall, 2) if wall else None,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the server did not answer /health in time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="runs per client, one after another")
    parser.add_argument("--corpus", default="pydocs")
    parser.add_argument("--max-concurrent-runs", type=int, default=20)
    args = parser.parse_args(argv)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-c", _SERVER, args.corpus, str(port), str(args.max_concurrent_runs)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_healthy(url, proc)
        warm = httpx.get(f"{url}/v1/stream", params={"q": "warm up the index"}, timeout=600, trust_env=False)
        warm.raise_for_status()
        started = time.perf_counter()
        runs = asyncio.run(measure(url, args.clients, args.rounds))
        summary = summarize(runs, time.perf_counter() - started)
        rejected = [line for line in httpx.get(f"{url}/metrics", trust_env=False).text.splitlines()
                    if line.startswith("knowledge_agg_runs_rejected_total")]
    finally:
        proc.terminate()
        proc.wait(10)
    report = {
        "clients": args.clients, "rounds": args.rounds, "corpus": args.corpus,
        "max_concurrent_runs": args.max_concurrent_runs, **summary, "server_rejected": rejected,
        "python": platform.python_version(), "machine": platform.machine(), "cpus": _cpus(),
    }
    write_json(_OUT, report)
    print(json.dumps(report, indent=2))
    return 0


def _cpus() -> int | None:
    import os

    return os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())
