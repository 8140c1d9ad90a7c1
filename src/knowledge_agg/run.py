"""``Run``: a finished run's events, with the views users ask for (results, sources, synthesis, …)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import KnowledgeAggError
from .events import (
    AnalysisEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    PassageEvent,
    ResultEvent,
    SourceInfo,
    SourcesEvent,
    SynthesisEvent,
    SynthesisPoint,
    parse_event,
)
from .settings import Settings
from .store import RunStore, open_store

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["Run"]


@dataclass
class Run:
    """Everything one run emitted, in order; the DataFrame views live in ``knowledge_agg.frames``."""

    query: str
    events: list[Event] = field(default_factory=list)
    run_id: str | None = None

    @classmethod
    def load(cls, run_id: str, store: str | Path | RunStore | None = None) -> Run:
        """A run from the run store (``store``: a store or its file; default the configured one), events re-parsed."""
        found = store if isinstance(store, RunStore) else RunStore(store) if store is not None else open_store(Settings())
        if found is None:
            raise KnowledgeAggError("the run store is off (KNOWLEDGE_AGG_STORE=off): no run can be loaded")
        stored = found.get(run_id)
        if stored is None:
            raise KnowledgeAggError(f"no run {run_id!r} in the run store {found.path}")
        return cls(stored.query, found.events(run_id), run_id=run_id)

    @property
    def analysis(self) -> AnalysisEvent | None:
        return next((e for e in self.events if isinstance(e, AnalysisEvent)), None)

    @property
    def results(self) -> list[ResultEvent]:
        return [e for e in self.events if isinstance(e, ResultEvent)]

    @property
    def sources(self) -> list[SourceInfo]:
        found = [e for e in self.events if isinstance(e, SourcesEvent)]
        return list(found[-1].sources) if found else []

    @property
    def passages(self) -> list[PassageEvent]:
        return [e for e in self.events if isinstance(e, PassageEvent)]

    @property
    def synthesis(self) -> SynthesisEvent | None:
        return next((e for e in self.events if isinstance(e, SynthesisEvent)), None)

    @property
    def unsupported(self) -> list[SynthesisPoint]:
        """The synthesis' sentences that their cited passages do not support."""
        return [p for p in (self.synthesis.points if self.synthesis else []) if not p.supported]

    @property
    def errors(self) -> list[ErrorEvent]:
        return [e for e in self.events if isinstance(e, ErrorEvent)]

    @property
    def done(self) -> DoneEvent | None:
        last = self.events[-1] if self.events else None
        return last if isinstance(last, DoneEvent) else None

    @property
    def partial(self) -> bool:
        """True when the run lost something (or never finished)."""
        return self.done.partial if self.done else True

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.done.metrics) if self.done else {}

    @property
    def answer(self) -> str:
        """The synthesis text ("" when the run ended before synthesis)."""
        return self.synthesis.text if self.synthesis else ""

    def to_dicts(self) -> list[dict[str, Any]]:
        """The events as JSON-ready dicts, in order."""
        return [e.to_dict() for e in self.events]

    @classmethod
    def from_dicts(cls, query: str, events: Sequence[dict[str, Any]]) -> Run:
        """Rebuild a run from its events' dicts (e.g. a ``/v1/answer`` response)."""
        return cls(query, [parse_event(e) for e in events])

    def __repr__(self) -> str:
        m = self.metrics
        return (
            f"<Run {self.query!r}: {len(self.results)} results, {len(self.sources)} sources, "
            f"{len(self.passages)} passages, {len(self.errors)} errors, "
            f"{'partial' if self.partial else 'complete'}, {m.get('total_ms', 0):.0f} ms>"
        )

    def results_df(self) -> pd.DataFrame:
        """The search hits as a DataFrame (see ``knowledge_agg.frames.results_frame``)."""
        from .frames import results_frame

        return results_frame(self)

    def sources_df(self) -> pd.DataFrame:
        """The chosen sources as a DataFrame (see ``knowledge_agg.frames.sources_frame``)."""
        from .frames import sources_frame

        return sources_frame(self)

    def passages_df(self) -> pd.DataFrame:
        """The ranked passages as a DataFrame (see ``knowledge_agg.frames.passages_frame``)."""
        from .frames import passages_frame

        return passages_frame(self)

    def points_df(self) -> pd.DataFrame:
        """The synthesis' sentences with their citation check (see ``knowledge_agg.frames.points_frame``)."""
        from .frames import points_frame

        return points_frame(self)

    def events_df(self) -> pd.DataFrame:
        """Every event as a DataFrame row (see ``knowledge_agg.frames.events_frame``)."""
        from .frames import events_frame

        return events_frame(self)

    def plot_timeline(self, ax: Axes | None = None) -> Axes:
        """A matplotlib chart of when each event arrived, by stage."""
        from ._plots import plot_timeline

        return plot_timeline(self, ax=ax)

    def _repr_html_(self) -> str:
        from ._render import run_html

        return run_html(self)
