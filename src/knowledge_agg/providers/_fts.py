"""The SQLite FTS5 index file: atomic builds, BM25 queries and document lookups (all blocking)."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path

from ..models import Document
from ..text import name_words, spelt_out, stem
from ..text import respell as _respell

__all__ = [
    "SCHEMA", "build", "read_meta", "connect", "match_expression", "search", "ranked", "named", "hits", "respell",
    "document", "file_lock",
]

#: Bumped whenever the layout or the way documents are read changes, so old indexes are rebuilt.
SCHEMA = "10"
#: BM25 weights of the columns: a term in the title, or among the words run together in a code name
#: (``names``: makedirs → make dirs), counts this many times more than in the body; among the other names
#: the corpus gives a document (``aliases``, sought also by the query's Python words, ``analyze.python_words``)
#: 4 times (pydocs-qa dev r@1 /
#: r@5 / r@20 at 2 · 4 · 8 · 16 with stop-word keywords left out: 38.4 / 62.8 / 72.1 · 36.0 / 64.0 / 73.3 ·
#: 36.0 / 62.8 / 74.4 · 33.7 / 62.8 / 74.4).
_TITLE_WEIGHT, _NAMES_WEIGHT, _BODY_WEIGHT, _ALIAS_WEIGHT = 16.0, 16.0, 1.0, 4.0
#: Documents are ranked by their best passage of about this many characters (whole paragraphs): a long
#: reference section then competes with a docstring on the part that answers, not on its length
#: (pydocs-qa dev r@5 48.8 → 55.8 against whole documents; 1200 and 2400 measured lower).
_PASSAGE_CHARS = 1600
_PARAGRAPH = re.compile(r"\n\s*\n")
#: A word of this many documents or more may be a part of a code name.
_NAME_PART_DOCS = 3
_SNIPPET_TOKENS = 40
_BATCH = 2000

_CREATE = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE docs(rowid INTEGER PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE, title TEXT NOT NULL,
                  url TEXT NOT NULL, body TEXT NOT NULL, names TEXT NOT NULL DEFAULT '',
                  leaf TEXT NOT NULL DEFAULT '', aliases TEXT NOT NULL DEFAULT '', spelt TEXT NOT NULL DEFAULT '');
CREATE VIRTUAL TABLE fts USING fts5(title, names, body, aliases, content='docs', content_rowid='rowid',
                                    tokenize='porter unicode61 remove_diacritics 2');
CREATE TABLE passages(rowid INTEGER PRIMARY KEY, doc INTEGER NOT NULL, title TEXT NOT NULL, names TEXT NOT NULL,
                      body TEXT NOT NULL, aliases TEXT NOT NULL);
CREATE VIRTUAL TABLE passage_fts USING fts5(title, names, body, aliases, content='passages', content_rowid='rowid',
                                            tokenize='porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE words USING fts5(title, body, content='docs', content_rowid='rowid',
                                      tokenize='unicode61 remove_diacritics 2', detail='none');
CREATE VIRTUAL TABLE vocab USING fts5vocab(words, 'row');
"""
#: The words of the index as written (not stemmed: a misspelling is nearer the word than its Porter
#: stem, genrators → generators, not gener) that start like a word, commonest first.
_CANDIDATES = "SELECT term FROM vocab WHERE term >= ? AND term < ? ORDER BY doc DESC"
#: The best passages by BM25, best first: ``bm25()`` called in the query, not FTS5's configured ``rank`` (the same
#: scores and order, but ``rank`` makes FTS5 prepare a sorting statement per query: 5.7 → 4.3 ms p50 over pydocs-qa
#: dev); their documents are read after (joined in the query, the re-sorting cost ~0.3 ms more).
_RANKED = (
    f"SELECT rowid, bm25(passage_fts, {_TITLE_WEIGHT}, {_NAMES_WEIGHT}, {_BODY_WEIGHT}, {_ALIAS_WEIGHT}) AS score "
    "FROM passage_fts WHERE passage_fts MATCH ? ORDER BY score LIMIT ?"
)
#: A document's score is its best passage's plus this share of its second best: an article with two
#: answering paragraphs keeps its place (XQuAD top 8: 99.41 % with the best passage alone, 99.71 % with
#: half the second; pydocs-qa dev among the sources 55.8 → 58.1 %).
_SECOND_PASSAGE = 0.5
#: How many passages are read per document wanted (several passages of one document often lead).
_PASSAGES_PER_DOC = 4
#: The snippets of the documents listed: one pass over the query's matches, keeping those (``+rowid``: a plain
#: ``rowid IN`` is handed to FTS5, which then parses and seeks the query once per document, ~1.2 ms more for 20).
_SNIPPETS = (
    f"SELECT rowid, snippet(fts, 2, '', '', '…', {_SNIPPET_TOKENS}) FROM fts WHERE fts MATCH ? AND +rowid IN ({{marks}})"
)
#: A code name ending more titles than this names none of them (``run`` ends asyncio.run, subprocess.run, …).
_NAMED_MAX = 2
_IDENTIFIER = re.compile(r"^[A-Za-z_][\w.]*$")
#: A document found by meaning alone shows this many characters of its start as its snippet.
_HEAD_CHARS = 300


