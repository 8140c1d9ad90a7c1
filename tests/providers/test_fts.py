"""The index's BM25 queries over the real pydocs index: the same rankings and snippets as FTS5 gives row by row."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

import pytest

from knowledge_agg.analyze import code_names, key_terms, python_words
from knowledge_agg.providers import _fts
from knowledge_agg.providers.local import LocalProvider
from knowledge_agg.settings import Settings

QUESTIONS = [
    "how do I delete a directory and everything inside it?",
    "pyhton check if file exsits",
    "What is the difference between a list and a tuple?",
    "json dumps indent",
    "FileExistsError when calling os.makedirs",
]
#: FTS5's own ranking of the passages (its ``rank`` column set to the same BM25 weights), documents joined in SQL.
_FTS5_RANKED = """
SELECT p.doc, m.rank FROM (SELECT rowid, rank FROM passage_fts WHERE passage_fts MATCH ? AND rank MATCH ?
ORDER BY rank LIMIT ?) AS m JOIN passages AS p ON p.rowid = m.rowid ORDER BY m.rank
"""


@pytest.fixture(scope="module")
def conn() -> Iterator[sqlite3.Connection]:
    provider = LocalProvider("pydocs", cache_dir=Settings().cache_dir)
    provider.build_sync()
    with contextlib.closing(_fts.connect(provider.path)) as connection:
        yield connection


def _terms(conn: sqlite3.Connection, question: str) -> tuple[str, ...]:
    terms = key_terms(question)
    respelt = _fts.respell(conn, terms)
    return tuple(dict.fromkeys(respelt.get(t, t) for t in terms))


@pytest.mark.parametrize("question", QUESTIONS)
def test_documents_are_ranked_as_fts5_ranks_their_passages(conn: sqlite3.Connection, question: str) -> None:
    terms, aliases = _terms(conn, question), python_words(question)
    weights = f"bm25({_fts._TITLE_WEIGHT}, {_fts._NAMES_WEIGHT}, {_fts._BODY_WEIGHT}, {_fts._ALIAS_WEIGHT})"
    depth = 20 * _fts._PASSAGES_PER_DOC
    rows = conn.execute(_FTS5_RANKED, (_fts.match_expression(terms, aliases), weights, depth)).fetchall()
    scores: dict[int, list[float]] = {}
    for doc, score in rows:
        scores.setdefault(doc, []).append(score)
    expected = sorted(scores, key=lambda doc: scores[doc][0] + _fts._SECOND_PASSAGE * sum(scores[doc][1:2]))[:20]
    assert len(expected) == 20
    assert _fts.ranked(conn, terms, 20, aliases) == expected


@pytest.mark.parametrize("question", QUESTIONS)
def test_each_hit_s_snippet_is_fts5_s_snippet_of_that_document(conn: sqlite3.Connection, question: str) -> None:
    terms = _terms(conn, question)
    rowids = list(dict.fromkeys([*_fts.named(conn, code_names(question), terms), *_fts.ranked(conn, terms, 20)]))[:20]
    expression = _fts.match_expression(terms)
    expected = []
    for rowid in rowids:
        (doc_id, title, url, head), *_ = conn.execute("SELECT doc_id, title, url, body FROM docs WHERE rowid = ?", (rowid,))
        found = conn.execute(
            "SELECT snippet(fts, 2, '', '', '…', 40) FROM fts WHERE fts MATCH ? AND rowid = ?", (expression, rowid)
        ).fetchone()
        expected.append((doc_id, title, url, found[0] if found and found[0] else _fts._head(head[: _fts._HEAD_CHARS])))
    assert _fts.hits(conn, rowids, terms) == expected
    # a document left out is left out, the others keep their order and snippets
    assert _fts.hits(conn, rowids, terms, {expected[0][0]}) == expected[1:]
