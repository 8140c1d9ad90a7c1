"""The Brave Search API provider: ``BraveProvider`` and the typed errors it raises."""

from __future__ import annotations

from ._errors import (
    BraveAuthError,
    BraveError,
    BraveParameterError,
    BravePlanError,
    BraveQuotaExceeded,
    BraveRateLimited,
    BraveResponseError,
    BraveServerError,
    BraveUnavailable,
    BraveValidationError,
)
from ._parse import BraveResponse, FaqAnswer, plain_text
from ._ratelimit import Quota
from .client import BraveProvider

__all__ = [
    "BraveProvider",
    "BraveResponse",
    "FaqAnswer",
    "Quota",
    "plain_text",
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
]
