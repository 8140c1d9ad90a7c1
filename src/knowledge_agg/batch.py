"""``ask_many``: run many questions concurrently and analyse them together as one ``Batch``."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncGenerator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any, Literal

from ._plots import plot_distributions
from ._sync import run_sync
from .aggregator import KnowledgeAggregator
from .errors import KnowledgeAggError, require
from .events import Event
from .frames import frame, metrics_frame
from .run import Run
from .settings import Settings
from .store import HEARTBEAT, RunStore, open_store, public_options, record

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client
    from matplotlib.axes import Axes

__all__ = ["Batch", "Rerun", "ask_many", "ask_many_async"]

#: How many questions of a batch run at once unless told otherwise.
CONCURRENCY = 4
#: Which finished questions of a named batch run again: a cancelled or unfinished one always does.
Rerun = Literal["partial", "failed", "none"]
#: What a named batch re-runs unless told otherwise: the partial and the failed questions.
RERUN: Rerun = "partial"
_RERUN: dict[str, frozenset[str]] = {
    "partial": frozenset({"partial", "failed", "cancelled"}),
    "failed": frozenset({"failed", "cancelled"}),
    "none": frozenset({"cancelled"}),
}


@dataclass
class Batch:
    """The runs of a batch, in query order; ``errors[i]`` is why run ``i`` raised (``None`` if it did not)."""

    runs: list[Run] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)
    #: How many runs of a named batch were taken from the store instead of being run again.
    resumed: int = 0

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs)

    def __getitem__(self, index: int) -> Run:
        return self.runs[index]

    @property
    def queries(self) -> list[str]:
        return [run.query for run in self.runs]

    def results_df(self) -> pd.DataFrame:
        """Every run's search hits, with a ``query`` column."""
        return frame("results", self.runs)

    def sources_df(self) -> pd.DataFrame:
        """Every run's chosen sources, with a ``query`` column."""
        return frame("sources", self.runs)

    def passages_df(self) -> pd.DataFrame:
        """Every run's passages, with a ``query`` column."""
        return frame("passages", self.runs)

    def events_df(self) -> pd.DataFrame:
        """Every run's events, with a ``query`` column."""
        return frame("events", self.runs)

    def metrics_df(self) -> pd.DataFrame:
        """One row per query: partial or not, timings, counts and the error that stopped it, if any."""
        return metrics_frame(self.runs, self.errors)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Histograms of first-result and total time over the batch."""
        return plot_distributions(self.metrics_df(), ax=ax)

    def __repr__(self) -> str:
        failed = sum(e is not None for e in self.errors)
        partial = sum(run.partial for run in self.runs)
        resumed = f", {self.resumed} resumed" if self.resumed else ""
        return f"<Batch of {len(self)} queries: {partial} partial, {failed} failed{resumed}>"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(run.query)}</td><td>{len(run.results)}</td><td>{len(run.sources)}</td>"
            f"<td>{'partial' if run.partial else 'complete'}</td><td>{escape(err or '')}</td></tr>"
            for run, err in zip(self.runs, self.errors, strict=True)
        )
        head = "<tr><th>query</th><th>results</th><th>sources</th><th>state</th><th>error</th></tr>"
        return f"<div>{escape(repr(self))}</div><table><thead>{head}</thead><tbody>{rows}</tbody></table>"


def _query_list(queries: Any, column: str | None) -> list[str | None]:
    """The questions from a list, a Series, or a DataFrame (its ``column``, or its only column); ``None`` if missing."""
    columns = getattr(queries, "columns", None)
    if columns is not None:
        if column is None and len(columns) != 1:
            raise ValueError(f"pass column= to say which of {list(columns)} holds the questions")
        queries = queries[column if column is not None else columns[0]]
    if isinstance(queries, str):
        raise TypeError("ask_many takes a list of questions; for one question use knowledge_agg.ask")
    return [q if isinstance(q, str) else None if q is None or _is_nan(q) else str(q) for q in queries]


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


async def ask_many_async(
    queries: Iterable[str] | Any,
    concurrency: int = CONCURRENCY,
    *,
    column: str | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    batch: str | None = None,
    rerun: Rerun = RERUN,
    client: Client | str | None = None,
    **options: Any,
) -> Batch:
    """Run every question, at most ``concurrency`` at a time; a query that raises becomes an error row.

    With ``batch="name"`` the runs are recorded as that batch in the run store, and running the
    same batch again takes the questions already answered from the store: only the unfinished
    ones, and the finished ones ``rerun`` names (``partial``: partial and failed, ``failed``,
    ``none``), run again. A question another process is running is waited for, never run twice at once.

    With ``client`` (a ``distributed.Client``, a scheduler address, or ``"local"``) each question is a
    task on that Dask cluster instead, ``concurrency`` being the cluster's; see :mod:`knowledge_agg.cluster`.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if rerun not in _RERUN:
        raise ValueError(f"rerun must be one of {', '.join(_RERUN)}, not {rerun!r}")
    items = _query_list(queries, column)
    if client is not None:
        return await _on_cluster(items, client, settings, progress=progress, batch=batch, rerun=rerun, options=options)
    result = Batch([Run(q or "") for q in items], [None] * len(items))
    limit = asyncio.Semaphore(concurrency)
    async with KnowledgeAggregator(settings) as agg:
        store = agg.run_store(agg.settings.override(**options))  # an unknown option fails here, once
        named = _named_batch(store, batch, rerun)
        finished = await named.finished(items) if named else {}
        result.resumed = len({q for q in items if q in finished})
        bar = _progress_bar(items, finished, result.resumed, batch, progress)
        first: dict[str, int] = {}  # a question asked twice in one batch runs once

        async def one(i: int, query: str | None) -> None:
            async with limit:
                try:
                    if query is None:
                        raise ValueError(f"question {i} is missing")
                    if query in first:
                        return
                    first[query] = i
                    if named is None:
                        result.runs[i] = await agg.run(query, **options)
                    else:
                        result.runs[i], resumed = await named.run(agg, query, options)
                        result.resumed += resumed
                except Exception as exc:  # one bad query must not lose the batch
                    result.errors[i] = f"{type(exc).__name__}: {exc}"
                bar.update(1)

        try:
            for i, q in enumerate(items):
                if q is not None and q in finished:
                    result.runs[i] = finished[q]
            todo = [one(i, q) for i, q in enumerate(items) if q is None or q not in finished]
            beating = asyncio.ensure_future(named.beat()) if named else None
            try:
                await asyncio.gather(*todo)
            finally:
                if beating is not None:
                    beating.cancel()
            for i, q in enumerate(items):  # repeats share the first one's run
                if q is not None and q in first and first[q] != i:
                    result.runs[i], result.errors[i] = result.runs[first[q]], result.errors[first[q]]
        finally:
            bar.close()
    return result


