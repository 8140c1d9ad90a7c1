"""Throughput of a CPU-bound batch in one process vs on a two-worker Dask ``LocalCluster`` (issue 17).

Run: ``python -m benchmarks.cluster [--questions 60] [--repeats 3]``; prints tables and writes
``benchmarks/results/cluster.json``. A separate process serves the 60 real pages of the extraction
dataset on loopback with no injected latency, behind a Brave stand-in (no rate cap) whose every search
returns five of them, so each run's cost is its own CPU: parsing, extraction, ranking, synthesis.

Three ways run the same batch side by side, four questions in flight in each, all warmed first (the
cluster's start-up is timed apart), in rounds, one timed batch per way and round:

- one process, pages extracted in its threads (``extract_workers=0``): one process, one GIL;
- one process with its extraction pool (the default: one extraction process per core);
- a ``LocalCluster`` of two worker processes with two threads each (pages extracted in the worker's threads).

CPU is counted for the benchmark process and all its descendants (the pool, the cluster's nannies and
workers; the scheduler runs in the benchmark process) and, apart, for the page server. A first phase
measures what one run costs, alone (one at a time, in threads): its CPU, its stages' times, each page's
extraction, and a profile of the event loop's thread; the scaling plan in the README is computed from
the cluster's measured CPU a run and the simulated Brave latency of ``streaming.json`` (``plan``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import gzip
import math
import os
import pickle
import platform
import pstats
import socket
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .data import EXTRACTION, relative
from .output import RESULTS, write_json

__all__ = ["main"]

_KEY = "BSAbenchmark-cluster-key"
_PAGES_PER_RUN = 5
_IN_FLIGHT = 4
_WORDS = "market policy season election company research music school water city".split()
_PLANS = (1, 20, 50)
_CLUSTER = "LocalCluster, 2 workers x 2 threads"


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


def _settings(url: str, cache: Path, **update: Any) -> Any:
    from knowledge_agg.settings import Settings

    return Settings(
        provider="brave", brave_api_key=_KEY, brave_base_url=url, brave_rate_limit=1000, brave_cache=False,
        fetch_allow_hosts=[url.removeprefix("http://")], fetch_per_host=16, max_per_domain=_PAGES_PER_RUN,
        max_sources=_PAGES_PER_RUN, cache_dir=cache, store="off", **update,
    )


def _questions(n: int, offset: int) -> list[str]:
    return [f"{_WORDS[i % len(_WORDS)]} question {offset + i}" for i in range(n)]


def _cpu(process: Any, *, own: bool = False) -> float:
    """CPU seconds of ``process`` and (unless ``own``) every process under it that is still alive."""
    total = 0.0
    for p in [process, *([] if own else process.children(recursive=True))]:
        try:
            times = p.cpu_times()
        except Exception:  # it ended meanwhile
            continue
        total += times.user + times.system
    return total


def _timed(run: Callable[[], Any], me: Any, server: Any) -> dict[str, Any]:
    load = os.getloadavg()[0]
    cpu, mine, served, started = _cpu(me), _cpu(me, own=True), _cpu(server), time.perf_counter()
    batch = run()
    wall = time.perf_counter() - started
    n, metrics = len(batch), batch.metrics_df()
    return {
        "seconds": round(wall, 3), "questions": n, "errors": sum(e is not None for e in batch.errors),
        "runs_per_s": round(n / wall, 3), "wall_ms_per_run": round(wall / n * 1000, 1),
        "cpu_ms_per_run": round((_cpu(me) - cpu) / n * 1000, 1),
        "caller_cpu_ms_per_run": round((_cpu(me, own=True) - mine) / n * 1000, 1),
        "server_cpu_ms_per_run": round((_cpu(server) - served) / n * 1000, 1),
        "run_ms_median": round(float(metrics["total_ms"].median()), 1),
        "sources_per_run": round(float(metrics["sources"].mean()), 2), "load_1m_before": round(load, 2),
    }


def _costs(settings: Any, n: int) -> dict[str, Any]:
    """What one run costs alone: CPU, stage times, each page's extraction, and the loop thread's profile."""
    from knowledge_agg.batch import ask_many_async
    from knowledge_agg.extract import extract_page

    pages = [gzip.decompress(p.read_bytes()) for p in sorted((EXTRACTION / "html").glob("*.html.gz"))]
    extract_ms = []
    for body in pages:
        started = time.thread_time()
        extract_page(body, "utf-8", None)
        extract_ms.append((time.thread_time() - started) * 1000)
    asyncio.run(ask_many_async(_questions(4, 30_000), 1, settings=settings, progress=False))  # warm
    cpu, started = time.process_time(), time.perf_counter()
    batch = asyncio.run(ask_many_async(_questions(n, 40_000), 1, settings=settings, progress=False))
    cpu_ms, wall_ms = (time.process_time() - cpu) / n * 1000, (time.perf_counter() - started) / n * 1000
    profile = cProfile.Profile(time.thread_time)  # CPU of the loop's thread, not its waits
    profiled = time.process_time()
    profile.enable()
    asyncio.run(ask_many_async(_questions(n, 50_000), 1, settings=settings, progress=False))
    profile.disable()
    profiled_ms = (time.process_time() - profiled) * 1000
    metrics = batch.metrics_df()
    med = lambda column: round(float(metrics[column].median()), 1)  # noqa: E731
    return {
        "runs": n, "cpu_ms_per_run": round(cpu_ms, 1), "wall_ms_per_run": round(wall_ms, 1),
        "search_ms": med("first_result_ms"), "select_ms": med("source_select_ms"),
        "read_rank_synthesize_ms": round(float((metrics["synthesis_ms"] - metrics["source_select_ms"]).median()), 1),
        "extract_ms_per_page": round(statistics.median(extract_ms), 1),
        "extract_ms_per_page_mean": round(statistics.fmean(extract_ms), 1),
        "pickled_run_bytes": len(pickle.dumps(batch.runs[0])),
        "loop_thread_profile": _by_package(profile, profiled_ms),
    }


def _by_package(profile: cProfile.Profile, total_ms: float) -> list[dict[str, Any]]:
    """The event loop thread's own CPU (the extraction threads are not profiled), by the package of its code,
    as a share of the process's CPU in the profiled batch (the profiler's own cost included)."""
    shares: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        path = filename.replace("\\", "/")
        if "site-packages/" in path:
            name = path.split("site-packages/")[1].split("/")[0].removesuffix(".py")
        elif "/knowledge_agg/" in path:
            name = "knowledge_agg." + path.split("/knowledge_agg/")[1].split("/")[0].removesuffix(".py")
        elif path.startswith("<") or path == "~":
            name = "builtins"
        else:
            name = "stdlib." + Path(path).stem
        shares[name] = shares.get(name, 0.0) + tottime * 1000
    top = sorted(shares.items(), key=lambda kv: -kv[1])[:12]
    return [{"code": name, "ms_per_batch": round(ms, 1), "share_of_cpu": round(ms / total_ms, 3)} for name, ms in top]


def _summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("runs_per_s", "wall_ms_per_run", "cpu_ms_per_run", "caller_cpu_ms_per_run", "server_cpu_ms_per_run",
            "run_ms_median")
    # cores the way obtained: runs/s x CPU per run (two free cores would give it up to 2)
    cores = statistics.median(s["runs_per_s"] * s["cpu_ms_per_run"] / 1000 for s in samples)
    return {key: round(statistics.median(s[key] for s in samples), 3) for key in keys} | {
        "cores_used": round(cores, 2), "errors": sum(s["errors"] for s in samples), "rounds": samples,
    }


def plan(ways: dict[str, Any], streaming: dict[str, Any]) -> list[dict[str, Any]]:
    """How big a cluster each plan keeps busy, from the cluster's measured CPU per run and the simulated Brave latency.

    A run is one search, so runs/s = the plan's rate. The workers' cores = rate x the workers' CPU per run
    (one worker process per core: its runs share one GIL); the caller (client, scheduler, run store) is one
    process, so it tops out at one core; runs in flight = rate x a run's time with Brave's latencies.
    """
    cluster = ways[_CLUSTER]
    caller_s = cluster["caller_cpu_ms_per_run"] / 1000
    worker_s = (cluster["cpu_ms_per_run"] - cluster["caller_cpu_ms_per_run"]) / 1000
    run_s = streaming["single"]["consumer"]["total"]["p50"] / 1000
    rows = []
    for rate in _PLANS:
        cores, caller, in_flight = rate * worker_s, rate * caller_s, rate * run_s
        workers = max(1, math.ceil(cores))
        if caller >= 0.8:
            bottleneck = f"the caller: client + scheduler + store in one process need {caller:.2f} of its one core"
        elif cores < 1:
            bottleneck = "the plan: one worker idles between searches"
        else:
            bottleneck = "the plan, once the workers have these cores; CPU (extraction, ranking) until then"
        rows.append({"plan_per_s": rate, "worker_cores": round(cores, 1), "caller_cores": round(caller, 2),
                     "runs_in_flight": round(in_flight, 1), "workers": workers,
                     "threads_per_worker": max(2, math.ceil(in_flight / workers)), "bottleneck": bottleneck})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cluster", description=__doc__)
    parser.add_argument("--questions", type=int, default=60, help="questions per timed batch (60)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the three ways (3)")
    parser.add_argument("--out", type=Path, default=RESULTS / "cluster.json")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve()
        return 0
    import distributed
    import psutil

    from knowledge_agg import ask_many

    machine = {"cpus": os.cpu_count(), "affinity": sorted(os.sched_getaffinity(0)), "python": platform.python_version(),
               "load_1m_start": round(os.getloadavg()[0], 2)}
    server = subprocess.Popen([sys.executable, "-m", "benchmarks.cluster", "--serve"], stdout=subprocess.PIPE, text=True)
    me, served = psutil.Process(), psutil.Process(server.pid)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[-1]
        cache = args.out.parent / ".cluster-cache"
        pooled, threaded = _settings(url, cache), _settings(url, cache, extract_workers=0)
        costs = _costs(threaded, 20)
        started = time.perf_counter()
        with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1",
                                      dashboard_address="127.0.0.1:0", silence_logs=40) as cluster, \
                distributed.Client(cluster) as client:
            cluster_start_s = time.perf_counter() - started
            ways: dict[str, Callable[[list[str]], Any]] = {
                "one process, extraction in threads": lambda qs: ask_many(
                    qs, concurrency=_IN_FLIGHT, settings=threaded, progress=False),
                "one process + extraction pool": lambda qs: ask_many(
                    qs, concurrency=_IN_FLIGHT, settings=pooled, progress=False),
                _CLUSTER: lambda qs: ask_many(
                    qs, client=client, settings=pooled, progress=False),
            }
            started = time.perf_counter()
            ways[_CLUSTER](_questions(8, 20_000))
            first_batch_s = time.perf_counter() - started
            for k, way in enumerate(ways.values()):
                way(_questions(8, 21_000 + 100 * k))  # warm: imports, clients, the pool
            samples: dict[str, list[dict[str, Any]]] = {name: [] for name in ways}
            for r in range(args.repeats):
                for name, way in ways.items():
                    samples[name].append(_timed(functools.partial(way, _questions(args.questions, 1000 * r)), me, served))
            workers = len(client.scheduler_info()["workers"])
    finally:
        server.terminate()
        server.wait(10)
    result_ways = {name: _summary(s) for name, s in samples.items()}
    names = list(ways)
    ratio = lambda a, b: round(statistics.median(  # noqa: E731
        x["runs_per_s"] / y["runs_per_s"] for x, y in zip(samples[a], samples[b], strict=True)), 3)
    speedups = {"cluster_vs_one_process_threads": ratio(names[2], names[0]),
                "cluster_vs_one_process_pool": ratio(names[2], names[1]),
                "pool_vs_threads": ratio(names[1], names[0])}
    machine["load_1m_end"] = round(os.getloadavg()[0], 2)
    streaming = _load_streaming()
    result = {
        "command": "python -m benchmarks.cluster " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine, "data": relative(EXTRACTION), "pages_per_run": _PAGES_PER_RUN, "in_flight": _IN_FLIGHT,
        "questions": args.questions, "repeats": args.repeats, "cluster_workers": workers,
        "cluster_start_s": round(cluster_start_s, 2), "cluster_first_batch_of_8_s": round(first_batch_s, 2),
        "costs": costs, "ways": result_ways, "speedup": speedups,
        "plan": plan(result_ways, streaming), "plan_latency_from": "streaming.json single.consumer.total.p50",
    }
    _print(result)
    write_json(args.out, result)
    return 0


def _load_streaming() -> dict[str, Any]:
    import json

    return dict(json.loads((RESULTS / "streaming.json").read_text()))


def table(head: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table, the first column left-aligned."""
    cells = [head, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[k]) for row in cells) for k in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(row, widths, strict=True)))
                     for row in cells)