def build(
    path: Path, documents: Iterable[Document], meta: dict[str, str], after: Callable[[], dict[str, str]] | None = None
) -> int:
    """Write a fresh index to a temporary file, then move it over ``path``; returns the document count.

    ``after`` adds metadata known only once every document was read (lines a reader skipped).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(0o644)
    try:
        with contextlib.closing(sqlite3.connect(tmp)) as conn:
            conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _CREATE)
            for batch in _batches(documents):
                conn.executemany(
                    "INSERT OR IGNORE INTO docs(doc_id, title, url, body, aliases) VALUES (?, ?, ?, ?, ?)",
                    [(_safe(d.id), _safe(d.title), _safe(d.url), _safe(d.text), _safe(d.aliases)) for d in batch],
                )
            conn.execute("INSERT INTO words(words) VALUES('rebuild')")
            _name_code_names(conn)
            conn.execute("UPDATE docs SET leaf = substr(title, length(rtrim(title, replace(title, '.', ''))) + 1)")
            conn.execute("CREATE INDEX docs_title ON docs(title)")
            conn.execute("CREATE INDEX docs_leaf ON docs(leaf)")
            conn.execute("CREATE INDEX docs_spelt ON docs(spelt)")
            conn.execute("INSERT INTO fts(fts) VALUES('rebuild')")
            _cut_passages(conn)
            conn.execute("INSERT INTO passage_fts(passage_fts) VALUES('rebuild')")
            count = conn.execute("SELECT count(*) FROM docs").fetchone()[0]
            rows = {**meta, **(after() if after else {})}
            rows.update(schema=SCHEMA, documents=str(count), built_at=f"{time.time():.3f}")
            conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", rows.items())
            conn.commit()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return int(count)


def _cut_passages(conn: sqlite3.Connection) -> None:
    """Fill ``passages`` with each document's runs of whole paragraphs of up to ``_PASSAGE_CHARS``."""
    docs = conn.execute("SELECT rowid, title, names, body, aliases FROM docs").fetchall()
    conn.executemany(
        "INSERT INTO passages(doc, title, names, body, aliases) VALUES (?, ?, ?, ?, ?)",
        ((rowid, title, names, text, aliases) for rowid, title, names, body, aliases in docs for text in _passages(body)),
    )


def _passages(body: str) -> list[str]:
    """``body`` as runs of whole paragraphs, each up to ``_PASSAGE_CHARS`` unless one paragraph is longer."""
    out: list[str] = []
    current = ""
    for paragraph in _PARAGRAPH.split(body):
        if not paragraph.strip():
            continue
        if current and len(current) + len(paragraph) > _PASSAGE_CHARS:
            out.append(current)
            current = ""
        current = f"{current}\n\n{paragraph}" if current else paragraph
    return [*out, current] if current else out or [body]


