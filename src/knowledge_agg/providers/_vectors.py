"""Dense vectors of an index's documents, kept in a ``.npz`` beside the index file.

Made once per index build by one of two models (the shipped static table, ``static``, on by default; or
the ``semantic`` extra's sentence model, ``semantic``), named for the model and stamped with the build, so
a rebuilt index or a changed model gets new vectors; nothing is downloaded.
Reciprocal rank fusion then merges the nearest documents in meaning with the BM25 ranking.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import semantic, static

__all__ = ["Model", "MINILM", "STATIC", "Vectors", "vectors_path", "load", "build", "fuse"]

#: How much of a document is embedded: its title and the start of its text, where pydoc and most
#: notes say what a thing is ("Recursively delete a directory tree."); 200 chars found fewer pages
#: (quality log, variant 59).
_TEXT_CHARS = 600


@dataclass(frozen=True, slots=True)
class Model:
    """What makes vectors: its id (names the stored file), the documents' unit vectors and the context a
    query needs (the static table's corpus token weights; ``None`` for MiniLM), a query's unit vector, and
    how its ranking is fused with BM25's (reciprocal rank fusion's ``k`` and this ranking's weight, measured
    on the pydocs-qa dev set: quality log, variants 60 and 65–); ``inline`` when making the vectors takes
    about a second (made with the index) rather than minutes (made in a background thread)."""

    id: Callable[[], str]
    documents: Callable[[Sequence[str]], tuple[Any, Any]]
    query: Callable[[str, Any], Any]
    fusion_k: float
    weight: float
    inline: bool


def _minilm_documents(texts: Sequence[str]) -> tuple[Any, Any]:
    return semantic.embed(texts), None


def _minilm_query(text: str, context: Any) -> Any:
    return semantic.embed([text])[0]


def _static_documents(texts: Sequence[str]) -> tuple[Any, Any]:
    return static.load().documents(texts)


def _static_query(text: str, context: Any) -> Any:
    return static.load().query(text, context)


#: all-MiniLM-L6-v2 (the ``semantic`` flag) and the static table distilled from it (the ``static`` flag).
MINILM = Model(lambda: semantic.MODEL_ID, _minilm_documents, _minilm_query, fusion_k=60, weight=1.0, inline=False)
STATIC = Model(lambda: static.model_id(), _static_documents, _static_query, fusion_k=10, weight=0.5, inline=True)


@dataclass(frozen=True, slots=True)
class Vectors:
    """Unit vectors of the documents with these rowids, for one build of an index (float16 on disk,
    float32 in memory: numpy has no fast float16 product, 20 ms a query against 0.5 ms), and what the
    model needs to embed a query against them."""

    rowids: Any
    matrix: Any
    model: Model
    context: Any = None

    def nearest(self, query: str, count: int) -> list[int]:
        """The rowids of the ``count`` documents closest in meaning to ``query``, closest first."""
        import numpy as np

        if count < 1 or not len(self.rowids):
            return []
        # einsum's own loop, not BLAS: OpenBLAS's threads make this 0.3 ms product take 8 ms on a busy machine
        cosines = np.einsum("ij,j->i", self.matrix, np.asarray(self.model.query(query, self.context), np.float32))
        count = min(count, len(cosines))
        top = np.argpartition(-cosines, count - 1)[:count]
        return [int(self.rowids[i]) for i in top[np.argsort(-cosines[top], kind="stable")]]


def vectors_path(index: Path, model: Model) -> Path:
    """Where the vectors of the index at ``index`` are kept (named for the model that made them)."""
    return index.with_name(f"{index.stem}.{model.id()}.npz")


def load(index: Path, stamp: str, model: Model) -> Vectors | None:
    """The stored vectors of this build of the index (``stamp``), or ``None`` when missing or stale."""
    import numpy as np

    path = vectors_path(index, model)
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["stamp"]) != stamp:
                return None
            context = data["context"] if "context" in data.files else None
            return Vectors(data["rowids"], data["matrix"].astype(np.float32), model, context)
    except (OSError, KeyError, ValueError):
        return None


def build(index: Path, conn: sqlite3.Connection, stamp: str, model: Model) -> Vectors:
    """Embed every document of the index and store the vectors atomically beside it."""
    import numpy as np

    rows = conn.execute(f"SELECT rowid, title, substr(body, 1, {_TEXT_CHARS}) FROM docs ORDER BY rowid").fetchall()
    matrix, context = model.documents([f"{title}. {text}" for _, title, text in rows])
    matrix = np.asarray(matrix, dtype=np.float16) if rows else np.zeros((0, 1), dtype=np.float16)
    vectors = Vectors(np.asarray([row[0] for row in rows], dtype=np.int64), matrix.astype(np.float32), model, context)
    extra = {} if context is None else {"context": context}
    path = vectors_path(index, model)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp_name, 0o644)  # readable like the index beside it
        with os.fdopen(fd, "wb") as handle:
            # float16: half the file
            np.savez(handle, rowids=vectors.rowids, matrix=matrix, stamp=np.array(stamp), **extra)
        os.replace(tmp_name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    return vectors


def fuse(rankings: Sequence[Sequence[int]], weights: Sequence[float], count: int, k: float) -> list[int]:
    """Reciprocal rank fusion: ids by the weighted sum of ``1 / (k + rank)`` over the lists."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores, key=lambda item: -scores[item])[:count]
