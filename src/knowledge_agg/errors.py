"""The exceptions knowledge_agg raises; each says what went wrong and what to do about it."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

__all__ = [
    "KnowledgeAggError",
    "QueryError",
    "FlagError",
    "OptionError",
    "ProviderError",
    "FetchError",
    "MissingDependency",
    "require",
    "require_installed",
]


class KnowledgeAggError(Exception):
    """Base class of every error this package raises on purpose."""

    #: A short machine-readable name, used as ``kind`` in ``error`` events.
    kind: str = "error"
    #: Whether the run can go on without the thing that failed.
    recoverable: bool = True


class QueryError(KnowledgeAggError, ValueError):
    """The query cannot be run: empty, or longer than the configured limit."""

    kind = "invalid_query"
    recoverable = False


class FlagError(KnowledgeAggError, ValueError):
    """An unknown feature flag, or a value that is not on/off."""

    kind = "invalid_flag"
    recoverable = False


class OptionError(KnowledgeAggError, ValueError):
    """A per-run option that is not a setting, or a value the setting refuses."""

    kind = "invalid_option"
    recoverable = False


class ProviderError(KnowledgeAggError):
    """A search provider failed; ``retryable`` tells whether trying again may help."""

    kind = "search_failed"

    def __init__(self, message: str, *, kind: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        self.retryable = retryable


class FetchError(KnowledgeAggError):
    """A page could not be read (refused address, too large, wrong type, timeout, HTTP error)."""

    kind = "fetch_failed"

    def __init__(self, message: str, *, url: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.url = url
        if kind is not None:
            self.kind = kind


class MissingDependency(KnowledgeAggError, ImportError):
    """An optional extra is not installed; the message names the ``pip install`` that fixes it."""

    kind = "missing_dependency"
    recoverable = False


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependency` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(
            f"{module!r} is needed for this feature: pip install 'knowledge-agg[{extra}]'"
        ) from exc


def require_installed(packages: Sequence[str], *, needed_for: str, extra: str) -> None:
    """Raise :class:`MissingDependency` naming those of ``packages`` that are not installed and the extra that
    brings them; a lookup, nothing is imported (a check made before a run's search, which imports too slowly)."""
    import importlib.util

    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingDependency(f"{needed_for} needs {', '.join(missing)}: pip install 'knowledge-agg[{extra}]'")