def _name_code_names(conn: sqlite3.Connection) -> None:
    """Fill ``docs.names`` with the words run together in each code-name title, cut by the corpus's own words,
    and the words its last part abbreviates, as its own page spells them out (``text.spelt_out``)."""
    counts = dict(conn.execute("SELECT term, doc FROM vocab WHERE doc >= ?", (_NAME_PART_DOCS,)).fetchall())
    memo: dict[str, list[str]] = {}
    rows = []
    for rowid, title, body in conn.execute("SELECT rowid, title, body FROM docs").fetchall():
        spelt = spelt_out(title, body)
        if words := list(dict.fromkeys([*name_words(title, counts, memo), *spelt.words])):
            phrase = _phrase(spelt.words) if len(spelt.words) > 1 and spelt.shortened else ""
            rows.append((" ".join(words), phrase, rowid))
    conn.executemany("UPDATE docs SET names = ?, spelt = ? WHERE rowid = ?", rows)


def _phrase(words: Iterable[str]) -> str:
    """Words as one phrase of their light stems (``text.stem``: "pretty printing" as "pretty print")."""
    return " ".join(stem(w) for w in words)


def read_meta(path: Path) -> dict[str, str] | None:
    """The index's metadata, or ``None`` when it is missing, unreadable or of another schema."""
    if not path.is_file():
        return None
    try:
        with contextlib.closing(connect(path)) as conn:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.Error:
        return None
    return meta if meta.get("schema") == SCHEMA else None


def connect(path: Path) -> sqlite3.Connection:
    """A read-only connection any thread may use (one thread at a time)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)


def match_expression(terms: Iterable[str], aliases: Iterable[str] = ()) -> str:
    """An FTS5 query OR-ing each term as a quoted string, so no user text is ever read as FTS syntax, and
    each of ``aliases`` sought in the ``aliases`` column only."""
    quoted = ['"' + _safe(term).replace('"', '""') + '"' for term in terms if term.strip()]
    return " OR ".join([*quoted, *(f'aliases : "{w}"' for w in aliases if w.isalpha())])


def search(conn: sqlite3.Connection, terms: Sequence[str], count: int) -> list[tuple[str, str, str, str]]:
    """``(doc_id, title, url, snippet)`` of the best ``count`` documents for ``terms``, best first."""
    return hits(conn, ranked(conn, terms, count), terms)


def ranked(conn: sqlite3.Connection, terms: Sequence[str], count: int, aliases: Sequence[str] = ()) -> list[int]:
    """The rowids of the best ``count`` documents for ``terms`` (and ``aliases``, see ``match_expression``),
    best first, by their best passages' BM25."""
    expression = match_expression(terms, aliases)
    if not expression or count < 1:
        return []
    rows = conn.execute(_RANKED, (expression, count * _PASSAGES_PER_DOC)).fetchall()
    marks = ",".join("?" * len(rows))
    docs = dict(conn.execute(f"SELECT rowid, doc FROM passages WHERE rowid IN ({marks})", [row[0] for row in rows]))
    scores: dict[int, list[float]] = {}
    for passage, score in rows:  # FTS5's bm25() is negative: the lower, the better
        scores.setdefault(docs[passage], []).append(score)
    return sorted(scores, key=lambda doc: scores[doc][0] + _SECOND_PASSAGE * sum(scores[doc][1:2]))[:count]


def named(conn: sqlite3.Connection, names: Sequence[str], words: Sequence[str] = ()) -> list[int]:
    """The rowids of the documents these code names name, in order: the document titled so, or else the
    one or two whose dotted title ends with the name (``dataclass`` → ``dataclasses.dataclass``); then
    the documents titled by two or three ``words`` in a row joined with dots (json dumps → ``json.dumps``), or
    whose code name they spell out (base64 encode → ``base64.b64encode``, see ``_spelt``)."""
    found: dict[int, None] = {}
    for name in names:
        rows = conn.execute("SELECT rowid FROM docs WHERE title = ?", (name,)).fetchall()
        if not rows and _IDENTIFIER.match(name):
            rows = conn.execute(
                f"SELECT rowid FROM docs WHERE leaf = ? AND title GLOB ? LIMIT {_NAMED_MAX + 1}",
                (name.rsplit(".", 1)[-1], f"*.{name}"),
            ).fetchall()
        if len(rows) <= _NAMED_MAX:
            found.update(dict.fromkeys(row[0] for row in rows))
    joined = [".".join(words[i : i + n]) for n in (3, 2) for i in range(len(words) - n + 1)]
    if joined:
        marks = ",".join("?" * len(joined))
        titled = dict(conn.execute(f"SELECT title, rowid FROM docs WHERE title IN ({marks})", joined).fetchall())
        found.update(dict.fromkeys(titled[name] for name in joined if name in titled))
    found.update(dict.fromkeys(_spelt(conn, words)))
    return list(found)


