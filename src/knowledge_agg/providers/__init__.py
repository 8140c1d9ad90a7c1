"""Search providers: the ``SearchProvider`` interface and the factory that picks one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..models import Hit

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["SearchProvider", "Notify", "make_provider"]

#: Called by a provider with a human-readable progress note (e.g. "rate limited, retrying in 1.0 s").
Notify = Callable[[str], None]


@runtime_checkable
class SearchProvider(Protocol):
    """Anything that turns a search string into ranked hits."""

    name: str

    async def search(self, query: str, *, count: int, notify: Notify | None = None) -> list[Hit]:
        """Return up to ``count`` hits, best first; raise ``ProviderError`` on failure."""
        ...

    async def document(self, hit: Hit) -> str | None:
        """The full text of a hit when the provider holds it (no HTTP needed), else ``None``."""
        ...

    async def aclose(self) -> None:
        """Release connections and files."""
        ...


def make_provider(settings: Settings) -> SearchProvider:
    """The provider the settings ask for (``brave`` with a key, else the local index)."""
    if settings.effective_provider == "brave":
        from .brave import BraveProvider

        return BraveProvider.from_settings(settings)
    from .local import LocalProvider

    return LocalProvider.from_settings(settings)
