"""MiniLM's vectors of the Python docs' documents, shipped inside the package (``shipped_vectors/``).

Embedding the 5943 pages of the docs takes minutes on two cores; the ``semantic`` flag's first index build
takes each page's vector from this table instead, and embeds only the pages it does not hold. A page is
found by a hash of the exact text that is embedded ("title. start of the body"), so a page whose text
differs under another Python version is simply embedded, and the table is named for the model
(``semantic.MODEL_ID``), so a changed model never takes stale vectors. Stored as int8 with a scale per
vector (2.3 MB; the pydocs-qa dev figures are the same as with float16: quality log, round ten). Made by
``python -m benchmarks.ship_vectors`` from the running Python's docs.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["ShippedTable", "DamagedTable", "key", "table_path", "load", "write"]

_FOLDER = "shipped_vectors"
#: The layout of a table file; a file of another layout is damaged as far as this code can tell.
_LAYOUT = 1
#: Bytes of a text's key (blake2b): 8 bytes make a collision among 10⁴ texts about 10⁻¹¹ likely.
_KEY_BYTES = 8


class DamagedTable(ValueError):
    """The shipped table is there but cannot be used (truncated, altered or of another layout)."""


@dataclass(frozen=True, slots=True)
class ShippedTable:
    """The shipped vectors of one model: int8 rows with a float32 scale each, found by their text's key."""

    model_id: str
    #: Each text's key (:func:`key`) and its row.
    rows_by_key: dict[bytes, int]
    rows: Any
    scales: Any

    def vectors(self, texts: Sequence[str]) -> tuple[Any, list[int]]:
        """Unit float32 vectors of ``texts`` (zero rows where the table has none) and the positions of the
        texts it has none of (to be embedded)."""
        import numpy as np

        found = [self.rows_by_key.get(key(text), -1) for text in texts]
        missing = [i for i, row in enumerate(found) if row < 0]
        out = np.zeros((len(texts), self.rows.shape[1]), dtype=np.float32)
        at = np.asarray([i for i, row in enumerate(found) if row >= 0], dtype=np.int64)
        rows = np.asarray([row for row in found if row >= 0], dtype=np.int64)
        if len(rows):
            values = self.rows[rows].astype(np.float32) * self.scales[rows, None]
            out[at] = values / np.clip(np.linalg.norm(values, axis=1, keepdims=True), 1e-12, None)
        return out, missing


def key(text: str) -> bytes:
    """The key of the exact text a vector was made from."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=_KEY_BYTES).digest()


def table_path(model_id: str) -> Path:
    """Where the package keeps the Python docs' vectors of the model ``model_id``."""
    return Path(str(resources.files(__package__ or "knowledge_agg").joinpath(_FOLDER, f"pydocs.{model_id}.bin")))


def load(model_id: str, path: Path | None = None) -> ShippedTable | None:
    """The shipped table of the model (at ``path``, by default :func:`table_path`), ``None`` when the package
    ships none for it; raises :class:`DamagedTable` when the file cannot be used."""
    import numpy as np

    path = path or table_path(model_id)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DamagedTable(f"{path}: it cannot be read ({exc})") from exc
    try:
        end = data.index(b"\n")
        head = json.loads(data[:end])
        size, dims = int(head["documents"]), int(head["dims"])
        layout, model, digest = head["layout"], head["model"], head["sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DamagedTable(f"{path}: its header cannot be read ({exc})") from exc
    body = memoryview(data)[end + 1 :]
    if layout != _LAYOUT or model != model_id:
        raise DamagedTable(f"{path}: layout {layout} of model {model!r}, not layout {_LAYOUT} of {model_id!r}")
    if len(body) != size * (_KEY_BYTES + 4 + dims) or hashlib.sha256(body).hexdigest() != digest:
        raise DamagedTable(f"{path}: truncated or altered (its checksum does not match)")
    keys = bytes(body[: size * _KEY_BYTES])
    scales = np.frombuffer(body, dtype="<f4", count=size, offset=size * _KEY_BYTES).astype(np.float32)
    rows = np.frombuffer(body, dtype=np.int8, offset=size * (_KEY_BYTES + 4)).reshape(size, dims)
    by_key = {keys[i : i + _KEY_BYTES]: row for row, i in enumerate(range(0, len(keys), _KEY_BYTES))}
    return ShippedTable(model_id, by_key, rows, scales)


def write(path: Path, model_id: str, texts: Sequence[str], matrix: Any) -> None:
    """Store the vectors ``matrix`` (one row per text of ``texts``) as the shipped table of ``model_id``."""
    import numpy as np

    unique = {key(text): i for i, text in enumerate(texts)}  # the same text twice: one row
    order = np.asarray(list(unique.values()), dtype=np.int64)
    values = np.asarray(matrix, dtype=np.float32)[order] if len(order) else np.zeros((0, 0), np.float32)
    dims = values.shape[1] if len(order) else 0
    top = np.clip(np.abs(values).max(axis=1), 1e-12, None) if len(order) else np.zeros(0, np.float32)
    body = b"".join([b"".join(unique), (top / 127).astype("<f4").tobytes(),
                     np.round(values * (127 / top[:, None])).astype(np.int8).tobytes()])
    head = {"layout": _LAYOUT, "model": model_id, "documents": len(order), "dims": dims,
            "python": platform.python_version(), "sha256": hashlib.sha256(body).hexdigest()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(json.dumps(head).encode() + b"\n" + body)
