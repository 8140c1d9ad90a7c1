"""Dense vectors of an index's documents, kept beside the index file (``.bin`` for the static table, ``.npz`` for MiniLM).

Made once per index build by one of two models (the shipped static table, ``static``, off by default; or
the ``semantic`` extra's sentence model, ``semantic``), named for the model and stamped with the build, so
a rebuilt index or a changed model gets new vectors; nothing is downloaded.
Reciprocal rank fusion then merges the nearest documents in meaning with the BM25 ranking.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import logging
import os
import sqlite3
import sys
import tempfile
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .. import semantic, shipped

if TYPE_CHECKING:  # imported where used: a search's first use is in the thread reading its vectors ahead
    from .. import static

__all__ = ["Model", "MINILM", "STATIC", "Packed", "Vectors", "vectors_path", "document_texts", "later_passages", "load",
           "build", "from_shipped", "fuse"]

_log = logging.getLogger(__name__)

#: How much of a document is embedded: its title and the start of its text, where pydoc and most
#: notes say what a thing is ("Recursively delete a directory tree."); 200 chars found fewer pages
#: (quality log, variant 59).
_TEXT_CHARS = 600
#: Where each later passage of a long document starts after the one before (MiniLM's vectors only): a
#: document is also embedded as "title. window" of ``_TEXT_CHARS`` over the rest of its body, so the part of
#: a long page that answers is seen (quality log, round eleven, passage vectors).
_PASSAGE_STRIDE = 600
#: The layout of a stored ``.npz`` of MiniLM's vectors (2: with the later passages); another layout is remade.
_NPZ_LAYOUT = 2
#: Bytes of a document's field in a packed column: 255 x 127 x 256 dimensions stays under 2**24.
_FIELD = 3
#: Bytes of a document's place beside its score (``Packed.places``), and the largest place.
_PLACE = 8 - _FIELD
_LAST = (1 << 8 * _PLACE) - 1
#: The layout of a packed vectors file; a file of another layout is remade.
_LAYOUT = 2


@dataclass(frozen=True, slots=True)
class Model:
    """What makes vectors: its id (names the stored file), the documents' unit vectors and the context a
    query needs (the static table's corpus token weights; ``None`` for MiniLM), a query's unit vector, and
    how its ranking is fused with BM25's (reciprocal rank fusion's ``k`` and this ranking's weight, measured
    on the pydocs-qa dev set: quality log, variants 60 and 65–); ``inline`` for the static table, whose
    vectors take about a second (made with the index, not in a background thread) and are stored packed
    and searched without numpy (:class:`Packed`)."""

    id: Callable[[], str]
    documents: Callable[[Sequence[str]], tuple[Any, Any]]
    query: Callable[[str, Any], Any]
    fusion_k: float
    weight: float
    inline: bool
    #: The cosine a document must reach to answer a question alone, when none of the question's words is in
    #: the corpus; ``None``: never. MiniLM may, above 0.4: a paraphrase's page scores 0.53-0.60 ("pause the
    #: program", "wipe a folder"), nonsense's nearest page 0.18-0.36 ("best pizza recipe", "asdf qwerty"),
    #: and "quantum chromodynamics" against a page on bread -0.06. The static table may not: its cosines do
    #: not tell a paraphrase from nonsense, so it only widens and reorders what the words found.
    alone: float | None
    #: Whether the package ships this model's vectors of the Python docs (``knowledge_agg.shipped``), which
    #: the pydocs corpus takes instead of embedding its documents.
    ships: bool = False


def _minilm_documents(texts: Sequence[str]) -> tuple[Any, Any]:
    return semantic.embed(texts), None


def _minilm_query(text: str, context: Any) -> Any:
    return semantic.query_vector(text)  # kept: choosing sources by meaning reuses it


def _static_documents(texts: Sequence[str]) -> tuple[Any, Any]:
    from .. import static

    return static.load().documents(texts)


def _static_query(text: str, context: Any) -> Any:
    from .. import static

    assert isinstance(context, static.Context)
    return static.load().query(text, context)


def _static_id() -> str:
    from .. import static

    return static.model_id()


#: all-MiniLM-L6-v2 (the ``semantic`` flag) and the static table distilled from it (the ``static`` flag).
MINILM = Model(lambda: semantic.MODEL_ID, _minilm_documents, _minilm_query, fusion_k=60, weight=1.0, inline=False,
               alone=0.4, ships=True)
STATIC = Model(_static_id, _static_documents, _static_query, fusion_k=10, weight=0.5, inline=True,
               alone=None)


@dataclass(frozen=True, slots=True)
class Vectors:
    """Unit vectors of the documents with these rowids, for one build of an index (MiniLM's: float16 on
    disk, float32 in memory: numpy has no fast float16 product, 20 ms a query against 0.5 ms)."""

    rowids: Any
    #: Each document's vector ("title. start of the body").
    matrix: Any
    model: Model
    #: The index build these vectors belong to.
    stamp: str
    #: The vectors of long documents' later passages ("title. later window", :func:`later_passages`), and the
    #: place (in ``rowids``) of the document each belongs to, ascending.
    passages: Any = None
    owners: Any = None

    def document(self, place: int) -> Any:
        """The vectors of the document at ``place`` (in ``rowids``): its own first, then its later passages'."""
        import numpy as np

        if self.owners is None or not len(self.owners):
            return self.matrix[place : place + 1]
        start, end = np.searchsorted(self.owners, [place, place + 1])
        return np.concatenate([self.matrix[place : place + 1], self.passages[start:end]])

    def closeness(self, query: str) -> Any:
        """Every document's closeness in meaning to ``query`` (its document vector's cosine with the question, raised
        towards its best later passage's: :func:`semantic.combine`)."""
        import numpy as np

        question = np.asarray(self.model.query(query, None), np.float32)
        # einsum's own loop, not BLAS: OpenBLAS's threads make this 0.3 ms product take 8 ms on a busy machine
        cosines = np.einsum("ij,j->i", self.matrix, question)
        if self.owners is None or not len(self.owners):
            return cosines
        best = cosines.copy()
        np.maximum.at(best, self.owners, np.einsum("ij,j->i", self.passages, question))
        return semantic.combine(cosines, best)

    def nearest(self, query: str, count: int, floor: float | None = None) -> list[int]:
        """The rowids of the ``count`` documents closest in meaning to ``query``, closest first; with a
        ``floor``, only those whose closeness reaches it."""
        import numpy as np

        if count < 1 or not len(self.rowids):
            return []
        cosines = self.closeness(query)
        count = min(count, len(cosines))
        top = np.argpartition(-cosines, count - 1)[:count]
        ordered = top[np.argsort(-cosines[top], kind="stable")]
        return [int(self.rowids[i]) for i in ordered if floor is None or cosines[i] >= floor]


