"""Answer quality on SQuAD-format questions (XQuAD dev by default) plus the extraction F1, as one report.

Run: ``python -m benchmarks.quality [--set xquad|pydocs-qa] [--xquad PATH] [--extraction PATH] [--max-words 100] [--limit N]``.
Prints a table and writes ``benchmarks/results/quality.json`` (``quality-semantic.json`` with ``--flags semantic``,
which needs ``pip install -e '.[semantic]'``). ``--max-per-domain N`` lifts the client's
per-domain cap (the stand-in serves every article from one host, so the default cap of 2 keeps 2 sources
where the real web would give 5); ``--trace PATH`` records the HTTP run's hits and page texts, and
``--mode replay --trace PATH`` re-runs select, rank and synthesize on them in seconds.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._quality_eval import DirectPipeline, Outcome, summarize
from .data import EXTRACTION, XQUAD_DEV, relative
from .output import RESULTS, checked_flags, write_json
from .quality_data import load_squad

__all__ = ["main", "run_quality", "extraction_f1"]

#: The question sets this command scores; pydocs-qa hands over to ``benchmarks.pydocs_qa`` and its options.
_SETS = ("xquad", "pydocs-qa")
ROOT = Path(__file__).resolve().parents[1]
_OUT = RESULTS / "quality.json"

_LABELS = {
    "top_source": "answer in the top source",
    "top3_passages": "answer in the top 3 passages",
    "top8_passages": "answer in the top 8 passages",
    "synthesis": "answer in the synthesis (≤ {max_words} words)",
    "synthesis_words_mean": "synthesis length, mean words",
    "verbatim": "synthesis sentences verbatim in the cited source",
    "seconds_per_question": "time per question, s",
    "extraction_f1": "extraction F1",
}


def extraction_f1(path: Path) -> dict[str, Any] | None:
    """The project extractor's figures via ``benchmarks.extraction.score_extraction``; None when either is absent."""
    try:
        module = importlib.import_module("benchmarks.extraction")
    except ImportError:
        return None
    score = getattr(module, "score_extraction", None)
    if score is None or not (path / "ground-truth.json").exists():
        return None
    from knowledge_agg.extract import extract_text

    return {k: round(v, 4) if isinstance(v, float) else v for k, v in score(extract_text, path).items()}


def run_quality(
    xquad: Path,
    *,
    max_words: int,
    limit: int | None,
    mode: str,
    concurrency: int,
    max_per_domain: int | None = None,
    trace: Path | None = None,
    flags: Mapping[str, bool] | None = None,
) -> dict[str, Any]:
    """Run every question (or the first ``limit``) with the client's feature ``flags`` and return the figures."""
    articles, questions = load_squad(xquad)
    questions = questions[:limit] if limit else questions
    started = time.perf_counter()
    outcomes: list[Outcome]
    if mode == "direct":
        pipeline = DirectPipeline(articles, max_words=max_words)
        outcomes = [pipeline.run(q) for q in questions]
    elif mode == "replay":
        from ._quality_replay import replay

        if trace is None:
            raise ValueError("--mode replay needs --trace PATH (written by an http run with --trace)")
        cap = {} if max_per_domain is None else {"max_per_domain": max_per_domain}
        outcomes = replay(trace, articles, questions, max_words=max_words, flags=flags, **cap)
    else:
        from ._quality_replay import write_trace
        from .quality_http import run_over_http

        pages: dict[str, str] | None = {} if trace is not None else None
        outcomes = run_over_http(
            articles, questions, max_words=max_words, concurrency=concurrency,
            max_per_domain=max_per_domain, pages=pages, flags=flags,
        )
        if trace is not None and pages is not None:
            write_trace(trace, outcomes, pages)
    figures: dict[str, Any] = summarize(outcomes)
    figures["wall_seconds"] = round(time.perf_counter() - started, 2)
    return figures


def _table(figures: dict[str, Any], max_words: int) -> str:
    rows = []
    for key, label in _LABELS.items():
        if key in figures and figures[key] is not None:
            value = figures[key]
            unit = " %" if key in {"top_source", "top3_passages", "top8_passages", "synthesis", "verbatim"} else ""
            rows.append((label.format(max_words=max_words), f"{value}{unit}"))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"| {label:<{width}} | {value:>10} |" for label, value in rows)


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the evaluation, print the table and write the JSON report."""
    chooser = argparse.ArgumentParser(add_help=False)
    chooser.add_argument("--set", choices=_SETS, default="xquad")
    chosen, rest = chooser.parse_known_args(argv)
    if chosen.set == "pydocs-qa":
        from . import pydocs_qa

        return pydocs_qa.main(rest)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=_SETS, default="xquad",
                        help="xquad: this report; pydocs-qa: everyday Python questions (python -m benchmarks.pydocs_qa)")
    parser.add_argument("--xquad", type=Path, default=XQUAD_DEV)
    parser.add_argument("--extraction", type=Path, default=EXTRACTION)
    parser.add_argument("--max-words", type=int, default=100)
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--mode", choices=("http", "direct", "replay"), default="http",
                        help="http: the full pipeline against the Brave-compatible stand-in; direct: stage functions; "
                        "replay: select/rank/synthesize on a --trace recorded over http")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-per-domain", type=int, default=None,
                        help="sources allowed per domain (default: the settings' 2); every stand-in page is on one "
                        "host, so 5 (= max_sources) simulates distinct sites")
    parser.add_argument("--trace", type=Path, default=None,
                        help="http: write the hits and page texts here; replay: read them from here")
    parser.add_argument("--flags", default=None,
                        help="the client's feature flags, e.g. semantic (choose sources by meaning as well)")
    parser.add_argument("--output", type=Path, default=None,
                        help="default: benchmarks/results/quality.json, or quality-<flags>.json with --flags")
    args = parser.parse_args(argv)
    flags = checked_flags(args.flags)
    if flags is None:
        return 2
    if flags and args.mode == "direct":
        print("--flags needs --mode http or replay (direct mode calls the stage functions without them)", file=sys.stderr)
        return 2
    if args.output is None:
        slug = "-".join(name if on else f"no-{name}" for name, on in flags.items())
        args.output = RESULTS / f"quality-{slug}.json" if slug else _OUT
    if not args.xquad.exists():
        print(f"XQuAD file not found: {args.xquad} (pass --xquad PATH)", file=sys.stderr)
        return 2
    if args.mode == "replay" and (args.trace is None or not args.trace.exists()):
        print("--mode replay needs --trace PATH written by an http run (python -m benchmarks.quality --trace PATH)",
              file=sys.stderr)
        return 2
    figures = run_quality(
        args.xquad, max_words=args.max_words, limit=args.limit, mode=args.mode, concurrency=args.concurrency,
        max_per_domain=args.max_per_domain, trace=args.trace, flags=flags,
    )
    extraction = extraction_f1(args.extraction)
    figures["extraction_f1"] = None if extraction is None else extraction.get("f1")
    report = {
        "dataset": relative(args.xquad),
        "extraction_dataset": relative(args.extraction),
        "mode": args.mode,
        "max_words": args.max_words,
        "max_per_domain": args.max_per_domain,
        "flags": flags,
        "limit": args.limit,
        "python": platform.python_version(),
        "figures": figures,
        "extraction": extraction,
    }
    write_json(args.output, report)
    print(_table(figures, args.max_words))
    print(f"\n{figures['questions']} questions in {figures['wall_seconds']} s ({args.mode}); wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
