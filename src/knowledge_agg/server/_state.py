"""What one server holds while it runs: settings, live flags, injection, metrics, the run cap, the aggregator."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from fastapi import Request

from ..aggregator import KnowledgeAggregator
from ..settings import Settings
from ..standin import InjectionConfig, StandinSettings
from ._live import LiveRuns
from ._run_cap import RunCap
from .metrics import ServerMetrics
from .settings import ServerSettings

__all__ = ["ServerState", "get_state", "SERVICE", "RUN_ID_HEADER"]

#: The service name ``/health`` reports, so the launcher can tell our server from anything else.
SERVICE = "knowledge-agg"
#: The response header that names a run, so a client can resume it.
RUN_ID_HEADER = "X-Run-Id"


@dataclass
class ServerState:
    """The mutable state of one app: the runs' settings and aggregator, the server's and the stand-in's settings."""

    settings: Settings
    server: ServerSettings
    standin: StandinSettings
    flags: dict[str, bool]
    injection: InjectionConfig
    metrics: ServerMetrics
    run_cap: RunCap
    aggregator: KnowledgeAggregator
    instance: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.time)
    live: LiveRuns = field(default_factory=LiveRuns)

    def injection_in_force(self) -> InjectionConfig | None:
        """The server-wide injection config, or None while the ``error_injection`` flag is off."""
        return self.injection if self.flags.get("error_injection") else None


def get_state(request: Request) -> ServerState:
    """The state of the app serving ``request``."""
    state: ServerState = request.app.state.knowledge_agg
    return state
