"""``python -m benchmarks.pages``: runs on generated and on real pages — throughput on every core and memory.

The stand-in runs in its own process (search 300 ms, pages 200 ms, 20 req/s plan off) and serves either
its generated pages or, with ``real``, the extraction dataset's 60 real news and blog pages
(``data/extraction/html``, gzip-encoded as a real server sends them) for every ``/pages/{id}``. For each
mode it measures, with the real Brave client, fetcher and extractor:

- the tracemalloc peak of one run reading 5 pages (median and max over runs, ``memory_tracking`` on;
  every page is on the stand-in's one host, so 5 per domain are allowed, and the per-host cap on page
  reads at once is lifted: with its default of 2, 20 concurrent runs waited on the one host, 1.5 runs/s
  whatever the CPU did);
- 20 concurrent runs, repeated: runs per second, CPU milliseconds per run (this process and its
  extraction workers), and the RSS growth of this process (and of its workers, counted apart) over
  its idle size before the first of them.

``--code PATH`` runs the same measurements with another checkout's ``knowledge_agg`` in a child process
against the same stand-in, so old and new code are compared in one run on one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from ._bench_run import cpu_seconds
from .data import EXTRACTION, relative
from .output import RESULTS, write_json

__all__ = ["MODES", "compare", "measure"]

_ROOT = Path(__file__).resolve().parent.parent
_QUERIES = (
    "how do I cancel an asyncio task", "what does functools.lru_cache do", "read a file line by line",
    "difference between list and tuple", "how to sort a dict by value", "what is a context manager",
    "json dump to a file", "regular expression groups", "how do generators work", "subprocess run output",
)
MODES = ("generated", "real")


def _rss(process: psutil.Process) -> tuple[float, float]:
    """RSS in MB of ``process`` and of its children together."""
    own = process.memory_info().rss
    children = 0
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):  # a worker that just exited
            children += child.memory_info().rss
    return own / 1e6, children / 1e6


async def measure(url: str, *, peak_runs: int, rounds: int, concurrent: int, per_host: int = 1000) -> dict[str, Any]:
    """The figures of one checkout against the stand-in at ``url``."""
    from knowledge_agg import KnowledgeAggregator, Settings

    port = url.rsplit(":", 1)[1]
    cache = tempfile.mkdtemp(prefix="ka-bench-")
    settings = Settings(
        provider="brave", brave_api_key="benchmark-key", brave_base_url=url, brave_rate_limit=100_000,
        brave_cache=False, fetch_allow_hosts=[f"127.0.0.1:{port}"], cache_dir=Path(cache), max_per_domain=5,
        fetch_per_host=per_host,  # the web spreads a run's pages over many hosts; here they share one
    )
    me = psutil.Process()
    async with KnowledgeAggregator(settings) as agg:
        await agg.run("warm up the clients", flags="memory_tracking=off")
        peaks = []
        for i in range(peak_runs):
            run = await agg.run(_QUERIES[i % len(_QUERIES)], flags="memory_tracking=on")
            peaks.append(run.events[-1].metrics["peak_memory_bytes"] / 1e6)
        gc.collect()
        idle_own, idle_children = _rss(me)
        rates, errors, top_own, top_children = [], 0, idle_own, idle_children
        cpu_before = cpu_seconds(me)
        for r in range(rounds):
            started = time.perf_counter()
            runs = await asyncio.gather(*(
                agg.run(f"{_QUERIES[(r * concurrent + i) % len(_QUERIES)]} {r}-{i}") for i in range(concurrent)
            ))
            rates.append(concurrent / (time.perf_counter() - started))
            errors += sum(run.events[-1].metrics["errors"] for run in runs)
            own, children = _rss(me)
            top_own, top_children = max(top_own, own), max(top_children, children)
        cpu_per_run = (cpu_seconds(me) - cpu_before) * 1000 / (rounds * concurrent)
    return {
        "peak_mb_median": round(statistics.median(peaks), 2), "peak_mb_max": round(max(peaks), 2),
        "runs_per_s_median": round(statistics.median(rates), 2), "runs_per_s": [round(x, 2) for x in rates],
        "rss_growth_mb": round(top_own - idle_own, 1), "workers_rss_growth_mb": round(top_children - idle_children, 1),
        "workers_rss_mb": round(top_children, 1), "page_errors": errors, "cpu_ms_per_run": round(cpu_per_run, 1),
    }


def _elsewhere(code: Path, url: str, peak_runs: int, rounds: int, concurrent: int, per_host: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{code / 'src'}{os.pathsep}{_ROOT}"}
    argv = [sys.executable, "-m", "benchmarks.pages", "--url", url, "--peak-runs", str(peak_runs),
            "--rounds", str(rounds), "--concurrent", str(concurrent), "--per-host", str(per_host)]
    out = subprocess.run(argv, env=env, cwd=_ROOT, capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out.splitlines()[-1]))


def compare(*, pages: str = "both", peak_runs: int = 7, rounds: int = 3, concurrent: int = 20, per_host: int = 1000,
            code: Path | None = None) -> dict[str, Any]:
    """Each mode's figures for this code (and ``code``), each side in a child process against one stand-in."""
    from ._bench_run import StandinProcess

    results: dict[str, dict[str, Any]] = {}
    for mode in MODES if pages == "both" else (pages,):
        real = EXTRACTION / "html" if mode == "real" else None
        with StandinProcess(corpus="pydocs", search_latency=(0.3, 0.3), page_latency=(0.2, 0.2),
                            real_pages=real) as standin:
            # each checkout in its own child process, so neither inherits the other's imports or workers
            results[mode] = {"this": _elsewhere(_ROOT, standin.url, peak_runs, rounds, concurrent, per_host)}
            if code:
                results[mode]["before"] = _elsewhere(code, standin.url, peak_runs, rounds, concurrent, per_host)
    return {"concurrent": concurrent, "fetch_per_host": per_host, "results": results}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pages", description=__doc__)
    parser.add_argument("--pages", choices=(*MODES, "both"), default="both")
    parser.add_argument("--peak-runs", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--per-host", type=int, default=1000, help="page reads at once per host (the setting's 2 "
                        "makes 20 runs wait on the stand-in's one host)")
    parser.add_argument("--code", type=Path, help="another checkout to measure beside this one")
    parser.add_argument("--url", help="an already running stand-in: measure there and print JSON")
    parser.add_argument("--out", type=Path, default=RESULTS / "pages.json")
    args = parser.parse_args()
    if args.url:
        print(json.dumps(asyncio.run(measure(args.url, peak_runs=args.peak_runs, rounds=args.rounds,
                                             concurrent=args.concurrent, per_host=args.per_host))))
        return 0
    figures = compare(pages=args.pages, peak_runs=args.peak_runs, rounds=args.rounds, concurrent=args.concurrent,
                      per_host=args.per_host, code=args.code)
    names = ("peak_mb_median", "peak_mb_max", "runs_per_s_median", "cpu_ms_per_run", "rss_growth_mb",
             "workers_rss_growth_mb", "page_errors")
    for mode, sides in figures["results"].items():
        print(f"\n{mode} pages" + (f" ({relative(EXTRACTION / 'html')})" if mode == "real" else ""))
        print(f"{'figure':26}" + "".join(f"{side:>12}" for side in sides))
        for name in names:
            print(f"{name:26}" + "".join(f"{sides[s][name]:>12}" for s in sides))
    write_json(args.out, figures)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
