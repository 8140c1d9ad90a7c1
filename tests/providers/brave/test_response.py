"""Parsing real recorded Brave responses: every title and URL in order, plain-text snippets, odd shapes."""

from __future__ import annotations

import json
import re

from benchmarks.data import BRAVE_FIXTURES
from knowledge_agg.providers.brave import plain_text
from knowledge_agg.providers.brave.response import parse_response

_MARKUP = re.compile(r"<[a-z/][^>]*>|&(#\d+|#x[0-9a-f]+|[a-z]+);", re.IGNORECASE)


def _fixture(name: str) -> dict:
    return json.loads((BRAVE_FIXTURES / name).read_text(encoding="utf-8"))


def test_web_fixture_keeps_every_title_and_url_in_order() -> None:
    data = _fixture("web_hello_world.json")
    parsed = parse_response("web", data)
    raw = data["web"]["results"]
    assert [h.url for h in parsed.hits] == [r["url"] for r in raw]
    assert [h.title for h in parsed.hits] == [plain_text(r["title"]) for r in raw]
    assert [h.rank for h in parsed.hits] == list(range(1, len(raw) + 1))
    assert parsed.original_query == data["query"]["original"]
    assert parsed.more_results_available is data["query"]["more_results_available"]
    assert all(h.provider == "brave" and h.domain == r["meta_url"]["hostname"] for h, r in zip(parsed.hits, raw, strict=True))


def test_web_fixture_snippets_are_plain_text() -> None:
    data = _fixture("web_hello_world.json")
    parsed = parse_response("web", data)
    assert any("<strong>" in r["description"] for r in data["web"]["results"])
    for hit in parsed.hits:
        assert hit.snippet and not _MARKUP.search(hit.snippet), hit.snippet
    first = parsed.hits[0].snippet
    assert first.startswith('A "Hello, World!" program is usually a simple computer program')
    assert "language's basic syntax" in first


def test_news_fixture_keeps_every_title_and_url_in_order() -> None:
    data = _fixture("news_hello_world.json")
    parsed = parse_response("news", data)
    assert [h.url for h in parsed.hits] == [r["url"] for r in data["results"]]
    assert [h.title for h in parsed.hits] == [plain_text(r["title"]) for r in data["results"]]
    assert all(h.snippet and not _MARKUP.search(h.snippet) for h in parsed.hits)
    assert [h.age for h in parsed.hits] == [r["age"] for r in data["results"]]


def test_first_rank_follows_the_page_offset() -> None:
    parsed = parse_response("web", _fixture("web_hello_world.json"), first_rank=21)
    assert parsed.hits[0].rank == 21


def test_extra_snippets_altered_query_and_faq_are_read() -> None:
    data = {
        "query": {"original": "pyton asyncio", "altered": "python asyncio", "more_results_available": False},
        "web": {"results": [{
            "title": "asyncio &mdash; docs", "url": "https://docs.python.org/3/library/asyncio.html",
            "description": "<strong>asyncio</strong> is a library", "extra_snippets": ["Runs <b>tasks</b> &amp; more", 7],
        }]},
        "faq": {"results": [{"question": "What is <strong>asyncio</strong>?", "answer": "A library &lt;stdlib&gt;",
                             "title": "FAQ", "url": "https://docs.python.org/3/library/asyncio.html"}]},
    }
    parsed = parse_response("web", data)
    assert parsed.altered_query == "python asyncio"
    hit = parsed.hits[0]
    assert hit.title == "asyncio \u2014 docs"
    assert hit.extra_snippets == ("Runs tasks & more",)
    assert parsed.faq[0].question == "What is asyncio?" and parsed.faq[0].answer == "A library <stdlib>"


def test_unknown_and_missing_fields_are_tolerated() -> None:
    data = {
        "type": "search", "surprise": {"x": 1},
        "web": {"results": [
            {"url": "https://example.org/a"},
            {"title": "no url"},
            "not an object",
            {"url": "javascript:alert(1)", "title": "bad scheme"},
            {"url": "https://example.org/b", "title": None, "description": 5, "meta_url": "?", "age": 3},
        ]},
    }
    parsed = parse_response("web", data)
    assert [h.url for h in parsed.hits] == ["https://example.org/a", "https://example.org/b"]
    assert parsed.hits[0].title == "https://example.org/a" and parsed.hits[0].snippet == ""
    assert parsed.hits[1].domain == "example.org" and parsed.hits[1].age is None
    assert parse_response("web", []).hits == [] and parse_response("news", {"results": None}).hits == []


def test_plain_text_decodes_entities_and_drops_tags() -> None:
    assert plain_text("a &quot;b&quot; <strong>c</strong>&#x27;s &amp;  d\n e") == "a \"b\" c's & d e"
    assert plain_text("1 < 2 and 3 > 2") == "1 < 2 and 3 > 2"
    assert plain_text(None) == ""
