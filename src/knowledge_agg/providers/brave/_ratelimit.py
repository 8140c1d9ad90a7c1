"""Brave's rate-limit headers, the quota they report, and the one pacer shared by every run in the process."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["Window", "RateState", "Quota", "RateLimiter", "parse_rate_headers", "shared_limiter"]

#: Windows whose reset is further away than this are quota, handled by refusing early rather than waiting.
_MAX_HOLD = 3600.0
#: Spacing slack so network jitter never packs more than ``limit`` requests into the server's window.
_MARGIN = 0.05


@dataclass(frozen=True, slots=True)
class Window:
    """One rate-limit window: ``limit`` requests (0 = no cap) per ``seconds``, ``remaining`` until ``reset``."""

    limit: int
    remaining: int | None = None
    reset: float | None = None
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class RateState:
    """The windows of one response's headers (shortest first) and when they were read (monotonic)."""

    windows: tuple[Window, ...]
    received_at: float

    @property
    def monthly(self) -> Window | None:
        """The quota window: the longest one when several are sent, else one of at least a day."""
        if len(self.windows) > 1:
            return self.windows[-1]
        if self.windows and (self.windows[0].seconds or 0) >= 86400:
            return self.windows[0]
        return None


@dataclass(frozen=True, slots=True)
class Quota:
    """The plan's monthly quota as last reported; ``str()`` gives "1,965 of 2,000 left this month"."""

    limit: int
    remaining: int | None
    reset: float | None
    as_of: float  # wall-clock seconds (time.time()) when the headers arrived

    def resets_in(self, now: float | None = None) -> float | None:
        """Seconds until the quota resets, or ``None`` when Brave did not say."""
        if self.reset is None:
            return None
        return max(0.0, self.reset - ((time.time() if now is None else now) - self.as_of))

    @property
    def exhausted(self) -> bool:
        """Whether the last headers said no request is left this period."""
        return self.limit > 0 and self.remaining is not None and self.remaining <= 0

    def __str__(self) -> str:
        if self.limit == 0:
            return "no monthly cap"
        if self.remaining is None:
            return f"{self.limit:,} a month"
        return f"{self.remaining:,} of {self.limit:,} left this month"


def parse_rate_headers(headers: Mapping[str, str], *, received_at: float | None = None) -> RateState | None:
    """Read ``X-RateLimit-Limit/-Policy/-Remaining/-Reset`` (comma-separated windows); ``None`` if absent."""
    limits = _numbers(headers.get("x-ratelimit-limit"))
    if not limits:
        return None
    remaining = _numbers(headers.get("x-ratelimit-remaining"))
    resets = _numbers(headers.get("x-ratelimit-reset"))
    policies = _policy_windows(headers.get("x-ratelimit-policy"))
    windows = tuple(
        Window(
            limit=int(limit),
            remaining=int(remaining[i]) if i < len(remaining) and remaining[i] is not None else None,
            reset=resets[i] if i < len(resets) else None,
            seconds=policies[i] if i < len(policies) else None,
        )
        for i, limit in enumerate(limits)
        if limit is not None
    )
    return RateState(windows, time.monotonic() if received_at is None else received_at)


def _numbers(value: str | None) -> list[float | None]:
    """``"1, 2000"`` → ``[1.0, 2000.0]``; unreadable parts become ``None``."""
    if not value:
        return []
    numbers: list[float | None] = []
    for part in value.split(","):
        try:
            numbers.append(float(part.strip()))
        except ValueError:
            numbers.append(None)
    return numbers


def _policy_windows(value: str | None) -> list[float | None]:
    """``"1;w=1, 2000;w=2592000"`` → ``[1.0, 2592000.0]`` (the ``w`` of each window)."""
    seconds: list[float | None] = []
    for part in (value or "").split(","):
        found = None
        for attribute in part.split(";")[1:]:
            name, _, number = attribute.strip().partition("=")
            if name == "w":
                try:
                    found = float(number)
                except ValueError:
                    found = None
        seconds.append(found)
    return seconds if value else []


class RateLimiter:
    """Spaces requests at the plan's rate and holds them while the server says a window is exhausted."""

    def __init__(self, rate: float) -> None:
        self._lock = threading.Lock()  # runs on different event loops (notebook threads) share one limiter
        self._interval = (1.0 + _MARGIN) / rate
        self._next = 0.0
        self._hold = 0.0
        self._epoch = 0
        self._sent: deque[float] = deque(maxlen=1024)

    @property
    def rate(self) -> float:
        """Requests per second currently allowed."""
        return (1.0 + _MARGIN) / self._interval

    def slow_to(self, rate: float) -> None:
        """Lower the pace (never raise it): a server may report a stricter plan than configured."""
        with self._lock:
            self._interval = max(self._interval, (1.0 + _MARGIN) / rate)

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds``; requests already waiting for a slot line up again after it."""
        with self._lock:
            until = time.monotonic() + seconds
            if until > self._hold:
                self._hold = until
                self._next = max(self._next, until)
                self._epoch += 1

    async def acquire(self, notify: Callable[[float], None] | None = None) -> None:
        """Wait for this request's slot; ``notify(seconds)`` hears of waits longer than half a second."""
        while True:
            with self._lock:
                now = time.monotonic()
                slot = max(now, self._next, self._hold)
                self._next = slot + self._interval
                self._sent.append(slot)
                epoch = self._epoch
            delay = slot - now
            if delay > 0:
                if notify is not None and delay >= 0.5:
                    notify(delay)
                await asyncio.sleep(delay)
            with self._lock:
                if self._epoch == epoch:
                    return
                self._sent.remove(slot)

    def learn(self, state: RateState) -> None:
        """Adopt a stricter limit from the headers, and hold when a window is spent by someone else too."""
        for window in state.windows:
            if window.limit <= 0:
                continue  # 0 means no cap
            if window.seconds and window.seconds <= 60:
                self.slow_to(window.limit / window.seconds)
            if window.remaining is None or window.remaining > 0 or window.reset is None:
                continue
            if window.reset > _MAX_HOLD:
                continue
            if window.seconds and self._own_requests(state.received_at - window.seconds) >= window.limit:
                continue  # our own pacing already keeps the next request out of this window
            self.hold(max(0.0, window.reset - (time.monotonic() - state.received_at)))

    def _own_requests(self, since: float) -> int:
        with self._lock:
            return sum(1 for sent in self._sent if sent > since)


_limiters: dict[tuple[str, str], RateLimiter] = {}
_limiters_lock = threading.Lock()


def shared_limiter(base_url: str, key_digest: str, rate: float) -> RateLimiter:
    """The process-wide limiter for one API key at one endpoint (every run and provider shares it)."""
    with _limiters_lock:
        limiter = _limiters.get((base_url, key_digest))
        if limiter is None:
            limiter = _limiters[(base_url, key_digest)] = RateLimiter(rate)
        else:
            limiter.slow_to(rate)
        return limiter
