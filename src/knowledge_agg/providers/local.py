"""The ``local`` provider: BM25 search over an embedded SQLite FTS5 index of a local corpus."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from ..analyze import code_names, key_terms, python_words
from ..errors import ProviderError
from ..models import Document, Hit, Hits
from . import _fts, _vectors
from ._corpora import Corpus, Skipped

if TYPE_CHECKING:
    from ..settings import Settings
    from . import Notify

__all__ = ["LocalProvider", "IndexStatus", "check_corpus"]

_T = TypeVar("_T")
_log = logging.getLogger(__name__)
#: One lock per index file, so threads of one process never build the same index twice at once.
_BUILD_LOCKS: dict[Path, threading.Lock] = {}
_BUILD_LOCKS_GUARD = threading.Lock()
#: How deep each ranking goes before fusion (each model's fusion constants are in ``_vectors``).
_FUSION_DEPTH = 100
#: How deep the pool of candidates the selection stage may choose sources from goes (``Hits.pool``: the
#: search's ranking this deep, without its results); BM25 has a gold page of pydocs-qa dev in its first 100 for
#: 88 % of the questions, in its first 20 for 74 % (quality log, round nine).
_POOL_DEPTH = 100
#: The static table's ranking reaches at most this fraction (1 / share) of the corpus's documents.
_NEAREST_SHARE = 10
#: How long the search that starts making an index's vectors waits for them before it searches by words
#: alone (a small corpus is done by then; the Python docs take minutes on two cores).
_VECTORS_WAIT_S = 10.0
#: The thread making each index file's vectors, so a process makes them once while its searches go on.
_VECTOR_BUILDS: dict[Path, threading.Thread] = {}
_RULE = re.compile(r"([=\-~^*#_])\1{2,}")


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """What an index holds and whether this call had to build it."""

    corpus: str
    kind: str
    path: Path
    documents: int
    size_bytes: int
    fingerprint: str
    built_at: float
    build_seconds: float
    rebuilt: bool
    #: Lines of a JSONL corpus that held no document, and the first of them ("line 3: not valid JSON").
    skipped_lines: int = 0
    first_skipped: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The status as JSON-ready values."""
        return {**asdict(self), "path": str(self.path)}


