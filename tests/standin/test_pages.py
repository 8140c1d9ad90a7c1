"""The stand-in wired to the corpus: results point at /pages/{id}, whose HTML extracts to the document's text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from knowledge_agg.aggregator import KnowledgeAggregator
from knowledge_agg.extract import extract_text
from knowledge_agg.settings import Settings
from knowledge_agg.standin import excerpts
from tests.helpers.corpus_server import DOCS, running_server

_TEXTS = {d["id"]: d["text"] for d in DOCS}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("pages"), flags="error_injection=on") as base:
        yield base


def _words(text: str) -> str:
    return " ".join(text.split())


def test_standin_results_point_at_pages_that_extract_to_the_document(url: str) -> None:
    r = httpx.get(f"{url}/res/v1/web/search", params={"q": "asyncio tasks"}, headers={"X-Subscription-Token": "k"})
    assert r.status_code == 200
    results = r.json()["web"]["results"]
    assert results and all(res["url"].startswith(f"{url}/pages/") for res in results)
    for res in results:
        page = httpx.get(res["url"])
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "cookie-banner" in page.text and "<nav" in page.text and "<footer" in page.text
        doc_id = res["url"].rsplit("/", 1)[1]
        extracted = _words(extract_text(page.text, res["url"]))
        for paragraph in _TEXTS[doc_id].split("\n\n"):
            assert _words(paragraph) in extracted
        assert "cookies" not in extracted and "Report it" not in extracted  # boilerplate left out


def test_extra_snippets_are_the_documents_best_matching_sentences(url: str) -> None:
    params = {"q": "cancel a task", "extra_snippets": "true"}
    r = httpx.get(f"{url}/res/v1/web/search", params=params, headers={"X-Subscription-Token": "k"})
    top = r.json()["web"]["results"][0]
    doc_id = top["url"].rsplit("/", 1)[1]
    assert doc_id == "asyncio-tasks" and 1 <= len(top["extra_snippets"]) <= 5
    text = _words(_TEXTS[doc_id])
    assert all(s.removesuffix(" …") in text for s in top["extra_snippets"])  # taken verbatim, in order
    assert [text.index(s) for s in top["extra_snippets"]] == sorted(text.index(s) for s in top["extra_snippets"])
    assert any("cancel" in s.lower() for s in top["extra_snippets"])
    plain = httpx.get(f"{url}/res/v1/web/search", params={"q": "cancel a task"}, headers={"X-Subscription-Token": "k"})
    assert "extra_snippets" not in plain.json()["web"]["results"][0]  # only when asked for, as Brave does


def test_excerpts_prefer_sentences_with_more_query_terms() -> None:
    text = "Bread is baked. A task can be cancelled. Cancel a task with cancel(); the task then ends. Soup."
    assert excerpts(text, "cancel task") == ("A task can be cancelled.", "Cancel a task with cancel(); the task then ends.")
    assert excerpts(text, "zebra") == ()
    long = "task " + "word " * 100 + "end."
    (clipped,) = excerpts(long, "task")
    assert len(clipped.split()) == 61 and clipped.endswith(" …")


def test_unknown_page_is_404(url: str) -> None:
    assert httpx.get(f"{url}/pages/no-such-doc").status_code == 404


async def test_real_brave_client_and_fetcher_against_the_standin(url: str, tmp_path: Path) -> None:
    settings = Settings(
        provider="brave", brave_api_key="anything", brave_base_url=url, brave_cache=False,
        allow_private_hosts=True, cache_dir=tmp_path, max_sources=3,
    )
    async with KnowledgeAggregator(settings) as agg:
        run = await agg.run("how do I cancel an asyncio task")
    assert not run.partial, run.errors
    assert run.results[0].provider == "brave" and run.results[0].url == f"{url}/pages/asyncio-tasks"
    assert "<strong>" not in run.results[0].snippet  # the client turned Brave's HTML into plain text
    cancel = _words(_TEXTS["asyncio-tasks"].split("\n\n")[1])
    assert any(_words(p.text) in cancel or cancel in _words(p.text) for p in run.passages)


def _inject(**fields: object) -> dict[str, str]:
    return {"X-Inject": json.dumps(fields)}


def test_page_faults_look_like_real_breakage(url: str) -> None:
    page = f"{url}/pages/json"
    r = httpx.get(page, headers=_inject(page_fail_ids=["json"], page_faults=["500"]))
    assert r.status_code == 500
    r = httpx.get(page, headers=_inject(page_fail_ids=["json"], page_faults=["content_type"]))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    r = httpx.get(page, headers=_inject(page_fail_ids=["json"], page_faults=["garbage"]))
    assert r.headers["content-type"].startswith("text/html") and b"\x00" in r.content
    with pytest.raises(httpx.RemoteProtocolError):
        truncated = _inject(page_fail_ids=["json"], page_faults=["truncated"])
        httpx.get(page, headers={**truncated, "Accept-Encoding": "identity"})
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(page, headers=_inject(page_fail_ids=["json"], page_faults=["timeout"], page_timeout=30), timeout=0.5)
    assert httpx.get(page, headers=_inject(page_fail_ids=["other"])).status_code == 200


def test_page_failure_rate_picks_the_same_pages_every_time(url: str) -> None:
    headers = _inject(page_failure_rate=0.5, seed=7)
    first = [httpx.get(f"{url}/pages/{d}", headers=headers).status_code for d in _TEXTS]
    again = [httpx.get(f"{url}/pages/{d}", headers=headers).status_code for d in _TEXTS]
    assert first == again and set(first) <= {200, 500}


def test_invalid_override_is_422(url: str) -> None:
    assert httpx.get(f"{url}/pages/json", headers={"X-Inject": "{nope"}).status_code == 422
    assert httpx.get(f"{url}/pages/json", headers=_inject(page_faults=["explode"])).status_code == 422
