"""How close in meaning short texts are to a question, from WordLlama (the ``semantic`` extra).

WordLlama is a small static-embedding model (16 MB of weights inside its wheel, numpy only, no
torch): it catches what shared words miss ("The West saw the East as what?" against a snippet on
how the West defined the East as its inferior). Nothing is downloaded: the model loads from the
installed package or fails with the ``pip install`` that fixes it.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .errors import MissingDependency, require

__all__ = ["Closeness", "MODEL_ID", "check", "closeness", "embed", "load"]

#: Names the model and its dimensions, so vectors stored with an index are remade when it changes.
MODEL_ID = "wordllama-l2_supercat-256"
#: For each group of texts, how close in meaning its closest text is to the query (cosine, about 0–1).
Closeness = Callable[[str, Sequence[Sequence[str]]], list[float]]


@functools.cache
def _model() -> Any:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        wordllama: Any = require("wordllama", "semantic")
    finally:  # its inference module calls logging.basicConfig(level=INFO) on import: keep the host's logging
        root.handlers[:] = handlers
        root.setLevel(level)
    # wordllama 0.4 looks for its bundled tokenizer under 'tokenizer/' but ships it in 'tokenizers/';
    # naming the package folder as the cache finds both files, and disable_download keeps it offline.
    try:
        return wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    except FileNotFoundError as exc:
        raise MissingDependency(
            f"the installed wordllama has no bundled model ({exc}): pip install -U 'knowledge-agg[semantic]'"
        ) from exc


def check() -> None:
    """Raise :class:`MissingDependency` unless the extra is installed (a lookup: nothing is imported)."""
    if importlib.util.find_spec("wordllama") is None:
        raise MissingDependency("choosing sources by meaning needs its extra: pip install 'knowledge-agg[semantic]'")


def load() -> None:
    """Load the model now (about 0.4 s with its imports, once per process)."""
    _model()


def embed(texts: Sequence[str]) -> Any:
    """Unit-length vectors of ``texts`` as a float32 numpy array (one row per text)."""
    return _model().embed(list(texts), norm=True)


def closeness(query: str, groups: Sequence[Sequence[str]]) -> list[float]:
    """The cosine between ``query`` and the closest text of each group (0.0 for an empty group)."""
    model = _model()
    texts = [text for group in groups for text in group]
    if not texts:
        return [0.0] * len(groups)
    cosines = model.embed(texts, norm=True) @ model.embed([query], norm=True)[0]
    out: list[float] = []
    start = 0
    for group in groups:
        end = start + len(group)
        out.append(float(cosines[start:end].max()) if end > start else 0.0)
        start = end
    return out
