"""Select the sources worth reading: dedup by normalised URL, cap per domain, score rank and term matches."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ._text import terms
from .rank import query_terms
from .models import Analysis, Hit, Source
from .urls import domain_of, normalize_url

__all__ = ["select_sources"]

#: How much one query term found in the title (or in the snippets) weighs against one rank step.
_TITLE_WEIGHT = 0.5
_SNIPPET_WEIGHT = 2.0


def _key(hit: Hit) -> str:
    if hit.doc_id is not None:
        return f"doc:{hit.doc_id}"
    try:
        return normalize_url(hit.url)
    except ValueError:
        return hit.url.strip()


def _matches(query: Sequence[str], text: str) -> list[str]:
    present = set(terms([text]))
    return [term for term in query if term in present]


def _score(hit: Hit, query: Sequence[str]) -> tuple[float, list[str], list[str]]:
    title = _matches(query, hit.title)
    snippet = _matches(query, " ".join((hit.snippet, *hit.extra_snippets)))
    share = len(query) or 1
    score = 1.0 / (1 + 0.25 * (hit.rank - 1)) + (_TITLE_WEIGHT * len(title) + _SNIPPET_WEIGHT * len(snippet)) / share
    return score, title, snippet


def _quote(words: Sequence[str]) -> str:
    return ", ".join(f"'{w}'" for w in words)


def select_sources(
    hits: Sequence[Hit], analysis: Analysis, *, max_sources: int = 5, max_per_domain: int = 2
) -> list[Source]:
    """Up to ``max_sources`` distinct hits, best first, each with a score and a readable reason."""
    query = query_terms(analysis)
    seen: set[str] = set()
    scored: list[tuple[float, int, Hit, list[str], list[str]]] = []
    for order, hit in enumerate(sorted(hits, key=lambda h: h.rank)):
        key = _key(hit)
        if key in seen:
            continue
        seen.add(key)
        score, title, snippet = _score(hit, query)
        scored.append((score, order, hit, title, snippet))
    scored.sort(key=lambda item: (-item[0], item[1]))
    per_domain: Counter[str] = Counter()
    picked: list[tuple[float, Hit, list[str], list[str]]] = []
    for score, _, hit, title, snippet in scored:
        if len(picked) >= max_sources:
            break
        if hit.doc_id is None:
            domain = domain_of(hit.url) or hit.domain
            if per_domain[domain] >= max_per_domain:
                continue
            per_domain[domain] += 1
        picked.append((score, hit, title, snippet))
    listed: Counter[str] = Counter()
    return [_source(i, *item, per_domain, listed) for i, item in enumerate(picked, start=1)]


def _source(
    number: int,
    score: float,
    hit: Hit,
    title: list[str],
    snippet: list[str],
    per_domain: Counter[str],
    listed: Counter[str],
) -> Source:
    """The chosen hit as a ``Source`` whose reason says why (rank, matches, domain share)."""
    parts = [f"rank {hit.rank}"]
    if title:
        parts.append(f"title matches {_quote(title)}")
    snippet_only = [w for w in snippet if w not in title]
    if snippet_only:
        parts.append(f"snippet matches {_quote(snippet_only)}")
    if hit.doc_id is None:
        domain = domain_of(hit.url) or hit.domain
        listed[domain] += 1
        parts.append(f"{listed[domain]} of {per_domain[domain]} from {domain}")
    return Source(id=number, hit=hit, score=round(score, 4), reason="; ".join(parts))
