"""Measure the local pydocs index: cold build, warm open, size, and search queries per second.

Run: ``python -m benchmarks.local_index [--seconds 5] [--concurrency 8] [--flags static=off]``
(uses a fresh temporary cache, so the first build is really cold). The provider is the one the settings
make, so the default flags apply: the cold build includes the static model's document vectors.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time

from knowledge_agg import Settings
from knowledge_agg.providers.local import LocalProvider

from .output import checked_flags

QUERIES = [
    "How do asynchronous generators work?",
    "json dumps indent",
    "os path join",
    "sort a list by key",
    "ValueError: invalid literal for int() with base 10",
    "start an http server",
    "deep copy an object",
    "run a subprocess and capture output",
    "parse command line arguments",
    "lru cache decorator",
]


async def _throughput(provider: LocalProvider, seconds: float, concurrency: int) -> tuple[int, float]:
    """Run searches from ``concurrency`` tasks for ``seconds``; return (queries, elapsed)."""
    queries = itertools.cycle(QUERIES)
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await provider.search(next(queries), count=20)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, time.perf_counter() - started


async def main(seconds: float, concurrency: int, flags: dict[str, bool]) -> None:
    with tempfile.TemporaryDirectory() as cache:
        settings = Settings(corpus="pydocs", cache_dir=cache, flags=flags)
        cold = LocalProvider.from_settings(settings)
        started = time.perf_counter()
        status = await cold.build()
        cold_s = time.perf_counter() - started
        warm = LocalProvider.from_settings(settings)
        started = time.perf_counter()
        assert not (await warm.build()).rebuilt
        warm_s = time.perf_counter() - started
        print(f"documents        {status.documents}")
        print(f"index size       {status.size_bytes / 1e6:.1f} MB")
        print(f"cold build       {cold_s:.2f} s")
        print(f"warm open        {warm_s * 1000:.1f} ms")
        for workers in sorted({1, concurrency}):
            count, elapsed = await _throughput(warm, seconds, workers)
            print(f"search ({workers} task{'s' if workers > 1 else ''})  {count / elapsed:.0f} queries/s")
        await cold.aclose()
        await warm.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--flags", help="feature flags, e.g. static=off (BM25 alone)")
    args = parser.parse_args()
    flags = checked_flags(args.flags)
    if flags is None:
        raise SystemExit(2)
    asyncio.run(main(args.seconds, args.concurrency, flags))
