"""What choosing sources from the local index's pool costs (issue 14, the ``pool`` flag).

Run: ``python -m benchmarks.pool_cost [--flags static=on] [--cold 5]``. The sources step is timed on each
run's own clock, from its last result event to its sources event (the pool's search, 100 deep, and the
selection over it happen there, after the results are out). Warm: every pydocs-qa dev question in one
process, the flag off and on alternated question by question (content fetch and synthesis off, so the
runs stop after the sources). Cold: the first run of fresh processes, off and on alternated. Prints a
table and writes ``benchmarks/results/pool_cost.json`` (``pool_cost-<flags>.json`` with ``--flags``).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from knowledge_agg import KnowledgeAggregator, Run
from knowledge_agg.events import ResultEvent, SourcesEvent

from .data import PYDOCS_QA_DEV
from .output import RESULTS, checked_flags, write_json
from .pydocs_qa import load_questions
from .report import summary

__all__ = ["main", "step_ms"]

#: The flags every timed run sets: it stops after its sources.
_QUIET = "content_fetch=off,synthesis=off"


def step_ms(run: Run) -> float | None:
    """Milliseconds from the run's last result event to its sources event (``None`` without both)."""
    results = [e.t_ms for e in run.events if isinstance(e, ResultEvent)]
    sources = [e.t_ms for e in run.events if isinstance(e, SourcesEvent)]
    return round(sources[0] - results[-1], 3) if results and sources else None


def _flags(extra: str, pool: bool) -> str:
    return ",".join(part for part in (_QUIET, extra, f"pool={'on' if pool else 'off'}") if part)


async def _warm(questions: list[str], extra: str) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"off": [], "on": []}
    async with KnowledgeAggregator() as agg:
        await agg.run(questions[0], provider="local", flags=_flags(extra, True))  # index open, table read
        for question in questions:
            for label in ("off", "on"):
                run = await agg.run(question, provider="local", flags=_flags(extra, label == "on"))
                if (ms := step_ms(run)) is not None:
                    times[label].append(ms)
    return times


_COLD = """
import asyncio, sys
from knowledge_agg import KnowledgeAggregator
from benchmarks.pool_cost import step_ms
async def main():
    async with KnowledgeAggregator() as agg:
        print(step_ms(await agg.run(sys.argv[1], provider="local", flags=sys.argv[2])))
asyncio.run(main())
"""


def _cold(question: str, extra: str, repeats: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(repeats):
        for label in ("off", "on"):
            out = subprocess.run([sys.executable, "-c", _COLD, question, _flags(extra, label == "on")],
                                 capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
            value = out.stdout.strip().splitlines()[-1]
            if value != "None":
                times[label].append(float(value))
    return times


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Time the sources step with the pool flag off and on; print the table and write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pool_cost", description=__doc__)
    parser.add_argument("--flags", default="", help="other flags for every run, e.g. static=on or semantic")
    parser.add_argument("--cold", type=int, default=5, help="fresh processes per setting (default 5)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N dev questions (warm)")
    parser.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/pool_cost[-<flags>].json")
    args = parser.parse_args(argv)
    if checked_flags(args.flags) is None:
        raise SystemExit(2)
    questions = [q.question for q in load_questions(PYDOCS_QA_DEV)][: args.limit]
    warm = asyncio.run(_warm(questions, args.flags))
    cold = _cold(questions[0], args.flags, args.cold)
    figures = {
        f"{kind} {label}": summary(values)
        for kind, times in (("warm", warm), ("cold", cold)) for label, values in times.items()
    }
    print(f"sources step (last result -> sources event), ms; flags {_flags(args.flags, True)!r} against pool=off")
    print(f"{'':10} {'n':>4} {'p50':>8} {'p95':>8} {'max':>8}")
    for name, s in figures.items():
        print(f"{name:10} {s['n']:>4} {s['p50']!s:>8} {s['p95']!s:>8} {s['max']!s:>8}")
    out = {"flags": args.flags, "questions": len(questions), "cold_question": questions[0], "sources_step_ms": figures}
    suffix = f"-{args.flags.replace('=', '_').replace(',', '-')}" if args.flags else ""
    write_json(args.out or RESULTS / f"pool_cost{suffix}.json", out)
    return out


if __name__ == "__main__":
    main()
