"""Runs by id: ``GET /v1/runs``, ``/v1/runs/{run_id}`` and ``/v1/runs/{run_id}/events`` (resume with ``Last-Event-ID``).

A run still going on this server is followed live; any other run is read from the run store, so a
restarted server still serves every finished run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from pydantic import BaseModel, Field

from ..events import AnyEvent, Event, SourceInfo, SynthesisEvent, to_sse
from ..run import Run
from ..store import RunStore, StoredRun
from ._live import LiveRun
from ._sse import RunEventSourceResponse
from ._state import RUN_ID_HEADER, ServerState, get_state
from ._stream_routes import _SSE_CONTENT

__all__ = ["router", "RunSummary", "RunDocument"]

router = APIRouter(tags=["history"])


class RunSummary(BaseModel):
    """One stored run: ``state`` is ``running``, ``done``, ``partial``, ``failed``, ``cancelled`` or ``unfinished``
    (its process ended before the run did)."""

    run_id: str
    query: str
    state: str
    started_at: float = Field(description="Unix time, seconds")
    ended_at: float | None = Field(description="Unix time, seconds; null while running or when unfinished")
    partial: bool | None
    batch: str | None
    event_count: int
    metrics: dict[str, Any]
    options: dict[str, Any] = Field(description="the run's options as given (never a key)")


class RunDocument(RunSummary):
    """A run with its events (so far, while it runs), its synthesis and sources."""

    events: list[AnyEvent]
    synthesis: SynthesisEvent | None
    sources: list[SourceInfo]


_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no run with this id on this server or in its run store"}}


@router.get("/v1/runs", response_model=list[RunSummary], summary="Recent runs")
async def list_runs(
    request: Request,
    q: Annotated[str | None, Query(description="part of the question, any case")] = None,
    batch: Annotated[str | None, Query(description="only the runs of this ask_many batch")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[RunSummary]:
    """The most recent runs of the run store, newest first."""
    store = await _flushed(get_state(request))
    found = await asyncio.to_thread(store.runs, query=q, batch=batch, limit=limit)
    return [_summary(r) for r in found]


@router.get("/v1/runs/{run_id}", response_model=RunDocument, responses=_NOT_FOUND, summary="One run")
async def get_run(request: Request, run_id: str) -> RunDocument:
    """The run with every event so far: live from this server while it runs, else from the run store."""
    state = get_state(request)
    live = state.live.get(run_id)
    store = state.aggregator.run_store()
    stored = None
    if store is not None:
        await asyncio.to_thread(store.flush)
        stored = await asyncio.to_thread(store.get, run_id)
    if live is not None:
        events = list(live.events)
        summary = _summary(stored) if stored is not None else _live_summary(live)
        summary = summary.model_copy(update={"state": "running", "event_count": len(events)})
    elif stored is not None and store is not None:
        events = await asyncio.to_thread(store.events, run_id)
        summary = _summary(stored)
    else:
        raise _unknown(run_id)
    run = Run(summary.query, events, run_id=run_id)
    return RunDocument(
        **summary.model_dump(), events=events, synthesis=run.synthesis, sources=run.sources
    )


@router.get(
    "/v1/runs/{run_id}/events",
    response_class=RunEventSourceResponse,
    status_code=200,
    responses={
        200: {"description": "the run's events after `Last-Event-ID` as SSE", "content": {"text/event-stream": _SSE_CONTENT}},
        **_NOT_FOUND,
    },
    summary="Resume a run's stream",
)
async def run_events(
    request: Request,
    run_id: str,
    last_event_id: Annotated[int | None, Header(ge=-1, description="the `seq` of the last event received")] = None,
    after: Annotated[int | None, Query(ge=-1, description="like Last-Event-ID, for clients that cannot set headers")] = None,
) -> Any:
    """The run's events with ``seq`` above ``Last-Event-ID``: from this server while it runs (until ``done``),
    else from the run store. Reconnecting within ``resume_grace`` seconds keeps the run going."""
    state = get_state(request)
    start = last_event_id if last_event_id is not None else after if after is not None else -1
    headers = {RUN_ID_HEADER: run_id}
    live = state.live.get(run_id)
    if live is not None:
        return RunEventSourceResponse(live.follow(to_sse, start), headers=headers)
    store = await _flushed(state, missing=run_id)
    if await asyncio.to_thread(store.get, run_id) is None:
        raise _unknown(run_id)
    events = await asyncio.to_thread(store.events, run_id, start)
    return RunEventSourceResponse(_replay(events), headers=headers)


async def _replay(events: list[Event]) -> AsyncIterator[dict[str, str]]:
    for event in events:
        yield to_sse(event)


async def _flushed(state: ServerState, missing: str | None = None) -> RunStore:
    """The server's run store with this process's queued writes committed; 404/409 when it is off."""
    store = state.aggregator.run_store()
    if store is None:
        if missing is not None:
            raise _unknown(missing)
        raise HTTPException(409, "the run store is off on this server (KNOWLEDGE_AGG_STORE=off)")
    await asyncio.to_thread(store.flush)
    return store


def _unknown(run_id: str) -> HTTPException:
    return HTTPException(404, f"no run {run_id!r} on this server or in its run store")


def _summary(r: StoredRun) -> RunSummary:
    return RunSummary(
        run_id=r.run_id, query=r.query, state=r.state, started_at=r.started_at, ended_at=r.ended_at,
        partial=r.partial, batch=r.batch, event_count=r.events, metrics=r.metrics, options=r.options,
    )


def _live_summary(live: LiveRun) -> RunSummary:
    elapsed = live.events[-1].t_ms / 1000 if live.events else 0.0
    return RunSummary(
        run_id=live.run_id, query=live.query, state="running", started_at=time.time() - elapsed, ended_at=None,
        partial=None, batch=None, event_count=len(live.events), metrics={}, options={},
    )
