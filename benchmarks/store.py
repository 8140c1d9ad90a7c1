"""What the run store costs: first result p95 and 20-concurrent throughput with the store on and off, side by side.

Run: ``python -m benchmarks.store [--runs 200] [--rounds 6] [--standin]``

Runs with the store on and off alternate (one on, one off, ...), so both see the same machine. By
default the runs use the local pydocs index (a whole run takes ~30 ms, so the store's share is as
large as it gets); ``--standin`` runs them against the Brave stand-in with the streaming benchmark's
modelled latency instead. Also reported: the time of one ``append`` on the event loop, how long a
run's commit takes while four processes write the same file, and the size of the store per run.
Writes ``benchmarks/results/store.json`` (or ``store-standin.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from knowledge_agg import KnowledgeAggregator, RunStore, Settings

from ._bench_run import StandinProcess, measure_run
from .output import RESULTS
from .report import summary
from .streaming import QUERIES, client_settings

_CONCURRENT = 20
#: Targets from issue 16.
TARGET_FIRST_RESULT_MS = 1.0
TARGET_THROUGHPUT_LOSS = 0.05


@contextlib.asynccontextmanager
async def _aggregators(standin: bool, folder: Path) -> AsyncIterator[dict[bool, KnowledgeAggregator]]:
    """Two aggregators alike but for the store: ``{True: on, False: off}``."""
    store = str(folder / "runs.sqlite3")
    async with contextlib.AsyncExitStack() as stack:
        if standin:
            server = StandinProcess(corpus="pydocs", search_latency=(0.25, 0.4), page_latency=(0.1, 0.8))
            stack.callback(server.stop)
            base = client_settings(server.url, Settings().cache_dir)
        else:
            base = Settings(provider="local", flags={})
        aggs = {on: await stack.enter_async_context(KnowledgeAggregator(base.override(store=store if on else "off")))
                for on in (True, False)}
        yield aggs


async def _single(aggs: dict[bool, KnowledgeAggregator], n: int) -> dict[str, Any]:
    """``n`` runs each way, alternating; consumer-clock first result and total."""
    first: dict[bool, list[float]] = {True: [], False: []}
    total: dict[bool, list[float]] = {True: [], False: []}
    for i in range(2 * n):
        on = i % 2 == (i // 2) % 2  # on, off, off, on, on, off, …: neither side always goes first
        run = await measure_run(aggs[on], QUERIES[(i // 2) % len(QUERIES)])
        if run.exception or run.first_result is None:
            raise RuntimeError(f"a benchmark run failed: {run.exception or 'no result'}")
        first[on].append(run.first_result)
        total[on].append(run.total)
    out = {f"store_{'on' if on else 'off'}": {"first_result_ms": summary(first[on]), "total_ms": summary(total[on])}
           for on in (True, False)}
    out["first_result_p95_added_ms"] = round(
        out["store_on"]["first_result_ms"]["p95"] - out["store_off"]["first_result_ms"]["p95"], 3
    )
    return out


async def _throughput(aggs: dict[bool, KnowledgeAggregator], rounds: int, runs: int) -> dict[str, Any]:
    """Rounds of ``runs`` runs, ``_CONCURRENT`` at a time, alternating on and off; runs per second."""
    rates: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, list[float]] = {True: [], False: []}  # this process's CPU (all threads) per run, ms
    queries = itertools.cycle(QUERIES)
    for r in range(2 * rounds):
        on = r % 2 == (r // 2) % 2
        agg, limit = aggs[on], asyncio.Semaphore(_CONCURRENT)

        async def one(query: str, agg: KnowledgeAggregator = agg, limit: asyncio.Semaphore = limit) -> None:
            async with limit:
                await measure_run(agg, query)

        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(next(queries)) for _ in range(runs)))
        rates[on].append(runs / (time.perf_counter() - started))
        cpu[on].append((time.process_time() - cpu_started) * 1000 / runs)
    on, off = statistics.median(rates[True]), statistics.median(rates[False])
    return {
        "concurrency": _CONCURRENT, "runs_per_round": runs, "rounds_each": rounds,
        "store_on_runs_per_s": [round(x, 2) for x in rates[True]],
        "store_off_runs_per_s": [round(x, 2) for x in rates[False]],
        "median_on": round(on, 2), "median_off": round(off, 2), "loss": round(1 - on / off, 4),
        "cpu_ms_per_run_on": round(statistics.median(cpu[True]), 3),
        "cpu_ms_per_run_off": round(statistics.median(cpu[False]), 3),
        "cpu_added": round(statistics.median(cpu[True]) / statistics.median(cpu[False]) - 1, 4),
    }


def _append_cost(folder: Path, events: int) -> dict[str, Any]:
    """Microseconds one ``append`` holds the caller (the event loop), over ``events`` real events."""
    from knowledge_agg import ask

    run = ask(QUERIES[0], settings=Settings(provider="local", store="off", flags={}))
    store = RunStore(folder / "append.sqlite3")
    spent: list[float] = []
    for i in range(events):
        event = run.events[i % len(run.events)]
        started = time.perf_counter()
        store.append(f"bench-{i // len(run.events)}", event)
        spent.append((time.perf_counter() - started) * 1e6)
    store.close()
    return summary(spent)


_CONTENDER = """
import sys, time
from knowledge_agg import RunStore, ask, Settings
store = RunStore(sys.argv[1])
events = ask("json dumps indent", settings=Settings(provider="local", store="off", flags={})).events
waits = []
for i in range(int(sys.argv[2])):
    run_id = f"{sys.argv[3]}-{i}"
    store.begin(run_id, "contention", {})
    for event in events:
        store.append(run_id, event)
    store.end(run_id, "done", events[-1])
    started = time.perf_counter()
    store.flush()  # the commit, with whatever wait for the other processes' writes
    waits.append((time.perf_counter() - started) * 1000)
