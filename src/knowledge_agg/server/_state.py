"""What one server holds while it runs: settings, live flags, injection, metrics, the run cap, the corpus."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from fastapi import Request

from ..aggregator import KnowledgeAggregator
from ..settings import Settings
from ._corpus import ServedCorpus
from ._limiter import RunLimiter
from ._live import LiveRuns
from .injection import InjectionConfig
from .metrics import ServerMetrics

__all__ = ["ServerState", "get_state", "SERVICE", "RUN_ID_HEADER"]

#: The service name ``/health`` reports, so the launcher can tell our server from anything else.
SERVICE = "knowledge-agg"
#: The response header that names a run, so a client can resume it.
RUN_ID_HEADER = "X-Run-Id"


@dataclass
class ServerState:
    """The mutable state of one app; the corpus and aggregator exist between startup and shutdown."""

    settings: Settings
    flags: dict[str, bool]
    injection: InjectionConfig
    metrics: ServerMetrics
    limiter: RunLimiter
    instance: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.time)
    corpus: ServedCorpus | None = None
    aggregator: KnowledgeAggregator | None = None
    live: LiveRuns = field(default_factory=LiveRuns)

    def injection_in_force(self) -> InjectionConfig | None:
        """The server-wide injection config, or None while the ``error_injection`` flag is off."""
        return self.injection if self.flags.get("error_injection") else None

    def require_aggregator(self) -> KnowledgeAggregator:
        """The running aggregator (the app's lifespan creates it)."""
        if self.aggregator is None:
            raise RuntimeError("the server is not started: run the app with its lifespan (uvicorn does)")
        return self.aggregator


def get_state(request: Request) -> ServerState:
    """The state of the app serving ``request``."""
    state: ServerState = request.app.state.knowledge_agg
    return state
