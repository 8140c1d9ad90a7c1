"""The server's corpus as a search provider: per-run error injection, hits served as ``/pages/{id}``.

Runs started through the server's API set a :class:`RunContext` for their task. With error
injection on, searches may fail or lag, and hits point at this server's own pages, with
``doc_id`` cleared, so the run reads them over real HTTP where page faults apply too.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass, replace
from urllib.parse import quote, urlencode

from .._text import sentence_spans, terms
from ..errors import ProviderError
from ..models import Hit, Hits
from ..providers import Notify, SearchProvider
from .injection import InjectionConfig
from .pages import Document

__all__ = ["RunContext", "ServedCorpus", "excerpts", "run_context"]

_TITLES_KEPT = 10_000
#: Brave returns up to 5 extra snippets per result; longer sentences are cut to this many words.
_EXCERPTS = 5
_EXCERPT_WORDS = 60


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a run started by the server needs: where its own pages are, which faults to inject."""

    base_url: str
    injection: InjectionConfig | None


#: Set by the run routes in the task that drives a run; inherited by the run's own tasks.
run_context: ContextVar[RunContext | None] = ContextVar("knowledge_agg_run_context", default=None)


class ServedCorpus:
    """Wraps the index provider for the server: injection on searches, page URLs, titles by id."""

    def __init__(self, index: SearchProvider) -> None:
        self.index = index
        self.name = index.name
        self._titles: OrderedDict[str, tuple[str, str]] = OrderedDict()

    async def search(
        self, query: str, *, count: int, notify: Notify | None = None, excerpts: bool = False
    ) -> Hits:
        """The index's hits, or an injected failure; served as page URLs when injection is on.

        With ``excerpts`` (the Brave stand-in), each hit carries Brave-like ``extra_snippets``.
        """
        ctx = run_context.get()
        config = ctx.injection if ctx is not None else None
        if config is not None:
            await config.delay_search()
            status = config.search_fault()
            if status == 429:
                raise ProviderError("search rate limited (injected 429)", kind="rate_limited", retryable=True)
            if status is not None:
                raise ProviderError(f"search failed with HTTP {status} (injected)", kind="search_failed")
        found = await self.index.search(query, count=count, notify=notify)
        respelt = found.respelt if isinstance(found, Hits) else {}
        hits = list(await asyncio.gather(*(self._with_excerpts(h, query) for h in found))) if excerpts else list(found)
        self._remember(hits)
        if ctx is not None and config is not None:
            hits = [self._served(hit, ctx, config) for hit in hits]
        return Hits(hits, respelt)

    async def document(self, hit: Hit) -> str | None:
        """The index's text of a hit (no HTTP)."""
        return await self.index.document(hit)

    async def lookup(self, doc_id: str) -> Document | None:
        """One document by id, for ``/pages/{id}``; the title is the one search last showed for it."""
        text = await self.index.document(Hit(rank=1, title="", url="", snippet="", provider=self.name, doc_id=doc_id))
        if not text:
            return None
        title, url = self._titles.get(doc_id) or (_first_line(text) or doc_id, "")
        return Document(id=doc_id, title=title, text=text, url=url)

    async def aclose(self) -> None:
        """Close the index."""
        await self.index.aclose()

    async def _with_excerpts(self, hit: Hit, query: str) -> Hit:
        """The hit with Brave-like ``extra_snippets``: the document's sentences that best match the query."""
        if hit.extra_snippets or hit.doc_id is None:
            return hit
        text = await self.index.document(hit)
        return replace(hit, extra_snippets=excerpts(text, query)) if text else hit

    def _remember(self, hits: list[Hit]) -> None:
        for hit in hits:
            if hit.doc_id is not None:
                self._titles[hit.doc_id] = (hit.title, hit.url)
                self._titles.move_to_end(hit.doc_id)
        while len(self._titles) > _TITLES_KEPT:
            self._titles.popitem(last=False)

    @staticmethod
    def _served(hit: Hit, ctx: RunContext, config: InjectionConfig) -> Hit:
        url = f"{ctx.base_url}/pages/{quote(hit.doc_id or '', safe='')}"
        page = config.page_part()
        if page:
            url += "?" + urlencode({"inject": json.dumps(page, separators=(",", ":"))})
        return replace(hit, url=url, doc_id=None)


def excerpts(text: str, query: str) -> tuple[str, ...]:
    """Up to 5 sentences of ``text`` holding the most distinct query terms, in document order."""
    wanted = set(terms([query]))
    scored = []
    for position, (start, end) in enumerate(sentence_spans(text)):
        sentence = " ".join(text[start:end].split())
        found = len(wanted.intersection(terms([sentence])))
        if found:
            scored.append((-found, position, sentence))
    best = sorted(scored)[:_EXCERPTS]
    return tuple(_clip(sentence) for _, _, sentence in sorted(best, key=lambda item: item[1]))


def _clip(sentence: str) -> str:
    words = sentence.split()
    return sentence if len(words) <= _EXCERPT_WORDS else " ".join(words[:_EXCERPT_WORDS]) + " …"


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:120]
