"""The streaming benchmark (issue 6): knowledge_agg's brave path over a stand-in with real-API latency.

Run: ``python -m benchmarks [--quick] [--out DIR]``. The stand-in server runs in its own process
(:mod:`benchmarks.standin_server`); this process runs the aggregator against it and measures a
single run against a bare search request, a concurrency sweep, memory, injected faults and the
local provider. It prints a table with each target and writes ``streaming.json`` and PNG plots.

The Brave client's process-wide limiter (1 request/s by default, the free plan) is set to
100 000/s and the stand-in's own plan cap is off: the benchmark measures knowledge_agg, not the plan.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import platform
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

from knowledge_agg import KnowledgeAggregator
from knowledge_agg.events import TIMINGS
from knowledge_agg.providers.local import LocalProvider
from knowledge_agg.settings import Settings

from ._bench_run import RunTimes, StandinProcess, UnhandledCounter, bare_search, cpu_seconds, measure_run
from ._bench_targets import targets
from .data import relative
from .local_index import QUERIES as _INDEX_QUERIES
from .report import plot_sweep, summary, table

__all__ = ["BenchConfig", "QUERIES", "run_benchmark", "client_settings"]

#: Questions a Python user asks; the stand-in answers them from the pydocs corpus.
QUERIES = [
    *_INDEX_QUERIES,
    "What does the yield keyword do?",
    "how to read a file line by line",
    "difference between a list and a tuple",
    "format a float with two decimals",
    "How do I use a context manager with the with statement?",
    "regular expression match groups",
    "convert a string to a datetime",
    "what is a dataclass",
    "iterate over a dictionary keys and values",
    "TypeError: 'NoneType' object is not subscriptable",
    "How does asyncio.gather work?",
    "write a unit test with unittest",
    "random choice from a list",
    "thread pool executor map",
    "pathlib glob files recursively",
    "What is the global interpreter lock?",
    "enumerate with an index",
    "how to define an abstract base class",
    "logging to a file",
    "sqlite3 insert rows",
]

_FAULTS: dict[str, Any] = {
    "search_failure_rate": 0.10,
    "page_failure_rate": 0.20,
    "page_faults": ["500", "timeout", "truncated", "garbage", "content_type"],
    "page_timeout": 30.0,
}


@dataclass
class BenchConfig:
    """How much to measure; the defaults take a few minutes on two cores, ``quick()`` well under one."""

    corpus: str = "pydocs"
    #: A folder of ``*.html.gz`` real pages the stand-in serves for every ``/pages/{id}`` (``None``: its generated pages).
    real_pages: Path | None = None
    search_latency: tuple[float, float] = (0.25, 0.4)
    page_latency: tuple[float, float] = (0.1, 0.8)
    single_runs: int = 30
    levels: tuple[int, ...] = (1, 20, 100, 200)
    rounds: dict[int, int] = field(default_factory=lambda: {1: 10, 20: 3})
    memory_runs: int = 20
    rss_runs: int = 500
    fault_runs: int = 200
    fault_concurrency: int = 20
    local_seconds: float = 3.0
    #: Page timeout in the fault phase: an injected hanging page costs a run this long, not 15 s.
    fault_fetch_timeout: float = 3.0

    @classmethod
    def quick(cls) -> BenchConfig:
        """A short pass over every part: fewer runs, a sweep up to 50."""
        return cls(single_runs=10, levels=(1, 20, 50), rounds={1: 3}, memory_runs=5, rss_runs=100,
                   fault_runs=60, local_seconds=1.0)


def client_settings(url: str, cache_dir: str | Path) -> Settings:
    """The aggregator's settings: brave provider at the stand-in, no cache, no throttle, its host allowed."""
    port = urlsplit(url).port
    return Settings(
        provider="brave",
        brave_api_key="benchmark-key",
        brave_base_url=url,
        brave_rate_limit=100_000,
        brave_cache=False,
        fetch_allow_hosts=[f"127.0.0.1:{port}"],
        max_per_domain=5,  # every stand-in page is on one host; the web spreads them over many
        fetch_per_host=1000,
        cache_dir=cache_dir,
        flags={},
    )


