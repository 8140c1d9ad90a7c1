"""The one Brave request limiter per key and endpoint, shared by every run in the process.

It hands out ``limit`` permits per ``window`` seconds, and a permit comes back only ``window`` seconds
after its request *finished*: the server counted the request before answering it, so however the
network delays requests, no server-side window can ever see more than ``limit`` of them — no 429s.

The configured rate is only the pace of the first request: once Brave's ``X-RateLimit-Limit`` /
``X-RateLimit-Policy`` headers state the plan's short window, the limiter paces at exactly that plan,
faster or slower than the configured guess, and never above what the server said.

Why the permit's window starts at the response and not at the send (issue 15, measured with
``python -m benchmarks.brave_pace``-style runs, 200 searches, 20 at a time, a 20 req/s stand-in plan that
counts a request after its search latency, as a gateway with a queue would): counting from the response,
0.25–0.4 s searches took 13.1 s with no 429; counting from the send plus a 0.1 s margin took 11.7 s and got
a 429 (a request counted 0.4 s after its send shares a window with one counted 0.25 s after its own, sent
1.1 s later); a 0.2 s margin took 11.7 s with none, but only because no spread reached it. When the server
counts is unknowable from the client, so no margin is safe in general; only the response anchor keeps
the invariant whatever the server's queue does. With searches answered at once (the benchmark's default)
the anchors coincide, and 200 searches take about 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from .rate_headers import RateState

__all__ = ["Limiter", "RateLimiter", "install_limiter", "shared_limiter"]

#: Windows resetting further away than this are quota: refused early by the client, not waited for.
_MAX_HOLD = 3600.0
#: Windows up to this many seconds set the pace; longer ones are a quota to watch, not a rate.
_PACED_WINDOW = 60.0
#: How often a waiter looks again while every permit belongs to a request still in flight.
_POLL = 0.05
_IN_FLIGHT = math.inf


def _permits(rate: float) -> tuple[int, float]:
    """``rate`` requests per second as (permits, window seconds): 5/s → (5, 1.0); 0.5/s → (1, 2.0)."""
    permits = max(1, math.floor(rate))
    return permits, permits / rate


class Limiter(Protocol):
    """What the Brave client asks of a limiter: this process's :class:`RateLimiter`, or a cluster-wide one."""

    @property
    def rate(self) -> float: ...

    def slow_to(self, limit: int, window: float) -> None: ...

    def hold(self, seconds: float) -> None: ...

    def slot(self, notify: Callable[[float], None] | None = None) -> AbstractAsyncContextManager[None]: ...

    def learn(self, state: RateState) -> None: ...


class RateLimiter:
    """Paces requests to the plan's rate and holds them while the server says a window is spent."""

    def __init__(self, rate: float) -> None:
        self._lock = threading.Lock()  # runs on different event loops (notebook threads) share one limiter
        self._limit, self._window = _permits(rate)
        self._active: dict[int, float] = {}  # ticket → when its permit comes back
        self._tickets = itertools.count()
        self._hold = 0.0
        self._stated = False  # whether the pace is the server's own statement rather than the configured guess

    @property
    def rate(self) -> float:
        """Requests per second currently allowed."""
        return self._limit / self._window

    def slow_to(self, limit: int, window: float) -> None:
        """A configured guess: ``limit`` per ``window`` seconds if stricter, until the server states its plan."""
        with self._lock:
            if not self._stated and limit >= 1 and window > 0 and limit / window < self._limit / self._window:
                self._limit, self._window = limit, window

    def adopt(self, limit: int, window: float) -> None:
        """The server's own plan: ``limit`` per ``window`` seconds from now on, faster or slower than before."""
        with self._lock:
            if limit >= 1 and window > 0:
                self._limit, self._window, self._stated = limit, window, True

    def hold(self, seconds: float) -> None:
        """Start no request for ``seconds`` (a 429's reset, or headers saying the window is spent)."""
        with self._lock:
            self._hold = max(self._hold, time.monotonic() + seconds)

    @contextlib.asynccontextmanager
    async def slot(self, notify: Callable[[float], None] | None = None) -> AsyncIterator[None]:
        """Wait for a permit, run the request inside, and start the permit's cool-down when it ends."""
        ticket = await self._acquire(notify)
        try:
            yield
        finally:
            with self._lock:
                self._active[ticket] = time.monotonic() + self._window

    async def _acquire(self, notify: Callable[[float], None] | None) -> int:
        """Take a permit, sleeping while none is free; ``notify(seconds)`` hears of a wait over half a second."""
        told = False
        while True:
            with self._lock:
                now = time.monotonic()
                self._active = {t: back for t, back in self._active.items() if back > now}
                if len(self._active) < self._limit and now >= self._hold:
                    ticket = next(self._tickets)
                    self._active[ticket] = _IN_FLIGHT
                    return ticket
                free_at = min(self._active.values()) if len(self._active) >= self._limit else now
                wake = max(free_at, self._hold)
            delay = _POLL if wake == _IN_FLIGHT else wake - now
            if notify is not None and not told and delay >= 0.5:
                notify(delay)
                told = True
            await asyncio.sleep(delay)

    def learn(self, state: RateState) -> None:
        """Pace at the plan the headers state, and hold when a window is spent by someone else too."""
        paced = [w for w in state.windows if w.limit > 0 and w.seconds and w.seconds <= _PACED_WINDOW]
        if paced:  # the strictest of the short windows (0 means no cap); longer ones are quota
            plan = min(paced, key=lambda w: w.limit / (w.seconds or 1.0))
            self.adopt(plan.limit, plan.seconds or 1.0)
        for window in state.windows:
            if window.limit <= 0:
                continue  # 0 means no cap
            if window.remaining is None or window.remaining > 0 or window.reset is None or window.reset > _MAX_HOLD:
                continue
            with self._lock:
                ours = len(self._active)
            if window.seconds and window.seconds <= self._window and ours >= window.limit:
                continue  # our own permits already keep the next request out of this window
            self.hold(max(0.0, window.reset - (time.monotonic() - state.received_at)))


_limiters: dict[tuple[str, str], Limiter] = {}
_limiters_lock = threading.Lock()


def install_limiter(base_url: str, key_digest: str, limiter: Limiter) -> None:
    """Make ``limiter`` the one every later provider of this key and endpoint uses (a Dask worker's shared plan)."""
    with _limiters_lock:
        _limiters[(base_url.rstrip("/"), key_digest)] = limiter


def shared_limiter(base_url: str, key_digest: str, rate: float) -> Limiter:
    """The process-wide limiter for one API key at one endpoint (every run and provider shares it)."""
    with _limiters_lock:
        limiter = _limiters.get((base_url, key_digest))
        if limiter is None:
            limiter = _limiters[(base_url, key_digest)] = RateLimiter(rate)
        else:
            limiter.slow_to(*_permits(rate))
        return limiter
