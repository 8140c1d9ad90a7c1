"""Dense vectors of an index's documents, kept in a ``.npz`` beside the index file.

Made once per index build (the ``semantic`` extra's sentence model, ``semantic``) and stamped with that
build, so a rebuilt index gets new vectors; nothing is downloaded.
Reciprocal rank fusion then merges the nearest documents in meaning with the BM25 ranking.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import semantic

__all__ = ["Vectors", "vectors_path", "load", "build", "fuse"]

#: How much of a document is embedded: its title and the start of its text, where pydoc and most
#: notes say what a thing is ("Recursively delete a directory tree."); 200 chars found fewer pages
#: (quality log, variant 59).
_TEXT_CHARS = 600
_BATCH = 1024
#: Reciprocal rank fusion's constant: a document's share from a list is 1 / (K + its rank there).
FUSION_K = 60


@dataclass(frozen=True, slots=True)
class Vectors:
    """Unit vectors of the documents with these rowids, for one build of an index (float16 on disk,
    float32 in memory: numpy has no fast float16 product, 20 ms a query against 0.5 ms)."""

    rowids: Any
    matrix: Any

    def nearest(self, query: str, count: int) -> list[int]:
        """The rowids of the ``count`` documents closest in meaning to ``query``, closest first."""
        import numpy as np

        if count < 1 or not len(self.rowids):
            return []
        cosines = self.matrix @ semantic.embed([query])[0].astype(np.float32)
        count = min(count, len(cosines))
        top = np.argpartition(-cosines, count - 1)[:count]
        return [int(self.rowids[i]) for i in top[np.argsort(-cosines[top], kind="stable")]]


def vectors_path(index: Path) -> Path:
    """Where the vectors of the index at ``index`` are kept (named for the model that made them)."""
    return index.with_name(f"{index.stem}.{semantic.MODEL_ID}.npz")


def load(index: Path, stamp: str) -> Vectors | None:
    """The stored vectors of this build of the index (``stamp``), or ``None`` when missing or stale."""
    import numpy as np

    path = vectors_path(index)
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["stamp"]) != stamp:
                return None
            return Vectors(data["rowids"], data["matrix"].astype(np.float32))
    except (OSError, KeyError, ValueError):
        return None


def build(index: Path, conn: sqlite3.Connection, stamp: str) -> Vectors:
    """Embed every document of the index and store the vectors atomically beside it."""
    import numpy as np

    rowids: list[int] = []
    parts: list[Any] = []
    cursor = conn.execute(f"SELECT rowid, title, substr(body, 1, {_TEXT_CHARS}) FROM docs ORDER BY rowid")
    while batch := cursor.fetchmany(_BATCH):
        rowids.extend(row[0] for row in batch)
        parts.append(semantic.embed([f"{title}. {text}" for _, title, text in batch]).astype(np.float16))
    matrix = np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float16)
    vectors = Vectors(np.asarray(rowids, dtype=np.int64), matrix.astype(np.float32))
    path = vectors_path(index)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp_name, 0o644)  # readable like the index beside it
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, rowids=vectors.rowids, matrix=matrix, stamp=np.array(stamp))  # float16: half the file
        os.replace(tmp_name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    return vectors


def fuse(rankings: Sequence[Sequence[int]], weights: Sequence[float], count: int) -> list[int]:
    """Reciprocal rank fusion: ids by the weighted sum of ``1 / (FUSION_K + rank)`` over the lists."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + weight / (FUSION_K + rank)
    return sorted(scores, key=lambda item: -scores[item])[:count]
