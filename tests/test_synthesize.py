"""Extractive synthesis: verbatim cited sentences, the word budget, and the explicit no-result outcome."""

from __future__ import annotations

import re

from knowledge_agg.analyze import analyze
from knowledge_agg.models import Hit, Page, Source
from knowledge_agg.rank import rank_passages
from knowledge_agg.synthesize import Synthesis, synthesize

_GENERATORS = (
    "Asynchronous generators were added to Python in version 3.6 by PEP 525. "
    "An asynchronous generator is a function defined with async def that contains a yield expression. "
    "Calling it returns an asynchronous iterator, which an async for loop consumes one value at a time. "
    "Each step may await other coroutines before it yields the next value. "
    "The aclose method finalises a generator that was not run to its end."
)
_WEATHER = (
    "The weather in the valley was mild for most of the year. Farmers planted wheat and barley in spring. "
    "Summer storms sometimes flooded the lower fields near the river."
)


def _source(number: int, title: str) -> Source:
    hit = Hit(rank=number, title=title, url=f"https://site{number}.example/page", snippet="", provider="test")
    return Source(id=number, hit=hit, score=1.0, reason="test")


def _run(query: str, texts: list[str], max_words: int = 120) -> tuple[Synthesis, list[Page], list[Source]]:
    sources = [_source(i, f"Title {i}") for i in range(1, len(texts) + 1)]
    pages = [Page(source=s, text=t, method="local") for s, t in zip(sources, texts, strict=True)]
    analysis = analyze(query)
    passages = rank_passages(pages, analysis, k=8, min_words=10, max_words=40)
    return synthesize(passages, sources, analysis, max_words=max_words), pages, sources


def test_every_sentence_is_verbatim_in_the_source_it_cites() -> None:
    synthesis, pages, _ = _run("How do asynchronous generators work?", [_GENERATORS, _WEATHER])
    assert 1 <= len(synthesis.points) <= 7
    texts = {p.source.id: p.text for p in pages}
    for point in synthesis.points:
        assert point.source_ids
        assert not re.search(r"\[\d+\]", point.text)
        for source_id in point.source_ids:
            assert point.text in texts[source_id]
    assert any("async def" in p.text for p in synthesis.points)


def test_markdown_has_citations_and_a_numbered_source_list() -> None:
    synthesis, _, sources = _run("How do asynchronous generators work?", [_GENERATORS, _WEATHER])
    body, _, listing = synthesis.text.partition("\n\nSources:\n")
    for point in synthesis.points:
        assert f"{point.text} [{point.source_ids[0]}]" in body
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", body)}
    listed = {int(n) for n in re.findall(r"^\[(\d+)\] ", listing, re.MULTILINE)}
    assert cited and cited <= listed
    assert f"[1] Title 1 — {sources[0].hit.url}" in listing


def test_the_word_budget_is_respected() -> None:
    for budget in (15, 30, 60):
        synthesis, _, _ = _run("How do asynchronous generators work?", [_GENERATORS], max_words=budget)
        assert sum(len(p.text.split()) for p in synthesis.points) <= budget


def test_a_sentence_found_in_two_sources_cites_both() -> None:
    synthesis, _, _ = _run("When were asynchronous generators added to Python?", [_GENERATORS, _GENERATORS])
    first = next(p for p in synthesis.points if "3.6" in p.text)
    assert first.source_ids == [1, 2]


def test_when_questions_prefer_the_sentence_with_a_date() -> None:
    text = (
        "Warsaw's stock exchange was re-established when communist control of the country ended. "
        "Farmers planted wheat and barley in spring near the city. "
        "Warsaw's stock exchange was re-established in April 1991 in a former party building."
    )
    synthesis, _, _ = _run("When was Warsaw's stock exchange re-established?", [text], max_words=15)
    assert synthesis.points and "1991" in synthesis.points[0].text


def test_nothing_relevant_is_an_explicit_outcome() -> None:
    synthesis, _, _ = _run("quantum chromodynamics lattice", [_WEATHER])
    assert synthesis.points == [] and not synthesis.found
    assert synthesis.text.startswith("No relevant sources found for")
    empty = synthesize([], [], analyze("anything at all"))
    assert empty.points == [] and "No relevant sources found" in empty.text


def test_headings_and_fragments_are_never_points_and_the_answer_is_one_line() -> None:
    page = (
        "Asynchronous generator functions\n\n"
        "Asynchronous generators\nAn asynchronous generator is defined with async def and\n"
        "contains a yield expression, so it produces values lazily.\n\n"
        "Generators here.\n\n"
        "Calling an asynchronous generator returns an asynchronous iterator for async for loops."
    )
    synthesis, pages, _ = _run("How do asynchronous generators work?", [page])
    assert synthesis.points
    for point in synthesis.points:
        assert point.text in pages[0].text
        assert len(point.text.split()) >= 4
        assert not point.text.startswith("Asynchronous generator")
    body = synthesis.text.partition("\n\nSources:\n")[0]
    assert "\n" not in body
    assert "async def and contains a yield" in body
