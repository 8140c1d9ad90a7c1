"""The stand-in's backend: the corpus index searched with Brave-like excerpts, documents by id for ``/pages``."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from ..models import Document, Hit, Hits
from ..providers.local import LocalProvider
from ..text import sentence_spans, terms

__all__ = ["StandinCorpus", "excerpts"]

#: Brave returns up to 5 extra snippets per result; longer sentences are cut to this many words.
_EXCERPTS = 5
_EXCERPT_WORDS = 60
#: Brave answers at most this many results per request (``count`` × pages).
_MAX_HITS = 200


class StandinCorpus:
    """What the stand-in answers from: a local index, its hits with ``extra_snippets``, its documents by id."""

    def __init__(self, index: LocalProvider) -> None:
        self.index = index

    async def search(self, query: str, limit: int) -> Hits:
        """Up to ``limit`` hits, each carrying the document's sentences that best match the query."""
        found = await self.index.search(query, count=min(limit, _MAX_HITS))
        hits = await asyncio.gather(*(self._with_excerpts(hit, query) for hit in found))
        return Hits(hits, found.respelt)

    async def lookup(self, doc_id: str) -> Document | None:
        """One document by id, for ``/pages/{id}``."""
        return await self.index.lookup(doc_id)

    async def _with_excerpts(self, hit: Hit, query: str) -> Hit:
        if hit.extra_snippets or hit.doc_id is None:
            return hit
        doc = await self.index.lookup(hit.doc_id)
        return replace(hit, extra_snippets=excerpts(doc.text, query)) if doc is not None else hit


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