async def _single(agg: KnowledgeAggregator, url: str, n: int) -> dict[str, Any]:
    """``n`` runs one at a time, each paired with a bare search for the same query (order alternating)."""
    runs: list[RunTimes] = []
    bare: list[float] = []
    headers = {"X-Subscription-Token": "benchmark-key", "Accept": "application/json", "Accept-Encoding": "gzip"}
    async with httpx.AsyncClient(base_url=url, headers=headers, trust_env=False, timeout=30.0) as client:
        cold = await measure_run(agg, QUERIES[-1])
        await bare_search(client, QUERIES[-1], count=20)
        for i in range(n):
            query = QUERIES[i % len(QUERIES)]
            if i % 2:
                runs.append(await measure_run(agg, query))
                bare.append(await bare_search(client, query, count=20))
            else:
                bare.append(await bare_search(client, query, count=20))
                runs.append(await measure_run(agg, query))
    overhead = [r.first_result - b for r, b in zip(runs, bare, strict=True) if r.first_result is not None]
    ratio = [r.first_result / b for r, b in zip(runs, bare, strict=True) if r.first_result is not None]
    return {
        "runs": n,
        "cold_first_run_total_ms": round(cold.total or 0, 1),
        "consumer": _milestones(runs),
        "metrics": {k.removesuffix("_ms"): summary(r.metrics.get(k) for r in runs) for k in TIMINGS},
        "bare_search": summary(bare),
        "first_result_overhead_ms": summary(overhead),
        "first_result_ratio": summary(ratio),
        "sources_after_last_result_ms": summary(
            r.metrics["source_select_ms"] - r.metrics["first_result_ms"]
            for r in runs if r.metrics.get("source_select_ms") is not None and r.metrics.get("first_result_ms") is not None
        ),
        "sources_after_last_result_consumer_ms": summary(
            r.sources - r.last_result for r in runs if r.sources is not None and r.last_result is not None
        ),
        "errors": sum(r.error_events for r in runs) + sum(r.exception is not None for r in runs),
    }


def _milestones(runs: list[RunTimes]) -> dict[str, dict[str, Any]]:
    return {
        "first_status": summary(r.first_status for r in runs),
        "first_result": summary(r.first_result for r in runs),
        "source_select": summary(r.sources for r in runs),
        "synthesis": summary(r.synthesis for r in runs),
        "total": summary(r.total for r in runs),
    }


async def _sweep_level(agg: KnowledgeAggregator, server: StandinProcess, level: int, rounds: int) -> dict[str, Any]:
    """``rounds`` bursts of ``level`` runs started at once; milestones, errors, throughput and CPU."""
    me = psutil.Process()
    runs: list[RunTimes] = []
    wall = client_cpu = server_cpu = 0.0
    for r in range(rounds):
        server.configure(salt=f"sweep-{level}-{r}")
        queries = itertools.islice(itertools.cycle(QUERIES), r * level % len(QUERIES), None)
        gc.collect()
        cpu0, scpu0, t0 = cpu_seconds(me), server.cpu_seconds(), time.perf_counter()
        runs += await asyncio.gather(*(measure_run(agg, q) for q in itertools.islice(queries, level)))
        wall += time.perf_counter() - t0
        client_cpu += cpu_seconds(me) - cpu0
        server_cpu += server.cpu_seconds() - scpu0
    kinds = _error_kinds(runs)
    return {
        "concurrency": level,
        "rounds": rounds,
        "runs": len(runs),
        **_milestones(runs),
        "errors": sum(r.error_events for r in runs) + sum(r.exception is not None for r in runs),
        "error_kinds": kinds,
        "runs_with_errors": sum(1 for r in runs if r.error_events or r.exception),
        "throughput_runs_per_s": round(len(runs) / wall, 2),
        "cpu_client_percent": round(100 * client_cpu / wall, 1),
        "cpu_server_percent": round(100 * server_cpu / wall, 1),
        "cpu_client_ms_per_run": round(1000 * client_cpu / len(runs), 1),
        "cpu_server_ms_per_run": round(1000 * server_cpu / len(runs), 1),
    }


