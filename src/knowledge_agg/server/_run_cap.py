"""The cap on concurrent runs: a few requests may wait briefly for a slot, the rest get 503."""

from __future__ import annotations

import asyncio

__all__ = ["RunCap", "Busy"]


class Busy(Exception):
    """No run slot came free in time; ``retry_after`` is the seconds a client should wait."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RunCap:
    """At most ``limit`` runs at once; up to ``queue_size`` more wait up to ``wait`` seconds each."""

    def __init__(self, limit: int, *, queue_size: int, wait: float) -> None:
        self.limit = limit
        self.queue_size = queue_size
        self.wait = wait
        self.in_flight = 0
        self.waiting = 0
        self._slots: asyncio.Semaphore | None = None

    @property
    def _sem(self) -> asyncio.Semaphore:
        # Made on first use so it belongs to the server's loop, not to whoever built the app.
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limit)
        return self._slots

    async def acquire(self) -> None:
        """Take a slot, waiting in the bounded queue if needed; raise :class:`Busy` when none comes."""
        sem = self._sem
        if not sem.locked():
            await sem.acquire()
        else:
            if self.waiting >= self.queue_size:
                raise self._busy(f"{self.in_flight} runs in progress and {self.waiting} waiting")
            self.waiting += 1
            try:
                async with asyncio.timeout(self.wait):
                    await sem.acquire()
            except TimeoutError:
                raise self._busy(f"no run slot came free within {self.wait:g} s") from None
            finally:
                self.waiting -= 1
        self.in_flight += 1

    def release(self) -> None:
        """Give a slot back (exactly once per successful :meth:`acquire`)."""
        self.in_flight -= 1
        self._sem.release()

    def _busy(self, why: str) -> Busy:
        retry = max(1, round(self.wait))
        return Busy(f"server busy: {why} (limit {self.limit}); retry in {retry} s", retry)
