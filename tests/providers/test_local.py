"""The local provider over a real SQLite FTS5 index: corpora, rebuilds, hostile queries, concurrency."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from knowledge_agg.analyze import analyze
from knowledge_agg.errors import ProviderError, QueryError
from knowledge_agg.models import Hit, Hits
from knowledge_agg.providers import Notify, SearchProvider
from knowledge_agg.providers.local import LocalProvider
from knowledge_agg.settings import Settings

HOSTILE = [
    '"',
    '""',
    '"unterminated phrase',
    "*",
    "asyncio*",
    "NEAR",
    "NEAR(queue timeout, 2)",
    "queue AND",
    "AND OR NOT",
    "OR",
    "-queue",
    "^queue",
    "title:queue",
    "(((queue",
    "queue)))",
    "{title body}: queue",
    "'; DROP TABLE docs; --",
    "\x00queue\x1b",
    "🐍🚀 queue 😀",
    "очередь 队列 キュー",
    "q" * 10_000,
    " ".join(["queue"] * 3000),
]


def _write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    return _write_jsonl(
        tmp_path / "notes.jsonl",
        [
            {"id": "q1", "title": "Bounded queues", "text": "An asyncio queue with a maxsize blocks put() when full."},
            {"id": "t2", "title": "Timeouts", "text": "Use asyncio.timeout to cancel a slow await.", "url": "https://example.org/t"},
            {"id": 3, "text": "Untitled note about semaphores and locks.\nSecond line."},
            "this line is not JSON",
            {"id": "no-text"},
            {"id": "q1", "title": "Duplicate id", "text": "A later duplicate of q1 is ignored."},
        ],
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "handbook"
    (root / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "intro.md").write_text("# Getting started\n\nInstall the *zephyr* toolkit first.\n")
    (root / "sub" / "guide.rst").write_text("Deployment guide\n================\n\nShip it with kestrel.\n")
    (root / "notes.txt").write_text("Plain notes\nmention the word quokka.\n")
    (root / "page.html").write_text(
        "<html><head><title>Falcon page</title><script>var secretscript = 1;</script></head>"
        "<body><nav>menu</nav><article><h1>Falcon</h1><p>The falcon is a bird of prey that hunts "
        "at very high speed, diving onto its quarry from above.</p></article></body></html>"
    )
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Notebook title\n", "About the narwhal."]},
            {"cell_type": "code", "source": "print('walrus')\n", "outputs": []},
        ]
    }
    (root / "analysis.ipynb").write_text(json.dumps(notebook))
    (root / ".hidden" / "skip.md").write_text("# hidden\n\nplatypus\n")
    (root / "script.py").write_text("# platypus\n")
    return root


@pytest.fixture
async def pydocs(settings: Settings) -> LocalProvider:
    provider = LocalProvider.from_settings(settings)
    yield provider
    await provider.aclose()


@pytest.fixture
async def words(settings: Settings) -> LocalProvider:
    """The pydocs index searched by BM25 alone, whatever the flags' defaults."""
    provider = LocalProvider("pydocs", cache_dir=settings.cache_dir)
    yield provider
    await provider.aclose()


def test_local_provider_is_a_search_provider(tmp_path: Path) -> None:
    provider = LocalProvider("pydocs", cache_dir=tmp_path)
    assert isinstance(provider, SearchProvider)
    assert provider.name == "local"


async def test_pydocs_finds_asyncio_docs_for_async_generators(pydocs: LocalProvider) -> None:
    hits = await pydocs.search("How do asynchronous generators work?", count=10)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1)) and len(hits) == 10
    assert any("asyncio" in h.url for h in hits)
    assert all(h.provider == "local" and h.doc_id and h.domain == "docs.python.org" for h in hits)
    assert all(h.url.startswith("https://docs.python.org/3/") for h in hits)
    assert all("<b>" not in h.snippet and "\n" not in h.snippet and h.snippet for h in hits)
    top = await pydocs.document(hits[0])
    assert top is not None and "asynchronous generator" in top.lower()