async def _memory(agg: KnowledgeAggregator, server: StandinProcess, tracked: int, rss_runs: int) -> dict[str, Any]:
    """Latency off: tracemalloc peak of isolated runs, then RSS across ``rss_runs`` sequential runs."""
    server.configure(search=(0.0, 0.0), page=(0.0, 0.0))
    peaks, pages = [], []
    for i in range(tracked):
        run = await measure_run(agg, QUERIES[i % len(QUERIES)], flags={"memory_tracking": True})
        if run.metrics.get("peak_memory_bytes") is not None:
            peaks.append(run.metrics["peak_memory_bytes"] / 1e6)
            pages.append(run.metrics.get("sources", 0) - run.error_events)
    me = psutil.Process()
    warm = min(20, rss_runs)
    for i in range(warm):
        await measure_run(agg, QUERIES[i % len(QUERIES)])
    gc.collect()
    rss0 = me.memory_info().rss
    samples: list[tuple[int, float]] = [(0, 0.0)]
    step = max(1, rss_runs // 25)
    errors = 0
    t0 = time.perf_counter()
    for i in range(1, rss_runs + 1):
        run = await measure_run(agg, QUERIES[i % len(QUERIES)])
        errors += run.error_events + (run.exception is not None)
        if i % step == 0 or i == rss_runs:
            gc.collect()
            samples.append((i, round((me.memory_info().rss - rss0) / 1e6, 3)))
    return {
        "tracemalloc_peak_mb": summary(peaks),
        "pages_fetched_per_tracked_run": summary(pages),
        "rss_runs": rss_runs,
        "rss_warmup_runs": warm,
        "rss_start_mb": round(rss0 / 1e6, 1),
        "rss_growth_mb": samples[-1][1],
        "rss_samples_mb": samples,
        "rss_errors": errors,
        "rss_runs_per_s": round(rss_runs / (time.perf_counter() - t0), 1),
    }


async def _faults(agg: KnowledgeAggregator, server: StandinProcess, n: int, concurrency: int,
                  config: BenchConfig, unhandled: UnhandledCounter) -> dict[str, Any]:
    """``n`` runs under 10 % failed searches and 20 % broken pages, ``concurrency`` at a time."""
    server.configure(faults=_FAULTS, search=config.search_latency, page=config.page_latency, salt="faults")
    gate = asyncio.Semaphore(concurrency)
    before = unhandled.count

    async def one(i: int) -> RunTimes:
        async with gate:
            return await measure_run(agg, QUERIES[i % len(QUERIES)], fetch_read_timeout=config.fault_fetch_timeout,
                                     fetch_total_timeout=config.fault_fetch_timeout)

    t0 = time.perf_counter()
    try:
        runs = await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        server.configure(faults={})
    kinds = _error_kinds(runs)
    return {
        "runs": n,
        "concurrency": concurrency,
        "injected": _FAULTS,
        "fetch_timeout_s": config.fault_fetch_timeout,
        "done_share": round(sum(r.done for r in runs) / n, 4),
        "synthesis_share": round(sum(r.has_synthesis for r in runs) / n, 4),
        "partial_share": round(sum(r.partial for r in runs) / n, 4),
        "no_results_share": round(sum(not r.metrics.get("results") for r in runs) / n, 4),
        "escaped_exceptions": sum(r.exception is not None for r in runs),
        "exception_samples": sorted({r.exception for r in runs if r.exception})[:5],
        "loop_unhandled": unhandled.count - before,
        "internal_errors": sum(v for k, v in kinds.items() if k.endswith(":internal")),
        "error_kinds": kinds,
        "total": _milestones(list(runs))["total"],
        "seconds": round(time.perf_counter() - t0, 1),
    }


async def _local(corpus: str, cache_dir: Path, seconds: float) -> dict[str, Any]:
    """The local provider alone (searches per second, 1 and 8 tasks) and full local runs, one at a time."""
    provider = LocalProvider(corpus, cache_dir=cache_dir)
    try:
        await provider.build()
        latencies: list[float] = []

        async def searches(tasks: int) -> float:
            queries, done = itertools.cycle(QUERIES), 0
            deadline = time.perf_counter() + seconds

            async def worker() -> None:
                nonlocal done
                while time.perf_counter() < deadline:
                    t = time.perf_counter()
                    await provider.search(next(queries), count=20)
                    if tasks == 1:
                        latencies.append((time.perf_counter() - t) * 1000)
                    done += 1

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(tasks)))
            return done / (time.perf_counter() - t0)

        qps1, qps8 = await searches(1), await searches(8)
    finally:
        await provider.aclose()
    runs: list[RunTimes] = []
    async with KnowledgeAggregator(Settings(provider="local", corpus=corpus, cache_dir=cache_dir, flags={})) as agg:
        await measure_run(agg, QUERIES[0])
        deadline = time.perf_counter() + seconds
        t0 = time.perf_counter()
        while time.perf_counter() < deadline or not runs:
            runs.append(await measure_run(agg, QUERIES[len(runs) % len(QUERIES)]))
        elapsed = time.perf_counter() - t0
    return {
        "search_qps_1": round(qps1, 1),
        "search_qps_8": round(qps8, 1),
        "search_ms": summary(latencies),
        "runs": len(runs),
        "runs_per_s": round(len(runs) / elapsed, 1),
        "first_result_ms": summary(r.first_result for r in runs),
        "total_ms": summary(r.total for r in runs),
        "errors": sum(r.error_events for r in runs),
    }


