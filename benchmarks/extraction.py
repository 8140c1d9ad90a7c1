"""Score main-text extraction on the article-extraction benchmark and compare extractor variants.

Run: ``python -m benchmarks.extraction [--data PATH]``; prints a table and writes
``benchmarks/results/extraction.json``. The metric is the benchmark's own (see data/README.md):
4-token shingles, per-page tp/fp/fn normalised to sum to 1, precision and recall averaged over
pages, F1 from the two averages.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trafilatura

from knowledge_agg.decode import decode_text
from knowledge_agg.errors import KnowledgeAggError
from knowledge_agg.extract import cross_check, extract_text, main_text, readability_text

from .data import EXTRACTION, relative
from .output import RESULTS

__all__ = ["VARIANTS", "load_pages", "score_extraction", "shingle_match"]

Extractor = Callable[[str, str | None], str]
_RESULTS = RESULTS / "extraction.json"
_TOKEN = re.compile(r"\w+")


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + 4]) for i in range(max(1, len(tokens) - 3)) if tokens[i : i + 4])


def shingle_match(truth: str, prediction: str) -> tuple[float, float, float]:
    """tp, fp, fn over 4-token shingles, normalised to sum to 1 so long pages weigh no more."""
    gold, pred = _shingles(truth), _shingles(prediction)
    tp, fp, fn = sum((gold & pred).values()), sum((pred - gold).values()), sum((gold - pred).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    return 1.0 if fp == fn == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    return 1.0 if fp == fn == 0 else tp / (tp + fn)


def _mean(values: list[float]) -> float:
    return statistics.mean(values) if values else 0.0


def load_pages(data_dir: Path) -> list[tuple[str, str, str, str]]:
    """(key, html, url, gold text) for each page of a folder holding ``html/*.html.gz`` and ``ground-truth.json``."""
    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key, item in sorted(truth.items()):
        raw = gzip.decompress((data_dir / "html" / f"{key}.html.gz").read_bytes())
        pages.append((key, decode_text(raw, None), item.get("url", ""), item.get("articleBody", "")))
    return pages


def score_extraction(extract_fn: Extractor, data_dir: Path = EXTRACTION) -> dict[str, Any]:
    """F1, precision, recall, ms/page (wall) and CPU ms p50 of ``extract_fn(html, url)`` over the pages in ``data_dir``."""
    matches, times, cpu = [], [], []
    for _, html, url, gold in load_pages(data_dir):
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            prediction = extract_fn(html, url)
        except KnowledgeAggError:
            prediction = ""
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
        matches.append(shingle_match(gold, prediction))
    precision = _mean([_precision(*m) for m in matches if m[0] + m[1] > 0])
    recall = _mean([_recall(*m) for m in matches if m[0] + m[2] > 0])
    return {
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "precision": precision,
        "recall": recall,
        "pages": len(matches),
        "ms_per_page": 1000 * sum(times) / max(1, len(matches)),
        "ms_p50": 1000 * statistics.median(times) if times else 0.0,
        # CPU time of this process: what other jobs on a shared machine take from the wall time, it keeps
        "cpu_ms_p50": 1000 * statistics.median(cpu) if cpu else 0.0,
    }


def _trafilatura(**options: Any) -> Extractor:
    return lambda html, url: trafilatura.extract(html, url=url, **options) or ""


def _fallback_when_short(html: str, url: str | None) -> str:
    main, alt = main_text(html, url), readability_text(html)
    return alt if len(main.split()) < 0.5 * len(alt.split()) else main


VARIANTS: dict[str, Extractor] = {
    "trafilatura default": _trafilatura(),
    "trafilatura favor_precision": _trafilatura(favor_precision=True),
    "trafilatura favor_recall": _trafilatura(favor_recall=True),
    "trafilatura no comments": _trafilatura(include_comments=False),
    "trafilatura precision, no comments": main_text,
    "  + no tables": _trafilatura(favor_precision=True, include_comments=False, include_tables=False),
    "  + fast (no internal fallbacks)": _trafilatura(favor_precision=True, include_comments=False, fast=True),
    "trafilatura baseline()": lambda html, url: trafilatura.baseline(html)[1],
    "readability-lxml": lambda html, url: readability_text(html),
    "precision + readability when short": _fallback_when_short,
    "precision + readability cross-check": lambda html, url: cross_check(main_text(html, url), readability_text(html)),
    "fast + readability cross-check": lambda html, url: cross_check(main_text(html, url, fast=True),
                                                                   readability_text(html)),
    "extract_text (shipped)": extract_text,
}


def main(argv: list[str] | None = None) -> None:
    """Score every variant, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=EXTRACTION, help="folder with html/*.html.gz and ground-truth.json")
    parser.add_argument("--out", type=Path, default=_RESULTS)
    parser.add_argument("--only", help="score only the variants whose name contains this text")
    args = parser.parse_args(argv)
    rows = {}
    print(f"{'variant':<38} {'F1':>6} {'prec':>6} {'recall':>6} {'ms/page':>8} {'ms p50':>7} {'CPU ms p50':>10}")
    for name, fn in VARIANTS.items():
        if args.only and args.only not in name:
            continue
        rows[name] = score_extraction(fn, args.data)
        r = rows[name]
        scores = f"{r['f1']:6.4f} {r['precision']:6.4f} {r['recall']:6.4f}"
        print(f"{name:<38} {scores} {r['ms_per_page']:8.1f} {r['ms_p50']:7.1f} {r['cpu_ms_p50']:10.1f}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"data": relative(args.data), "variants": rows}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