def _print(result: dict[str, Any]) -> None:
    m, c = result["machine"], result["costs"]
    print(f"{m['cpus']} cores, affinity {m['affinity']}, load (1 min) {m['load_1m_start']} -> {m['load_1m_end']}; "
          f"cluster start {result['cluster_start_s']} s, its first batch of 8 {result['cluster_first_batch_of_8_s']} s")
    print(f"one run alone: {c['cpu_ms_per_run']} ms CPU ({c['wall_ms_per_run']} ms wall); search {c['search_ms']} ms, "
          f"read+rank+synthesize {c['read_rank_synthesize_ms']} ms; extraction {c['extract_ms_per_page']} ms a page "
          f"(median; mean {c['extract_ms_per_page_mean']}); a pickled Run {c['pickled_run_bytes']} bytes")
    print(table(["loop thread code", "ms", "share of CPU"],
                [[p["code"], p["ms_per_batch"], p["share_of_cpu"]] for p in c["loop_thread_profile"]]))
    print(table(["way (median of rounds)", "runs/s", "wall ms/run", "CPU ms/run", "of it caller", "cores used",
                 "server CPU ms/run", "run p50 ms", "errors"],
                [[name, w["runs_per_s"], w["wall_ms_per_run"], w["cpu_ms_per_run"], w["caller_cpu_ms_per_run"],
                  w["cores_used"], w["server_cpu_ms_per_run"], w["run_ms_median"], w["errors"]]
                 for name, w in result["ways"].items()]))
    print("speed-ups (median of per-round ratios): " + ", ".join(f"{k} {v}x" for k, v in result["speedup"].items()))
    print(table(["plan req/s", "worker cores", "caller cores", "runs in flight", "workers", "threads/worker", "bottleneck"],
                [[p["plan_per_s"], p["worker_cores"], p["caller_cores"], p["runs_in_flight"], p["workers"],
                  p["threads_per_worker"], p["bottleneck"]] for p in result["plan"]]))


if __name__ == "__main__":
    sys.exit(main())