async def test_pydocs_documents_are_the_library_reference(pydocs: LocalProvider) -> None:
    hits = await pydocs.search("json dumps", count=5)
    assert hits[0].title == "json.dumps"
    assert hits[0].url == "https://docs.python.org/3/library/json.html#json.dumps"
    text = await pydocs.document(hits[0])
    assert text is not None and text.startswith("json.dumps(") and "JSON formatted" in text
    status = await pydocs.status()
    assert status.documents > 3000 and status.size_bytes > 0 and status.kind == "pydocs"
    json.dumps(status.to_dict())
    reopened = await LocalProvider.from_settings(Settings(provider="local")).build()
    assert not reopened.rebuilt and reopened.built_at == status.built_at


async def test_document_of_a_foreign_hit_is_none(pydocs: LocalProvider) -> None:
    foreign = Hit(rank=1, title="x", url="https://example.org", snippet="", provider="brave", doc_id="py:json.dumps")
    assert await pydocs.document(foreign) is None
    unknown = Hit(rank=1, title="x", url="https://example.org", snippet="", provider="local", doc_id="py:nope")
    assert await pydocs.document(unknown) is None


async def test_jsonl_corpus(jsonl: Path, tmp_path: Path) -> None:
    provider = LocalProvider(jsonl, cache_dir=tmp_path / "cache")
    status = await provider.build()
    assert status.documents == 3 and status.rebuilt and status.corpus == "notes"
    hits = await provider.search("asyncio queue maxsize", count=5)
    assert hits[0].doc_id == "q1" and hits[0].title == "Bounded queues"
    assert hits[0].url == "local://notes/q1" and hits[0].domain == "notes"
    assert await provider.document(hits[0]) == "An asyncio queue with a maxsize blocks put() when full."
    timeout = await provider.search("timeout", count=5)
    assert timeout[0].url == "https://example.org/t" and timeout[0].domain == "example.org"
    untitled = await provider.search("semaphores", count=5)
    assert untitled[0].doc_id == "3" and untitled[0].title == "Untitled note about semaphores and locks."
    assert await provider.search("duplicate later", count=5) == []
    await provider.aclose()


def test_document_texts_are_what_the_vectors_are_made_from(jsonl: Path, tmp_path: Path) -> None:
    provider = LocalProvider(jsonl, cache_dir=tmp_path / "cache")
    texts = provider.document_texts()  # builds the index first
    assert provider.is_stale() is False and len(texts) == 3
    assert "Bounded queues. An asyncio queue with a maxsize blocks put() when full." in texts
    assert "Timeouts. Use asyncio.timeout to cancel a slow await." in texts
    asyncio.run(provider.aclose())


async def test_folder_corpus(folder: Path, tmp_path: Path) -> None:
    provider = LocalProvider(str(folder), cache_dir=tmp_path / "cache")
    assert (await provider.build()).documents == 5
    expected = {
        "zephyr": ("intro.md", "Getting started"),
        "kestrel": ("sub/guide.rst", "Deployment guide"),
        "quokka": ("notes.txt", "Plain notes"),
        "falcon": ("page.html", "Falcon"),
        "narwhal": ("analysis.ipynb", "Notebook title"),
        "walrus": ("analysis.ipynb", "Notebook title"),
    }
    for word, (doc_id, title) in expected.items():
        hits = await provider.search(word, count=3)
        assert (hits[0].doc_id, hits[0].title) == (doc_id, title), word
        assert hits[0].url == (folder / doc_id).as_uri() and hits[0].domain == "handbook"
        assert word in hits[0].snippet.lower()
    assert await provider.search("platypus", count=3) == []  # hidden folders and .py files are not read
    assert await provider.search("secretscript", count=3) == []  # scripts are not text
    page = await provider.search("falcon", count=1)
    assert "bird of prey" in (await provider.document(page[0]) or "")
    await provider.aclose()


