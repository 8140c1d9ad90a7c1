"""Everyday Python questions (issue 14): does the offline default find the page that answers, and say the answer?

Run: ``python -m benchmarks.pydocs_qa [--flags semantic] [--limit N] [--max-words 120]`` (also reachable
as ``python -m benchmarks.quality --set pydocs-qa``). Every question of ``data/pydocs-qa/dev.jsonl`` goes
through the public API (``KnowledgeAggregator.run(q, provider="local")``, the default pydocs corpus); per
question it scores a gold page first among the sources, among the sources, among the results, and the
answer phrase in the passages and in the synthesis, matching pages by title or URL (never an internal
id). Prints totals and per-kind figures and writes ``benchmarks/results/pydocs_qa.json``
(``pydocs_qa-<flags>.json`` with ``--flags``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from knowledge_agg import KnowledgeAggregator, Run

from .data import PYDOCS_QA_DEV, relative
from .output import RESULTS, checked_flags, write_json

__all__ = [
    "ANSWER_METRICS",
    "DATASET",
    "KINDS",
    "METRICS",
    "QAQuestion",
    "add_arguments",
    "is_gold",
    "load_questions",
    "main",
    "normalize_phrase",
    "run_from_args",
    "run_questions",
    "score_run",
    "summarize",
    "synthesis_body",
    "table",
    "verbatim",
]

DATASET = PYDOCS_QA_DEV
_OUT = RESULTS / "pydocs_qa.json"

#: The question kinds of the dev set, in the order the table shows them.
KINDS = ("howto", "error", "what", "difference", "sloppy")
#: Each per-question figure and its label in the table.
METRICS = {
    "first_source": "a gold page is the first source",
    "in_sources": "a gold page among the sources",
    "in_results": "a gold page among the results",
    "answer_in_passages": "the answer phrase in the passages",
    "answer_in_synthesis": "the answer phrase in the synthesis",
    "verbatim": "every synthesis sentence verbatim in a passage of a source it cites",
}

_QUOTES = re.compile(r"""["'`*\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00ab\u00bb]""")
#: Where ``synthesize`` starts the numbered source list after the cited sentences.
_SOURCES_MARK = "\n\nSources:\n"


@dataclass(frozen=True, slots=True)
class QAQuestion:
    """One dev question: its text, kind, the answer phrase and the pages (titles, URLs) that answer it."""

    id: str
    question: str
    kind: str
    answer: str
    gold_titles: tuple[str, ...]
    gold_urls: tuple[str, ...]


def load_questions(path: Path) -> list[QAQuestion]:
    """The questions of a pydocs-qa JSONL file, in file order (``gold_doc_ids`` are ignored on purpose)."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(QAQuestion(
                id=str(row["id"]), question=row["question"], kind=row["kind"], answer=row["answer"],
                gold_titles=tuple(row["gold_titles"]), gold_urls=tuple(row["gold_urls"]),
            ))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a pydocs-qa question ({exc!r})") from exc
    return questions


def normalize_phrase(text: str) -> str:
    """Lower-cased, quote marks and ``*`` dropped, whitespace collapsed: how answer phrases are compared."""
    return " ".join(_QUOTES.sub("", text.lower()).split())


def synthesis_body(text: str) -> str:
    """The synthesis text before its source list (the list repeats titles, which would count as answers)."""
    return text.split(_SOURCES_MARK, 1)[0]


def is_gold(title: str, url: str, question: QAQuestion) -> bool:
    """Whether a page with this title or URL is one of the question's gold pages.

    A search-page URL (``…/search.html?q=…``) names no one page (every section of a reference topic
    shared one before issue 14), so it never counts as a match by URL; the title still does.
    """
    if title in question.gold_titles:
        return True
    return url in question.gold_urls and urlsplit(url).path.rsplit("/", 1)[-1] != "search.html"


def score_run(question: QAQuestion, run: Run) -> dict[str, bool]:
    """The per-question figures of one finished run."""
    answer = normalize_phrase(question.answer)
    sources = run.sources
    passages = normalize_phrase("\n".join(p.text for p in run.passages))
    return {
        "first_source": bool(sources) and is_gold(sources[0].title, sources[0].url, question),
        "in_sources": any(is_gold(s.title, s.url, question) for s in sources),
        "in_results": any(is_gold(r.title, r.url, question) for r in run.results),
        "answer_in_passages": bool(answer) and answer in passages,
        "answer_in_synthesis": bool(answer) and answer in normalize_phrase(synthesis_body(run.answer)),
        "verbatim": verbatim(run),
    }


def verbatim(run: Run) -> bool:
    """Whether each synthesis point is copied word for word from a passage of a source it cites."""
    points = run.synthesis.points if run.synthesis else []
    return all(
        any(point.text in p.text for p in run.passages if p.source_id in point.source_ids) for point in points
    )


#: The figures that need the question's answer phrase: a set without phrases (the held-out one) has none.
ANSWER_METRICS = ("answer_in_passages", "answer_in_synthesis")


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Shares in per cent of each metric, over all rows (``"all"``) and per kind; ``n`` is the row count.

    The answer-phrase figures count only the rows whose question has a phrase (``has_answer``, true when
    missing), and are ``None`` where no row has one: 0 % would claim a miss that was never measured."""
    groups: dict[str, list[Mapping[str, Any]]] = {"all": list(rows)}
    for kind in KINDS:
        groups[kind] = [r for r in rows if r["kind"] == kind]
    for row in rows:  # a kind the dev set may add later still gets its column
        groups.setdefault(row["kind"], [r for r in rows if r["kind"] == row["kind"]])
    summary: dict[str, dict[str, float | None]] = {}
    for name, members in groups.items():
        figures: dict[str, float | None] = {"n": len(members)}
        for metric in METRICS:
            counted = [r for r in members if r.get("has_answer", True)] if metric in ANSWER_METRICS else members
            figures[metric] = (
                round(100.0 * sum(bool(r[metric]) for r in counted) / len(counted), 1)
                if counted else None if members else 0.0
            )
        summary[name] = figures
    return summary


