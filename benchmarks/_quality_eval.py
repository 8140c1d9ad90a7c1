"""Per-question outcomes of the quality evaluation and the figures computed from them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from knowledge_agg.analyze import analyze
from knowledge_agg.models import Hit, Page
from knowledge_agg.rank import BM25, query_terms, rank_passages
from knowledge_agg.select import select_sources
from knowledge_agg.synthesize import synthesize
from knowledge_agg.text import tokenize, word_count

from .quality_data import Article, Question, contains_answer

__all__ = ["Outcome", "summarize", "DirectPipeline"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one question's run produced, reduced to the texts that are scored."""

    question: Question
    top_source: str
    passages: tuple[str, ...]
    synthesis: tuple[str, ...]
    verbatim: tuple[bool, ...]
    seconds: float
    #: The search hits the run saw (recorded over HTTP so ``_quality_replay`` can re-run the later stages).
    hits: tuple[Hit, ...] = ()


def summarize(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """The report's figures (shares in per cent) over ``outcomes``."""
    n = len(outcomes) or 1

    def share(hits: int, total: int) -> float:
        return round(100.0 * hits / total, 2) if total else 0.0

    def answered(texts: list[str], o: Outcome) -> bool:
        return contains_answer("\n".join(texts), o.question.answers)

    sentences = [v for o in outcomes for v in o.verbatim]
    return {
        "questions": len(outcomes),
        "top_source": share(sum(answered([o.top_source], o) for o in outcomes), n),
        "top3_passages": share(sum(answered(list(o.passages[:3]), o) for o in outcomes), n),
        "top8_passages": share(sum(answered(list(o.passages[:8]), o) for o in outcomes), n),
        "synthesis": share(sum(answered(list(o.synthesis), o) for o in outcomes), n),
        "synthesis_words_mean": round(sum(word_count(" ".join(o.synthesis)) for o in outcomes) / n, 1),
        "synthesis_words_max": max((word_count(" ".join(o.synthesis)) for o in outcomes), default=0),
        "verbatim": share(sum(sentences), len(sentences)) if sentences else 100.0,
        "seconds_per_question": round(sum(o.seconds for o in outcomes) / n, 4),
    }


class DirectPipeline:
    """The stages called in process: BM25 over whole articles, then select, rank and synthesize.

    Hits carry no snippet: a fixed article opening is not query-biased like a search engine's, and
    selection would read it as evidence.
    """

    def __init__(self, articles: Sequence[Article], *, max_words: int, max_sources: int = 5) -> None:
        self._articles = list(articles)
        self._index = BM25([tokenize(f"{a.title}\n{a.text}") for a in self._articles])
        self._max_words = max_words
        self._max_sources = max_sources

    def run(self, question: Question) -> Outcome:
        """Answer one question through the stage functions and record the scored texts."""
        started = time.perf_counter()
        analysis = analyze(question.text)
        scores = self._index.scores(query_terms(analysis))
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[: self._max_sources * 2]
        hits = [
            Hit(rank=r, title=self._articles[i].title, url=f"doc://{self._articles[i].id}",
                snippet="", provider="direct", doc_id=self._articles[i].id)
            for r, i in enumerate(order, start=1)
        ]
        sources = select_sources(hits, analysis, max_sources=self._max_sources)
        by_id = {a.id: a for a in self._articles}
        pages = [Page(source=s, text=by_id[s.hit.doc_id or ""].text, method="local") for s in sources]
        passages = rank_passages(pages, analysis, k=8)
        synthesis = synthesize(passages, sources, analysis, max_words=self._max_words)
        texts = {p.source.id: p.text for p in pages}
        verbatim = tuple(all(pt.text in texts[i] for i in pt.source_ids) for pt in synthesis.points)
        return Outcome(
            question=question,
            top_source=pages[0].text if pages else "",
            passages=tuple(p.text for p in passages),
            synthesis=tuple(pt.text for pt in synthesis.points),
            verbatim=verbatim,
            seconds=time.perf_counter() - started,
        )
