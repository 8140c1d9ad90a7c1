"""One run of the pipeline as an async generator of events: analyze → search → select → read → rank → synthesize.

Each stage is a plain function in its own module; this module only orders them, times them and
turns what they do (or how they fail) into events. It runs in the consumer's task, so leaving the
loop, an exception or a cancellation unwinds it through ``finally`` and cancels its page reads.
"""

from __future__ import annotations

import asyncio
import functools
import tracemalloc
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from . import _warm
from ._recorder import PROGRESS, Recorder
from .errors import KnowledgeAggError, ProviderError
from .events import (
    AnalysisEvent,
    Event,
    PassageEvent,
    ResultEvent,
    SourceInfo,
    SourcesEvent,
    Stage,
    SynthesisDeltaEvent,
    SynthesisEvent,
)
from .models import Analysis, Hit, Hits, Page, Passage, Source
from .started import Started

if TYPE_CHECKING:  # the stages and their libraries are imported after the first event is out
    from .fetch import Fetcher
    from .llm import AnswerWriter
    from .providers import SearchProvider
    from .settings import Settings
    from .synthesize import Synthesis

__all__ = ["run_pipeline"]


async def run_pipeline(
    query: str,
    settings: Settings,
    provider: Callable[[], SearchProvider],
    fetcher: Callable[[], Fetcher],
    writer: Callable[[], AnswerWriter | None],
    started: Started | None = None,
) -> AsyncGenerator[Event, None]:
    """Yield the events of one run; ``done`` always comes last, whatever failed before it.

    ``provider``, ``fetcher`` and ``writer`` are called when the run first needs them, so the first event goes
    out before any HTTP client, index or extractor is imported or opened. ``writer`` gives the model client
    that writes the answer when ``settings.answer`` is ``"llm"``; without one the synthesis is extractive.
    ``started`` is the run's clock and first event when its caller started them earlier (the CLI), else now.
    """
    started = started if started is not None else Started.now(query)
    rec = Recorder(started.clock)
    tracking = settings.flags["memory_tracking"]
    started_tracing = tracking and not tracemalloc.is_tracing()
    if started_tracing:
        tracemalloc.start()
    elif tracking:
        tracemalloc.reset_peak()
    try:
        yield rec.first(started)
        try:
            async with aclosing(_stages(query, settings, provider, fetcher, writer, rec)) as events:
                async for event in events:
                    yield event
        except Exception as exc:  # a bug in a stage still ends the run with done
            yield rec.error(rec.stage, exc)
        peak = tracemalloc.get_traced_memory()[1] if tracking else None
        yield rec.status("done", "finished")
        yield rec.done(peak)
    finally:
        if started_tracing:
            tracemalloc.stop()


