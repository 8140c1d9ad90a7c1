"""Admitting a run (validation, injection, the run cap) and driving it with metrics and clean-up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import anyio
from fastapi import HTTPException, Request

from ..aggregator import EventStream
from ..errors import KnowledgeAggError
from ..events import Event
from ..standin import INJECT_HEADER, InjectionError, RunInjection, request_injection, run_injection
from ..urls import http_base
from ._run_cap import Busy
from ._state import ServerState
from .metrics import RunObserver

__all__ = ["RunSlot", "open_run", "run_events"]

_T = TypeVar("_T")
#: Events a run may get ahead of a slow client (bounded, so a stalled client cannot grow memory).
_QUEUED = 32


class RunSlot:
    """One admitted run: its event stream, its injected faults, its metrics; :meth:`close` frees it once."""

    def __init__(self, state: ServerState, stream: EventStream, injection: RunInjection | None, started: float) -> None:
        self.state = state
        self.stream = stream
        self.injection = injection
        self.started = started
        self.observer = RunObserver(state.metrics)
        self._closed = False

    async def close(self) -> None:
        """Stop the run if it still runs, free its slot and record how it ended; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            with anyio.CancelScope(shield=True):
                await self.stream.aclose()
        finally:
            self.observer.finish()
            self.state.run_cap.release()


async def open_run(
    request: Request, state: ServerState, query: str, overrides: dict[str, Any], run_flags: dict[str, bool]
) -> RunSlot:
    """Check the options and the ``X-Inject`` header, then wait for a run slot (503 when none comes)."""
    started = time.perf_counter()
    try:
        injection = request_injection(state.injection_in_force(), request.headers.get(INJECT_HEADER))
    except InjectionError as exc:
        if exc.status == 403:
            raise HTTPException(403, str(exc)) from exc
        detail = [{"loc": ["header", INJECT_HEADER], "msg": str(exc), "type": "value_error"}]
        raise HTTPException(422, detail=detail) from exc
    # A run may turn flags on or off for itself, but never error injection: that is the server's choice.
    flags = {**state.flags, **run_flags, "error_injection": injection is not None}
    options: dict[str, Any] = {**overrides, "flags": flags}
    injected = None
    if injection is not None:  # injected runs read this server's own /pages: exempt exactly that host:port
        injected = RunInjection(_loopback_base(request), injection)
        options["fetch_allow_hosts"] = [*state.settings.fetch_allow_hosts, injected.base_url.removeprefix("http://")]
    try:
        stream = state.aggregator.stream(query, **options)
    except KnowledgeAggError as exc:
        raise HTTPException(422, detail=[{"loc": ["query"], "msg": str(exc), "type": "value_error"}]) from exc
    try:
        await state.run_cap.acquire()
    except Busy as exc:
        state.metrics.rejected.inc()
        raise HTTPException(503, str(exc), headers={"Retry-After": str(exc.retry_after)}) from exc
    return RunSlot(state, stream, injected, started)


async def run_events(slot: RunSlot, render: Callable[[Event], _T]) -> AsyncIterator[_T]:
    """The run's events, rendered for the wire; the run is closed however the iteration ends.

    The run is driven by a task of its own and handed over through a small queue: a hang-up then
    cancels it exactly once, so its own clean-up (closing page reads) is never cut short by the
    repeated cancellation of the response's cancel scope.
    """
    run_injection.set(slot.injection)  # copied into the run's task
    queue: asyncio.Queue[Event | BaseException | None] = asyncio.Queue(maxsize=_QUEUED)
    producer = asyncio.ensure_future(_produce(slot.stream, queue))
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            slot.observer.first_event(time.perf_counter() - slot.started)
            slot.observer.observe(item)
            yield render(item)
    finally:
        producer.cancel()
        with anyio.CancelScope(shield=True):
            await asyncio.wait({producer})
        await slot.close()


async def _produce(stream: EventStream, queue: asyncio.Queue[Event | BaseException | None]) -> None:
    try:
        async with stream:
            async for event in stream:
                await queue.put(event)
    except Exception as exc:  # handed to the consumer, which raises it in the response
        await queue.put(exc)
    else:
        await queue.put(None)


def _loopback_base(request: Request) -> str:
    """This server as its own runs reach it: the listening port on loopback, never a public name."""
    server = request.scope.get("server") or ("127.0.0.1", 80)
    host, port = server[0], server[1]
    if host in ("0.0.0.0", "", None):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return http_base(host, port)