async def _run_all(
    questions: Sequence[QAQuestion], options: Mapping[str, Any], concurrency: int
) -> list[tuple[QAQuestion, Run, float]]:
    gate = asyncio.Semaphore(concurrency)
    async with KnowledgeAggregator() as agg:

        async def one(question: QAQuestion) -> tuple[QAQuestion, Run, float]:
            async with gate:
                started = time.perf_counter()
                run = await agg.run(question.question, **options)
                return question, run, time.perf_counter() - started

        return list(await asyncio.gather(*(one(q) for q in questions)))


def run_questions(
    questions: Sequence[QAQuestion], *, flags: Mapping[str, bool] | None = None,
    max_words: int | None = None, concurrency: int = 4,
) -> list[dict[str, Any]]:
    """Ask every question offline and return one row per question: its figures, sources and synthesis."""
    options: dict[str, Any] = {"provider": "local", "corpus": "pydocs"}
    if flags:
        options["flags"] = dict(flags)
    if max_words is not None:
        options["max_words"] = max_words
    rows = []
    for question, run, seconds in asyncio.run(_run_all(questions, options, concurrency)):
        rows.append({
            "id": question.id, "kind": question.kind, "question": question.question,
            **score_run(question, run),
            "has_answer": bool(question.answer),
            "gold_titles": list(question.gold_titles),
            "sources": [s.title for s in run.sources],
            "synthesis": synthesis_body(run.answer),
            "errors": [e.message for e in run.errors],
            "seconds": round(seconds, 3),
        })
    return rows


def table(summary: Mapping[str, Mapping[str, float | None]]) -> str:
    """A Markdown table: one row per metric, one column for all questions and one per kind (— where a
    figure was not measured)."""
    columns = list(summary)
    head = "| figure | " + " | ".join(f"{c} ({int(summary[c]['n'] or 0)})" for c in columns) + " |"
    lines = [head, "|---" * (len(columns) + 1) + "|"]
    for metric, label in METRICS.items():
        cells = ["—" if (v := summary[c][metric]) is None else f"{v:.1f} %" for c in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pydocs_qa", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """This benchmark's options (shared with ``benchmarks.quality --set pydocs-qa``)."""
    parser.add_argument("--dataset", type=Path, default=DATASET, help=f"the questions (default {DATASET})")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--max-words", type=int, default=None, help="synthesis word budget (default: settings')")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--flags", default=None, help="the client's feature flags, e.g. semantic")
    parser.add_argument("--output", type=Path, default=None,
                        help="default: benchmarks/results/pydocs_qa.json; another --dataset adds its name and "
                             "--flags theirs (pydocs_qa-heldout-semantic.json)")


def run_from_args(args: argparse.Namespace) -> int:
    """Run the benchmark for parsed options: print the table, write the JSON; 2 with a one-line error."""
    flags = checked_flags(args.flags)
    if flags is None:
        return 2
    if not args.dataset.exists():
        print(f"pydocs-qa questions not found: {args.dataset} (pass --dataset PATH)", file=sys.stderr)
        return 2
    try:
        questions = load_questions(args.dataset)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    questions = questions[: args.limit] if args.limit else questions
    if args.output is None:
        parts = [] if args.dataset.resolve() == DATASET.resolve() else [args.dataset.stem]
        parts += [name if on else f"no-{name}" for name, on in flags.items()]
        args.output = RESULTS / f"pydocs_qa-{'-'.join(parts)}.json" if parts else _OUT
    started = time.perf_counter()
    rows = run_questions(questions, flags=flags, max_words=args.max_words, concurrency=args.concurrency)
    summary = summarize(rows)
    report = {
        "dataset": relative(args.dataset),
        "flags": flags,
        "max_words": args.max_words,
        "limit": args.limit,
        "python": platform.python_version(),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "summary": summary,
        "questions": rows,
    }
    write_json(args.output, report, indent=1)
    print(table(summary))
    print(f"\n{len(rows)} questions in {report['wall_seconds']} s; wrote {args.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the benchmark."""
    return run_from_args(_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
