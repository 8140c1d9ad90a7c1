"""``python -m benchmarks.brave_pace``: N searches through the real Brave client against a 20 req/s stand-in plan.

The client starts from its configured 1 req/s; the stand-in (its own process, the ``standin_rate_per_second``
plan) states 20 req/s in its ``X-RateLimit-*`` headers. It prints the wall time, the searches per
second, the 429s the client received and the busiest one-second window the client produced.
``--search-latency LO,HI`` makes the stand-in take that long per search before it counts the request
(as a gateway with a queue would; 0 by default). ``--code PATH`` runs the same searches with another
checkout's ``knowledge_agg`` (in a child process) beside this one's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from .output import RESULTS, write_json

__all__ = ["measure", "pace"]

_ROOT = Path(__file__).resolve().parent.parent
#: The stand-in plan's requests per second (what its headers state).
_PLAN = 20
#: Seconds between the two sides: more than the plan's 1 s window, so one side's searches never count against the other.
_WINDOW_GAP = 1.5


class _Counting(httpx.AsyncBaseTransport):
    """The client's real transport, noting each response's status and when its request was sent."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.sent: list[tuple[float, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
        response = await self._inner.handle_async_request(request)
        self.sent.append((started, response.status_code))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _busiest_second(times: list[float]) -> int:
    times = sorted(times)
    return max((sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times)), default=0)


async def pace(url: str, searches: int, concurrency: int) -> dict[str, Any]:
    """Run ``searches`` distinct searches, ``concurrency`` at a time, on one provider paced from 1 req/s."""
    from knowledge_agg.providers.brave import BraveProvider

    transport = _Counting()
    provider = BraveProvider("bench-pace-key", base_url=url, rate_limit=1.0, transport=transport)
    queue = list(range(searches))

    async def worker() -> None:
        while queue:
            await provider.web_search(f"pace {queue.pop()} {time.time_ns()}", count=5)

    started = time.monotonic()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await provider.aclose()
    wall = time.monotonic() - started
    statuses = [status for _, status in transport.sent]
    return {
        "searches": searches, "wall_s": round(wall, 2), "per_second": round(searches / wall, 2),
        "responses_429": statuses.count(429), "requests": len(statuses),
        "busiest_second": _busiest_second([t for t, _ in transport.sent]),
    }


def _elsewhere(code: Path, url: str, searches: int, concurrency: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{code / 'src'}{os.pathsep}{_ROOT}"}
    argv = [sys.executable, "-m", "benchmarks.brave_pace", "--url", url, "--searches", str(searches),
            "--concurrency", str(concurrency)]
    out = subprocess.run(argv, env=env, cwd=_ROOT, capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out.splitlines()[-1]))


def measure(searches: int = 200, concurrency: int = 20, *, search_latency: tuple[float, float] = (0.0, 0.0),
            code: Path | None = None, code_searches: int = 20) -> dict[str, Any]:
    """The figures of this code (and of ``code``, in a child process) against one stand-in on the 20 req/s plan."""
    from ._bench_run import StandinProcess

    bed = {"corpus": "pydocs", "search_latency": search_latency, "page_latency": (0.0, 0.0)}
    with StandinProcess(**bed, plan_per_second=_PLAN) as standin:
        results = {"this": asyncio.run(pace(standin.url, searches, concurrency))}
        if code:  # the same key: wait until the stand-in's window has forgotten this side's last searches
            time.sleep(_WINDOW_GAP)
            results[str(code)] = _elsewhere(code, standin.url, code_searches, concurrency)
    return {"plan_per_second": _PLAN, "search_latency": list(search_latency), "results": results}


def _range(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition(",")
    return float(lo), float(hi or lo)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.brave_pace", description=__doc__)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--search-latency", type=_range, default=(0.0, 0.0), help="stand-in seconds per search: lo,hi")
    parser.add_argument("--code", type=Path, help="another checkout to run beside this one")
    parser.add_argument("--code-searches", type=int, default=20, help="searches for --code (1 req/s is slow)")
    parser.add_argument("--url", help="an already running stand-in: run there and print the figures as JSON")
    parser.add_argument("--out", type=Path, default=RESULTS / "brave_pace.json")
    args = parser.parse_args()
    if args.url:
        figures = asyncio.run(pace(args.url, args.searches, args.concurrency))
        print(json.dumps(figures))
        return 0
    measured = measure(args.searches, args.concurrency, search_latency=args.search_latency, code=args.code,
                       code_searches=args.code_searches)
    print(f"{'code':>28} {'searches':>9} {'wall s':>8} {'per s':>7} {'429s':>5} {'busiest 1 s':>12}")
    for name, r in measured["results"].items():
        print(f"{name[-28:]:>28} {r['searches']:>9} {r['wall_s']:>8} {r['per_second']:>7} {r['responses_429']:>5} "
              f"{r['busiest_second']:>12}")
    write_json(args.out, measured)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