async def _stages(
    query: str,
    settings: Settings,
    open_provider: Callable[[], SearchProvider],
    open_fetcher: Callable[[], Fetcher],
    open_writer: Callable[[], AnswerWriter | None],
    rec: Recorder,
) -> AsyncGenerator[Event, None]:
    yield rec.status("analyzing", "reading the question")
    from . import semantic
    from .analyze import analyze, read_as, respell
    from .flags import check_extras

    # the later stages' modules are imported while the search is in flight, not on the way to it
    page_stages = ("fetch", "workers", "extract") if settings.flags["content_fetch"] else ()
    later = ("select", *page_stages, "rank", "synthesize")
    _warm.defer(*(f"{__package__}.{name}" for name in later))

    try:
        analysis = analyze(query, max_chars=settings.max_query_chars)
    except KnowledgeAggError as exc:
        yield rec.error("analyzing", exc)
        return
    yield rec.make(AnalysisEvent, kind=analysis.kind, terms=list(analysis.terms), search_query=analysis.search_query)
    try:  # before the search, so a missing extra loses nothing
        check_extras(settings.flags)
        if settings.answer == "llm" and settings.flags["synthesis"]:
            from . import llm

            llm.check()
    except KnowledgeAggError as exc:
        yield rec.error("analyzing", exc)
        return
    try:
        provider = open_provider()
    except KnowledgeAggError as exc:  # no key, no index: the run cannot go on
        yield rec.error("searching", exc, fatal=True)
        return

    yield rec.status("searching", f"searching {provider.name} for {analysis.search_query!r}")
    hits: list[Hit] = []
    async with aclosing(_search(provider, analysis, settings)) as found:
        async for item in found:
            if isinstance(item, str):
                yield rec.status("searching", item)
            elif isinstance(item, BaseException):
                yield rec.error("searching", item)
            else:
                hits = item
    for problem in hits.problems if isinstance(hits, Hits) else ():
        yield rec.error("searching", problem)
    for hit in hits:
        result = rec.make(
            ResultEvent, rank=hit.rank, title=hit.title, url=hit.url, snippet=hit.snippet,
            domain=hit.domain, age=hit.age, provider=hit.provider,
        )
        rec.marks.setdefault("first_result_ms", result.t_ms)
        rec.counts["results"] += 1
        yield result
    _warm.resume()  # the results are out: the later stages' imports may go on while the pages are read
    if not hits:
        async for event in _synthesis([], [], analysis, settings, open_writer, rec):
            yield event
        return

    yield rec.status("selecting", f"choosing sources among {len(hits)} results")
    from .rank import rank_passages
    from .select import select_sources

    searched = read_as(analysis, hits.respelt) if isinstance(hits, Hits) else analysis
    closeness: semantic.Closeness | None = None
    candidates: Sequence[Hit] = hits
    if settings.flags["semantic"]:
        try:  # after the results went out (by words): the first run of a process waits here for the model
            await asyncio.to_thread(semantic.load)
            stored = hits.vectors if isinstance(hits, Hits) else None  # the local index's: only the question is embedded
            closeness = semantic.closeness if stored is None else functools.partial(semantic.closeness, stored=stored)
        except Exception as exc:  # a broken install: say so and choose by words, keeping the results
            failed = KnowledgeAggError(f"the semantic model did not load ({exc}); choosing sources by their words")
            yield rec.error("selecting", failed)
        if closeness is not None and isinstance(hits, Hits) and hits.meaning is not None:
            try:  # the index's ranking by words and meaning, which the sources are chosen from
                fused = await asyncio.to_thread(hits.meaning)
            except KnowledgeAggError as exc:  # choose among the results, which are kept
                yield rec.error("selecting", exc)
            else:
                if fused is None:
                    yield rec.status("selecting", "choosing sources by words alone until the documents' vectors are "
                                     "made (in the background, once per index build)")
                else:
                    candidates = fused
    pool: list[Hit] = []
    further = candidates.pool if isinstance(candidates, Hits) else None
    if settings.flags["pool"] and further is not None:
        try:  # the index's further candidates, searched now that the results are out
            pool = await asyncio.to_thread(further)
        except KnowledgeAggError as exc:  # choose among the results, which are kept
            yield rec.error("selecting", exc)
    choose = functools.partial(
        select_sources, candidates, searched,
        max_sources=settings.max_sources, max_per_domain=settings.max_per_domain, closeness=closeness, pool=pool,
        results=None if candidates is hits else hits,
    )
    sources = await asyncio.to_thread(choose) if closeness else choose()  # the model takes ~15 ms: off the loop
    chosen = rec.make(SourcesEvent, sources=[_source_info(s) for s in sources])
    rec.marks["source_select_ms"] = chosen.t_ms
    rec.counts["sources"] = len(sources)
    yield chosen

    pages: list[Page] = []
    async with aclosing(_read_all(sources, settings, provider, open_fetcher, rec)) as read:
        async for item in read:
            if isinstance(item, Page):
                pages.append(item)
            else:
                yield item

    yield rec.status("ranking", f"ranking passages from {len(pages)} sources")
    analysis, respelt = respell(analysis, (p.text for p in pages))
    for typed, reading in respelt.items():
        yield rec.status("ranking", f"no source has {typed!r}: reading it as {reading!r}")
    passages = rank_passages(pages, analysis, k=settings.max_passages)
    del pages  # page text is no longer needed: passages hold what synthesis uses
    rec.counts["passages"] = len(passages)
    for p in passages:
        yield rec.make(PassageEvent, source_id=p.source_id, url=p.url, text=p.text, score=p.score)

    async with aclosing(_synthesis(passages, sources, analysis, settings, open_writer, rec)) as written:
        async for event in written:
            yield event


async def _synthesis(
    passages: list[Passage],
    sources: list[Source],
    analysis: Analysis,
    settings: Settings,
    open_writer: Callable[[], AnswerWriter | None],
    rec: Recorder,
) -> AsyncGenerator[Event, None]:
    """The synthesis stage's events (none with the flag off): the written answer when asked for and
    possible, else (or when the model fails, after its ``error`` event) the extractive summary."""
    if not settings.flags["synthesis"]:
        return
    writer = open_writer() if settings.answer == "llm" and passages else None
    if writer is not None:
        from . import llm

        yield rec.status("synthesizing", f"asking {settings.llm_model} for a written answer")
        result: Synthesis | None = None
        try:
            async with aclosing(llm.write_answer(writer, analysis.query, passages, sources, settings)) as parts:
                async for part in parts:
                    if isinstance(part, llm.Delta):
                        rec.marks.setdefault("first_token_ms", round((part.at - rec.start) * 1000, 3))
                        delta = rec.make(SynthesisDeltaEvent, text=part.text)
                        rec.marks.setdefault("first_delta_ms", delta.t_ms)
                        yield delta
                    else:
                        result = part
        except Exception as exc:
            yield rec.error("synthesizing", exc)
        if result is not None:
            yield _synthesis_event(result, rec)
            return
    yield rec.status("synthesizing", "writing a cited summary")
    from .synthesize import synthesize

    yield _synthesis_event(synthesize(passages, sources, analysis, max_words=settings.max_words), rec)


