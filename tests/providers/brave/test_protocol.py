"""Parameter validation: Brave's rules are checked before any request, each error naming its parameter."""

from __future__ import annotations

import pytest

from knowledge_agg.errors import ProviderError
from knowledge_agg.providers.brave import BraveParameterError
from knowledge_agg.providers.brave.protocol import encode, problems


def test_valid_parameters_encode_to_brave_wire_values() -> None:
    items = encode("web", {
        "q": "python asyncio", "count": 20, "offset": 9, "country": "us", "search_lang": "en", "ui_lang": "en-US",
        "safesearch": "strict", "freshness": "2024-01-01to2024-06-30", "result_filter": ["web", "faq"],
        "text_decorations": False, "spellcheck": True, "extra_snippets": True, "goggles": ["a", "b"], "units": None,
    })
    assert ("count", "20") in items and ("text_decorations", "false") in items and ("spellcheck", "true") in items
    assert ("result_filter", "web,faq") in items
    assert [v for k, v in items if k == "goggles"] == ["a", "b"]
    assert all(k != "units" for k, _ in items)
    assert encode("news", {"q": "x", "count": 50})[-1] == ("count", "50")


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 401}, "q"),
        ({"q": " ".join(["w"] * 51)}, "q"),
        ({"q": "x", "count": 0}, "count"),
        ({"q": "x", "count": 21}, "count"),
        ({"q": "x", "count": "5"}, "count"),
        ({"q": "x", "count": True}, "count"),
        ({"q": "x", "offset": 10}, "offset"),
        ({"q": "x", "offset": -1}, "offset"),
        ({"q": "x", "safesearch": "high"}, "safesearch"),
        ({"q": "x", "freshness": "pq"}, "freshness"),
        ({"q": "x", "freshness": "2024-02-30to2024-03-01"}, "freshness"),
        ({"q": "x", "freshness": "2024-05-01to2024-03-01"}, "freshness"),
        ({"q": "x", "country": "usa"}, "country"),
        ({"q": "x", "ui_lang": "en"}, "ui_lang"),
        ({"q": "x", "result_filter": "web,pictures"}, "result_filter"),
        ({"q": "x", "spellcheck": "yes"}, "spellcheck"),
        ({"q": "x", "goggles": [""]}, "goggles"),
        ({"q": "x", "cuont": 5}, "cuont"),
    ],
)
def test_a_bad_parameter_is_refused_by_name(params: dict, name: str) -> None:
    with pytest.raises(BraveParameterError) as info:
        encode("web", params)
    assert info.value.param == name
    assert repr(name) in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ProviderError)


def test_news_allows_fifty_but_not_web_only_options() -> None:
    with pytest.raises(BraveParameterError, match="result_filter"):
        encode("news", {"q": "x", "result_filter": "web"})
    with pytest.raises(BraveParameterError, match="count"):
        encode("news", {"q": "x", "count": 51})


def test_problems_reports_every_broken_rule_for_the_server() -> None:
    found = problems("web", [("count", "99"), ("offset", "x"), ("count", "3"), ("unknown", "1")])
    assert [p.param for p in found] == ["count", "offset", "count", "q"]
    assert found[-1].type == "missing"
    assert problems("web", [("q", "ok"), ("goggles", "a"), ("goggles", "b")]) == []
