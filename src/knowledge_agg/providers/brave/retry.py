"""How long to wait before retrying a failed Brave request: jittered exponential backoff and ``Retry-After``."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

from .rate_headers import RateState

__all__ = ["backoff_delay", "retry_after", "reset_for"]

_BACKOFF_CAP = 8.0


def backoff_delay(attempt: int, base: float, *, server_hint: float | None = None) -> float:
    """Full-jitter exponential backoff for ``attempt`` (0-based), never shorter than the server's hint."""
    ceiling = min(_BACKOFF_CAP, base * (2**attempt))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, server_hint or 0.0)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or an HTTP date), if present and readable."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def reset_for(code: str | None, state: RateState | None, headers: Mapping[str, str]) -> float | None:
    """Seconds until the window behind a 429 resets: the quota window for QUOTA_LIMITED, else the shortest."""
    if state is not None and state.windows:
        if code == "QUOTA_LIMITED":
            window = state.monthly or state.windows[-1]
            return window.reset
        exhausted = [w.reset for w in state.windows if w.remaining == 0 and w.reset is not None and w.limit > 0]
        if exhausted:
            return min(exhausted)
        if state.windows[0].reset is not None:
            return state.windows[0].reset
    return retry_after(headers)
