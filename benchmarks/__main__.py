"""``python -m benchmarks``: the streaming benchmark (issue 6); ``--quick`` for a short pass, ``--out`` for where figures go.

``python -m benchmarks --issue-table [--code DIR] [--quick]`` prints issue 15's table instead (``benchmarks.issue_table``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import issue_table
from .data import EXTRACTION
from .output import RESULTS
from .streaming import BenchConfig, main


def _range(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition(",")
    return float(lo), float(hi or lo)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs and a sweep up to 50 (under a minute)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"folder for streaming.json and plots ({RESULTS})")
    parser.add_argument("--corpus", default="pydocs", help="the stand-in's corpus: 'pydocs', a folder or a .jsonl")
    parser.add_argument("--search-latency", type=_range, help="stand-in search latency range, seconds (0.25,0.4)")
    parser.add_argument("--page-latency", type=_range, help="stand-in page latency range, seconds (0.1,0.8)")
    parser.add_argument("--pages", choices=("generated", "real"), default="generated",
                        help="the stand-in's pages: generated HTML, or the extraction dataset's real pages")
    parser.add_argument("--levels", type=lambda s: tuple(int(x) for x in s.split(",")),
                        help="concurrency levels of the sweep (1,20,100,200)")
    parser.add_argument("--issue-table", action="store_true",
                        help="instead: issue 15's figures beside their targets and the previous commit's "
                             "(takes --code DIR, --quick, --out FILE; see benchmarks/issue_table.py)")
    return parser


if __name__ == "__main__":
    if "--issue-table" in sys.argv[1:]:
        sys.exit(issue_table.main([a for a in sys.argv[1:] if a != "--issue-table"]))
    args = _parser().parse_args()
    config = BenchConfig.quick() if args.quick else BenchConfig()
    config.corpus = args.corpus
    config.real_pages = EXTRACTION / "html" if args.pages == "real" else None
    for name in ("search_latency", "page_latency", "levels"):
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    sys.exit(main(config, args.out, "python -m benchmarks " + " ".join(sys.argv[1:])))
