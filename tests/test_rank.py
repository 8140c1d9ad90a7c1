"""Passage splitting and BM25 + MMR ranking."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge_agg.analyze import analyze
from knowledge_agg.models import Hit, Page, Source
from knowledge_agg.rank import BM25, rank_passages, split_passages

_FILLER = "The committee met again on a grey morning and discussed the agenda at some length. "


def _page(source_id: int, text: str) -> Page:
    hit = Hit(rank=source_id, title=f"t{source_id}", url=f"https://e{source_id}.example/", snippet="", provider="test")
    return Page(source=Source(id=source_id, hit=hit, score=1.0, reason="test"), text=text, method="local")


def test_passages_are_sentence_aligned_substrings_within_bounds() -> None:
    text = " ".join(f"Sentence number {i} says a few more words here." for i in range(60))
    passages = split_passages(text, min_words=50, max_words=150)
    assert len(passages) > 1
    for passage in passages:
        assert passage in text
        assert passage.endswith(".")
        assert 50 <= len(passage.split()) <= 150


def test_a_short_text_is_one_passage() -> None:
    assert split_passages("Just one short sentence.") == ["Just one short sentence."]
    assert split_passages("   ") == []


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet="abc .!?\nXY", min_size=0, max_size=40), max_size=30))
def test_passages_are_always_substrings(parts: list[str]) -> None:
    text = "".join(parts)
    for passage in split_passages(text, min_words=5, max_words=15):
        assert passage and passage in text


def test_bm25_prefers_rarer_and_more_frequent_terms() -> None:
    docs = [["cat", "sat", "mat"], ["dog", "dog", "barked"], ["cat", "dog"]]
    bm25 = BM25(docs)
    scores = bm25.scores(["dog"])
    assert scores[1] > scores[2] > scores[0] == 0.0


def test_rank_passages_finds_the_relevant_passage_and_keeps_k() -> None:
    relevant = "Asynchronous generators are defined with async def and yield values to an async for loop. "
    pages = [
        _page(1, _FILLER * 20 + relevant * 2 + _FILLER * 20),
        _page(2, _FILLER * 30),
    ]
    passages = rank_passages(pages, analyze("How do asynchronous generators work?"), k=3)
    assert len(passages) == 3
    assert "Asynchronous generators" in passages[0].text
    assert passages[0].score >= max(p.score for p in passages[1:])
    assert all(p.text in pages[p.source_id - 1].text for p in passages)


def test_mmr_avoids_near_duplicates() -> None:
    same = ("Rust ownership moves values between variables and borrows them by reference. " * 8).strip()
    other = "Ownership in Rust also decides when memory is freed, at the end of a scope, without a collector."
    pages = [_page(1, same), _page(2, same), _page(3, other + " " + _FILLER * 6)]
    passages = rank_passages(pages, analyze("rust ownership borrow"), k=2, mmr_lambda=0.5)
    assert {p.source_id for p in passages} == {1, 3} or {p.source_id for p in passages} == {2, 3}


def test_no_pages_no_passages() -> None:
    assert rank_passages([], analyze("anything")) == []


def test_a_passage_says_whether_its_page_begins_there() -> None:
    text = " ".join(f"Sentence number {i} talks about generators and other things." for i in range(30))
    source = Source(id=1, hit=Hit(rank=1, title="t", url="https://a.example/", snippet="", provider="test"), score=1.0,
                    reason="")
    passages = rank_passages([Page(source=source, text=text, method="local")], analyze("generators"), k=8,
                             min_words=10, max_words=30)
    assert len(passages) > 2
    opening = [p for p in passages if p.opening]
    assert len(opening) == 1 and text.startswith(opening[0].text)


def test_the_passages_do_not_depend_on_the_order_the_pages_were_read_in() -> None:
    # Pages arrive as their reads finish; three sources say the same, so every score ties.
    same = "Python lists keep their items in order. A list grows as items are appended to it."
    pages = [_page(i, same) for i in (1, 2, 3)]
    analysis = analyze("how do lists keep items in order")
    first = rank_passages(pages, analysis, k=2)
    again = rank_passages(list(reversed(pages)), analysis, k=2)
    assert [(p.source_id, p.text) for p in first] == [(p.source_id, p.text) for p in again]
    assert first[0].source_id == 1
