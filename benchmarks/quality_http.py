"""The evaluation over real HTTP: the corpus served by the Brave-compatible stand-in, the full pipeline as client."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from knowledge_agg.aggregator import KnowledgeAggregator
from knowledge_agg.events import PassageEvent, ResultEvent, SourcesEvent, SynthesisEvent
from knowledge_agg.extract import extract_text
from knowledge_agg.models import Hit
from knowledge_agg.server import launch
from knowledge_agg.settings import Settings

from ._quality_eval import Outcome
from .quality_data import Article, Question, write_corpus

__all__ = ["run_over_http"]

_KEY = "quality-benchmark-key"


def run_over_http(
    articles: Sequence[Article],
    questions: Sequence[Question],
    *,
    max_words: int,
    concurrency: int,
    max_per_domain: int | None = None,
    pages: dict[str, str] | None = None,
    flags: Mapping[str, bool] | None = None,
) -> list[Outcome]:
    """Serve ``articles`` as a stand-in corpus on a loopback port and run every question through it.

    ``max_per_domain`` overrides the client's per-domain cap (every stand-in page is on one host);
    ``pages``, when given, is filled with the extracted text of every URL any question's search returned;
    ``flags`` are the client's feature flags (``"semantic"``).
    """
    with tempfile.TemporaryDirectory(prefix="ka-quality-") as tmp:
        root = Path(tmp)
        corpus = write_corpus(list(articles), root / "xquad.jsonl")
        server = Settings(provider="local", corpus=str(corpus), cache_dir=root / "server")
        standin = {"standin_keys": [_KEY], "standin_rate_per_second": 0, "standin_quota_per_month": 0}
        with launch(0, settings=server, max_concurrent_runs=max(1, concurrency), **standin) as handle:
            client = Settings(
                provider="brave", brave_api_key=_KEY, brave_base_url=handle.url, brave_cache=False,
                brave_rate_limit=10_000.0, brave_extra_snippets=True, allow_private_hosts=True, max_words=max_words,
                cache_dir=root / "client",
                flags=dict(flags or {}),
                **({} if max_per_domain is None else {"max_per_domain": max_per_domain}),
            )
            return asyncio.run(_run_all(client, articles, questions, concurrency, pages))


async def _run_all(
    settings: Settings,
    articles: Sequence[Article],
    questions: Sequence[Question],
    concurrency: int,
    pages: dict[str, str] | None,
) -> list[Outcome]:
    texts = {a.id: a.text for a in articles}
    extracted: dict[str, str] = {}
    gate = asyncio.Semaphore(concurrency)
    async with KnowledgeAggregator(settings) as aggregator, httpx.AsyncClient(timeout=30.0) as http:

        async def one(question: Question) -> Outcome:
            async with gate:
                return await _ask(aggregator, http, question, texts, extracted)

        outcomes = list(await asyncio.gather(*(one(q) for q in questions)))
        if pages is not None:
            for url in dict.fromkeys(h.url for o in outcomes for h in o.hits):
                pages[url] = await _page_text(http, url, extracted)
        return outcomes


async def _page_text(http: httpx.AsyncClient, url: str, cache: dict[str, str]) -> str:
    """The text the pipeline's extractor finds in the served page at ``url`` (what a citation must match)."""
    if url not in cache:
        try:
            response = await http.get(url)
        except httpx.RemoteProtocolError:  # a kept-alive connection the server closed as we reused it
            response = await http.get(url)
        response.raise_for_status()
        cache[url] = await asyncio.to_thread(extract_text, response.text, str(response.url))
    return cache[url]


async def _ask(
    aggregator: KnowledgeAggregator,
    http: httpx.AsyncClient,
    question: Question,
    texts: dict[str, str],
    extracted: dict[str, str],
) -> Outcome:
    started = time.perf_counter()
    urls: dict[int, str] = {}
    passages: list[str] = []
    points: list[tuple[str, list[int]]] = []
    hits: list[Hit] = []
    async with aggregator.stream(question.text) as events:
        async for event in events:
            if isinstance(event, ResultEvent):
                hits.append(Hit(event.rank, event.title, event.url, event.snippet, event.provider, event.domain, event.age))
            elif isinstance(event, SourcesEvent):
                urls = {s.id: s.url for s in event.sources}
            elif isinstance(event, PassageEvent):
                passages.append(event.text)
            elif isinstance(event, SynthesisEvent):
                points = [(p.text, p.source_ids) for p in event.points]
    seconds = time.perf_counter() - started
    top = texts.get(urls[1].rstrip("/").rsplit("/", 1)[-1], "") if 1 in urls else ""
    verbatim = []
    for text, source_ids in points:
        pages = [await _page_text(http, urls[i], extracted) for i in source_ids if i in urls]
        verbatim.append(bool(pages) and len(pages) == len(source_ids) and all(text in page for page in pages))
    return Outcome(
        question=question,
        top_source=top,
        passages=tuple(passages),
        synthesis=tuple(text for text, _ in points),
        verbatim=tuple(verbatim),
        seconds=seconds,
        hits=tuple(hits),
    )
