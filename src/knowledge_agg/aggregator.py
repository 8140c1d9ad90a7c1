"""``KnowledgeAggregator``: the one entry point that turns a query into a stream of events."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .pipeline import run_pipeline
from .settings import Settings

if TYPE_CHECKING:  # opened on a run's first need: the first event never waits for an HTTP client (or the store)
    from .events import Event
    from .fetch import Fetcher
    from .llm import AnswerWriter
    from .providers import SearchProvider
    from .run import Run
    from .started import Started
    from .store import RunStore

__all__ = ["KnowledgeAggregator", "EventStream", "ask"]

#: Every setting a provider is built from: a run that changes one of them gets a provider of its own.
_PROVIDER_KEYS = (
    "effective_provider",
    "corpus",
    "cache_dir",
    "search_timeout",
    "brave_base_url",
    "brave_rate_limit",
    "brave_max_retries",
    "brave_timeout",
    "brave_cache",
    "brave_cache_ttl",
    "brave_extra_snippets",
)
_FETCH_KEYS = (
    "allow_private_hosts",
    "fetch_max_bytes",
    "fetch_connect_timeout",
    "fetch_read_timeout",
    "fetch_total_timeout",
    "fetch_max_redirects",
    "fetch_per_host",
    "fetch_max_connections",
    "fetch_allow_hosts",
)
_WRITER_KEYS = ("llm_base_url", "llm_api_key", "llm_timeout", "llm_max_retries")


class KnowledgeAggregator:
    """Runs queries through the pipeline; owns the search providers and the page fetcher it creates.

    Nothing is opened in the constructor: providers and the HTTP client are made on first use and
    shared by every run until :meth:`aclose`.
    """

    def __init__(self, settings: Settings | None = None, *, provider: SearchProvider | None = None) -> None:
        self.settings = settings if settings is not None else Settings()
        self._given_provider = provider
        self._providers: dict[tuple[Any, ...], SearchProvider] = {}
        self._fetchers: dict[tuple[Any, ...], Fetcher] = {}
        self._writers: dict[tuple[Any, ...], AnswerWriter] = {}
        self._stores: dict[str, RunStore | None] = {}

    def stream(
        self, query: str, *, batch: str | None = None, started: Started | None = None, **options: Any
    ) -> EventStream:
        """An async iterator of the run's events; options override settings for this run only.

        Its ``run_id`` is known at once; the run store records it under that id (and ``batch``).
        ``started`` (for ``query``) is the run's clock and first event when the caller started them
        earlier, as the CLI does to print that event before this module is imported; else the run
        starts when it is first iterated.
        """
        settings = self.settings.override(**options)
        return EventStream(self, query, settings, options=options, batch=batch, started=started)

    async def run(self, query: str, **options: Any) -> Run:
        """Run to the end and return every event gathered in a :class:`Run`."""
        from .run import Run

        async with self.stream(query, **options) as events:
            run = Run(query, run_id=events.run_id)
            async for event in events:
                run.events.append(event)
        return run

    def run_store(self, settings: Settings | None = None) -> RunStore | None:
        """The run store these settings (default: the aggregator's) write to, or None when it is off."""
        settings = settings if settings is not None else self.settings
        if settings.store not in self._stores:
            opened = None
            if settings.keeps_runs:  # with the store off, its module is not even imported
                from .store import open_store

                opened = open_store(settings)
            self._stores[settings.store] = opened
        return self._stores[settings.store]

    def _provider(self, settings: Settings) -> SearchProvider:
        if self._given_provider is not None:
            return self._given_provider
        key = (*(getattr(settings, k) for k in _PROVIDER_KEYS), settings.brave_api_key, settings.flags["semantic"],
               settings.flags["static"])
        if key not in self._providers:
            from .providers import make_provider

            self._providers[key] = make_provider(settings)
        return self._providers[key]

    def _fetcher(self, settings: Settings) -> Fetcher:
        key = tuple(_hashable(getattr(settings, k)) for k in _FETCH_KEYS)
        if key not in self._fetchers:
            from .fetch import Fetcher

            self._fetchers[key] = Fetcher(settings)
        return self._fetchers[key]

    def _writer(self, settings: Settings) -> AnswerWriter | None:
        """The model client for a written answer (``answer="llm"``), shared by runs with the same endpoint."""
        if settings.answer != "llm":
            return None
        key = tuple(getattr(settings, k) for k in _WRITER_KEYS)
        if key not in self._writers:
            from .llm import AnswerWriter

            self._writers[key] = AnswerWriter(settings)
        return self._writers[key]

    async def aclose(self) -> None:
        """Close every provider and HTTP client this aggregator opened."""
        owned: list[SearchProvider | Fetcher | AnswerWriter] = [
            *self._providers.values(), *self._fetchers.values(), *self._writers.values()
        ]
        stores = [s for s in self._stores.values() if s is not None]
        self._providers.clear()
        self._fetchers.clear()
        self._writers.clear()
        self._stores.clear()
        await asyncio.gather(*(o.aclose() for o in owned), return_exceptions=True)
        for store in stores:  # commit what the runs queued
            await asyncio.to_thread(store.close)

    async def __aenter__(self) -> KnowledgeAggregator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class EventStream:
    """The events of one run; iterate it, or use it as an async context manager that closes it.

    ``__aiter__`` returns self; the first ``__anext__`` starts the work. Closing it (``aclose``,
    leaving ``async with``, or cancelling the consumer) cancels the run's page reads at once.
    """

    def __init__(
        self, aggregator: KnowledgeAggregator, query: str, settings: Settings, *,
        options: dict[str, Any] | None = None, batch: str | None = None, started: Started | None = None,
    ) -> None:
        if started is not None and started.query != query:
            raise ValueError("started belongs to another query")
        self.query = query
        self.settings = settings
        self.run_id = uuid.uuid4().hex
        self.batch = batch
        self._options = options or {}
        self._aggregator = aggregator
        self._started = started
        self._events: AsyncIterator[Event] | None = None
        self._closed = False

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        if self._closed:
            raise StopAsyncIteration
        if self._events is None:
            self._events = self._start()
        return await anext(self._events)

    def _start(self) -> AsyncIterator[Event]:
        agg, settings = self._aggregator, self.settings
        events = run_pipeline(
            self.query, settings, functools.partial(agg._provider, settings), functools.partial(agg._fetcher, settings),
            functools.partial(agg._writer, settings), self._started,
        )
        store = agg.run_store(settings)
        if store is not None:  # the one place runs are recorded, so every face's runs are
            from .store import public_options, record

            options = public_options(settings, self._options)
            events = record(events, store, self.run_id, self.query, options, self.batch)
        return events if settings.flags["streaming"] else _buffered(events)

    async def aclose(self) -> None:
        """Stop the run and release what it holds; safe to call twice or before it started."""
        self._closed = True
        if self._events is not None:
            await self._events.aclose()  # type: ignore[attr-defined]

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._events else "not started"
        return f"<EventStream {self.run_id} {self.query!r} {state}>"


async def _buffered(events: AsyncIterator[Event]) -> AsyncIterator[Event]:
    """With the ``streaming`` flag off: hold every event until the run is over."""
    try:
        held = [e async for e in events]
    finally:
        await events.aclose()  # type: ignore[attr-defined]
    for event in held:
        yield event


def ask(query: str, *, settings: Settings | None = None, **options: Any) -> Run:
    """Run a query to the end from synchronous code, in a plain script or inside a running loop."""
    from ._sync import run_sync

    async def main() -> Run:
        async with KnowledgeAggregator(settings) as agg:
            return await agg.run(query, **options)

    return run_sync(main())
