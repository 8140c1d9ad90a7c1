"""The local search by words over the real pydocs index: the ranking and snippets FTS5 gives document by document."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import Iterator

import pytest

from knowledge_agg.analyze import code_names, key_terms, python_words
from knowledge_agg.providers.local import LocalProvider
from knowledge_agg.settings import Settings

#: Questions naming no code (so no page is put first by its name) and their Python words.
QUESTIONS = [
    "how do I delete a directory and everything inside it?",
    "pyhton check if file exsits",
    "What is the difference between a list and a tuple?",
    "how to read a file line by line",
]
#: FTS5's own ranking of the passages, its ``rank`` set per query to the index's column weights (title, names,
#: body, aliases); a document scores its best passage plus half its second.
_FTS5_RANKED = """
SELECT p.doc, m.rank FROM (SELECT rowid, rank FROM passage_fts WHERE passage_fts MATCH ?
AND rank MATCH 'bm25(16.0, 16.0, 1.0, 4.0)' ORDER BY rank LIMIT 80) AS m JOIN passages AS p ON p.rowid = m.rowid
ORDER BY m.rank
"""
_SNIPPET = "SELECT snippet(fts, 2, '', '', '…', 40) FROM fts WHERE fts MATCH ? AND rowid = ?"
_RULE = re.compile(r"([=\-~^*#_])\1{2,}")


Searched = tuple[sqlite3.Connection, dict[str, tuple[tuple[str, ...], list[tuple[str | None, str]]]]]


@pytest.fixture(scope="module")
def searched() -> Iterator[Searched]:
    """The index, and each question's terms as searched (respelt) and hits (document id, snippet) by words alone."""
    provider = LocalProvider("pydocs", cache_dir=Settings().cache_dir)
    found = {}

    async def search() -> None:
        for question in QUESTIONS:
            hits = await provider.search(question, count=20)
            terms = tuple(dict.fromkeys(hits.respelt.get(t, t) for t in key_terms(question)))
            found[question] = (terms, [(hit.doc_id, hit.snippet) for hit in hits])
        await provider.aclose()

    asyncio.run(search())
    with contextlib.closing(sqlite3.connect(provider.path)) as conn:
        yield conn, found


def _quoted(terms: tuple[str, ...]) -> list[str]:
    return ['"' + term.replace('"', '""') + '"' for term in terms]


@pytest.mark.parametrize("question", QUESTIONS)
def test_documents_come_in_the_order_fts5_ranks_their_passages(searched: Searched, question: str) -> None:
    conn, found = searched
    terms, hits = found[question]
    assert not code_names(question)
    expression = " OR ".join([*_quoted(terms), *(f'aliases : "{w}"' for w in python_words(question) if w.isalpha())])
    scores: dict[int, list[float]] = {}
    for doc, score in conn.execute(_FTS5_RANKED, (expression,)):
        scores.setdefault(doc, []).append(score)
    order = sorted(scores, key=lambda doc: scores[doc][0] + 0.5 * sum(scores[doc][1:2]))[:20]
    ids = [conn.execute("SELECT doc_id FROM docs WHERE rowid = ?", (rowid,)).fetchone()[0] for rowid in order]
    assert [doc_id for doc_id, _ in hits] == ids


@pytest.mark.parametrize("question", QUESTIONS)
def test_each_snippet_is_fts5_s_snippet_of_that_document_alone(searched: Searched, question: str) -> None:
    conn, found = searched
    terms, hits = found[question]
    expression = " OR ".join(_quoted(terms))
    checked = 0
    for doc_id, snippet in hits:
        rowid = conn.execute("SELECT rowid FROM docs WHERE doc_id = ?", (doc_id,)).fetchone()[0]
        row = conn.execute(_SNIPPET, (expression, rowid)).fetchone()
        if row is None:  # found by its aliases alone: it shows the start of its text
            continue
        assert snippet == " ".join(_RULE.sub(" ", row[0]).split())
        checked += 1
    assert checked >= len(hits) // 2
