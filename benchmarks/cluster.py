"""Throughput of a CPU-bound batch in one process vs on a two-worker Dask ``LocalCluster`` (issue 17).

Run: ``python -m benchmarks.cluster [--questions 60]``; prints a table and writes
``benchmarks/results/cluster.json``. A separate process serves the 60 real pages of the extraction
dataset on loopback with no injected latency, behind a Brave stand-in (no rate cap) whose every search
returns five of them, so each run's cost is its own CPU: parsing, extraction, ranking, synthesis.
Both sides run four questions at once (``concurrency=4``; two workers of two threads) and are warmed
first (the cluster's start-up is not timed); then one timed batch each.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .data import EXTRACTION, relative
from .output import write_json

__all__ = ["main"]

_RESULTS = Path(__file__).resolve().parent / "results" / "cluster.json"
_KEY = "BSAbenchmark-cluster-key"
_PAGES_PER_RUN = 5
_WORDS = "market policy season election company research music school water city".split()


def _serve() -> None:
    """The page server: ``/html/{name}`` for each page, and Brave's search returning five pages a query."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    from knowledge_agg.models import Hit
    from knowledge_agg.standin import Plan, brave_router

    pages = {p.name.removesuffix(".html.gz"): gzip.decompress(p.read_bytes()) for p in (EXTRACTION / "html").glob("*.html.gz")}
    names = sorted(pages)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"

    async def search(query: str, limit: int) -> Sequence[Hit]:
        start = zlib.crc32(query.encode())
        chosen = [names[(start + k) % len(names)] for k in range(min(limit, _PAGES_PER_RUN))]
        return [Hit(rank=k + 1, title=f"{query} ({name[:8]})", url=f"{base}/html/{name}", snippet=query,
                    provider="brave") for k, name in enumerate(chosen)]

    app = FastAPI()
    app.include_router(brave_router(search, plan=Plan("Benchmark", 0, 0)))

    @app.get("/html/{name}")
    async def page(name: str) -> HTMLResponse:
        return HTMLResponse(pages[name])

    print(f"LISTENING {base}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, backlog=1024)).run(sockets=[sock])


def _settings(url: str, cache: Path) -> Any:
    from knowledge_agg.settings import Settings

    return Settings(
        provider="brave", brave_api_key=_KEY, brave_base_url=url, brave_rate_limit=1000, brave_cache=False,
        fetch_allow_hosts=[url.removeprefix("http://")], fetch_per_host=16, max_per_domain=_PAGES_PER_RUN,
        max_sources=_PAGES_PER_RUN, cache_dir=cache,
    )


def _questions(n: int, offset: int) -> list[str]:
    return [f"{_WORDS[i % len(_WORDS)]} question {offset + i}" for i in range(n)]


def _timed(run: Any) -> dict[str, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    batch = run()
    wall = time.perf_counter() - started
    metrics = batch.metrics_df()
    return {
        "seconds": round(wall, 3), "questions": len(batch), "errors": sum(e is not None for e in batch.errors),
        "runs_per_s": round(len(batch) / wall, 3), "caller_cpu_s": round(time.process_time() - cpu, 3),
        "sources_per_run": round(float(metrics["sources"].mean()), 2),
        "run_ms_median": round(float(metrics["total_ms"].median()), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cluster", description=__doc__)
    parser.add_argument("--questions", type=int, default=60, help="questions per timed batch (60)")
    parser.add_argument("--out", type=Path, default=_RESULTS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve()
        return 0
    import distributed

    from knowledge_agg import ask_many

    server = subprocess.Popen([sys.executable, "-m", "benchmarks.cluster", "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[-1]
        settings = _settings(url, args.out.parent / ".cluster-cache")
        n = args.questions
        one = lambda qs: ask_many(qs, concurrency=4, settings=settings, progress=False)  # noqa: E731
        one(_questions(8, 10_000))  # warm: imports, first clients
        single = _timed(lambda: one(_questions(n, 0)))
        with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1",
                                      dashboard_address=None, silence_logs=40) as cluster, distributed.Client(cluster) as client:
            on = lambda qs: ask_many(qs, client=client, settings=settings, progress=False)  # noqa: E731
            on(_questions(8, 20_000))  # warm each worker's aggregator
            workers = len(client.scheduler_info()["workers"])
            worker_cpu = lambda: sum(client.run(time.process_time).values())  # noqa: E731
            before = worker_cpu()
            two = _timed(lambda: on(_questions(n, 0)))
            two["worker_cpu_s"] = round(worker_cpu() - before, 3)
    finally:
        server.terminate()
        server.wait(10)
    speedup = two["runs_per_s"] / single["runs_per_s"]
    rows = [("one process (ask_many, concurrency 4)", single), (f"LocalCluster, {workers} workers x 2 threads", two)]
    print(f"{'mode':<42}{'runs':>6}{'seconds':>9}{'runs/s':>8}{'run ms p50':>12}{'errors':>8}")
    for name, r in rows:
        print(f"{name:<42}{r['questions']:>6}{r['seconds']:>9.2f}{r['runs_per_s']:>8.2f}{r['run_ms_median']:>12.1f}{r['errors']:>8}")
    cpu_per_run = single["caller_cpu_s"] / single["questions"]
    print(f"load average (1 min) {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"speed-up {speedup:.2f}x; CPU per run in one process {cpu_per_run * 1000:.0f} ms; "
          f"worker CPU per run on the cluster {two['worker_cpu_s'] / two['questions'] * 1000:.0f} ms")
    result = {
        "command": "python -m benchmarks.cluster " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1m": round(os.getloadavg()[0], 2)},
        "data": relative(EXTRACTION), "pages_per_run": _PAGES_PER_RUN,
        "one_process": single, "local_cluster": two, "speedup": round(speedup, 3),
        "cpu_ms_per_run": round(cpu_per_run * 1000, 1),
    }
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
