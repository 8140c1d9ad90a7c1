"""Prometheus metrics of one server: requests, runs in flight, errors by kind, per-stage latency, memory.

Each app gets its own ``CollectorRegistry``, so several servers (or tests) in one process never
share or clash over metric names.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..events import DoneEvent, ErrorEvent, Event, StatusEvent

__all__ = ["ServerMetrics", "RunObserver", "RequestMetricsMiddleware", "CONTENT_TYPE_LATEST"]

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServerMetrics:
    """The collectors of one app and the text exposition of them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # process_resident_memory_bytes, cpu, open fds
        self.requests = Counter(
            "knowledge_agg_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.in_flight = Gauge("knowledge_agg_runs_in_flight", "runs being streamed right now", registry=r)
        self.waiting = Gauge("knowledge_agg_runs_waiting", "requests waiting for a run slot", registry=r)
        self.runs = Counter("knowledge_agg_runs", "runs finished, by outcome", ["outcome"], registry=r)
        self.rejected = Counter("knowledge_agg_runs_rejected", "runs refused with 503 (server busy)", registry=r)
        self.errors = Counter(
            "knowledge_agg_run_errors", "error events emitted, by stage and kind", ["stage", "kind"], registry=r
        )
        self.stage_seconds = Histogram(
            "knowledge_agg_stage_seconds", "time spent in each pipeline stage", ["stage"], buckets=_SECONDS, registry=r
        )
        self.first_event_seconds = Histogram(
            "knowledge_agg_first_event_seconds", "request received to first event sent", buckets=_SECONDS, registry=r
        )
        self.run_seconds = Histogram("knowledge_agg_run_seconds", "whole runs", buckets=_SECONDS, registry=r)
        self.peak_memory = Gauge(
            "knowledge_agg_run_peak_memory_bytes",
            "peak traced memory of the last run (memory_tracking flag)",
            registry=r,
        )

    def exposition(self) -> bytes:
        """Everything in Prometheus text format."""
        return generate_latest(self.registry)


class RunObserver:
    """Turns one run's events into metrics: stage durations from status events, errors, outcome."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self._m = metrics
        self._stage: str | None = None
        self._stage_start = 0.0
        self._seen_first = False
        self.outcome = "cancelled"

    def first_event(self, seconds: float) -> None:
        """Record the wait from request to first event once."""
        if not self._seen_first:
            self._seen_first = True
            self._m.first_event_seconds.observe(seconds)

    def observe(self, event: Event) -> None:
        """Account for one event of the run."""
        if isinstance(event, StatusEvent) and event.stage != self._stage:
            self._close_stage(event.t_ms)
            self._stage, self._stage_start = event.stage, event.t_ms
        elif isinstance(event, ErrorEvent):
            self._m.errors.labels(event.stage, event.kind).inc()
        elif isinstance(event, DoneEvent):
            self._close_stage(event.t_ms)
            self.outcome = "partial" if event.partial else "complete"
            self._m.run_seconds.observe(event.t_ms / 1000)
            peak = event.metrics.get("peak_memory_bytes")
            if isinstance(peak, int):
                self._m.peak_memory.set(peak)

    def finish(self) -> None:
        """Count the run by how it ended (``cancelled`` when no ``done`` was sent)."""
        self._m.runs.labels(self.outcome).inc()

    def _close_stage(self, now_ms: float) -> None:
        if self._stage is not None and self._stage != "done":
            self._m.stage_seconds.labels(self._stage).observe(max(0.0, now_ms - self._stage_start) / 1000)


class RequestMetricsMiddleware:
    """Pure ASGI middleware counting requests by route template (never by raw path) and status."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 0}

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except Exception:
            status["code"] = status["code"] or 500
            raise
        finally:
            route: Any = scope.get("route")
            name = getattr(route, "path", None) or "unmatched"
            # 499 (nginx's "client closed request"): the client left before any response was sent.
            self.metrics.requests.labels(scope["method"], name, str(status["code"] or 499)).inc()