def test_rebuilds_only_when_the_folder_changes(folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = LocalProvider(folder, cache_dir=cache).build_sync()
    again = LocalProvider(folder, cache_dir=cache).build_sync()
    assert first.rebuilt and not again.rebuilt and again.built_at == first.built_at
    note = folder / "notes.txt"
    stat = note.stat()
    os.utime(note, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert LocalProvider(folder, cache_dir=cache).build_sync().rebuilt
    (folder / "new.md").write_text("# New\n\nA fresh page about ibexes.\n")
    provider = LocalProvider(folder, cache_dir=cache)
    assert provider.build_sync().documents == 6
    assert not provider.build_sync().rebuilt
    assert provider.build_sync(force=True).rebuilt
    assert not list(cache.glob("index/*.tmp"))


def test_abandoned_temporary_files_are_cleaned_up(jsonl: Path, tmp_path: Path) -> None:
    provider = LocalProvider(jsonl, cache_dir=tmp_path)
    provider.path.parent.mkdir(parents=True)
    old = provider.path.with_name(f".{provider.path.name}.killed.tmp")
    fresh = provider.path.with_name(f".{provider.path.name}.running.tmp")
    old.write_bytes(b"half")
    fresh.write_bytes(b"half")
    os.utime(old, (0, 0))
    provider.build_sync()
    assert not old.exists() and fresh.exists()


def test_rebuilds_when_the_jsonl_changes_or_the_index_is_corrupt(jsonl: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    provider = LocalProvider(jsonl, cache_dir=cache)
    assert provider.build_sync().rebuilt and not provider.is_stale()
    with jsonl.open("a") as handle:
        handle.write(json.dumps({"id": "n", "text": "a note about ibexes"}) + "\n")
    assert provider.is_stale()
    assert provider.build_sync().documents == 4
    provider.path.write_bytes(b"not a database")
    assert provider.is_stale() and provider.build_sync().rebuilt


def test_two_corpora_get_two_indexes(jsonl: Path, folder: Path, tmp_path: Path) -> None:
    a = LocalProvider(jsonl, cache_dir=tmp_path)
    b = LocalProvider(folder, cache_dir=tmp_path)
    assert a.path != b.path
    assert a.build_sync().documents == 3 and b.build_sync().documents == 5


async def test_missing_corpus_is_a_provider_error(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path / "nowhere", cache_dir=tmp_path)
    with pytest.raises(ProviderError, match="not a folder") as info:
        await provider.search("anything", count=3)
    assert info.value.kind == "corpus_not_found"
    with pytest.raises(ProviderError, match="does not exist"):
        await LocalProvider(tmp_path / "gone.jsonl", cache_dir=tmp_path).search("asyncio queue", count=3)


@pytest.mark.parametrize("query", ["hello", "the", "!!!"])
async def test_missing_corpus_is_an_error_even_for_a_query_without_key_terms(tmp_path: Path, query: str) -> None:
    provider = LocalProvider(tmp_path / "nowhere", cache_dir=tmp_path)
    with pytest.raises(ProviderError, match=f"{tmp_path / 'nowhere'} is not a folder"):
        await provider.search(query, count=3)
    assert not provider.path.exists()


async def test_build_reports_progress_through_notify(jsonl: Path, tmp_path: Path) -> None:
    notes: list[str] = []
    provider = LocalProvider(jsonl, cache_dir=tmp_path)
    await provider.search("asyncio queue", count=3, notify=notes.append)
    await provider.search("asyncio queue", count=3, notify=notes.append)
    assert len(notes) == 1 and "building the local index" in notes[0]
    await provider.aclose()


@pytest.mark.parametrize("query", HOSTILE)
async def test_hostile_queries_never_break_the_index(pydocs: LocalProvider, query: str) -> None:
    hits = await pydocs.search(query, count=5)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


async def test_queries_without_terms_find_nothing(pydocs: LocalProvider) -> None:
    for query in ["", "   ", "👍", "the of and", "***", '"" ""', "_ __ ___"]:
        assert await pydocs.search(query, count=5) == []
    assert await pydocs.search("asyncio", count=0) == []


def test_huge_query_is_refused_by_analyze_before_search() -> None:
    with pytest.raises(QueryError):
        analyze("NEAR " * 2_000)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_any_text_searches_cleanly(jsonl: Path, tmp_path: Path, query: str) -> None:
    async def search() -> list[Hit]:
        provider = LocalProvider(jsonl, cache_dir=tmp_path / "prop")
        try:
            return await provider.search(query, count=3)
        finally:
            await provider.aclose()

    hits = asyncio.run(search())
    assert all(h.provider == "local" for h in hits) and len(hits) <= 3


async def test_concurrent_searches_share_one_index(pydocs: LocalProvider) -> None:
    queries = ["asyncio queue", "json dumps", "os path join", "context manager", "regular expression"] * 8
    results = await asyncio.gather(*(pydocs.search(q, count=5) for q in queries))
    again = await asyncio.gather(*(pydocs.search(q, count=5) for q in queries[:5]))
    assert all(results) and [[h.doc_id for h in r] for r in results[:5]] == [[h.doc_id for h in r] for r in again]


async def test_searches_keep_working_while_the_index_is_rebuilt(jsonl: Path, tmp_path: Path) -> None:
    reader = LocalProvider(jsonl, cache_dir=tmp_path)
    await reader.build()
    errors: list[BaseException] = []

    def rebuild() -> None:
        try:
            for _ in range(5):
                LocalProvider(jsonl, cache_dir=tmp_path).build_sync(force=True)
        except BaseException as exc:  # pragma: no cover - reported by the assert below
            errors.append(exc)

    worker = threading.Thread(target=rebuild)
    worker.start()
    while worker.is_alive():
        hits = await reader.search("asyncio queue", count=3)
        assert hits and hits[0].doc_id == "q1"
        reader._reset_pool()  # reopen, so reads also land on freshly renamed files
    worker.join()
    assert not errors
    assert not list(tmp_path.glob("index/*.tmp"))
    await reader.aclose()


async def test_closed_provider_refuses_searches(jsonl: Path, tmp_path: Path) -> None:
    provider = LocalProvider(jsonl, cache_dir=tmp_path)
    await provider.search("asyncio", count=1)
    await provider.aclose()
    with pytest.raises(ProviderError, match="closed"):
        await provider.search("asyncio", count=1)


ISSUE_7_QUERIES = [
    "",
    "   \t\n",
    "x" * 10_000,
    " ".join(f"word{i}" for i in range(60)),
    "asyncio\x00\x07 queue\x1b[0m",
    "Как работает asyncio 队列 キュー",
    "🐍 asyncio 🚀",
    '"asyncio" * NEAR AND queue',
    "SELECT * FROM fts WHERE fts MATCH 'x' --",
]


@pytest.mark.parametrize("query", ISSUE_7_QUERIES)
async def test_query_inputs_are_a_clear_error_or_a_normal_search(pydocs: LocalProvider, query: str) -> None:
    try:
        analysis = analyze(query)
    except QueryError as exc:
        assert "empty" in str(exc) or "limit" in str(exc)
        return
    hits = await pydocs.search(analysis.search_query, count=5)
    assert isinstance(hits, list) and len(hits) <= 5


def test_processes_building_one_index_at_once_build_it_once(folder: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import sys; from knowledge_agg.providers.local import LocalProvider; "
        "s = LocalProvider(sys.argv[1], cache_dir=sys.argv[2]).build_sync(); print(s.rebuilt, s.documents)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(folder), str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=120)[0].split() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert sorted(out[0] for out in outputs) == ["False", "False", "True"]
    assert all(out[1] == "5" for out in outputs)


async def _searches(
    tmp_path: Path, docs: list[dict[str, str]], *queries: str, notify: Notify | None = None
) -> list[Hits]:
    """Each query's hits from a fresh index of ``docs``."""
    provider = LocalProvider(_write_jsonl(tmp_path / "docs.jsonl", docs), cache_dir=tmp_path / "cache")
    try:
        return [await provider.search(query, count=5, notify=notify) for query in queries]
    finally:
        await provider.aclose()


async def test_a_word_no_document_has_is_searched_as_the_nearest_spelling(tmp_path: Path) -> None:
    notes: list[str] = []
    hits, typed = await _searches(tmp_path, [
        {"id": "g", "title": "Civil disobedience", "text": "Gandhi called his work Satyagraha."},
        {"id": "h", "title": "Ghana", "text": "Ghana is a country in West Africa."},
        {"id": "w", "title": "Steam", "text": "A steam engine does work with heat."},
    ], "What was Ghandi's work called?", "Ghana work", notify=notes.append)
    assert hits[0].doc_id == "g" and hits.respelt == {"ghandi": "gandhi"}  # gandhi shares more letters than ghana
    assert notes[-1] == "no document has 'ghandi': searching for 'gandhi' instead"
    assert typed.respelt == {} and typed[0].doc_id == "h"  # words the index has are searched as typed


async def test_a_misspelling_is_compared_with_words_as_written_not_their_porter_stems(tmp_path: Path) -> None:
    # Porter stems "generators" to "gener", three edits from "genrator"; a word as written is one edit away.
    hits, words, only = await _searches(tmp_path, [
        {"id": "gen", "title": "Generators", "text": "Generators yield values one at a time."},
        {"id": "proto", "title": "genproto", "text": "genproto checks whether the format is known."},
        {"id": "cten", "title": "Ctenophores", "text": "Cydippids are egg-shaped ctenophores."},
    ], "how do genrators work", "weather forecast for generators", "Cypiddids are not what?")
    assert hits.respelt == {"genrators": "generators"}
    assert [h.doc_id for h in hits] == ["gen"]
    # Real words the index lacks are not slips: 'weather' is not read as 'whether', nor 'forecast' as 'format'.
    assert words.respelt == {} and [h.doc_id for h in words] == ["gen"]
    # When no term would find anything, a wider guess beats no answer: three letters changed in nine.
    assert only.respelt == {"cypiddids": "cydippids"} and [h.doc_id for h in only] == ["cten"]


async def test_words_run_together_in_a_code_name_are_found_as_words(tmp_path: Path) -> None:
    # "make" and "dirs" are commoner words of this corpus than "makedirs": the index cuts the name there.
    docs = [
        {"id": "makedirs", "title": "os.makedirs", "text": "Super-mkdir; create a leaf directory and all intermediate ones."},
        {"id": "mkdir", "title": "os.mkdir", "text": "Create a directory named path."},
        *(
            {"id": f"make{n}", "title": f"Note {n}", "text": f"Make a list of the dirs, then make {n} more dirs."}
            for n in range(3)
        ),
        {"id": "plain", "title": "Makedirs", "text": "A plain title that is not a code name: it is not cut."},
    ]
    hits, plain = await _searches(tmp_path, docs, "make dirs", "create intermediate ones")
    assert hits[0].doc_id == "makedirs"
    assert "plain" not in [h.doc_id for h in hits]
    assert plain[0].doc_id == "makedirs"  # the body still counts as before


async def test_a_code_name_typed_in_the_question_puts_its_page_first(tmp_path: Path) -> None:
    docs = [
        {"id": "loop", "title": "asyncio.get_running_loop",
         "text": "Return the running event loop. Raise a RuntimeError if there is none."},
        {"id": "arun", "title": "asyncio.run", "text": "Execute the coroutine and return the result."},
        {"id": "srun", "title": "subprocess.run", "text": "Run command with arguments."},
        {"id": "trun", "title": "unittest.TestCase.run", "text": "Run the test."},
        {"id": "dc", "title": "dataclasses.dataclass", "text": "Add dunder methods based on the fields defined in the class."},
        {"id": "frozen", "title": "dataclasses.FrozenInstanceError", "text": "Raised when frozen=True and a field is assigned."},
    ]
    error, decorator, ambiguous, plain = await _searches(
        tmp_path, docs,
        "RuntimeError: asyncio.run() cannot be called from a running event loop",
        "What does @dataclass(frozen=True) do?",
        "how does run() work",
        "how does run work",
    )
    assert [h.doc_id for h in error[:2]] == ["arun", "loop"]  # named first, then BM25's best
    assert decorator[0].doc_id == "dc"  # the one title ending in .dataclass
    # Three titles end in .run: the name names none of them, and words decide as without the parentheses.
    assert [h.doc_id for h in ambiguous] == [h.doc_id for h in plain]


async def test_a_long_document_is_ranked_by_the_passage_that_answers(tmp_path: Path) -> None:
    filler = "\n\n".join("Logging handlers, formatters and filters shape records. " * 16 for _ in range(10))
    docs = [
        {"id": "long", "title": "Reference", "text": f"{filler}\n\nTo delete a directory tree, call rmtree.\n\n{filler}"},
        {"id": "short", "title": "Notes",
         "text": "A directory listing. " + "Handlers and formatters. " * 55 + "Delete old entries. Tree views."},
    ]
    hits, = await _searches(tmp_path, docs, "delete a directory tree")
    # As whole documents the short note wins (the long one's three words are lost in its length);
    # by their best passages the paragraph that answers does.
    assert [h.doc_id for h in hits] == ["long", "short"]
    assert "delete a directory tree" in hits[0].snippet


_HALF_GOOD = (
    b'{"id": "a", "title": "Queues", "text": "asyncio queues pass items between tasks"}\n'
    b"not json at all\n"
    b'{"id": "b", "text": "\xff\xfe bytes that are not UTF-8, about queues"}\n'
    b"[1, 2]\n"
    b"\n"
    b'{"id": "c", "title": "Locks", "text": "asyncio locks guard queues"}\n'
)


async def test_jsonl_lines_left_out_are_counted_and_the_first_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_bytes(_HALF_GOOD)
    provider = LocalProvider(path, cache_dir=tmp_path)
    hits = await provider.search("asyncio queues", count=5)
    assert {h.doc_id for h in hits} == {"a", "c"}  # what could be read is all there
    (problem,) = hits.problems
    assert isinstance(problem, ProviderError) and problem.kind == "corpus_lines_skipped"
    assert str(problem) == f"{path}: 3 lines skipped; the first is line 2: not valid JSON"
    assert not (await provider.search("asyncio queues", count=5)).problems  # said once per provider
    status = await LocalProvider(path, cache_dir=tmp_path).status()  # and kept with the index
    assert (status.documents, status.skipped_lines, status.first_skipped) == (2, 3, "line 2: not valid JSON")


async def test_a_documents_aliases_are_found_by_the_python_words_of_the_question(tmp_path: Path) -> None:
    # The loops are shorter or as short: only the aliases say which statement is meant.
    docs = [
        {"id": "for", "title": "The for statement", "aliases": "for",
         "text": "A block of code that runs in a loop over the elements of a sequence."},
        {"id": "ellipsis", "title": "The Ellipsis Object", "aliases": "ellipsis", "text": "A special value."},
        {"id": "loops", "title": "Loops", "text": "A block of code that runs in a loop."},
        {"id": "loops2", "title": "More loops", "text": "A block of code that runs in a loop until it stops."},
        {"id": "dots", "title": "Dots", "text": "Three dots may mean many things in code."},
    ]
    else_for, dots, words, english, plain = await _searches(
        tmp_path, docs,
        "When does the else block after a for loop run?",
        "What does ... (three dots) mean in code?",
        "What does (three dots) mean in code?",
        "a block for each loop run",  # one English "for" alone is no Python keyword
        "a block each loop run",
    )
    assert else_for[0].doc_id == "for"
    assert "ellipsis" in [h.doc_id for h in dots] and "ellipsis" not in [h.doc_id for h in words]
    assert [h.doc_id for h in english] == [h.doc_id for h in plain]


async def test_pydocs_topics_carry_the_names_help_gives_them(pydocs: LocalProvider) -> None:
    for question, title in [
        # The "for" topic is indexed once, as its section of "Compound statements", with help()'s names for it.
        ("When does the else block after a for loop run?", 'Compound statements: The "for" statement'),
        ("What does ... (three dots) mean when I see it in Python code?", "The Ellipsis Object"),
        ("difference between is and == in python", "Comparisons"),
    ]:
        hits = await pydocs.search(question, count=20)
        assert title in [h.title for h in hits], question


async def test_the_verb_of_an_agent_noun_in_a_code_name_is_found(tmp_path: Path) -> None:
    # "sort" is a commoner word of this corpus than "sorter": a question about sorting finds the sorter class.
    docs = [
        {"id": "sorter", "title": "graphlib.TopologicalSorter", "text": "Provides functionality to order a graph of nodes."},
        *({"id": f"n{n}", "title": f"Note {n}", "text": f"We sort {n} things; a sort is quick."} for n in range(3)),
        {"id": "plain", "title": "Sorter", "text": "A plain title that is not a code name: no verb is read into it."},
    ]
    (hits,) = await _searches(tmp_path, docs, "sort")
    assert hits[0].doc_id == "sorter"
    assert "plain" not in [h.doc_id for h in hits]


async def test_the_words_a_code_name_abbreviates_on_its_own_page_find_it(tmp_path: Path) -> None:
    # Each page spells its name out: "Pretty-print" (p + print), "Base64" and "encode" (b64 + encode).
    docs = [
        {"id": "pprint", "title": "pprint.pprint", "text": "Pretty-print a Python object to a stream."},
        {"id": "pformat", "title": "pprint.pformat", "text": "Format a Python object into a pretty-printed representation."},
        {"id": "b64", "title": "base64.b64encode", "text": "Encode the bytes-like object s using Base64 and return the bytes."},
        {"id": "bytes", "title": "base64.encodebytes",
         "text": "Encode the bytes-like object s, which can contain arbitrary binary data, and return bytes containing "
                 "the base64-encoded data, with newlines."},
        {"id": "b32", "title": "base64.b32encode", "text": "Encode the bytes-like object s using Base32 and return the bytes."},
        {"id": "cwd", "title": "os.getcwd", "text": "Return a string representing the working directory."},
    ]
    pretty, encode, plain = await _searches(
        tmp_path, docs, "pretty print a nested dict", "base64-encode bytes", "current working directory"
    )
    assert pretty[0].doc_id == "pprint"  # the name's words count as its title's, not as the body's "pretty-printed"
    # words in a row that spell one name out name its page, as "json dumps" names json.dumps
    assert encode[0].doc_id == "b64"
    # a name its page does not spell out is found by its page's words only: "current" is on no page
    assert [h.doc_id for h in plain] == ["cwd"] and plain.respelt == {}


async def test_pydocs_finds_a_class_by_the_verb_of_its_agent_noun(pydocs: LocalProvider) -> None:
    hits = await pydocs.search("How do I sort tasks so that each one comes after the tasks it depends on?", count=20)
    assert any(h.title.startswith("graphlib.TopologicalSorter") for h in hits[:5])


async def test_a_search_keeps_the_index_s_further_candidates_as_a_pool(words: LocalProvider) -> None:
    # by words alone: the pool is BM25's ranking 100 deep (by meaning too, shutil.rmtree is among the results)
    pydocs = words
    question = "how do I delete a directory and everything inside it?"
    hits = await pydocs.search(question, count=20)
    assert isinstance(hits, Hits) and hits.pool is not None
    pool = await asyncio.to_thread(hits.pool)
    # ranked after the results, none of them again, as deep as the index goes for the question
    assert [h.rank for h in pool] == list(range(21, 21 + len(pool)))
    assert not {h.doc_id for h in pool} & {h.doc_id for h in hits}
    assert 20 < len(pool) <= 100
    # the page that answers is beyond the 20 results, in the pool
    assert "shutil.rmtree" not in [h.title for h in hits]
    assert "shutil.rmtree" in [h.title for h in pool]
    # the results are those of a search that keeps no pool
    assert [h.doc_id for h in await pydocs.search(question, count=20)] == [h.doc_id for h in hits]


async def test_pydocs_finds_what_a_check_if_question_asks_about(words: LocalProvider) -> None:
    # "check" before "if" asks whether; as a key term it found tabnanny.check and no page about a file existing
    # (by words alone: MiniLM puts tabnanny.check, "check the file for ambiguous indentation", near the question)
    pydocs = words
    hits = await pydocs.search("pyhton check if file exsits", count=20)
    titles = [h.title for h in hits]
    assert {"pathlib.Path.exists", "genericpath.exists"} & set(titles)
    assert "tabnanny.check" not in titles
