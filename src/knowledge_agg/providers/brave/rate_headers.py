"""Brave's ``X-RateLimit-*`` headers: their windows, and the monthly quota they report."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Window", "RateState", "Quota", "parse_rate_headers"]


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
            remaining=_whole(remaining[i]) if i < len(remaining) else None,
            reset=resets[i] if i < len(resets) else None,
            seconds=policies[i] if i < len(policies) else None,
        )
        for i, limit in enumerate(limits)
        if limit is not None
    )
    return RateState(windows, time.monotonic() if received_at is None else received_at)


def _whole(number: float | None) -> int | None:
    return None if number is None else int(number)


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
