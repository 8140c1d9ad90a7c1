"""A static token table distilled from all-MiniLM-L6-v2: meaning at the cost of a table lookup (issue 14).

Every WordPiece token of MiniLM's vocabulary went once through the model alone, and the mean-pooled
outputs were reduced by PCA to 256 dimensions (model2vec's distillation, ``benchmarks/distil_static.py``);
the rows were then refined on this Python's docs so that IDF-weighted sums point where MiniLM puts whole
texts, each text weighed both as in the whole docs and as in a corpus of eight pages, so that small corpora
keep their paraphrases (``--refine``; the step chosen on XQuAD's and web articles' texts, issue 14).
The table ships inside the package (``static_model/``: int8 rows, a scale per row, the vocabulary,
MiniLM's Apache-2.0 NOTICE), so nothing is downloaded and no model runs: a text's vector is the sum of
its tokens' rows, each weighted by the token's inverse document frequency in the corpus being indexed
(so rare, telling tokens count, for any corpus). It finds pages that share no word with a question less
often than MiniLM itself (the ``semantic`` flag), but it costs milliseconds, not minutes.

Documents are embedded with numpy at index build; a query is embedded in plain Python (a few rows of the
table, its words looked up in the vocabulary sorted and stored with the corpus's vectors), so a search never
imports numpy (its import alone, ~0.2 s, would slow a CLI's first result) nor builds a dict of the vocabulary.
"""

from __future__ import annotations

import functools
import json
import math
import mmap
import sys
import threading
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ._wordpiece import SortedVocab, WordPiece
from .errors import require_installed

__all__ = ["Context", "SortedVocab", "StaticModel", "WordPiece", "check", "load", "model_id", "token_weights"]

_FOLDER = "static_model"
_lock = threading.Lock()


class StaticModel:
    """The shipped token table and its tokenizer; :meth:`documents` and :meth:`query` make vectors."""

    def __init__(self, rows: bytes | mmap.mmap, scales: array[float], model_id: str) -> None:
        self.id = model_id
        #: int8 rows, one per token, as shipped (7.9 MB; mapped, so a query reads only its tokens' rows),
        #: and each row's scale.
        self.rows = rows
        self.scales = scales
        self.dims = len(rows) // len(scales)

    @functools.cached_property
    def tokenizer(self) -> WordPiece:
        """The tokenizer over the shipped vocabulary as a dict (read on first use: an index build needs it,
        a query of a stored index does not: it has the vocabulary sorted, :class:`Context`)."""
        vocab = _files().joinpath("vocab.txt").read_text(encoding="utf-8").splitlines()
        return WordPiece(dict(zip(vocab, range(len(vocab)), strict=True)))

    def documents(self, texts: Sequence[str]) -> tuple[Any, Context]:
        """Unit vectors of ``texts`` (a float32 numpy array, one row each) and what a query of them needs: the
        token weights their corpus gives (inverse document frequency of each token over ``texts``), and the
        vocabulary in the sorted form a query reads without building anything."""
        check()
        import numpy as np

        table = np.frombuffer(self.rows, dtype=np.int8).reshape(-1, self.dims)
        scales = np.frombuffer(self.scales.tobytes(), dtype=np.float32)
        token_ids = [np.asarray(self.tokenizer.ids(text), dtype=np.int64) for text in texts]
        weights = token_weights(token_ids, len(scales))
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, ids in enumerate(token_ids):
            if len(ids):
                vector = np.einsum("i,ij->j", weights[ids] * scales[ids], table[ids].astype(np.float32))
                norm = float(np.linalg.norm(vector))
                out[row] = vector / norm if norm > 0 else vector
        vocab = self.tokenizer.vocab
        assert isinstance(vocab, dict)
        return out, Context(array("f", weights.tobytes()), WordPiece(SortedVocab.of(vocab)))

    def query(self, text: str, context: Context) -> list[float]:
        """The vector of ``text`` under a corpus's token weights, at unit length (zeros when it has no
        token), in plain Python."""
        vector = [0.0] * self.dims
        weights = context.weights
        for token in context.tokenizer.ids(text):
            weight = weights[token] * self.scales[token]
            start = token * self.dims
            for j, value in enumerate(array("b", self.rows[start : start + self.dims])):
                vector[j] += weight * value
        norm = math.sqrt(sum(v * v for v in vector))
        return [v / norm for v in vector] if norm > 0 else vector


@dataclass(frozen=True, slots=True)
class Context:
    """What a query of one corpus needs besides the table: the corpus's weight of each token, and the
    tokenizer over the vocabulary sorted (:class:`SortedVocab`, stored with the corpus's vectors)."""

    weights: array[float]
    tokenizer: WordPiece

    @property
    def vocab(self) -> SortedVocab:
        """The sorted vocabulary the tokenizer reads."""
        assert isinstance(self.tokenizer.vocab, SortedVocab)
        return self.tokenizer.vocab


def token_weights(token_ids: Sequence[Any], tokens: int) -> Any:
    """Each of the ``tokens`` tokens' weight over a corpus of documents with these token ids (numpy arrays): its
    inverse document frequency, ``log((n + 1) / (df + 1))``, as a float32 numpy array (``check()`` first)."""
    import numpy as np

    frequency = np.zeros(tokens, dtype=np.float64)
    for ids in token_ids:
        frequency[np.unique(ids)] += 1
    return np.log((len(token_ids) + 1) / (frequency + 1)).astype(np.float32)


def check() -> None:
    """Raise :class:`MissingDependency` unless numpy, which makes the documents' vectors, is installed (a lookup:
    nothing is imported; a search itself never needs it)."""
    require_installed(["numpy"], needed_for="search by meaning with the static table", extra="static")


@functools.cache
def model_id() -> str:
    """Names the shipped table (its dimensions and a digest of its rows), so vectors stored with an index
    are remade when it changes; read from ``model.json`` without loading the table."""
    return str(json.loads(_files().joinpath("model.json").read_text(encoding="utf-8"))["id"])


def load() -> StaticModel:
    """The shipped table (read once per process, by whichever thread asks first)."""
    with _lock:
        return _load()


@functools.cache
def _load() -> StaticModel:
    folder = _files()
    scales = array("f")
    scales.frombytes(folder.joinpath("scales.f32").read_bytes())
    if sys.byteorder == "big":  # shipped little-endian
        scales.byteswap()
    return StaticModel(_mapped(folder.joinpath("tokens.i8")), scales, model_id())


def _mapped(file: Any) -> bytes | mmap.mmap:
    """The file's bytes, mapped when it is a file on disk (read otherwise, e.g. from a zip)."""
    if not isinstance(file, Path):
        return bytes(file.read_bytes())
    with file.open("rb") as handle:
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def _files() -> Any:
    return resources.files(__package__ or "knowledge_agg").joinpath(_FOLDER)