print(" ".join(f"{w:.3f}" for w in waits))
"""


def _contention(folder: Path, processes: int, runs: int) -> dict[str, Any]:
    """``processes`` processes each storing ``runs`` whole runs into one file at once: how long a commit takes."""
    path = folder / "contention.sqlite3"
    RunStore(path)
    procs = [subprocess.Popen([sys.executable, "-c", _CONTENDER, str(path), str(runs), f"p{i}"],
                              stdout=subprocess.PIPE, text=True) for i in range(processes)]
    waits = [float(w) for p in procs for w in p.communicate(timeout=600)[0].split()]
    if any(p.returncode for p in procs):
        raise RuntimeError("a contending writer failed")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        stored = conn.execute("SELECT count(*) FROM runs WHERE ended_at IS NOT NULL").fetchone()[0]
    return {"processes": processes, "runs_each": runs, "runs_stored": stored, "commit_ms": summary(waits)}


def _size(path: Path) -> dict[str, Any]:
    """Bytes per stored run once the write-ahead log is folded into the file."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        runs = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    size = path.stat().st_size
    return {"runs": runs, "events": events, "bytes": size, "bytes_per_run": round(size / max(runs, 1))}


async def run_benchmark(
    runs: int, rounds: int, round_runs: int, standin: bool, *, contenders: tuple[int, int] = (4, 100),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="knowledge-agg-store-bench-") as tmp:
        folder = Path(tmp)
        async with _aggregators(standin, folder) as aggs:
            for agg in aggs.values():  # warm: index open, connections made, the store's file created
                await measure_run(agg, QUERIES[0])
            log(f"single runs: {runs} with the store, {runs} without, alternating")
            single = await _single(aggs, runs)
            log(f"throughput: {rounds} rounds of {round_runs} runs each way, {_CONCURRENT} at a time")
            throughput = await _throughput(aggs, rounds, round_runs)
        size = _size(folder / "runs.sqlite3")
        append = _append_cost(folder, 20_000)
        log(f"contention: {contenders[0]} processes storing {contenders[1]} runs each into one file at once")
        contention = _contention(folder, *contenders)
    added, loss = single["first_result_p95_added_ms"], throughput["loss"]
    return {
        "mode": "Brave stand-in (modelled latency)" if standin else "local pydocs index",
        "single": single,
        "throughput": throughput,
        "append_us": append,
        "size": size,
        "contention": contention,
        "targets": [
            {"name": "first result p95, store on minus off", "value": added, "unit": " ms",
             "target": f"<= {TARGET_FIRST_RESULT_MS} ms", "met": added <= TARGET_FIRST_RESULT_MS},
            {"name": f"{_CONCURRENT}-concurrent throughput lost to the store", "value": round(100 * loss, 2), "unit": " %",
             "target": f"<= {100 * TARGET_THROUGHPUT_LOSS:.0f} %", "met": loss <= TARGET_THROUGHPUT_LOSS},
        ],
        "machine": {"python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version},
    }


def table(results: dict[str, Any]) -> str:
    s, t, a, z, c = (results[k] for k in ("single", "throughput", "append_us", "size", "contention"))
    rows = [(c["name"], f"{c['value']}{c['unit']}", c["target"], "met" if c["met"] else "MISSED") for c in results["targets"]]
    for side in ("on", "off"):
        f, tot = s[f"store_{side}"]["first_result_ms"], s[f"store_{side}"]["total_ms"]
        rows.append((f"store {side}: first result / total p50, p95 (n={f['n']})",
                     f"{f['p50']}, {f['p95']} / {tot['p50']}, {tot['p95']} ms", "", ""))
    rows.append((f"{t['concurrency']} concurrent runs/s, median of {t['rounds_each']} rounds (on / off)",
                 f"{t['median_on']} / {t['median_off']}", "", ""))
    rows.append(("CPU per run (all threads), median of rounds (on / off)",
                 f"{t['cpu_ms_per_run_on']} / {t['cpu_ms_per_run_off']} ms", f"{100 * t['cpu_added']:+.1f} %", ""))
    rows.append(("one append on the event loop p50 / p95", f"{a['p50']} / {a['p95']} us", "", ""))
    rows.append((f"{c['processes']} processes writing at once: one run's commit p50 / p95 / max",
                 f"{c['commit_ms']['p50']} / {c['commit_ms']['p95']} / {c['commit_ms']['max']} ms",
                 f"{c['runs_stored']} of {c['processes'] * c['runs_each']} runs stored", ""))
    rows.append(("store size per run", f"{z['bytes_per_run'] / 1024:.1f} KiB",
                 f"{z['runs']} runs, {z['events']} events, {z['bytes'] / 1e6:.2f} MB", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join([f"run store cost ({results['mode']})", *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.store", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="single runs each way (200)")
    parser.add_argument("--rounds", type=int, default=6, help="throughput rounds each way (6)")
    parser.add_argument("--round-runs", type=int, default=100, help="runs per throughput round (100)")
    parser.add_argument("--standin", action="store_true", help="against the Brave stand-in with modelled latency")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"folder for the JSON ({RESULTS})")
    args = parser.parse_args(argv)
    results = asyncio.run(run_benchmark(args.runs, args.rounds, args.round_runs, args.standin))
    results["command"] = "python -m benchmarks.store " + " ".join(argv if argv is not None else sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / ("store-standin.json" if args.standin else "store.json")
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print()
    print(table(results))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
