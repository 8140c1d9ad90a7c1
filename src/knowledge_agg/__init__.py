"""knowledge_agg: a question in, a stream of knowledge out — results, sources, passages, a cited synthesis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .aggregator import EventStream, KnowledgeAggregator, ask
from .errors import (
    FetchError,
    FlagError,
    KnowledgeAggError,
    MissingDependency,
    OptionError,
    ProviderError,
    QueryError,
)
from .events import (
    AnalysisEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    PassageEvent,
    ResultEvent,
    SourcesEvent,
    StatusEvent,
    SynthesisEvent,
    parse_event,
)
from .flags import FLAGS
from .providers import SearchProvider
from .run import Run
from .settings import Settings

if TYPE_CHECKING:
    from .server import launch

__version__ = "0.1.0"

__all__ = [
    "KnowledgeAggregator",
    "EventStream",
    "Run",
    "Settings",
    "SearchProvider",
    "FLAGS",
    "ask",
    "launch",
    "parse_event",
    "Event",
    "StatusEvent",
    "AnalysisEvent",
    "ResultEvent",
    "SourcesEvent",
    "PassageEvent",
    "SynthesisEvent",
    "ErrorEvent",
    "DoneEvent",
    "KnowledgeAggError",
    "QueryError",
    "FlagError",
    "OptionError",
    "ProviderError",
    "FetchError",
    "MissingDependency",
]


def __getattr__(name: str) -> Any:
    # The server is an optional extra: import it only when asked for.
    if name == "launch":
        try:
            from .server import launch
        except ImportError as exc:
            raise MissingDependency("launch() needs the server extra: pip install 'knowledge-agg[server]'") from exc
        return launch
    raise AttributeError(f"module 'knowledge_agg' has no attribute {name!r}")