@dataclass(frozen=True, slots=True)
class Packed:
    """The static table's document vectors, searched in plain Python (no numpy import on a search).

    Each of the ``dims`` columns is one big integer holding every document's int8 component, shifted to
    0–255, in a 24-bit field of its own; a query's int8 components times those integers, summed, give every
    document's dot product with the query in one field each, in a few milliseconds (SWAR arithmetic on
    Python's integers). Negative query components add ``255 - value`` instead, so no field ever borrows.
    A column is kept as three integers (the documents whose place is 0, 1 or 2 modulo 3), each read with one
    ``int.from_bytes`` of the stored bytes, a shift and a mask: cheaper than spreading every byte to a field of
    its own before reading (6–8 ms against 9–13 of a fresh process's first search, for the Python docs).
    """

    rowids: array[int]
    #: For each residue modulo ``_FIELD``, the columns of the documents of that residue.
    columns: tuple[tuple[int, ...], ...]
    #: For each residue, 1 in the lowest byte of every field: ``k * spread`` puts ``k`` in every field.
    spreads: tuple[int, ...]
    #: Each document's place counted down from ``_LAST``, in the low ``_PLACE`` bytes of an 8-byte
    #: little-endian integer: a score written into the bytes above makes the integers compare by score,
    #: then by place (the first document first), so the best are picked without a key function.
    places: bytes
    #: The corpus's token weights and the sorted vocabulary, which a query's tokens take (``static.Context``).
    context: static.Context
    model: Model
    #: The index build these vectors belong to.
    stamp: str

    def nearest(self, query: str, count: int) -> list[int]:
        """The rowids of the ``count`` documents closest in meaning to ``query``, closest first."""
        size = len(self.rowids)
        vector = self.model.query(query, self.context)
        top = max((abs(v) for v in vector), default=0.0)
        if count < 1 or not size or top == 0:
            return []
        weights = [round(value * 127 / top) for value in vector]
        total = -sum(weight for weight in weights if weight < 0)
        keyed = bytearray(self.places)
        for residue, (columns, spread) in enumerate(zip(self.columns, self.spreads, strict=True)):
            positive = negative = 0
            for column, weight in zip(columns, weights, strict=True):
                if weight > 0:
                    positive += weight * column
                elif weight < 0:
                    negative -= weight * column
            fields = (positive + total * 255 * spread - negative).to_bytes(len(range(residue, size, _FIELD)) * _FIELD,
                                                                           "little")
            for byte in range(_FIELD):  # document 3k + residue's score goes to bytes 24k + 8 residue + _PLACE…
                keyed[8 * residue + _PLACE + byte :: 8 * _FIELD] = fields[byte::_FIELD]
        scores = array("Q")
        scores.frombytes(keyed)
        if sys.byteorder == "big":
            scores.byteswap()
        return [self.rowids[_LAST - (key & _LAST)] for key in heapq.nlargest(min(count, size), scores)]


