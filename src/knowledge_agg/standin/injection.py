"""Error injection for recovery tests: failed or slow searches, broken or slow pages, forced 429s.

Nothing here acts unless the server's ``error_injection`` flag is on. The server-wide config comes
from ``StandinSettings.injection`` (``KNOWLEDGE_AGG_STANDIN_INJECTION`` as JSON) and, in development
mode, from ``PUT /v1/injection``. One request can override it with the header ``X-Inject: {...json...}``;
a page URL can carry the same JSON in its ``inject`` query parameter (the server's own runs use
this to pass a request's page faults on to the pages it reads).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["INJECT_HEADER", "PageFault", "InjectionConfig", "InjectionError", "InjectionLookup", "request_injection"]

#: The request header that carries a per-request override (a JSON object of InjectionConfig fields).
INJECT_HEADER = "X-Inject"

#: How an injected page failure looks to the client.
PageFault = Literal["500", "timeout", "truncated", "garbage", "content_type"]


#: The server-wide injection config in force, or None while the error_injection flag is off.
InjectionLookup = Callable[[], "InjectionConfig | None"]
#: What a request that sends X-Inject to a server without error injection is told.
OFF_MESSAGE = "error injection is off on this server: start it with --flags error_injection=on"


class InjectionError(ValueError):
    """An override that cannot apply: ``status`` 422 when it is invalid, 403 when injection is off."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class InjectionConfig(BaseModel):
    """Which faults to inject and how often; every rate is a probability from 0 to 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    search_failure_rate: float = Field(0.0, ge=0, le=1, description="share of searches that fail")
    search_failure_status: int = Field(503, ge=400, le=599, description="HTTP status of a failed search")
    search_latency: float = Field(0.0, ge=0, le=120, description="seconds added to every search")
    search_429_rate: float = Field(0.0, ge=0, le=1, description="share of searches answered with a forced 429")
    page_failure_rate: float = Field(0.0, ge=0, le=1, description="share of pages that fail (chosen by page id)")
    page_fail_ids: list[str] = Field(default_factory=list, description="page ids that always fail")
    page_faults: list[PageFault] = Field(
        default_factory=lambda: list[PageFault](["500"]), min_length=1, description="how a failing page fails (one per page id)"
    )
    page_latency: float = Field(0.0, ge=0, le=120, description="seconds added to every page")
    page_timeout: float = Field(60.0, ge=0, le=600, description="how long a 'timeout' page hangs")
    seed: int = Field(0, description="changes which pages fail at a given page_failure_rate")

    def search_fault(self) -> int | None:
        """Roll the dice for one search: the HTTP status it fails with (429: forced rate limit), or None."""
        if self.search_429_rate and random.random() < self.search_429_rate:
            return 429
        if self.search_failure_rate and random.random() < self.search_failure_rate:
            return self.search_failure_status
        return None

    def page_fault(self, page_id: str) -> PageFault | None:
        """The fault page ``page_id`` shows under this config (the same every time), or None."""
        roll = _unit(f"{self.seed}:{page_id}")
        if page_id not in self.page_fail_ids and roll >= self.page_failure_rate:
            return None
        return self.page_faults[int(roll * 1_000_003) % len(self.page_faults)]

    def page_part(self) -> dict[str, Any]:
        """Only the page settings that differ from the defaults (what a page URL needs to carry)."""
        data = self.model_dump(exclude_defaults=True)
        return {k: v for k, v in data.items() if k.startswith("page_") or k == "seed"}

    async def delay_search(self) -> None:
        """Wait the configured search latency."""
        if self.search_latency:
            await asyncio.sleep(self.search_latency)


def merge_override(base: InjectionConfig, override: str | dict[str, Any] | None) -> InjectionConfig:
    """``base`` with the fields of ``override`` (JSON text or a dict) replaced; raises InjectionError."""
    if not override:
        return base
    try:
        data = json.loads(override) if isinstance(override, str) else override
    except json.JSONDecodeError as exc:
        raise InjectionError(f"{INJECT_HEADER} must be a JSON object: {exc}") from exc
    if not isinstance(data, dict):
        raise InjectionError(f"{INJECT_HEADER} must be a JSON object, not {type(data).__name__}")
    try:
        return InjectionConfig.model_validate({**base.model_dump(), **data})
    except ValidationError as exc:
        raise InjectionError(f"invalid error injection settings: {_short(exc)}") from exc


def request_injection(
    in_force: InjectionConfig | None, header: str | None, *, page_override: str | None = None
) -> InjectionConfig | None:
    """The faults one request asks for: the server's config in force with ``page_override`` (a page
    URL's ``inject``), then the ``X-Inject`` ``header`` applied; ``None`` when injection is off.

    Raises :class:`InjectionError`: 403 for a header sent while injection is off, 422 for an invalid one.
    """
    if in_force is None:
        if header:
            raise InjectionError(OFF_MESSAGE, status=403)
        return None
    return merge_override(merge_override(in_force, page_override), header)


def _unit(key: str) -> float:
    """A number in [0, 1) fixed by ``key``, so a page fails the same way on every read."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