class LocalProvider:
    """Searches a local corpus (default: this Python's documentation) with no network at all."""

    name = "local"

    def __init__(
        self,
        corpus: str | os.PathLike[str] = "pydocs",
        *,
        cache_dir: str | os.PathLike[str],
        meaning: bool = False,
        static: bool = False,
    ) -> None:
        self.corpus = Corpus.parse(corpus)
        #: Also search by meaning: BM25 fused with the nearest documents' vectors, from all-MiniLM-L6-v2
        #: (``meaning``, the ``semantic`` extra: made in the background) or else from the shipped static
        #: table (``static``: made with the index, in about a second for the Python docs).
        self.model = _vectors.MINILM if meaning else _vectors.STATIC if static else None
        self._vectors: _vectors.Vectors | _vectors.Packed | None = None
        self.path = Path(cache_dir).expanduser() / "index" / f"{self.corpus.key}.sqlite"
        self._status: IndexStatus | None = None
        self._pool: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._generation = 0
        self._told_skipped = False
        #: What the shipped vectors lacked at the last build, told when the documents are embedded instead.
        self._vectors_note: str | None = None
        #: The static table's stored vectors, read in a background thread from the start (they take ~20 ms
        #: of a fresh process's first search otherwise); used once the index is known to be current.
        self._prefetch: concurrent.futures.Future[_vectors.Vectors | _vectors.Packed | None] | None = None
        if self.model is not None and self.model.inline:
            self._prefetch = concurrent.futures.Future()
            threading.Thread(target=self._read_ahead, name="knowledge-agg-vectors", daemon=True).start()

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalProvider:
        """The provider over ``settings.corpus``, indexed under ``settings.cache_dir``."""
        flags = settings.flags
        return cls(settings.corpus, cache_dir=settings.cache_dir, meaning=flags["semantic"], static=flags["static"])

    def __repr__(self) -> str:
        return f"LocalProvider(corpus={self.corpus.name!r}, path={str(self.path)!r})"

    async def build(self, *, force: bool = False, notify: Notify | None = None) -> IndexStatus:
        """Make sure the index is current (building it when the corpus changed or ``force``)."""
        if notify is not None and (force or await asyncio.to_thread(self.is_stale)):
            notify(f"building the local index of {self.corpus.name!r} (only when the corpus changes)")
        return await asyncio.to_thread(self.build_sync, force=force)

    async def status(self) -> IndexStatus:
        """The current index's status, building it first if needed."""
        return self._status or await self.build()

    def is_stale(self) -> bool:
        """Whether the index file is missing or was built from a different version of the corpus."""
        meta = _fts.read_meta(self.path)
        return meta is None or meta.get("fingerprint") != self.corpus.fingerprint()

    def build_sync(self, *, force: bool = False) -> IndexStatus:
        """Blocking form of :meth:`build`, for scripts, benchmarks and worker threads."""
        with _build_lock(self.path):
            fingerprint = self.corpus.fingerprint()
            meta = _fts.read_meta(self.path)
            rebuilt, seconds = False, 0.0
            if force or meta is None or meta.get("fingerprint") != fingerprint:
                with _fts.file_lock(self.path.with_name(self.path.name + ".lock")):
                    meta = _fts.read_meta(self.path)  # another process may have just built it
                    if force or meta is None or meta.get("fingerprint") != fingerprint:
                        started = time.perf_counter()
                        meta = {"fingerprint": fingerprint, "corpus": self.corpus.name, "kind": self.corpus.kind}
                        skipped = Skipped()
                        _fts.build(self.path, self.corpus.documents(skipped), meta, after=skipped.meta)
                        rebuilt, seconds = True, time.perf_counter() - started
                        meta = _fts.read_meta(self.path)
            if meta is None:
                raise ProviderError(f"The local index at {self.path} could not be read.", kind="index_failed")
            status = IndexStatus(
                corpus=self.corpus.name,
                kind=self.corpus.kind,
                path=self.path,
                documents=int(meta["documents"]),
                size_bytes=self.path.stat().st_size,
                fingerprint=fingerprint,
                built_at=float(meta["built_at"]),
                build_seconds=round(seconds, 3),
                rebuilt=rebuilt,
                skipped_lines=int(meta.get("skipped_lines", 0)),
                first_skipped=meta.get("first_skipped", ""),
            )
            self._reset_pool()
            self._status = status
            self._vectors = None
            self._vectors_note = None
            model = self.model
            if model is not None and (rebuilt or not self._vectors_stored(model)):
                # made with the index (the static table's, and MiniLM's of the Python docs when the package ships
                # them all); stored ones are read by the first search that needs them
                if model.inline:
                    self._vectors = self._query(self._current_vectors, model)
                elif model.ships:
                    self._vectors, self._vectors_note = self._query(_shipped_vectors, self.path, model)
            return status

    async def search(self, query: str, *, count: int, notify: Notify | None = None) -> Hits:
        """Up to ``count`` hits for the query's key terms, best BM25 score first (fused with the documents
        nearest in meaning under the static table), after the documents its code names name.

        With MiniLM (``meaning``) the hits come from words alone, so they never wait for the model, and
        ``Hits.meaning`` gives the same search fused with meaning for the sources; only when no word is found
        does meaning answer at once. A term no document contains is searched as the index word spelt most like
        it (Ghandi → gandhi).
        """
        if self._status is None:
            self.corpus.check()  # a missing corpus is an error whatever the query
        terms = key_terms(query)
        if not terms or count < 1:
            return Hits()
        if self._status is None:
            await self.build(notify=notify)
        # MiniLM's meaning enters after the results (the static table's is fused into them: it costs ~10 ms)
        later = self.model if self.model is not None and not self.model.inline else None
        fused = later is None
        # a new index's vectors are made now or in the background, before the words' ranking; otherwise the terms
        # are respelt and ranked in one thread hop (each hop costs the event loop a wake-up: ~0.5 ms under load)
        waited = later is not None and self._vectors is None and not self._vectors_stored(later)
        rows: list[tuple[str, str, str, str]] | None = None
        if waited:
            respelt = await asyncio.to_thread(self._query, _fts.respell, terms)
        else:
            respelt, rows = await asyncio.to_thread(self._query, self._respelt_ranked, query, terms, count, fused)
        if respelt and notify is not None:
            for old, new in respelt.items():
                notify(f"no document has {old!r}: searching for {new!r} instead")
        terms = _respelt(terms, respelt)
        if rows is None:
            assert later is not None
            await self._await_vectors(later, notify)
            rows = await asyncio.to_thread(self._query, self._ranked, query, terms, count, frozenset(), fused)
        if later is not None and later.alone is not None and not rows:  # no word found: meaning alone answers at once
            if self._vectors is None and not waited:
                await self._await_vectors(later, notify)
            fused = self._vectors is not None
            if fused:
                rows = await asyncio.to_thread(self._query, self._ranked, query, terms, count, frozenset(), True)
        shown = frozenset(doc_id for doc_id, *_ in rows)
        pool = functools.partial(self._further, query, terms, shown, fused)
        meaning = None if fused else functools.partial(self._meaning, query, terms, count, respelt)
        return Hits(self._hits(rows), respelt, self._skipped_problems(), pool, self._stored(), meaning)

    def _respelt_ranked(
        self, conn: sqlite3.Connection, query: str, terms: tuple[str, ...], count: int, fused: bool
    ) -> tuple[dict[str, str], list[tuple[str, str, str, str]]]:
        """The terms no document contains respelt (``_fts.respell``), and ``_ranked``'s rows for the terms so respelt."""
        respelt = _fts.respell(conn, terms)
        return respelt, self._ranked(conn, query, _respelt(terms, respelt), count, frozenset(), fused)

    def _stored(self) -> Callable[[Sequence[Hit]], list[Any]] | None:
        """``Hits.vectors``: the stored vectors of MiniLM's documents, for choosing sources by meaning."""
        return self.stored_vectors if self.model is _vectors.MINILM else None

    def _vectors_stored(self, model: _vectors.Model) -> bool:
        """Whether a file of this model's vectors is beside the index (of this build or not: reading it needs numpy,
        which the search by words does not)."""
        return _vectors.vectors_path(self.path, model).exists()

    def _meaning(self, query: str, terms: tuple[str, ...], count: int, respelt: dict[str, str]) -> Hits | None:
        """The search ranked by words and meaning (``Hits.meaning``), waiting for the model; ``None`` when the
        documents' vectors are still being made (blocking: the selection stage calls it in a thread)."""
        model = self.model
        assert model is not None
        if self._vectors is None:
            self._read_vectors(model)
        if self._vectors is None:  # stale or unreadable: made in the background, waited for a while
            self._vectors_made(model).join(_VECTORS_WAIT_S)
            self._query(self._load_vectors, model)
        if self._vectors is None:
            return None
        rows = self._query(self._ranked, query, terms, count, frozenset(), True)
        shown = frozenset(doc_id for doc_id, *_ in rows)
        pool = functools.partial(self._further, query, terms, shown, True)
        return Hits(self._hits(rows), respelt, (), pool, self._stored())

    def _hits(self, rows: list[tuple[str, str, str, str]], after: int = 0) -> list[Hit]:
        """The index's rows as hits ranked from ``after + 1``."""
        return [
            Hit(
                rank=rank,
                title=title,
                url=url,
                snippet=_plain(snippet),
                provider=self.name,
                domain=_host(url) or self.corpus.name,
                doc_id=doc_id,
            )
            for rank, (doc_id, title, url, snippet) in enumerate(rows, after + 1)
        ]

    def _further(self, query: str, terms: tuple[str, ...], shown: frozenset[str], fused: bool) -> list[Hit]:
        """The same search (``fused`` with meaning or not) ``_POOL_DEPTH`` deep without the results it returned
        (``shown``), ranked after them (blocking: the selection stage calls it in a thread once the results are out)."""
        return self._hits(self._query(self._ranked, query, terms, _POOL_DEPTH, shown, fused), len(shown))

    def stored_vectors(self, hits: Sequence[Hit]) -> list[Any]:
        """The sentence model's stored vectors of each hit's document (a row for "title. start of the text", then one
        for each later passage), ``None`` for a hit of another provider, while this build's vectors are not made or
        when the index cannot be read (blocking: selection calls it in a thread)."""
        vectors = self._vectors
        if not isinstance(vectors, _vectors.Vectors):
            return [None] * len(hits)
        ids = [hit.doc_id for hit in hits if hit.provider == self.name and hit.doc_id is not None]
        try:
            rowids = self._query(_rowids, ids, vectors.stamp)
        except ProviderError:  # a closed provider or an unreadable index: the hits are embedded instead
            return [None] * len(hits)
        out: list[Any] = []
        for hit in hits:
            rowid = rowids.get(hit.doc_id) if hit.provider == self.name and hit.doc_id is not None else None
            place = int(vectors.rowids.searchsorted(rowid)) if rowid is not None else len(vectors.rowids)
            found = place < len(vectors.rowids) and int(vectors.rowids[place]) == rowid
            out.append(vectors.document(place) if found else None)
        return out

    def _skipped_problems(self) -> list[ProviderError]:
        """The corpus lines the index left out, told once per provider (its first search after opening)."""
        status = self._status
        if self._told_skipped or status is None or not status.skipped_lines:
            return []
        self._told_skipped = True
        lines = f"{status.skipped_lines} line{'s' if status.skipped_lines > 1 else ''}"
        message = f"{self.corpus.path}: {lines} skipped; the first is {status.first_skipped}"
        return [ProviderError(message, kind="corpus_lines_skipped")]

    def _ranked(
        self, conn: sqlite3.Connection, query: str, terms: tuple[str, ...], count: int, shown: frozenset[str],
        fused: bool,
    ) -> list[tuple[str, str, str, str]]:
        """The documents the query names by their code names first, then BM25's ranking, ``fused`` with the
        ranking by meaning when there are vectors; those whose ids are ``shown`` left out (after ranking)."""
        named = _fts.named(conn, code_names(query), terms)
        model = self.model
        if model is None or not fused or (self._vectors is None and not model.inline):
            ranking = _fts.ranked(conn, terms, count, python_words(query))
        else:
            depth = max(count, _FUSION_DEPTH)
            lexical = _fts.ranked(conn, terms, depth, python_words(query))
            if lexical or named or model.alone is not None:
                # the static table's stored vectors are taken only now, so their reading ahead in a thread
                # overlaps the words' queries (SQLite lets go of the interpreter while it searches)
                vectors = self._vectors
                if vectors is None:
                    vectors = self._vectors = self._current_vectors(conn, model)
                # the static table widens the words' hits by at most the nearest tenth of a small corpus (there,
                # "among the 100 nearest" would be every page, however far)
                reach = depth if model.alone is not None else min(depth, max(1, len(vectors.rowids) // _NEAREST_SHARE))
                if lexical or named:
                    nearest = vectors.nearest(query, reach)
                else:  # meaning alone answers: only pages close enough to be about the question
                    assert isinstance(vectors, _vectors.Vectors)  # the static table (packed) never answers alone
                    nearest = vectors.nearest(query, reach, floor=model.alone)
                ranking = _vectors.fuse([lexical, nearest], [1.0, model.weight], count, model.fusion_k)
            else:
                ranking = []
        return _fts.hits(conn, list(dict.fromkeys([*named, *ranking]))[:count], terms, shown)

    async def _await_vectors(self, model: _vectors.Model, notify: Notify | None) -> None:
        """Read this build's vectors; when they are missing, make them in a background thread (one per
        index file and process) and wait for it up to ``_VECTORS_WAIT_S``, so a search never waits minutes:
        until they are ready, searches rank by words alone and say so."""
        with _BUILD_LOCKS_GUARD:
            building = _VECTOR_BUILDS.get(self.path)
            running = building is not None and building.is_alive()
        if not running:
            await asyncio.to_thread(self._read_vectors, model)
            if self._vectors is not None:
                return
            building = self._vectors_made(model)
            if notify is not None:
                if self._vectors_note is not None:
                    notify(self._vectors_note)
                notify("embedding the documents of the local index (once per index build)")
            await asyncio.to_thread(building.join, _VECTORS_WAIT_S)
            if not building.is_alive():
                await asyncio.to_thread(self._query, self._load_vectors, model)
        if self._vectors is None and notify is not None:
            notify("searching by words alone until the documents' vectors are made (in the background, once per index build)")

    def _read_vectors(self, model: _vectors.Model) -> None:
        """Read this build's stored vectors, else (stored for an older build: the index was rebuilt by a process
        searching by words) take the shipped table's, once (blocking)."""
        self._query(self._load_vectors, model)
        if self._vectors is None and model.ships and self._vectors_note is None:
            self._vectors, self._vectors_note = self._query(_shipped_vectors, self.path, model)

    def _vectors_made(self, model: _vectors.Model) -> threading.Thread:
        """The thread making this index file's vectors in this process, started unless one is running."""
        with _BUILD_LOCKS_GUARD:
            building = _VECTOR_BUILDS.get(self.path)
            if building is None or not building.is_alive():
                building = threading.Thread(target=_make_vectors, args=(self.path, model), name="knowledge-agg-vectors")
                _VECTOR_BUILDS[self.path] = building
                building.start()
            return building

    def wait_for_vectors(self, timeout: float | None = None) -> bool:
        """Wait until the vectors this process is making for the index are done (``timeout`` seconds at
        most); whether none is being made any more. For warm-ups and benchmarks: searches never wait."""
        with _BUILD_LOCKS_GUARD:
            building = _VECTOR_BUILDS.get(self.path)
        if building is not None:
            building.join(timeout)
        return building is None or not building.is_alive()

    def document_texts(self) -> list[str]:
        """The text each document's vector is made from ("title. start of the body"), in rowid order, building
        the index first if needed; for tools that fit a model to a corpus (``benchmarks.distil_static --refine``)."""
        self.build_sync()
        return [text for _, text in self._query(_vectors.document_texts)]

    def passage_texts(self) -> list[str]:
        """The texts of long documents' later passages, which MiniLM also embeds ("title. later window"), in rowid
        order, building the index first if needed; for ``benchmarks.ship_vectors``."""
        self.build_sync()
        return [text for _, text in self._query(_vectors.later_passages)]

    def _read_ahead(self) -> None:
        """The prefetch thread's body: this process's table, and the stored vectors of the index file as it is."""
        prefetch = self._prefetch
        assert prefetch is not None and self.model is not None
        try:
            from .. import static

            static.load()
            with contextlib.closing(_fts.connect(self.path)) as conn:
                prefetch.set_result(_vectors.load(self.path, _stamp(conn), self.model))
        except Exception:  # no index yet, or an unreadable one: the search makes or reads them itself
            prefetch.set_result(None)

    def _current_vectors(self, conn: sqlite3.Connection, model: _vectors.Model) -> _vectors.Vectors | _vectors.Packed:
        """The vectors of the index as it is now: the prefetched ones when they belong to this build."""
        prefetch, self._prefetch = self._prefetch, None
        found = prefetch.result() if prefetch is not None else None
        if found is not None and found.stamp == _stamp(conn):
            return found
        return _ensure_vectors(conn, self.path, model)

    def _load_vectors(self, conn: sqlite3.Connection, model: _vectors.Model) -> None:
        """Read this build's stored vectors, if they are there."""
        self._vectors = _vectors.load(self.path, _stamp(conn), model)

    async def document(self, hit: Hit) -> str | None:
        """The full text of a hit this provider returned, read from the index (no HTTP)."""
        if hit.provider != self.name or hit.doc_id is None:
            return None
        found = await self.lookup(hit.doc_id)
        return found.text if found is not None else None

    async def lookup(self, doc_id: str) -> Document | None:
        """One document of the index by its id (title, url and text), or ``None`` when there is none."""
        if self._status is None:
            await self.build()
        return await asyncio.to_thread(self._query, _fts.document, doc_id)

    async def aclose(self) -> None:
        """Close every pooled connection; searches still running close theirs when they finish."""
        with self._lock:
            self._closed = True
        self._reset_pool()

    def _query(self, operation: Callable[..., _T], *args: Any) -> _T:
        """Run one read on a pooled connection (opened on demand, returned afterwards)."""
        with self._lock:
            if self._closed:
                raise ProviderError("The local provider is closed.", kind="closed")
            conn = self._pool.pop() if self._pool else None
            generation = self._generation
        conn = conn or _fts.connect(self.path)
        ok = False
        try:
            result = operation(conn, *args)
            ok = True
            return result
        except sqlite3.Error as exc:
            raise ProviderError(f"The local index at {self.path} failed: {exc}", kind="index_failed") from exc
        finally:
            with self._lock:
                keep = ok and not self._closed and generation == self._generation
                if keep:
                    self._pool.append(conn)
            if not keep:
                conn.close()

    def _reset_pool(self) -> None:
        """Close pooled connections; those in use are closed when returned (they may see an old file)."""
        with self._lock:
            pool, self._pool = self._pool, []
            self._generation += 1
        for conn in pool:
            conn.close()


def check_corpus(corpus: str | os.PathLike[str]) -> None:
    """Raise ``ProviderError`` (kind ``corpus_not_found``) naming the path when ``corpus`` is not
    ``'pydocs'``, an existing folder or an existing ``.jsonl`` file."""
    Corpus.parse(corpus).check()


def _respelt(terms: tuple[str, ...], respelt: dict[str, str]) -> tuple[str, ...]:
    """The key terms with those respelt replaced, each once."""
    return tuple(dict.fromkeys(respelt.get(t, t) for t in terms))


@functools.lru_cache(maxsize=16384)
def _host(url: str) -> str | None:
    """The host of a document's URL (cached: parsing the 20 URLs of each search cost ~0.2 ms)."""
    return urlsplit(url).hostname


def _plain(snippet: str) -> str:
    """A snippet on one line, without reStructuredText/Markdown rules such as ``-----``."""
    return " ".join(_RULE.sub(" ", snippet).split())


def _rowids(conn: sqlite3.Connection, doc_ids: Sequence[str], stamp: str) -> dict[str, int]:
    """The rowid of each of these documents in this build of the index (``stamp``; none in another build)."""
    if not doc_ids or _stamp(conn) != stamp:
        return {}
    marks = ",".join("?" * len(doc_ids))
    return dict(conn.execute(f"SELECT doc_id, rowid FROM docs WHERE doc_id IN ({marks})", doc_ids).fetchall())


def _stamp(conn: sqlite3.Connection) -> str:
    """Names one build of the index, so vectors made for an older build are never read."""
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    return f"{meta.get('fingerprint')}:{meta.get('built_at')}"


def _ensure_vectors(
    conn: sqlite3.Connection, index: Path, model: _vectors.Model
) -> _vectors.Vectors | _vectors.Packed:
    """This build's stored vectors of the index at ``index``, made now unless another process has."""
    stamp = _stamp(conn)
    found = _vectors.load(index, stamp, model)
    if found is not None:
        return found
    with _fts.file_lock(_vectors.vectors_path(index, model).with_suffix(".lock")):
        return _vectors.load(index, stamp, model) or _vectors.build(index, conn, stamp, model)


def _shipped_vectors(
    conn: sqlite3.Connection, index: Path, model: _vectors.Model
) -> tuple[_vectors.Vectors | None, str | None]:
    """This build's vectors of the index at ``index`` taken from the shipped table when it holds every document
    (``None`` and what it lacks otherwise: they are then made in the background). No lock: the file is written
    atomically, and a process embedding them meanwhile (holding the lock for minutes) writes the same vectors."""
    try:
        return _vectors.from_shipped(index, conn, _stamp(conn), model)
    except OSError as exc:  # the vectors file could not be written (a full disk): the search goes on by words
        _log.warning("the shipped vectors of %s could not be stored: %s", index, exc)
        return None, f"the vectors could not be stored beside the index ({exc})"


def _make_vectors(index: Path, model: _vectors.Model) -> None:
    """Embed the documents of the index at ``index`` unless another process has (a thread's body: a failure
    is logged, and searches go on by words)."""
    try:
        with contextlib.closing(_fts.connect(index)) as conn:
            _ensure_vectors(conn, index, model)
    except Exception:
        _log.exception("the vectors of %s could not be made; searching by words", index)


def _build_lock(path: Path) -> threading.Lock:
    with _BUILD_LOCKS_GUARD:
        return _BUILD_LOCKS.setdefault(path.resolve(), threading.Lock())