class _Named:
    """A named batch's bookkeeping in the run store: what is done, claims, heartbeats."""

    def __init__(self, store: RunStore, name: str, rerun: frozenset[str]) -> None:
        self.store, self.name, self.rerun = store, name, rerun
        self.running: set[str] = set()

    async def finished(self, items: list[str | None]) -> dict[str, Run]:
        """The questions whose last run in this batch needs no re-run, with that run."""
        current = await asyncio.to_thread(self.store.batch_runs, self.name)
        wanted = {q: current[q] for q in items if q is not None and q in current}
        found: dict[str, Run] = {}
        for question, run_id in wanted.items():
            stored = await asyncio.to_thread(self.store.get, run_id)
            if stored is not None and stored.ended_at is not None and stored.status not in self.rerun:
                found[question] = await asyncio.to_thread(Run.load, run_id, self.store)
        return found

    async def run(self, agg: KnowledgeAggregator, query: str, options: dict[str, Any]) -> tuple[Run, int]:
        """Claim the question and run it (1: taken from the store after all; waits while another process runs it)."""
        while True:
            stream = agg.stream(query, batch=self.name, **options)
            claim = await asyncio.to_thread(self.store.claim, self.name, query, stream.run_id, rerun=self.rerun)
            if claim.action == "done":
                return await asyncio.to_thread(Run.load, claim.run_id, self.store), 1
            if claim.action == "run":
                break
            await asyncio.sleep(0.5)  # another process holds it: wait for its answer
        self.running.add(stream.run_id)
        try:
            async with stream:
                run = Run(query, run_id=stream.run_id)
                async for event in stream:
                    run.events.append(event)
            return run, 0
        finally:
            self.running.discard(stream.run_id)

    async def beat(self) -> None:
        """Keep this process's claims fresh while it runs them."""
        while True:
            await asyncio.sleep(HEARTBEAT)
            await asyncio.to_thread(self.store.heartbeat, self.name, sorted(self.running))


