"""Brave's JSON responses → plain-text ``Hit``s, the altered query and FAQ answers, tolerating any shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from ...models import Hit
from .protocol import Endpoint

__all__ = ["BraveResponse", "FaqAnswer", "parse_response", "plain_text", "hits_with_faq"]


@dataclass(frozen=True, slots=True)
class FaqAnswer:
    """A question and answer Brave attached to the results (``faq`` section)."""

    question: str
    answer: str
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class BraveResponse:
    """One parsed Brave page: hits in Brave's order (ranks from 1), and what the query turned into."""

    endpoint: Endpoint
    hits: list[Hit]
    original_query: str
    altered_query: str | None = None
    more_results_available: bool = False
    faq: list[FaqAnswer] = field(default_factory=list)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


class _TextCollector(HTMLParser):
    """Collects the character data of an HTML fragment, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(fragment: object) -> str:
    """The text of a Brave HTML snippet: tags such as ``<strong>`` dropped, entities decoded, spaces folded."""
    if not isinstance(fragment, str) or not fragment:
        return ""
    collector = _TextCollector()
    collector.feed(fragment)
    collector.close()
    return " ".join("".join(collector.parts).split())


def parse_response(endpoint: Endpoint, data: object, *, first_rank: int = 1) -> BraveResponse:
    """Parse a web or news response body; results without a usable URL are skipped, unknown fields ignored."""
    body: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
    query = _mapping(body.get("query"))
    results = _mapping(body.get("web")).get("results") if endpoint == "web" else body.get("results")
    hits: list[Hit] = []
    for item in results if isinstance(results, list) else ():
        hit = _hit(_mapping(item), first_rank + len(hits))
        if hit is not None:
            hits.append(hit)
    altered = query.get("altered")
    return BraveResponse(
        endpoint=endpoint,
        hits=hits,
        original_query=str(query.get("original") or ""),
        altered_query=str(altered) if isinstance(altered, str) and altered else None,
        more_results_available=bool(query.get("more_results_available", False)),
        faq=_faq(_mapping(body.get("faq"))),
        raw=body,
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _hit(item: Mapping[str, Any], rank: int) -> Hit | None:
    """One result object → ``Hit``, or ``None`` when it has no http(s) URL."""
    url = item.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        return None
    meta_url = _mapping(item.get("meta_url"))
    domain = meta_url.get("hostname") if isinstance(meta_url.get("hostname"), str) else None
    extras = item.get("extra_snippets")
    return Hit(
        rank=rank,
        title=plain_text(item.get("title")) or url,
        url=url,
        snippet=plain_text(item.get("description")),
        provider="brave",
        domain=(domain or urlsplit(url).hostname or "").lower(),
        age=item.get("age") if isinstance(item.get("age"), str) else None,
        page_age=item.get("page_age") if isinstance(item.get("page_age"), str) else None,
        extra_snippets=tuple(
            text for text in (plain_text(x) for x in (extras if isinstance(extras, list) else ())) if text
        ),
    )


def _faq(section: Mapping[str, Any]) -> list[FaqAnswer]:
    """The ``faq.results`` entries that carry both a question and an answer."""
    answers: list[FaqAnswer] = []
    results = section.get("results")
    for item in results if isinstance(results, list) else ():
        entry = _mapping(item)
        question, answer = plain_text(entry.get("question")), plain_text(entry.get("answer"))
        if question and answer:
            url = entry["url"] if isinstance(entry.get("url"), str) else ""
            answers.append(FaqAnswer(question, answer, plain_text(entry.get("title")), url))
    return answers


def hits_with_faq(response: BraveResponse) -> list[Hit]:
    """The page's hits, each carrying as extra snippets the FAQ answers Brave linked to its URL."""
    answers: dict[str, list[str]] = {}
    for faq in response.faq:
        answers.setdefault(faq.url, []).append(f"{faq.question} {faq.answer}")
    return [
        replace(hit, extra_snippets=hit.extra_snippets + tuple(answers[hit.url])) if hit.url in answers else hit
        for hit in response.hits
    ]