def _spelt(conn: sqlite3.Connection, words: Sequence[str]) -> list[int]:
    """The rowids of the documents whose code name two or three ``words`` in a row spell out, abbreviation and all
    (base64 encode → ``base64.b64encode``: ``docs.spelt``), when those words spell out that one name only."""
    phrases = list(dict.fromkeys(_phrase(words[i : i + n]) for n in (3, 2) for i in range(len(words) - n + 1)))
    if not phrases:
        return []
    marks = ",".join("?" * len(phrases))
    found: dict[str, list[int]] = {}
    for phrase, rowid in conn.execute(f"SELECT spelt, rowid FROM docs WHERE spelt IN ({marks})", phrases):
        found.setdefault(phrase, []).append(rowid)
    return [found[phrase][0] for phrase in phrases if len(found.get(phrase, ())) == 1]


def hits(
    conn: sqlite3.Connection, rowids: Sequence[int], terms: Sequence[str], leave_out: Collection[str] = ()
) -> list[tuple[str, str, str, str]]:
    """``(doc_id, title, url, snippet)`` of these documents in this order, but those whose ``doc_id`` is in
    ``leave_out``; the snippet is the passage around ``terms`` when the document has any of them, else the
    start of its text (snippets are made only for the documents kept: each costs FTS5 a read of its text)."""
    if not rowids:
        return []
    marks = ",".join("?" * len(rowids))
    found = {
        row[0]: row[1:]
        for row in conn.execute(
            f"SELECT rowid, doc_id, title, url, substr(body, 1, {_HEAD_CHARS}) FROM docs WHERE rowid IN ({marks})", rowids
        )
        if row[1] not in leave_out
    }
    kept = [rowid for rowid in rowids if rowid in found]
    expression = match_expression(terms)
    marks = ",".join("?" * len(kept))
    snippets = dict(conn.execute(_SNIPPETS.format(marks=marks), (expression, *kept))) if expression and kept else {}
    return [
        (doc_id, title, url, snippets.get(rowid) or _head(head))
        for rowid in kept
        for doc_id, title, url, head in [found[rowid]]
    ]


def _head(text: str) -> str:
    """The start of a text cut at its last whole word, with an ellipsis when cut."""
    if len(text) < _HEAD_CHARS:
        return text
    return text.rsplit(None, 1)[0] + "…"


def respell(conn: sqlite3.Connection, terms: Sequence[str]) -> dict[str, str]:
    """Each term no document contains, mapped to the index word spelt most like it (slips of the keys
    only, unless no term would find anything: see ``_text.respell``)."""

    def known(term: str) -> bool:
        if not term[:1].isalpha():
            return True
        return conn.execute("SELECT 1 FROM fts WHERE fts MATCH ? LIMIT 1", (match_expression([term]),)).fetchone() is not None

    return _respell(terms, known, lambda term: _words_like(conn, term), typo=True)


def _words_like(conn: sqlite3.Connection, term: str) -> list[str]:
    first = term[0].lower()
    return [row[0] for row in conn.execute(_CANDIDATES, (first, chr(ord(first) + 1)))]


def document(conn: sqlite3.Connection, doc_id: str) -> Document | None:
    """One document by id, or ``None`` when the index does not hold it."""
    row = conn.execute("SELECT doc_id, title, url, body FROM docs WHERE doc_id = ?", (_safe(doc_id),)).fetchone()
    return Document(*row) if row else None


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` so only one process builds an index at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: builds are still atomic, only possibly duplicated.
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_abandoned(path: Path) -> None:
    """Delete temporary files that builds killed mid-way left behind (older than an hour)."""
    cutoff = time.time() - 3600
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()


def _batches(documents: Iterable[Document]) -> Iterator[list[Document]]:
    batch: list[Document] = []
    for doc in documents:
        batch.append(doc)
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _safe(text: str) -> str:
    """``text`` with lone surrogates replaced, since SQLite stores UTF-8 only."""
    return text.encode("utf-8", "replace").decode("utf-8")