def ask_many(
    queries: Iterable[str] | Any,
    concurrency: int = CONCURRENCY,
    *,
    column: str | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    batch: str | None = None,
    rerun: Rerun = RERUN,
    client: Client | str | None = None,
    **options: Any,
) -> Batch:
    """Synchronous :func:`ask_many_async`, usable in a script and inside Jupyter's running loop."""
    return run_sync(
        ask_many_async(
            queries, concurrency, column=column, settings=settings, progress=progress, batch=batch, rerun=rerun,
            client=client, **options,
        )
    )


async def _on_cluster(
    items: list[str | None], client: Client | str, settings: Settings | None, *, progress: bool, batch: str | None,
    rerun: Rerun, options: dict[str, Any],
) -> Batch:
    """The batch on a Dask cluster: answers land in the batch, the bar and the run store as they complete."""
    from .cluster import as_answered, connect

    base = settings if settings is not None else Settings()
    run_settings = base.override(**options)  # an unknown option fails here, once
    store = open_store(run_settings)
    named = _named_batch(store, batch, rerun)
    try:
        finished = await named.finished(items) if named else {}
        result = Batch([finished.get(q or "", Run(q or "")) for q in items], [None] * len(items))
        result.resumed = sum(q in finished for q in items)
        todo = [(i, q) for i, q in enumerate(items) if q is None or q not in finished]
        dask_client, let_go = await asyncio.to_thread(connect, client)  # a wrong client fails before the bar shows
        bar = _progress_bar(items, finished, result.resumed, batch, progress)
        try:
            async with contextlib.aclosing(as_answered(todo, dask_client, run_settings)) as answers:
                async for i, run, error in answers:  # leaving early cancels the tasks not yet answered
                    if run is not None and store is not None:
                        run = await _keep(store, run, public_options(run_settings, options), named)
                    if run is not None:
                        result.runs[i] = run
                    result.errors[i] = error
                    bar.update(1)
        finally:
            bar.close()
            await asyncio.to_thread(let_go)
    finally:
        if store is not None:
            store.close()
    return result


def _named_batch(store: RunStore | None, batch: str | None, rerun: Rerun) -> _Named | None:
    """The named batch to resume from the store, or None for an unnamed one; a name needs the store."""
    if batch is None:
        return None
    if store is None:
        raise KnowledgeAggError(f"batch={batch!r} needs the run store, which is off (KNOWLEDGE_AGG_STORE=off)")
    return _Named(store, batch, _RERUN[rerun])


def _progress_bar(items: list[str | None], finished: Mapping[str, Run], resumed: int, batch: str | None,
                  progress: bool) -> Any:
    """The batch's tqdm bar, its answers from the store already counted."""
    tqdm = require("tqdm.auto", "notebook").tqdm
    desc = f"{batch} ({resumed} resumed)" if batch is not None else "queries"
    return tqdm(total=len(items), initial=sum(q in finished for q in items), desc=desc, disable=not progress)


async def _keep(store: RunStore, run: Run, options: dict[str, Any], named: _Named | None) -> Run:
    """Write a run that came back from a worker to the store (once: a named batch's question is claimed first)."""
    assert run.run_id is not None
    if named is not None:
        claim = await asyncio.to_thread(store.claim, named.name, run.query, run.run_id, rerun=named.rerun)
        if claim.action == "done":  # another process finished it meanwhile: keep that answer
            return await asyncio.to_thread(Run.load, claim.run_id, store)

    async def replay() -> AsyncGenerator[Event, None]:
        for event in run.events:
            yield event

    async for _ in record(replay(), store, run.run_id or "", run.query, options, named.name if named else None):
        pass
    return run
