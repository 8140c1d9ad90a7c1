"""Brave's rate-limit headers, the quota they report, and how the shared limiter learns from them."""

from __future__ import annotations

import time

import pytest

from knowledge_agg.providers.brave import Quota
from knowledge_agg.providers.brave.rate_headers import Window, parse_rate_headers
from knowledge_agg.providers.brave.rate_limiter import RateLimiter, shared_limiter
from knowledge_agg.providers.brave.retry import reset_for, retry_after


def headers(limit: str, remaining: str, reset: str, policy: str | None = None) -> dict[str, str]:
    found = {"x-ratelimit-limit": limit, "x-ratelimit-remaining": remaining, "x-ratelimit-reset": reset}
    if policy is not None:
        found["x-ratelimit-policy"] = policy
    return found


def test_comma_separated_windows_with_policy() -> None:
    state = parse_rate_headers(headers("1, 2000", "0, 1965", "1, 1398406", "1;w=1, 2000;w=2592000"))
    assert state is not None
    assert state.windows == (Window(1, 0, 1.0, 1.0), Window(2000, 1965, 1398406.0, 2592000.0))
    assert state.monthly == state.windows[1]


def test_windows_without_policy_and_no_cap() -> None:
    state = parse_rate_headers(headers("0, 2000", "0, 12", "0, 100"))
    assert state is not None and state.windows[0].limit == 0 and state.windows[0].seconds is None
    assert state.monthly is not None and state.monthly.remaining == 12
    assert parse_rate_headers({}) is None
    odd = parse_rate_headers(headers("5, x", "", "1"))
    assert odd is not None and odd.windows == (Window(5, None, 1.0, None),)


@pytest.mark.parametrize(
    ("quota", "text"),
    [
        (Quota(2000, 1965, 100.0, 0.0), "1,965 of 2,000 left this month"),
        (Quota(20_000_000, 0, 5.0, 0.0), "0 of 20,000,000 left this month"),
        (Quota(0, 0, None, 0.0), "no monthly cap"),
        (Quota(2000, None, None, 0.0), "2,000 a month"),
    ],
)
def test_quota_reads_like_a_sentence(quota: Quota, text: str) -> None:
    assert str(quota) == text


def test_quota_exhaustion_and_reset_countdown() -> None:
    now = time.time()
    quota = Quota(2000, 0, 86400.0, now - 400)
    assert quota.exhausted and quota.resets_in(now) == pytest.approx(86000.0)
    assert not Quota(0, 0, None, now).exhausted
    assert Quota(2000, 0, None, now).resets_in() is None


def test_reset_and_retry_after_choice() -> None:
    state = parse_rate_headers(headers("1, 2000", "0, 0", "1, 864000", "1;w=1, 2000;w=2592000"))
    assert reset_for("QUOTA_LIMITED", state, {}) == 864000.0
    assert reset_for("RATE_LIMITED", state, {}) == 1.0
    assert reset_for("RATE_LIMITED", None, {"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({"retry-after": "soon"}) is None


def test_limiter_adopts_a_stricter_plan_from_headers() -> None:
    limiter = RateLimiter(20.0)
    limiter.learn(parse_rate_headers(headers("5, 2000", "4, 1000", "1, 99", "5;w=1, 2000;w=2592000")))
    assert limiter.rate == pytest.approx(5.0)
    limiter.learn(parse_rate_headers(headers("50, 2000", "49, 1000", "1, 99", "50;w=1, 2000;w=2592000")))
    assert limiter.rate == pytest.approx(5.0)  # never faster than configured or learned


async def test_limiter_holds_when_someone_else_spent_the_window() -> None:
    limiter = RateLimiter(10.0)
    limiter.learn(parse_rate_headers(headers("10, 2000", "0, 1000", "2, 99", "10;w=1, 2000;w=2592000")))
    waits: list[float] = []
    async with limiter.slot(waits.append):
        pass
    assert waits and waits[0] >= 1.5


async def test_limiter_trusts_its_own_pacing_for_its_own_requests() -> None:
    limiter = RateLimiter(1.0)
    waits: list[float] = []
    async with limiter.slot(waits.append):
        # the server's view of our own request: the 1/s window is spent; our permit already covers it
        limiter.learn(parse_rate_headers(headers("1, 2000", "0, 1999", "1, 99", "1;w=1, 2000;w=2592000")))
    assert waits == []


def test_one_limiter_per_key_and_endpoint() -> None:
    first = shared_limiter("http://127.0.0.1:1", "abc", 5.0)
    assert shared_limiter("http://127.0.0.1:1", "abc", 20.0) is first and first.rate == pytest.approx(5.0)
    assert shared_limiter("http://127.0.0.1:1", "abc", 2.0).rate == pytest.approx(2.0)
    assert shared_limiter("http://127.0.0.1:1", "other", 5.0) is not first
