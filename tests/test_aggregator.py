"""The aggregator end to end: event order, failures kept as events, and clean shutdown in every exit path."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from benchmarks.data import BRAVE_FIXTURES
from knowledge_agg import KnowledgeAggregator, OptionError, ProviderError, Settings, ask
from knowledge_agg.events import METRICS, TIMINGS, DoneEvent, ErrorEvent, StatusEvent
from knowledge_agg.models import Hit
from knowledge_agg.providers import Notify
from tests.helpers.servers import serve

DOCS = [
    {
        "id": "agen",
        "title": "Asynchronous generators",
        "text": "An asynchronous generator is a function defined with async def that contains yield. "
        "Calling it returns an asynchronous generator iterator. "
        "The iterator is driven with async for, which awaits its __anext__ method. "
        "Its aclose method throws GeneratorExit into the generator so finally blocks run.",
    },
    {
        "id": "tasks",
        "title": "Tasks",
        "text": "Tasks schedule coroutines concurrently on the event loop. "
        "Cancelling a task raises CancelledError inside the coroutine it wraps.",
    },
    {"id": "bread", "title": "Bread", "text": "Bread is made from flour, water, salt and yeast."},
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in DOCS), encoding="utf-8")
    return path


@pytest.fixture
def local(corpus: Path) -> Settings:
    return Settings(provider="local", corpus=str(corpus))


async def test_events_arrive_in_pipeline_order_and_cite_real_text(local: Settings) -> None:
    async with KnowledgeAggregator(local) as agg:
        run = await agg.run("How do asynchronous generators work?")
    types = [e.type for e in run.events]
    assert types[0] == "status" and types[-1] == "done"
    assert [e.seq for e in run.events] == list(range(len(run.events)))
    assert all(a.t_ms <= b.t_ms for a, b in itertools.pairwise(run.events))
    order = [types.index(t) for t in ("analysis", "result", "sources", "passage", "synthesis", "done")]
    assert order == sorted(order)
    assert run.results[0].title == "Asynchronous generators"
    assert not run.partial and run.errors == []
    texts = {d["title"]: d["text"] for d in DOCS}
    ids = {s.id: s for s in run.sources}
    assert run.synthesis is not None and run.synthesis.points
    for point in run.synthesis.points:
        assert point.source_ids and all(i in ids for i in point.source_ids)
        assert any(point.text in texts[ids[i].title] for i in point.source_ids)
    assert re.search(r"\[\d+\]", run.synthesis.text)
    m = run.metrics
    assert tuple(m) == METRICS
    timings = [m[k] for k in TIMINGS]  # every stage was reached, in order
    assert None not in timings and timings == sorted(timings)
    assert (m["results"], m["sources"], m["passages"], m["errors"]) == (
        len(run.results), len(run.sources), len(run.passages), 0)


async def test_stream_is_lazy_and_its_own_iterator(local: Settings) -> None:
    agg = KnowledgeAggregator(local)
    stream = agg.stream("asynchronous generators")
    assert stream.__aiter__() is stream
    assert agg._providers == {} and agg._fetchers == {}  # nothing opened before the first __anext__
    first = await stream.__anext__()
    assert isinstance(first, StatusEvent) and first.stage == "started" and first.seq == 0
    await stream.aclose()
    await stream.aclose()  # twice is fine
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    await agg.aclose()


@pytest.mark.parametrize("query", ["", "   \n\t", "x" * 5000])
async def test_refused_query_is_an_error_event_then_done(local: Settings, query: str) -> None:
    async with KnowledgeAggregator(local) as agg:
        run = await agg.run(query)
    assert [e.type for e in run.events][-2:] == ["status", "done"]
    (err,) = run.errors
    assert err.kind == "invalid_query" and not err.recoverable and err.stage == "analyzing"
    assert run.partial


def test_unknown_option_is_refused_before_any_work(local: Settings) -> None:
    agg = KnowledgeAggregator(local)
    with pytest.raises(OptionError, match="bogus"):
        agg.stream("q", bogus=1)
    with pytest.raises(OptionError, match="max_sources"):
        agg.stream("q", max_sources=0)


async def test_flags_per_run(local: Settings) -> None:
    async with KnowledgeAggregator(local) as agg:
        plain = await agg.run("asynchronous generator", flags="synthesis=off,memory_tracking=on")
        buffered = await agg.run("asynchronous generator", flags={"streaming": False})
    assert plain.synthesis is None and "synthesis" not in [e.type for e in plain.events]
    assert isinstance(plain.metrics["peak_memory_bytes"], int) and plain.metrics["peak_memory_bytes"] > 0
    assert [e.type for e in buffered.events][-1] == "done" and buffered.synthesis is not None


async def test_skipped_corpus_lines_are_a_recoverable_error_beside_the_results(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join([json.dumps(DOCS[0]), "{broken", json.dumps(DOCS[1])]), encoding="utf-8")
    async with KnowledgeAggregator(Settings(provider="local", corpus=str(path))) as agg:
        run = await agg.run("How do asynchronous generators work?")
    (err,) = run.errors
    assert (err.stage, err.kind, err.recoverable) == ("searching", "corpus_lines_skipped", True)
    assert "1 line skipped; the first is line 2" in err.message
    assert run.results and run.synthesis is not None and run.synthesis.points and run.partial


async def test_no_relevant_sources_is_a_first_class_outcome(local: Settings) -> None:
    async with KnowledgeAggregator(local) as agg:
        run = await agg.run("quantum chromodynamics lattice")
    assert run.synthesis is not None and run.synthesis.points == []
    assert "no relevant sources" in run.synthesis.text.lower()
    assert run.done is not None


# --- web pages over loopback: failures, and shutdown in every exit path ---


class _PagesProvider:
    """A provider whose hits are pages on a loopback server (the shape web results have)."""

    name = "web"

    def __init__(self, base: str, paths: list[str], fail: Exception | None = None) -> None:
        self.base, self.paths, self.fail = base, paths, fail
        self.notes = ["rate limited, retrying in 0.0 s"]

    async def search(self, query: str, *, count: int, notify: Notify | None = None) -> list[Hit]:
        for note in self.notes:
            if notify:
                notify(note)
        if self.fail:
            raise self.fail
        return [
            Hit(rank=i, title=f"Generators page {i}", url=f"{self.base}{p}", snippet="async generators yield values",
                provider=self.name, domain=f"site{i}.test")
            for i, p in enumerate(self.paths, start=1)
        ]

    async def document(self, hit: Hit) -> str | None:
        return None

    async def aclose(self) -> None:
        pass


_ARTICLE = (
    "<html><head><title>Generators</title></head><body><nav>Home | About</nav><article><h1>Generators</h1>"
    "<p>An asynchronous generator yields values to an async for loop, one await at a time. "
    "Closing an asynchronous generator runs its finally blocks so resources are released.</p>"
    "<p>Generators keep their local state between values, which makes streaming pipelines simple to write.</p>"
    "</article><footer>Copyright</footer></body></html>"
)


async def _page(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind == "slow":
        await asyncio.sleep(30)
    if kind == "broken":
        return Response("upstream failed", status_code=500)
    return HTMLResponse(_ARTICLE)


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    with serve(Starlette(routes=[Route("/p/{kind}", _page)])) as url:
        yield url


def _web(base: str, paths: list[str], **kw: object) -> KnowledgeAggregator:
    settings = Settings(allow_private_hosts=True, max_per_domain=5, fetch_total_timeout=5, fetch_read_timeout=5)
    return KnowledgeAggregator(settings, provider=_PagesProvider(base, paths, **kw))  # type: ignore[arg-type]


def _other_tasks() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_a_failing_page_is_an_error_and_the_rest_is_kept(pages: str) -> None:
    async with _web(pages, ["/p/ok", "/p/broken", "/p/ok2"]) as agg:
        run = await agg.run("how do async generators work")
    errors = [e for e in run.events if isinstance(e, ErrorEvent)]
    assert [e.url for e in errors] == [f"{pages}/p/broken"] and errors[0].stage == "fetching"
    assert run.partial and len(run.sources) == 3
    assert {p.source_id for p in run.passages} >= {1, 3}
    assert run.synthesis is not None and run.synthesis.points
    retry_notes = [e for e in run.events if isinstance(e, StatusEvent) and "retrying" in e.message]
    assert retry_notes and retry_notes[0].stage == "searching"


async def test_a_failing_search_ends_in_done_partial(pages: str) -> None:
    async with _web(pages, [], fail=ProviderError("search service unavailable", retryable=True)) as agg:
        run = await agg.run("async generators")
    (err,) = run.errors
    assert err.stage == "searching" and "unavailable" in err.message
    assert isinstance(run.events[-1], DoneEvent) and run.partial


async def _consume_until_fetching(stream: object) -> None:
    async for event in stream:  # type: ignore[attr-defined]
        if isinstance(event, StatusEvent) and event.stage == "fetching":
            return


@pytest.mark.parametrize("exit_path", ["break", "exception", "cancel", "anyio_scope"])
async def test_leaving_early_cancels_every_task_and_closes_every_client(pages: str, exit_path: str) -> None:
    agg = _web(pages, ["/p/slow", "/p/slow2", "/p/slow3"])
    if exit_path == "break":
        stream = agg.stream("async generators")
        await _consume_until_fetching(stream)
        await stream.aclose()
    elif exit_path == "exception":
        with pytest.raises(RuntimeError, match="consumer failed"):
            async with agg.stream("async generators") as stream:
                await _consume_until_fetching(stream)
                raise RuntimeError("consumer failed")
    elif exit_path == "anyio_scope":  # anyio (Starlette, sse-starlette) cancels again at every await
        async with anyio.create_task_group() as tg:
            async def consume_in_group() -> None:
                async with agg.stream("async generators") as stream:
                    async for _ in stream:
                        pass

            tg.start_soon(consume_in_group)
            await asyncio.sleep(0.5)
            tg.cancel_scope.cancel()
    else:
        async def consume() -> None:
            async with agg.stream("async generators") as stream:
                async for _ in stream:
                    pass

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.5)  # the slow pages are being read now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await asyncio.wait_for(agg.aclose(), 5)
    await asyncio.sleep(0)
    assert _other_tasks() == set()
    gc.collect()  # an unclosed client or response would now raise ResourceWarning (an error in this suite)


async def test_break_without_aclose_is_finalised(pages: str) -> None:
    agg = _web(pages, ["/p/slow"])
    async for event in agg.stream("async generators"):
        if isinstance(event, StatusEvent) and event.stage == "fetching":
            break
    gc.collect()
    for _ in range(20):  # the loop's async-generator finaliser closes the abandoned run
        if not _other_tasks():
            break
        await asyncio.sleep(0.05)
    await agg.aclose()
    assert _other_tasks() == set()


async def test_sync_ask_inside_a_running_loop(local: Settings) -> None:
    run = ask("asynchronous generators", settings=local)  # we are inside pytest-asyncio's loop
    assert run.done is not None and run.results


# --- per-run options reach a provider the aggregator already holds ---


class _BraveLike:
    """A loopback server in Brave's response format that records each request's query parameters."""

    def __init__(self) -> None:
        self.params: list[dict[str, str]] = []
        self.fail = False
        self.delay = 0.0
        self.app = Starlette(routes=[Route("/res/v1/web/search", self._search)])

    async def _search(self, request: Request) -> Response:
        self.params.append(dict(request.query_params))
        await asyncio.sleep(self.delay)
        if self.fail:
            error = {"id": "1", "status": 503, "code": "SERVICE_UNAVAILABLE", "detail": "try again", "meta": {}}
            return Response(json.dumps({"type": "ErrorResponse", "error": error}), 503, media_type="application/json")
        return Response((BRAVE_FIXTURES / "web_hello_world.json").read_bytes(), media_type="application/json")


@pytest.fixture
def brave_like() -> Iterator[tuple[_BraveLike, str]]:
    server = _BraveLike()
    with serve(server.app) as url:
        yield server, url


def _brave_settings(url: str) -> Settings:
    return Settings(
        provider="brave", brave_api_key="k", brave_base_url=url, brave_rate_limit=100, brave_cache=False,
        allow_private_hosts=True, flags="content_fetch=off,synthesis=off",
    )


async def test_per_run_extra_snippets_reach_the_held_provider(brave_like: tuple[_BraveLike, str]) -> None:
    server, url = brave_like
    async with KnowledgeAggregator(_brave_settings(url)) as agg:
        await agg.run("hello world")
        await agg.run("hello world", brave_extra_snippets=True)
    assert "extra_snippets" not in server.params[0]
    assert server.params[1].get("extra_snippets") == "true"


async def test_per_run_retries_reach_the_held_provider(brave_like: tuple[_BraveLike, str]) -> None:
    server, url = brave_like
    server.fail = True
    async with KnowledgeAggregator(_brave_settings(url).override(brave_max_retries=0)) as agg:
        first = await agg.run("hello world")
        asked = len(server.params)
        second = await agg.run("hello world", brave_max_retries=1)
    assert first.errors and second.errors
    assert asked == 1 and len(server.params) - asked == 2


async def test_web_hits_have_no_pool_so_the_pool_flag_leaves_their_sources_alone(
    brave_like: tuple[_BraveLike, str],
) -> None:
    _, url = brave_like
    async with KnowledgeAggregator(_brave_settings(url)) as agg:
        without = await agg.run("hello world")
        with_pool = await agg.run("hello world", flags="content_fetch=off,synthesis=off,pool=on")
    assert without.sources and not with_pool.errors
    assert [(s.url, s.reason) for s in with_pool.sources] == [(s.url, s.reason) for s in without.sources]


class _SlowSearch(_PagesProvider):
    async def search(self, query: str, *, count: int, notify: Notify | None = None) -> list[Hit]:
        await asyncio.sleep(30)
        return []


async def test_a_search_past_its_time_is_a_timeout(pages: str) -> None:
    settings = Settings(search_timeout=0.2)
    async with KnowledgeAggregator(settings, provider=_SlowSearch(pages, [])) as agg:  # type: ignore[arg-type]
        run = await agg.run("async generators")
    (err,) = run.errors
    assert (err.stage, err.kind, err.recoverable) == ("searching", "timeout", True)
    assert "0.2 s" in err.message and run.partial


# --- Ctrl-C (or Jupyter's stop button) during a synchronous ask() ---


@contextlib.contextmanager
def _sigint_after(seconds: float) -> Iterator[None]:
    """Deliver SIGINT to the main thread after ``seconds``, as Ctrl-C or a kernel interrupt does."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(seconds, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("where", ["script", "notebook"])
def test_interrupting_ask_stops_the_run_promptly(brave_like: tuple[_BraveLike, str], where: str) -> None:
    server, url = brave_like
    server.delay = 30  # the search would hold the run for 30 s
    settings = _brave_settings(url).override(brave_timeout=60, search_timeout=60)

    async def cell() -> object:  # a notebook cell: synchronous code inside the kernel's running loop
        return ask("hello world", settings=settings)

    before = set(threading.enumerate())  # an earlier test's index may still be making its vectors
    started = time.monotonic()
    with _sigint_after(1.0), pytest.raises(KeyboardInterrupt):
        if where == "script":
            ask("hello world", settings=settings)
        else:
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(cell())
            finally:
                loop.close()
    assert time.monotonic() - started < 10
    assert server.params  # the search had started when the interrupt came
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("knowledge-agg")]
