"""``python -m benchmarks.cold_start``: what a user meets from Enter, timed from outside the process.

Each figure is the wall time from spawning ``knowledge-agg`` to the moment the awaited line appears on
its standard output (``--help``: the process's exit), over repeated fresh processes, as
min / median / max; beside it the CPU time the process had used by then, which a shared, loaded
machine disturbs far less than the wall time. ``--code PATH`` times another checkout (its ``src`` goes first on
``PYTHONPATH``), so old and new code are measured side by side in one run; each checkout has a fresh cache of
its own, so checkouts whose index files differ do not remake each other's. ``--bytecode`` keeps each checkout's
compiled modules between its runs, as an installed package has them (where ``PYTHONDONTWRITEBYTECODE`` is set, every
process otherwise compiles every module of the package it imports, and longer code costs more).

The Brave case runs ``ask --provider brave`` in a fresh process against the stand-in (its own process,
every search held 300 ms) and subtracts the search itself: a plain request of the same query from this
process's warm HTTP client, sent right after (the stand-in's own work on a loaded machine is in both, so
it cancels out instead of counting against the client). Two figures: on the run's own clock
(``first_result_ms``, which starts when the run has the question), and from Enter (the first result
line's wall time), which does not depend on where a checkout starts its run's clock. The warm figure is
the same difference for the second and third run of one process (the limiter set out of the way: its
pace is ``benchmarks.brave_pace``'s figure).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

from .output import RESULTS, write_json

_ROOT = Path(__file__).resolve().parent.parent
_CLI = "from knowledge_agg.cli import main; import sys; sys.exit(main())"
#: The stand-in's search latency (seconds) in the Brave case.
_SEARCH_LATENCY = 0.3


def _environment(code: Path, cache: Path, bytecode: bool = False) -> dict[str, str]:
    """The environment of ``code``'s processes: its own cache, so checkouts whose index files differ (e.g. the
    static table's packed vectors) do not remake each other's on every run; with ``bytecode``, its modules'
    compiled forms kept there too (as an installed package has them) even where ``PYTHONDONTWRITEBYTECODE``
    has every process compile every module it imports."""
    env = {**os.environ, "PYTHONPATH": f"{code / 'src'}{os.pathsep}{code}", "KNOWLEDGE_AGG_CACHE_DIR": str(cache)}
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache / "pycache")
    return env


def time_until(argv: list[str], env: dict[str, str], seen: Callable[[str], bool] | None) -> tuple[float, float]:
    """(wall, CPU) seconds from spawning ``argv`` until a stdout line satisfies ``seen`` (``None``: until exit)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    found: tuple[float, float] | None = None
    try:
        if seen is not None:
            watched = psutil.Process(proc.pid)
            for line in proc.stdout:
                if seen(line):
                    cpu = watched.cpu_times()
                    found = time.perf_counter() - start, cpu.user + cpu.system
                    break
            proc.stdout.read()
            proc.wait(timeout=60)
        else:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            found = time.perf_counter() - start, usage.ru_utime + usage.ru_stime
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    if found is None:
        raise RuntimeError(f"{' '.join(argv)}: the awaited line never came")
    return found


def _event(kind: str) -> Callable[[str], bool]:
    return lambda line: line.startswith("{") and json.loads(line).get("type") == kind