def vectors_path(index: Path, model: Model) -> Path:
    """Where the vectors of the index at ``index`` are kept (named for the model that made them)."""
    return index.with_name(f"{index.stem}.{model.id()}.{'bin' if model.inline else 'npz'}")


def load(index: Path, stamp: str, model: Model) -> Vectors | Packed | None:
    """The stored vectors of this build of the index (``stamp``), or ``None`` when missing or stale."""
    path = vectors_path(index, model)
    try:
        if model.inline:
            return _load_packed(path, stamp, model)
        import numpy as np

        with np.load(path, allow_pickle=False) as data:
            if str(data["stamp"]) != stamp or int(data.get("layout", 1)) != _NPZ_LAYOUT:
                return None
            return Vectors(data["rowids"], data["matrix"].astype(np.float32), model, stamp,
                           data["passages"].astype(np.float32), data["owners"])
    except (OSError, KeyError, ValueError):
        return None


def _load_packed(path: Path, stamp: str, model: Model) -> Packed | None:
    data = path.read_bytes()
    end = data.index(b"\n")
    head = json.loads(data[:end])
    if head.get("layout") != _LAYOUT or head["stamp"] != stamp:
        return None
    size, dims = int(head["documents"]), int(head["dims"])
    at = end + 1
    rowids, weights = array("q"), array("f")
    ends, ids = array("I"), array("I")
    for values, count in ((rowids, size), (weights, int(head["tokens"])), (ends, int(head["vocab"])),
                          (ids, int(head["vocab"]))):
        values.frombytes(data[at : at + values.itemsize * count])
        at += values.itemsize * count
        if sys.byteorder == "big":
            values.byteswap()
    tokens = data[at : at + ends[-1]] if ends else b""
    at += len(tokens)
    if at + dims * size != len(data) or size > _LAST:
        raise ValueError(f"{path} is not {size} x {dims} vectors")
    # a column's bytes as one integer: document i's byte at bit 8 i; shifted by 8 r and masked, the documents
    # 3k + r keep theirs, at bit 24 k: a field of 24 bits each
    mask = int.from_bytes(((b"\xff" + b"\x00" * (_FIELD - 1)) * size)[:size], "little")
    columns: list[list[int]] = [[] for _ in range(_FIELD)]
    view = memoryview(data)
    for j in range(dims):
        column = int.from_bytes(view[at + j * size : at + (j + 1) * size], "little")
        for residue, part in enumerate(columns):
            part.append(column >> 8 * residue & mask)
    spreads = tuple(int.from_bytes((b"\x01" + b"\x00" * (_FIELD - 1)) * len(range(residue, size, _FIELD)), "little")
                    for residue in range(_FIELD))
    places = array("Q", range(_LAST, _LAST - size, -1))
    if sys.byteorder == "big":
        places.byteswap()
    from .. import static

    context = static.Context(weights, static.WordPiece(static.SortedVocab(tokens, ends, ids)))
    return Packed(rowids, tuple(map(tuple, columns)), spreads, places.tobytes(), context, model, stamp)


