"""``ask_many``: run many questions concurrently and analyse them together as one ``Batch``."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

from ._plots import plot_distributions
from ._sync import run_sync
from .aggregator import KnowledgeAggregator
from .errors import require
from .frames import frame, metrics_frame
from .run import Run
from .settings import Settings

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["Batch", "ask_many", "ask_many_async"]

#: How many questions of a batch run at once unless told otherwise.
CONCURRENCY = 4


@dataclass
class Batch:
    """The runs of a batch, in query order; ``errors[i]`` is why run ``i`` raised (``None`` if it did not)."""

    runs: list[Run] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)

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
        return f"<Batch of {len(self)} queries: {partial} partial, {failed} failed>"

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
    **options: Any,
) -> Batch:
    """Run every question, at most ``concurrency`` at a time; a query that raises becomes an error row."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    items = _query_list(queries, column)
    batch = Batch([Run(q or "") for q in items], [None] * len(items))
    bar = require("tqdm.auto", "notebook").tqdm(total=len(items), desc="queries", disable=not progress)
    limit = asyncio.Semaphore(concurrency)
    async with KnowledgeAggregator(settings) as agg:
        agg.settings.override(**options)  # an unknown option fails here, once

        async def one(i: int, query: str | None) -> None:
            async with limit:
                try:
                    if query is None:
                        raise ValueError(f"question {i} is missing")
                    batch.runs[i] = await agg.run(query, **options)
                except Exception as exc:  # one bad query must not lose the batch
                    batch.errors[i] = f"{type(exc).__name__}: {exc}"
                bar.update(1)

        try:
            await asyncio.gather(*(one(i, q) for i, q in enumerate(items)))
        finally:
            bar.close()
    return batch


def ask_many(
    queries: Iterable[str] | Any,
    concurrency: int = CONCURRENCY,
    *,
    column: str | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    **options: Any,
) -> Batch:
    """Synchronous :func:`ask_many_async`, usable in a script and inside Jupyter's running loop."""
    return run_sync(ask_many_async(queries, concurrency, column=column, settings=settings, progress=progress, **options))
