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
from .client import BraveProvider
from .rate_headers import Quota
from .response import BraveResponse, FaqAnswer, plain_text

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

# The errors are defined in the private ``_errors``; users see (and pickle) them as this package's.
for _error in (
    BraveError, BraveParameterError, BraveAuthError, BraveValidationError, BravePlanError, BraveRateLimited,
    BraveQuotaExceeded, BraveServerError, BraveUnavailable, BraveResponseError,
):
    _error.__module__ = __name__
del _error