def document_texts(conn: sqlite3.Connection) -> list[tuple[int, str]]:
    """Each document's rowid and the text its vector is made from ("title. start of the body")."""
    rows = conn.execute(f"SELECT rowid, title, substr(body, 1, {_TEXT_CHARS}) FROM docs ORDER BY rowid").fetchall()
    return [(rowid, f"{title}. {text}") for rowid, title, text in rows]


def later_passages(conn: sqlite3.Connection) -> list[tuple[int, str]]:
    """The later passages of each long document, by rowid: "title. window" of ``_TEXT_CHARS`` characters of its
    body every ``_PASSAGE_STRIDE`` after its start (the start is its document vector's text), while a window
    still adds text the one before it did not hold."""
    rows = conn.execute("SELECT rowid, title, body FROM docs WHERE length(body) > ? ORDER BY rowid",
                        (_TEXT_CHARS,)).fetchall()
    out: list[tuple[int, str]] = []
    for rowid, title, body in rows:
        at = _PASSAGE_STRIDE
        while len(body) > at - _PASSAGE_STRIDE + _TEXT_CHARS:
            out.append((rowid, f"{title}. {body[at : at + _TEXT_CHARS]}"))
            at += _PASSAGE_STRIDE
    return out


def from_shipped(index: Path, conn: sqlite3.Connection, stamp: str, model: Model) -> tuple[Vectors | None, str | None]:
    """The vectors of an index of the Python docs (its documents' and their later passages') taken from the
    package's shipped table and stored beside it (no model loaded, well under a second) when the table holds them
    all; else ``None`` and, when there is something to tell, what the table lacks (they are then embedded,
    :func:`build`)."""
    table, note = _table(conn, model)
    if table is None:
        return None, note
    texts = _Texts.read(conn)
    found, missing = table.vectors(texts.all)
    if missing:
        return None, f"{len(texts.all) - len(missing)} of {len(texts.all)} documents and passages have shipped " \
            f"vectors: embedding the other {len(missing)}"
    return _store(index, texts, found, stamp, model), None


@dataclass(frozen=True, slots=True)
class _Texts:
    """What MiniLM embeds of an index: each document's text (by rowid), then its documents' later passages."""

    rowids: list[int]
    #: The documents' texts, then the later passages' (:func:`later_passages`).
    all: list[str]
    #: The rowid of the document each later passage belongs to.
    owners: list[int]

    @classmethod
    def read(cls, conn: sqlite3.Connection) -> _Texts:
        documents, passages = document_texts(conn), later_passages(conn)
        return cls([rowid for rowid, _ in documents], [text for _, text in [*documents, *passages]],
                   [rowid for rowid, _ in passages])


