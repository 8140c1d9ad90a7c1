"""A fast stand-in for the HTTP evaluation: recorded search hits and served page texts, replayed through
select, rank and synthesize in process (seconds instead of a minute, same figures as the HTTP run)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from knowledge_agg import semantic
from knowledge_agg.analyze import analyze, read_as, respell
from knowledge_agg.models import Hit, Page
from knowledge_agg.providers.local import LocalProvider
from knowledge_agg.rank import rank_passages
from knowledge_agg.select import select_sources
from knowledge_agg.standin import excerpts
from knowledge_agg.synthesize import synthesize

from ._quality_eval import Outcome
from .quality_data import Article, Question, write_corpus

__all__ = ["write_trace", "replay"]


def write_trace(path: Path, outcomes: Sequence[Outcome], pages: dict[str, str]) -> Path:
    """Save each question's hits and the extracted text of every hit URL as JSON."""
    trace = {
        "hits": {o.question.id: [dataclasses.asdict(h) for h in o.hits] for o in outcomes},
        "pages": pages,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(trace), encoding="utf-8")
    return path


def replay(
    path: Path,
    articles: Sequence[Article],
    questions: Sequence[Question],
    *,
    max_words: int,
    max_sources: int = 5,
    max_per_domain: int = 2,
    flags: Mapping[str, bool] | None = None,
) -> list[Outcome]:
    """Run the later stages on a trace written by ``write_trace``, as the pipeline does over HTTP."""
    closeness = semantic.closeness if (flags or {}).get("semantic") else None
    trace = json.loads(path.read_text(encoding="utf-8"))
    texts = {a.id: a.text for a in articles}
    respelt = _respellings(articles, questions)
    outcomes = []
    for question in questions:
        started = time.perf_counter()
        analysis = analyze(question.text)
        hits = [_with_excerpts(_hit(h), texts, analysis.search_query) for h in trace["hits"].get(question.id, [])]
        searched = read_as(analysis, respelt.get(question.id, {}))
        sources = select_sources(
            hits, searched, max_sources=max_sources, max_per_domain=max_per_domain, closeness=closeness
        )
        pages = [Page(s, trace["pages"][s.hit.url], "extracted") for s in sources if trace["pages"].get(s.hit.url)]
        ranked_by, _ = respell(analysis, (p.text for p in pages))
        passages = rank_passages(pages, ranked_by, k=8)
        synthesis = synthesize(passages, sources, ranked_by, max_words=max_words)
        by_id = {p.source.id: p.text for p in pages}
        top = texts.get(sources[0].hit.url.rstrip("/").rsplit("/", 1)[-1], "") if sources else ""
        outcomes.append(
            Outcome(
                question=question,
                top_source=top,
                passages=tuple(p.text for p in passages),
                synthesis=tuple(pt.text for pt in synthesis.points),
                verbatim=tuple(all(pt.text in by_id[i] for i in pt.source_ids) for pt in synthesis.points),
                seconds=time.perf_counter() - started,
                hits=tuple(hits),
            )
        )
    return outcomes


def _respellings(articles: Sequence[Article], questions: Sequence[Question]) -> dict[str, dict[str, str]]:
    """What the stand-in's index respelt in each question's search (result events do not carry it)."""
    with tempfile.TemporaryDirectory(prefix="ka-replay-") as tmp:
        provider = LocalProvider(write_corpus(list(articles), Path(tmp) / "xquad.jsonl"), cache_dir=tmp)

        async def all_of_them() -> dict[str, dict[str, str]]:
            try:
                return {q.id: (await provider.search(analyze(q.text).search_query, count=1)).respelt for q in questions}
            finally:
                await provider.aclose()

        return asyncio.run(all_of_them())


def _with_excerpts(hit: Hit, texts: dict[str, str], query: str) -> Hit:
    """The hit with the extra snippets the stand-in served for it (the trace's result events do not carry them)."""
    text = texts.get(hit.url.rstrip("/").rsplit("/", 1)[-1])
    return dataclasses.replace(hit, extra_snippets=excerpts(text, query)) if text else hit


def _hit(data: dict[str, object]) -> Hit:
    data = dict(data)
    data["extra_snippets"] = tuple(data.get("extra_snippets") or ())  # type: ignore[arg-type]
    return Hit(**data)  # type: ignore[arg-type]
