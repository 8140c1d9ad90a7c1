"""One Brave plan for a whole Dask cluster: the process limiter's invariant, kept by the scheduler.

A ``distributed.Semaphore`` holds the plan's permits as leases, and a lease goes back only one window
after its request *finished* (the same invariant as :class:`~.rate_limiter.RateLimiter`): the server
counted the request before answering, so no server-side window sees more than ``limit`` requests from
any worker on any machine. Two entries of the scheduler's metadata (``Client.set_metadata``) share
the wall-clock time until which a 429 holds every request, and until which the monthly quota is spent.

What is shared, and what is not: the leases (the rate), the hold after a 429 and a spent quota are
the cluster's; the response cache (a folder on each machine), each worker's HTTP connections, its
per-host page-read cap and a slower limit learned from one worker's response headers (it lengthens
that worker's lease hold only) are each worker's own.

Failure modes:

- **A worker dies holding leases** (killed, out of memory): its leases stay taken until the scheduler
  times them out (``distributed.scheduler.locks.lease-timeout``, 30 s after their last refresh, checked
  every ``lease-validation-interval``, 10 s): the plan runs slower meanwhile, never faster (tested with a
  2 s timeout). A worker whose event loop is blocked longer than the timeout (leases are refreshed every
  timeout/5) loses leases it still uses: the window may be overbooked once, a 429 follows, and its hold
  stops every worker until its reset.
- **The scheduler restarts**: everything above lives in its memory and is gone, with the running tasks
  (the batch fails in the caller; answers already received are in the run store, so the same
  ``ask_many(..., batch="name")`` resumes from them). The new scheduler starts with every lease free, so
  requests finished less than a window before the restart may share a window with new ones: up to twice
  the rate once, answered by 429s and a shared hold. Restart the workers with the scheduler: a worker
  process that outlived it would keep a limiter whose semaphore registered (once) with the old
  scheduler, and the new one refuses an unknown semaphore ("Semaphore … not known"; read in
  distributed's code, not tested: a restart could not be staged here in reasonable time).
- Two workers recording a hold at once may keep the earlier of the two (read, then write): one more 429
  at most. The shared times are wall-clock: the machines' clocks must agree to a fraction of a second.
- The lease count is fixed by the first worker that registers the plan: a worker with another
  ``brave_rate_limit`` for the same key is refused by the scheduler ("Inconsistent max leases").
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from ...errors import require
from ._errors import BraveQuotaExceeded, quota_message
from .rate_headers import RateState
from .rate_limiter import _MAX_HOLD, _permits

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["ClusterLimiter", "plan_name"]


def plan_name(base_url: str, key_digest: str) -> str:
    """The scheduler-side name of one key's plan at one endpoint (the same on every worker)."""
    endpoint = hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()[:12]
    return f"knowledge-agg-brave-{key_digest}-{endpoint}"


class ClusterLimiter:
    """Paces the requests of every worker of a cluster to one plan, through the scheduler.

    The distributed primitives are called in a thread (``asyncio.to_thread``): their blocking
    forms run on the worker's own event loop, which is not the loop the runs use.
    """

    def __init__(self, name: str, rate: float, client: Client) -> None:
        distributed = require("distributed", "dask")
        self._limit, self._window = _permits(rate)
        self._leases = distributed.Semaphore(max_leases=self._limit, name=f"{name}-leases",
                                 scheduler_rpc=client.scheduler, loop=client.loop)
        self._client: Any = client  # its metadata methods are untyped
        self._hold_until = ["knowledge-agg", name, "hold-until"]
        self._quota_until = ["knowledge-agg", name, "quota-until"]
        self._cooling: set[asyncio.Task[None]] = set()

    @property
    def rate(self) -> float:
        """Requests per second every worker together may send."""
        return self._limit / self._window

    def slow_to(self, limit: int, window: float) -> None:
        """Keep each lease longer if ``limit`` per ``window`` is slower on average (the lease count is fixed)."""
        if limit >= 1 and window > 0 and limit / window < self.rate:
            self._window = self._limit * window / limit

    def hold(self, seconds: float) -> None:
        """Start no request anywhere in the cluster for ``seconds`` (a 429's reset)."""
        self._raise_to(self._hold_until, time.time() + seconds)

    @contextlib.asynccontextmanager
    async def slot(self, notify: Callable[[float], None] | None = None) -> AsyncIterator[None]:
        """Wait out holds and take a lease; the lease goes back one window after the request ends."""
        quota_until = await asyncio.to_thread(self._read, self._quota_until)
        if quota_until > time.time():
            reset = quota_until - time.time()
            raise BraveQuotaExceeded(quota_message(reset), reset=reset, code="QUOTA_LIMITED")
        held = await asyncio.to_thread(self._read, self._hold_until) - time.time()
        if held > 0:
            if notify is not None and held >= 0.5:
                notify(held)
            await asyncio.sleep(held)
        if not await asyncio.to_thread(self._leases.acquire, 0.5):
            if notify is not None:
                notify(self._window)
            await asyncio.to_thread(self._leases.acquire)
        try:
            yield
        finally:
            task = asyncio.ensure_future(self._give_back(self._window))
            self._cooling.add(task)
            task.add_done_callback(self._cooling.discard)

    async def _give_back(self, after: float) -> None:
        await asyncio.sleep(after)
        await asyncio.to_thread(self._leases.release)

    def learn(self, state: RateState) -> None:
        """Share a spent monthly quota; hold for a spent short window only if our leases can't explain it."""
        for window in state.windows:
            if window.limit <= 0 or window.remaining is None or window.remaining > 0 or window.reset is None:
                continue
            reset_at = time.time() + max(0.0, window.reset - (time.monotonic() - state.received_at))
            if window.reset > _MAX_HOLD:
                self._raise_to(self._quota_until, reset_at)
            elif not (window.seconds and window.seconds <= self._window and window.limit >= self._limit):
                self._raise_to(self._hold_until, reset_at)


    def _read(self, key: list[str]) -> float:
        """The shared time under ``key``, 0 when no one has set it yet."""
        return float(self._client.get_metadata(key, default=0.0))

    def _raise_to(self, key: list[str], until: float) -> None:
        """Move the shared time later, never earlier (two workers racing both leave the later one, nearly)."""
        if until > self._read(key):
            self._client.set_metadata(key, until)
