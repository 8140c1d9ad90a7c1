"""Streamed runs that outlive their connection: each runs in a task of its own, followed by any client.

A client that hangs up does not stop its run at once: the run goes on for ``resume_grace`` seconds,
so a reconnect (``GET /v1/runs/{id}/events`` with ``Last-Event-ID``) gets the rest without a new
search. With no client back by then the run is cancelled, and the run store records it so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Generic, TypeVar

import anyio

from ..events import Event
from ..standin import run_injection

if TYPE_CHECKING:
    from ._runs import RunSlot

__all__ = ["LiveRun", "LiveRuns", "Follower"]

_T = TypeVar("_T")


class LiveRun:
    """One run driven by its own task; its events so far are kept, and any number of clients follow them."""

    def __init__(self, slot: RunSlot, grace: float, registry: LiveRuns) -> None:
        self.run_id = slot.stream.run_id
        self.query = slot.stream.query
        self.events: list[Event] = []
        self.finished = False
        self._slot = slot
        self._grace = grace
        self._registry = registry
        self._error: BaseException | None = None
        self._changed = asyncio.Event()
        self._clients = 0
        self._expiry: asyncio.TimerHandle | None = None
        run_injection.set(slot.injection)  # copied into the run's task
        self.task = asyncio.ensure_future(self._drive())

    async def _drive(self) -> None:
        slot = self._slot
        try:
            async with slot.stream as stream:
                async for event in stream:
                    slot.observer.first_event(time.perf_counter() - slot.started)
                    slot.observer.observe(event)
                    self.events.append(event)
                    self._wake()
        except Exception as exc:  # handed to the clients, which raise it in their response
            self._error = exc
        finally:
            self.finished = True
            self._wake()
            if self._expiry is not None:
                self._expiry.cancel()
            with anyio.CancelScope(shield=True):
                await slot.close()
            self._registry.forget(self)

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def follow(self, render: Callable[[Event], _T], after: int = -1) -> Follower[_T]:
        """A client of this run: the events with ``seq`` above ``after``, then each new one until the run ends."""
        self._clients += 1
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        return Follower(self, self._after(after), render)

    async def _after(self, after: int) -> AsyncIterator[Event]:
        i = after + 1  # seq is the event's index in the run
        while True:
            while i < len(self.events):
                yield self.events[i]
                i += 1
            if self.finished:
                if self._error is not None:
                    raise self._error
                return
            await self._changed.wait()

    def _left(self) -> None:
        """A client left; when it was the last, cancel the run after the grace period unless someone reconnects."""
        self._clients -= 1
        if self._clients > 0 or self.finished:
            return
        if self._grace <= 0:
            self.task.cancel()
        else:
            self._expiry = asyncio.get_running_loop().call_later(self._grace, self.task.cancel)


class Follower(Generic[_T]):
    """One client's view of a live run, rendered for the wire; closing it (even unstarted) counts as leaving."""

    def __init__(self, live: LiveRun, events: AsyncIterator[Event], render: Callable[[Event], _T]) -> None:
        self._live = live
        self._events = events
        self._render = render
        self._closed = False

    def __aiter__(self) -> Follower[_T]:
        return self

    async def __anext__(self) -> _T:
        return self._render(await anext(self._events))

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._events.aclose()  # type: ignore[attr-defined]
            self._live._left()


class LiveRuns:
    """The streamed runs of one server that are still going, by run id."""

    def __init__(self) -> None:
        self._runs: dict[str, LiveRun] = {}

    def start(self, slot: RunSlot, grace: float) -> LiveRun:
        """Start driving an admitted run."""
        live = LiveRun(slot, grace, self)
        self._runs[live.run_id] = live
        return live

    def get(self, run_id: str) -> LiveRun | None:
        return self._runs.get(run_id)

    def forget(self, live: LiveRun) -> None:
        self._runs.pop(live.run_id, None)

    def __len__(self) -> int:
        return len(self._runs)

    async def aclose(self) -> None:
        """Cancel every run still going (the server is stopping) and wait for their clean-up."""
        tasks = [live.task for live in self._runs.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
