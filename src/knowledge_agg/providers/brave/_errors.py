"""Typed Brave Search errors, and the reading of Brave's error bodies (both shapes) into them."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from ...errors import ProviderError

__all__ = [
    "BraveError",
    "BraveParameterError",
    "BraveAuthError",
    "BraveValidationError",
    "BravePlanError",
    "BraveRateLimited",
    "BraveQuotaExceeded",
    "BraveServerError",
    "BraveUnavailable",
    "BraveResponseError",
    "error_from_response",
    "quota_message",
]


class BraveError(ProviderError):
    """Base class of every failure the Brave provider reports; ``code`` is Brave's error code if any."""

    #: Seconds the server asked us to wait (``Retry-After``), when it said.
    retry_after: float | None = None

    def __init__(
        self, message: str, *, kind: str = "search_failed", retryable: bool = False, code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, kind=kind, retryable=retryable)
        self.code = code
        self.status = status


class BraveParameterError(BraveError, ValueError):
    """A search parameter Brave would refuse; raised before any request is spent on it."""

    recoverable = False

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"Brave parameter {param!r}: {message}", kind="invalid_parameter")
        self.param = param


class BraveAuthError(BraveError):
    """The key was rejected or its subscription does not exist."""


class BraveValidationError(BraveError):
    """Brave refused the request's parameters (422 VALIDATION); ``fields`` names the ones it blamed."""

    def __init__(self, message: str, *, fields: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.fields = fields


class BravePlanError(BraveError):
    """The request used an option the subscription's plan does not include."""


class BraveRateLimited(BraveError):
    """Too many requests per second; ``reset`` is how many seconds to wait before the next one."""

    def __init__(self, message: str, *, reset: float | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("retryable", True)
        super().__init__(message, kind="rate_limited", **kwargs)
        self.reset = reset


class BraveQuotaExceeded(BraveError):
    """The plan's monthly quota is used up; no retry helps until ``reset`` seconds have passed."""

    def __init__(self, message: str, *, reset: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, kind="quota_exceeded", **kwargs)
        self.reset = reset


class BraveServerError(BraveError):
    """Brave (or a proxy in front of it) answered 5xx; worth retrying later."""


class BraveUnavailable(BraveError):
    """Brave could not be reached in time: a timeout or a connection failure."""


class BraveResponseError(BraveError):
    """Brave answered something that is not its JSON: a proxy's HTML page, truncated or malformed JSON."""


def quota_message(reset: float | None) -> str:
    """The user-facing sentence for an exhausted monthly quota."""
    if reset is None:
        return "Brave Search monthly quota used up; it resets at the start of your next billing period"
    days = max(1, math.ceil(reset / 86400))
    return f"Brave Search monthly quota used up, resets in {days} day{'s' if days != 1 else ''}"


def error_from_response(
    status: int, body: bytes, content_type: str, *, rate_reset: float | None = None, quota_reset: float | None = None
) -> BraveError:
    """Turn a non-2xx Brave response into the matching typed exception (never echoing request headers)."""
    detail = _error_detail(body, content_type)
    if detail is None:
        return _plain_status_error(status, content_type, rate_reset)
    code = str(detail.get("code") or "")
    text = str(detail.get("detail") or "").strip()
    suffix = f" ({text})" if text else ""
    meta: Mapping[str, Any] = detail["meta"] if isinstance(detail.get("meta"), Mapping) else {}
    common: dict[str, Any] = {"code": code or None, "status": status}
    if code == "SUBSCRIPTION_TOKEN_INVALID":
        return BraveAuthError(
            "Brave rejected your API key: check BRAVE_API_KEY (copy it again from the Brave Search API "
            f"dashboard){suffix}", kind="auth_failed", **common)
    if code == "SUBSCRIPTION_NOT_FOUND":
        return BraveAuthError(
            f"Brave found no active subscription for your API key: subscribe to a plan in the dashboard{suffix}",
            kind="auth_failed", **common)
    if code == "QUOTA_LIMITED":
        return BraveQuotaExceeded(quota_message(quota_reset), reset=quota_reset, **common)
    if code == "RATE_LIMITED" or (status == 429 and not code):
        return BraveRateLimited(f"Brave rate limit reached{suffix}", reset=rate_reset, **common)
    if code == "OPTION_NOT_IN_PLAN":
        return BravePlanError(
            f"your Brave plan does not include an option this search used; remove it or upgrade{suffix}",
            kind="plan_limited", **common)
    if code == "VALIDATION":
        fields = _blamed_fields(meta)
        named = f": {', '.join(fields)}" if fields else ""
        return BraveValidationError(
            f"Brave refused the search parameters{named}{suffix}", fields=fields, kind="invalid_parameter", **common)
    if status >= 500:
        return BraveServerError(f"Brave server error {status}{suffix}", retryable=True, **common)
    return BraveError(f"Brave answered {status} {code or 'error'}{suffix}", **common)


def _error_detail(body: bytes, content_type: str) -> Mapping[str, Any] | None:
    """The ``error`` object of either body shape (``error:{}`` or ``errors:[...]``), or ``None``."""
    if "json" not in content_type.lower() and not body.lstrip().startswith(b"{"):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, Mapping):
        return None
    error = data.get("error")
    if isinstance(error, Mapping):
        return error
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        return errors[0]
    return None


def _blamed_fields(meta: Mapping[str, Any]) -> tuple[str, ...]:
    """The parameter names in a VALIDATION error's ``meta.errors[*].loc``."""
    names: list[str] = []
    for item in meta.get("errors") or ():
        if not isinstance(item, Mapping):
            continue
        loc = item.get("loc")
        if isinstance(loc, list) and loc:
            name = str(loc[-1])
            if name not in names:
                names.append(name)
    return tuple(names)


def _plain_status_error(status: int, content_type: str, rate_reset: float | None) -> BraveError:
    """An error for a response that carries no Brave error body (a proxy's page, say)."""
    what = "an HTML page" if "html" in content_type.lower() else "a body that is not Brave's JSON"
    if status >= 500:
        return BraveServerError(f"Brave answered {status} with {what}; try again later", retryable=True, status=status)
    if status == 429:
        return BraveRateLimited(f"Brave answered 429 with {what}", reset=rate_reset, status=status)
    if status in (401, 403, 407):
        return BraveResponseError(
            f"Brave answered {status} with {what}: a proxy or firewall may be blocking api.search.brave.com, "
            "or the base URL is wrong", kind="blocked", status=status)
    return BraveResponseError(f"Brave answered {status} with {what}; check the base URL", status=status)