def _table(conn: sqlite3.Connection, model: Model) -> tuple[shipped.ShippedTable | None, str | None]:
    """The model's shipped table when the index holds the Python docs, else ``None`` and why, when the table
    should have been there (missing or damaged; nothing to tell for another corpus)."""
    kind = conn.execute("SELECT value FROM meta WHERE key = 'kind'").fetchone()
    if not model.ships or kind is None or kind[0] != "pydocs":
        return None, None
    try:
        table = shipped.load(model.id())
    except shipped.DamagedTable as exc:
        _log.warning("%s", exc)
        return None, f"the shipped vectors of the Python docs cannot be used ({exc}): embedding every document"
    if table is None:
        return None, f"the package ships no vectors of the Python docs for {model.id()} " \
            f"({shipped.table_path(model.id())}): embedding every document"
    return table, None


def build(index: Path, conn: sqlite3.Connection, stamp: str, model: Model) -> Vectors | Packed:
    """Embed every document of the index (taking the shipped vectors of those the package has) and store the
    vectors atomically beside it."""
    if not model.inline:
        texts = _Texts.read(conn)
        table, _ = _table(conn, model)
        if table is None:
            found, _ = model.documents(texts.all)  # first: it says which extra a missing numpy needs
        else:
            found, missing = table.vectors(texts.all)
            if missing:
                found[missing] = model.documents([texts.all[i] for i in missing])[0]
        return _store(index, texts, found, stamp, model)
    rows = document_texts(conn)
    matrix, context = model.documents([text for _, text in rows])  # first: it says which extra a missing numpy needs
    import numpy as np

    rowids = np.asarray([rowid for rowid, _ in rows], dtype=np.int64)
    path = vectors_path(index, model)
    top = float(np.abs(matrix).max()) if len(rows) else 1.0
    shifted = (np.round(matrix * (127 / (top or 1.0))) + 128).astype(np.uint8)
    vocab = context.vocab
    head = {"layout": _LAYOUT, "stamp": stamp, "documents": len(rows), "dims": matrix.shape[1] if len(rows) else 0,
            "tokens": len(context.weights), "vocab": len(vocab.ids)}
    body = [json.dumps(head).encode() + b"\n", rowids.astype("<i8").tobytes(),
            np.asarray(context.weights, dtype="<f4").tobytes(), np.asarray(vocab.ends, dtype="<u4").tobytes(),
            np.asarray(vocab.ids, dtype="<u4").tobytes(), vocab.tokens, np.ascontiguousarray(shifted.T).tobytes()]
    _write(path, lambda handle: handle.writelines(body))
    found = _load_packed(path, stamp, model)
    assert found is not None
    return found


def _store(index: Path, texts: _Texts, matrix: Any, stamp: str, model: Model) -> Vectors:
    """Store MiniLM's vectors of ``texts`` (one row each) beside the index, float16 on disk (half the file)."""
    import numpy as np

    ids = np.asarray(texts.rowids, dtype=np.int64)
    half = np.asarray(matrix, dtype=np.float16) if len(texts.all) else np.zeros((0, 1), dtype=np.float16)
    owners = np.searchsorted(ids, np.asarray(texts.owners, dtype=np.int64))  # rowids ascend: each one's place
    documents, passages = half[: len(ids)], half[len(ids) :]
    _write(vectors_path(index, model), lambda handle: np.savez(
        handle, rowids=ids, matrix=documents, stamp=np.array(stamp), layout=np.array(_NPZ_LAYOUT), passages=passages,
        owners=owners))
    return Vectors(ids, documents.astype(np.float32), model, stamp, passages.astype(np.float32), owners)


def _write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write the file at ``path`` atomically (a temporary file beside it, then renamed)."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp_name, 0o644)  # readable like the index beside it
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp_name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


def fuse(rankings: Sequence[Sequence[int]], weights: Sequence[float], count: int, k: float) -> list[int]:
    """Reciprocal rank fusion: ids by the weighted sum of ``1 / (k + rank)`` over the lists."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores, key=lambda item: -scores[item])[:count]
