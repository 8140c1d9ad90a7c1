"""A static token table distilled from all-MiniLM-L6-v2: meaning at the cost of a table lookup (issue 14).

Every WordPiece token of MiniLM's vocabulary went once through the model alone, and the mean-pooled
outputs were reduced by PCA to 256 dimensions (model2vec's distillation, ``benchmarks/distil_static.py``).
The table ships inside the package (``static_model/``: int8 rows with a scale each, the vocabulary,
MiniLM's Apache-2.0 NOTICE), so nothing is downloaded and no model runs: a text's vector is the mean of
its tokens' rows, each weighted by the token's inverse document frequency in the corpus being indexed
(so rare, telling tokens count, for any corpus), at unit length. It finds pages that share no word with
a question less often than MiniLM itself (the ``semantic`` flag), but it costs milliseconds, not minutes.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from importlib import resources
from typing import Any

from ._wordpiece import WordPiece

__all__ = ["StaticModel", "load", "model_id"]

_FOLDER = "static_model"


class StaticModel:
    """The shipped token table and its tokenizer; :meth:`documents` and :meth:`query` make unit vectors."""

    def __init__(self, rows: Any, scales: Any, vocab: Sequence[str], model_id: str) -> None:
        import numpy as np

        self.id = model_id
        #: int8 rows and their scales, kept as shipped (7.9 MB; 31 MB as float32): only the rows of a
        #: text's tokens are ever widened.
        self.rows = rows
        self.scales = scales.astype(np.float32)
        self.tokenizer = WordPiece({token: i for i, token in enumerate(vocab)})

    def weights(self, token_ids: Sequence[Sequence[int]]) -> Any:
        """Each token's inverse document frequency over these texts' token ids (float32, one per token)."""
        import numpy as np

        frequency = np.zeros(len(self.rows), dtype=np.float64)
        for ids in token_ids:
            frequency[np.unique(np.asarray(ids, dtype=np.int64))] += 1
        return np.log((len(token_ids) + 1) / (frequency + 1)).astype(np.float32)

    def documents(self, texts: Sequence[str]) -> tuple[Any, Any]:
        """Unit vectors of ``texts`` (one row each) and the token weights their corpus gives (for queries)."""
        import numpy as np

        token_ids = [self.tokenizer.ids(text) for text in texts]
        weights = self.weights(token_ids)
        out = np.zeros((len(texts), self.rows.shape[1]), dtype=np.float32)
        for row, ids in enumerate(token_ids):
            out[row] = self._vector(ids, weights)
        return out, weights

    def query(self, text: str, weights: Any) -> Any:
        """The unit vector of ``text`` under a corpus's token ``weights`` (zeros when it has no token)."""
        return self._vector(self.tokenizer.ids(text), weights)

    def _vector(self, ids: Sequence[int], weights: Any) -> Any:
        import numpy as np

        index = np.asarray(ids, dtype=np.int64)
        if not len(index):
            return np.zeros(self.rows.shape[1], np.float32)
        vector = np.einsum("i,ij->j", weights[index] * self.scales[index], self.rows[index].astype(np.float32))
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 and math.isfinite(norm) else vector


@functools.cache
def model_id() -> str:
    """Names the shipped table (its dimensions and a digest of its rows), so vectors stored with an index
    are remade when it changes; read from ``model.json`` without loading the table."""
    return str(json.loads(_files().joinpath("model.json").read_text(encoding="utf-8"))["id"])


@functools.cache
def load() -> StaticModel:
    """The shipped table (read once per process; about 30 ms)."""
    import numpy as np

    folder = _files()
    with folder.joinpath("tokens.npz").open("rb") as handle, np.load(handle, allow_pickle=False) as data:
        rows, scales = data["rows"], data["scales"]
    vocab = folder.joinpath("vocab.txt").read_text(encoding="utf-8").splitlines()
    return StaticModel(rows, scales, vocab, model_id())


def _files() -> Any:
    return resources.files(__package__ or "knowledge_agg").joinpath(_FOLDER)
