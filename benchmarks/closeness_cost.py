"""``python -m benchmarks.closeness_cost [--repeats 3] [--limit N] [--corpus pydocs]``: the ms of choosing sources by meaning.

Over the pydocs-qa dev questions, on the pydocs index with its MiniLM vectors (in the settings' cache folder; made
first when missing, which takes minutes): each question is searched as a run with ``--flags semantic`` searches it
(20 results for ``analysis.search_query`` by words, then ``Hits.meaning``: the same search fused with the nearest
documents, which runs choose their sources from), then its sources are chosen three
ways, alternated question by question so a burst of load on the shared machine hits all alike: by words alone (no
closeness), by meaning embedding every hit's title and snippets (``semantic.closeness`` without stored vectors: how
it was done before round ten), and by meaning from the index's stored vectors (``Hits.vectors``, as runs do now:
only the question is embedded, and not even that when the search already embedded the same text). Before each timing the model's
kept question vectors are emptied and the search's one put back, as in a run. Prints p50 / p95 and writes
``benchmarks/results/closeness_cost.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import sys
import time
from pathlib import Path
from typing import Any

from knowledge_agg import Settings, semantic
from knowledge_agg.analyze import analyze, read_as
from knowledge_agg.models import Hits
from knowledge_agg.providers.local import LocalProvider
from knowledge_agg.select import select_sources
from knowledge_agg.settings import setting_default

from .output import RESULTS, write_json
from .pydocs_qa import DATASET, load_questions
from .report import summary

_RESULTS = RESULTS / "closeness_cost.json"
#: The three ways of choosing, in the order each question times them.
CASES = ("words", "embedded", "stored")


def _choose(hits: Hits, question: str, case: str) -> float:
    """Milliseconds to choose the sources among ``hits`` one way, the question's vector as the search left it."""
    analysis = analyze(question)
    searched = read_as(analysis, hits.respelt)
    closeness = {"words": None, "embedded": semantic.closeness,
                 "stored": functools.partial(semantic.closeness, stored=hits.vectors)}[case]
    semantic.query_vector.cache_clear()
    semantic.query_vector(analysis.search_query)  # what the fused search embedded
    started = time.perf_counter()
    select_sources(hits, searched, closeness=closeness)
    return (time.perf_counter() - started) * 1000


async def run(questions: list[str], repeats: int, cache_dir: Path, corpus: str = "pydocs") -> dict[str, Any]:
    """Every figure, on the index of ``corpus`` in ``cache_dir``."""
    provider = LocalProvider(corpus, cache_dir=cache_dir, meaning=True)
    try:
        await provider.build()
        semantic.load()
        await provider.search(questions[0], count=1)  # reads this build's vectors, or starts making them
        await asyncio.to_thread(provider.wait_for_vectors)
        samples: dict[str, list[float]] = {case: [] for case in CASES}
        stored = embedded = 0
        for _ in range(repeats):
            for question in questions:
                results = await provider.search(analyze(question).search_query, count=setting_default("max_results"))
                # no word found: the results are already that ranking (Hits.meaning is None)
                hits = results if results.meaning is None else await asyncio.to_thread(results.meaning)
                assert isinstance(hits, Hits) and hits.vectors is not None
                found = hits.vectors(hits)
                stored += sum(vector is not None for vector in found)
                embedded += sum(vector is None for vector in found)
                for case in CASES:
                    samples[case].append(_choose(hits, question, case))
    finally:
        await provider.aclose()
    return {
        "corpus": corpus,
        "questions": len(questions),
        "repeats": repeats,
        "hits_by_stored_vector": stored,
        "hits_embedded": embedded,
        "select_ms": {case: summary(values) for case, values in samples.items()},
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    """Measure, print a table and write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.closeness_cost", description=__doc__)
    parser.add_argument("--dataset", type=Path, default=DATASET, help=f"the questions (default {DATASET})")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the questions")
    parser.add_argument("--corpus", default="pydocs", help="pydocs, a folder or a .jsonl file")
    parser.add_argument("--cache-dir", type=Path, default=None, help="where the index is (default: the settings')")
    parser.add_argument("--out", type=Path, default=_RESULTS)
    args = parser.parse_args(argv)
    semantic.check()
    questions = [q.question for q in load_questions(args.dataset)][: args.limit]
    results = asyncio.run(run(questions, args.repeats, args.cache_dir or Settings().cache_dir, args.corpus))
    print(f"{results['questions']} questions x {results['repeats']}; hits by their stored vector "
          f"{results['hits_by_stored_vector']}, embedded {results['hits_embedded']}")
    for case, figure in results["select_ms"].items():
        print(f"choosing sources, {case:<9} ms  p50 {figure['p50']:>8}  p95 {figure['p95']:>8}  (n {figure['n']})")
    figures = results["select_ms"]
    print(f"p50 embedded / stored: {figures['embedded']['p50'] / figures['stored']['p50']:.0f}x; "
          f"load average {results['load_average']}")
    write_json(args.out, results)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
