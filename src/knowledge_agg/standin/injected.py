"""The server's own runs under error injection: their searches may fail or lag, their pages are ``/pages``.

A run the server starts while injection is in force sets :data:`run_injection` for its task;
:class:`InjectingProvider` wraps the product's real provider and, for such runs only, injects
search faults and points hits that have a document id at this server's ``/pages/{id}`` (with
``doc_id`` cleared), so the run reads them over real HTTP where page faults apply too.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, replace

from ..errors import ProviderError
from ..models import Hit, Hits
from ..providers import Notify, SearchProvider
from .injection import InjectionConfig
from .pages import page_url

__all__ = ["RunInjection", "InjectingProvider", "run_injection"]


@dataclass(frozen=True, slots=True)
class RunInjection:
    """One injected run's faults and the base URL at which it reaches this server's pages."""

    base_url: str
    config: InjectionConfig


#: Set by the server in the task that drives an injected run; inherited by the run's own tasks.
run_injection: ContextVar[RunInjection | None] = ContextVar("knowledge_agg_run_injection", default=None)


class InjectingProvider:
    """The product's provider, with faults and ``/pages`` URLs for the runs that :data:`run_injection` marks."""

    def __init__(self, provider: SearchProvider) -> None:
        self.provider = provider
        self.name = provider.name

    async def search(self, query: str, *, count: int, notify: Notify | None = None) -> list[Hit]:
        """The provider's hits, or an injected failure; served as page URLs for an injected run."""
        injected = run_injection.get()
        if injected is None:
            return await self.provider.search(query, count=count, notify=notify)
        config = injected.config
        await config.delay_search()
        status = config.search_fault()
        if status == 429:
            raise ProviderError("search rate limited (injected 429)", kind="rate_limited", retryable=True)
        if status is not None:
            raise ProviderError(f"search failed with HTTP {status} (injected)", kind="search_failed")
        found = await self.provider.search(query, count=count, notify=notify)
        respelt = found.respelt if isinstance(found, Hits) else {}
        return Hits((_served(hit, injected) for hit in found), respelt)

    async def document(self, hit: Hit) -> str | None:
        """The provider's text of a hit (no HTTP)."""
        return await self.provider.document(hit)

    async def aclose(self) -> None:
        """Close the provider."""
        await self.provider.aclose()


def _served(hit: Hit, injected: RunInjection) -> Hit:
    if hit.doc_id is None:
        return hit
    return replace(hit, url=page_url(injected.base_url, hit.doc_id, injected.config.page_part()), doc_id=None)