async def run_benchmark(config: BenchConfig, *, log: Any = print) -> dict[str, Any]:
    """Start the stand-in, run every part of the benchmark against it, and return the figures."""
    unhandled = UnhandledCounter()
    unhandled.install(asyncio.get_running_loop())
    cache_dir = Settings().cache_dir
    described = {**asdict(config), "real_pages": relative(config.real_pages) if config.real_pages else None}
    results: dict[str, Any] = {"config": described, "machine": _machine()}
    with tempfile.TemporaryDirectory() as scratch, StandinProcess(
        corpus=config.corpus, search_latency=config.search_latency, page_latency=config.page_latency,
        real_pages=config.real_pages,
    ) as server:
        settings = client_settings(server.url, scratch)
        async with KnowledgeAggregator(settings) as agg:
            log(f"stand-in at {server.url} (pid {server.pid}); single runs ...")
            results["single"] = await _single(agg, server.url, config.single_runs)
            results["sweep"] = []
            for level in config.levels:
                log(f"sweep: {level} concurrent runs ...")
                results["sweep"].append(await _sweep_level(agg, server, level, config.rounds.get(level, 1)))
            results["after_sweep"] = _after(await measure_run(agg, QUERIES[0]))
        # Each later part gets a fresh aggregator (fresh HTTP pools): a pool the sweep wedged stays wedged.
        async with KnowledgeAggregator(settings) as agg:
            log("faults ...")
            results["faults"] = await _faults(agg, server, config.fault_runs, config.fault_concurrency, config, unhandled)
        async with KnowledgeAggregator(settings) as agg:
            log(f"memory: {config.memory_runs} tracked runs, RSS over {config.rss_runs} runs ...")
            results["memory"] = await _memory(agg, server, config.memory_runs, config.rss_runs)
    log("local provider ...")
    results["local"] = await _local(config.corpus, Path(cache_dir), config.local_seconds)
    results["unhandled_loop_exceptions"] = unhandled.count
    results["unhandled_samples"] = unhandled.messages
    results["targets"] = targets(results)
    return results


def _after(run: RunTimes) -> dict[str, Any]:
    """One plain run on the sweep's aggregator after its biggest burst: does it still read pages?"""
    return {"total_ms": round(run.total or 0, 1), "errors": run.error_events, "error_kinds": run.error_kinds}


def _machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "cpus": psutil.cpu_count(), "platform": platform.platform()}


def write_results(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """``streaming.json`` (``streaming-real.json`` on real pages) and the sweep plots under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    real = bool(results["config"].get("real_pages"))
    path = out_dir / ("streaming-real.json" if real else "streaming.json")
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return [path] if real else [path, *plot_sweep(results["sweep"], out_dir)]


def main(config: BenchConfig, out_dir: Path, command: str) -> int:
    """Run the benchmark, print the table, write the files; exit status 0 (targets are reported, not enforced)."""
    results = asyncio.run(run_benchmark(config))
    results["command"] = command
    paths = write_results(results, out_dir)
    print()
    print(table(results))
    print(f"\n$ {command}")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _error_kinds(runs: Sequence[RunTimes]) -> dict[str, int]:
    """Error events by ``stage:kind``, summed over runs."""
    total: Counter[str] = Counter()
    for run in runs:
        total.update(run.error_kinds)
    return dict(total)