def brave_first_result(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """A fresh process's run: (wall ms from spawn to its first result line, ``first_result_ms`` on the run's
    clock, wall ms from spawn to its ``done`` line)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    seen: float | None = None
    ended = 0.0
    lines: list[str] = []
    try:
        for line in proc.stdout:
            if seen is None and _event("result")(line):
                seen = (time.perf_counter() - start) * 1000
            lines.append(line)
            if _event("done")(line):
                ended = (time.perf_counter() - start) * 1000
        proc.wait(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    done = json.loads(lines[-1]) if lines else {}
    if seen is None or done.get("type") != "done" or done["metrics"]["first_result_ms"] is None:
        raise RuntimeError(f"{' '.join(argv)}: no result (exit {proc.returncode})")
    return seen, float(done["metrics"]["first_result_ms"]), ended


def bare_search(client: httpx.Client, query: str) -> float:
    """Milliseconds for one plain GET of the stand-in's web search of ``query``, sent as the provider sends it."""
    from knowledge_agg.analyze import analyze
    from knowledge_agg.providers.brave.protocol import TOKEN_HEADER, encode

    items = encode("web", {"q": analyze(query).search_query, "count": 20, "offset": 0, "extra_snippets": True})
    start = time.perf_counter()
    response = client.get("/res/v1/web/search", params=items, headers={TOKEN_HEADER: "cold-start-key"})
    response.raise_for_status()
    json.loads(response.content)
    return (time.perf_counter() - start) * 1000


#: A process that runs one search first (cold), then ``warm`` more on the same aggregator; prints their first_result_ms.
_WARM = """
import asyncio, json, sys
from knowledge_agg import KnowledgeAggregator, Settings

async def main(url, queries):
    settings = Settings(provider="brave", brave_api_key="cold-start-key", brave_base_url=url, brave_cache=False,
                        brave_rate_limit=1000)  # the limiter's own pace is benchmarks.brave_pace's figure
    async with KnowledgeAggregator(settings) as agg:
        runs = [await agg.run(q, flags="content_fetch=off") for q in queries]
    print(json.dumps([run.metrics["first_result_ms"] for run in runs]))

asyncio.run(main(sys.argv[1], sys.argv[2:]))
"""


def warm_first_results(env: dict[str, str], standin: str, queries: list[str]) -> list[float]:
    """``first_result_ms`` of each query run one after another on one aggregator in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _WARM, standin, *queries], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return [float(ms) for ms in json.loads(out.splitlines()[-1])]


def _ask(provider: str) -> list[str]:
    return [sys.executable, "-c", _CLI, "ask", "--format", "ndjson", "--provider", provider]


def one_round(
    code: Path, env: dict[str, str], standin: str, samples: dict[str, list[float]], i: int, client: httpx.Client
) -> None:
    """Each figure of one checkout (run in ``env``) once, appended to ``samples`` (milliseconds)."""
    ask = [*_ask("local"), "asyncio task cancellation"]
    cases: dict[str, tuple[list[str], Callable[[str], bool] | None]] = {
        "help": ([sys.executable, "-c", _CLI, "--help"], None),
        "first_status": (ask, _event("status")),
        "first_result": (ask, _event("result")),
        "python_alone": ([sys.executable, "-c", "pass"], None),
    }
    for name, (argv, seen) in cases.items():
        wall, cpu = time_until(argv, env, seen)
        samples.setdefault(name, []).append(wall * 1000)
        samples.setdefault(f"{name}_cpu", []).append(cpu * 1000)
    # the Brave path, a fresh process each time: TLS, the HTTP client, first-request imports
    brave = {**env, "BRAVE_API_KEY": "cold-start-key", "KNOWLEDGE_AGG_BRAVE_BASE_URL": standin,
             "KNOWLEDGE_AGG_FETCH_ALLOW_HOSTS": standin.split("//", 1)[1]}
    query = f"asyncio task cancellation {i} {code.name}"
    wall, run_clock, ended = brave_first_result([*_ask("brave"), "--no-cache", query], brave)
    search = bare_search(client, query)
    samples.setdefault("brave_first_result_minus_search", []).append(run_clock - search)
    samples.setdefault("brave_enter_to_first_result_minus_search", []).append(wall - search)
    samples.setdefault("brave_bare_search", []).append(search)
    samples.setdefault("brave_enter_to_done", []).append(ended)  # 5 pages at 200 ms each, read and extracted
    # the same process's later runs: the client, the stages and their imports are warm
    queries = [f"asyncio task cancellation {i} {code.name} {n}" for n in range(3)]
    for query, first in list(zip(queries, warm_first_results(env, standin, queries), strict=True))[1:]:
        samples.setdefault("brave_warm_first_result_minus_search", []).append(first - bare_search(client, query))


def _summary(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 1), "median": round(statistics.median(values), 1), "max": round(max(values), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_start", description=__doc__)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--code", type=Path, action="append", help="another checkout to time beside this one")
    parser.add_argument("--out", type=Path, default=RESULTS / "cold_start.json")
    parser.add_argument("--bytecode", action="store_true",
                        help="keep each checkout's compiled modules between runs (as an installed package has them)")
    args = parser.parse_args()
    checkouts = {"this": _ROOT, **{str(p): p.resolve() for p in args.code or []}}
    from ._bench_run import StandinProcess

    bed = {"corpus": "pydocs", "search_latency": (_SEARCH_LATENCY, _SEARCH_LATENCY), "page_latency": (0.2, 0.2)}
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in checkouts}
    with StandinProcess(**bed) as standin, tempfile.TemporaryDirectory(prefix="ka-cold-start-") as scratch:
        envs = {name: _environment(path, Path(scratch) / str(n), args.bytecode)
                for n, (name, path) in enumerate(checkouts.items())}
        for name in checkouts:  # the local index exists, the OS cache is warm (and modules compiled) before timing
            time_until([*_ask("local"), "asyncio task cancellation"], envs[name], _event("done"))
        with httpx.Client(base_url=standin.url, trust_env=False, timeout=30.0) as client:
            bare_search(client, "warm up")  # the reference client is warm: it measures the search, not itself
            for i in range(args.repeats):  # interleaved, so a burst of load on the machine hits every checkout alike
                for name, path in checkouts.items():
                    one_round(path, envs[name], standin.url, samples[name], i, client)
    results = {name: {figure: _summary(v) for figure, v in figures.items()} for name, figures in samples.items()}
    print(f"{'figure (ms: min / median / max)':36}" + "".join(f"{n[-28:]:>30}" for n in results))
    for figure in next(iter(results.values())):
        row = "".join(
            f"{r[figure]['min']:>10.0f}{r[figure]['median']:>10.0f}{r[figure]['max']:>10.0f}" for r in results.values()
        )
        print(f"{figure:36}{row}")
    write_json(args.out, {"repeats": args.repeats, "bytecode": args.bytecode, "results": results})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