def _synthesis_event(result: Synthesis, rec: Recorder) -> Event:
    synthesis = rec.make(SynthesisEvent, text=result.text, points=result.points)
    rec.marks["synthesis_ms"] = synthesis.t_ms
    return synthesis


def _source_info(s: Source) -> SourceInfo:
    return SourceInfo(id=s.id, url=s.hit.url, title=s.hit.title, domain=s.hit.domain, score=round(s.score, 4), reason=s.reason)


async def _search(provider: SearchProvider, analysis: Analysis, settings: Settings) -> AsyncGenerator[Any, None]:
    """Run the search, yielding the provider's progress notes live, then the hits or the exception."""
    notes: asyncio.Queue[str] = asyncio.Queue(maxsize=100)

    def notify(message: str) -> None:
        if not notes.full():
            notes.put_nowait(message)

    async def search() -> list[Hit]:
        async with asyncio.timeout(settings.search_timeout):
            return await provider.search(analysis.search_query, count=settings.max_results, notify=notify)

    task = asyncio.ensure_future(search())
    try:
        while not task.done():
            getter = asyncio.ensure_future(notes.get())
            try:
                await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                getter.cancel()
            if getter.done() and not getter.cancelled():
                yield getter.result()
        while not notes.empty():
            yield notes.get_nowait()
        try:
            yield task.result()
        except TimeoutError:
            yield ProviderError(
                f"search took longer than {settings.search_timeout:g} s and was stopped", kind="timeout", retryable=True
            )
        except (KnowledgeAggError, OSError) as exc:
            yield exc
    finally:
        task.cancel()
        await _settle([task])


async def _read_all(
    sources: list[Source], settings: Settings, provider: SearchProvider, open_fetcher: Callable[[], Fetcher],
    rec: Recorder,
) -> AsyncGenerator[Event | Page, None]:
    """Read every source concurrently; yield each page (or its error and a snippet stand-in) as it lands."""
    fetch = settings.flags["content_fetch"]
    yield rec.status("fetching", f"reading {len(sources)} sources" if fetch else "content fetch is off: using snippets")
    fetcher = functools.cache(open_fetcher)  # opened by the first source that is not in the provider's index
    from . import workers

    extract_workers = workers.pool_size(settings.extract_workers)
    with workers.running():  # two runs reading at once in this process move extraction to worker processes
        tasks = [asyncio.ensure_future(_read(s, provider, fetcher, fetch, extract_workers)) for s in sources]
        try:
            for i, next_done in enumerate(asyncio.as_completed(tasks), start=1):
                source, page, exc = await next_done
                if exc is not None:
                    stage: Stage = "extracting" if isinstance(exc, _EmptyExtraction) else "fetching"
                    yield rec.error(stage, exc, url=source.hit.url)
                if page is not None:
                    yield page
                progress = PROGRESS["fetching"] + (PROGRESS["extracting"] - PROGRESS["fetching"]) * i / len(tasks)
                yield rec.status("fetching", f"read {i} of {len(tasks)}: {source.hit.title}", round(progress, 3))
        finally:
            for t in tasks:
                t.cancel()
            await _settle(tasks)


async def _settle(tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Wait until cancelled tasks have finished their own cleanup (closing responses), even when
    our caller is cancelled again meanwhile — anyio cancels repeatedly — then pass that cancel on."""
    gathered = asyncio.gather(*tasks, return_exceptions=True)
    cancelled = False
    while not gathered.done():
        try:
            await asyncio.shield(gathered)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


async def _read(
    source: Source, provider: SearchProvider, fetcher: Callable[[], Fetcher], fetch: bool, extract_workers: int,
) -> tuple[Source, Page | None, BaseException | None]:
    """One source's text: from the provider, or fetched and extracted; the snippet when that fails."""
    hit = source.hit
    if not fetch:
        return source, _snippet_page(source), None
    try:
        if hit.doc_id is not None:
            text = await provider.document(hit)
            if text:
                return source, Page(source, text, "local"), None
            raise KnowledgeAggError(f"document {hit.doc_id!r} is no longer in the index")
        fetched = await fetcher().fetch(hit.url)
        from . import workers

        text = await workers.extract(fetched.body, fetched.charset, fetched.final_url, extract_workers)
        del fetched  # drop the raw HTML as soon as its text is out
        if text.strip():
            return source, Page(source, text, "extracted"), None
        raise _EmptyExtraction(f"no readable text on {hit.url}; using the search snippet instead")
    except Exception as exc:  # any failure of one source is that source's error, not the run's
        return source, _snippet_page(source), exc


class _EmptyExtraction(KnowledgeAggError):
    kind = "extraction_empty"


def _snippet_page(source: Source) -> Page | None:
    text = " ".join(t for t in (source.hit.snippet, *source.hit.extra_snippets) if t)
    return Page(source, text, "snippet") if text else None
