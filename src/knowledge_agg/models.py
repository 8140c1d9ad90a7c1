"""The plain data that passes from one stage to the next (events are built from these)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Analysis", "Document", "Hit", "Hits", "Source", "Page", "Passage"]


@dataclass(frozen=True, slots=True)
class Document:
    """One corpus document: a stable ``id``, a ``title``, a ``url`` and its full ``text``; ``aliases`` are
    other names the corpus itself gives it (searched like its title, never shown)."""

    id: str
    title: str
    url: str
    text: str
    aliases: str = ""


@dataclass(frozen=True, slots=True)
class Hit:
    """One search hit as a provider returns it; ``snippet`` is plain text."""

    rank: int
    title: str
    url: str
    snippet: str
    provider: str
    domain: str = ""
    age: str | None = None
    page_age: str | None = None
    extra_snippets: tuple[str, ...] = ()
    #: The provider's own id for a document it can hand over without HTTP (local index).
    doc_id: str | None = None


class Hits(list[Hit]):
    """A provider's hits, best first, plus the words it searched for in place of typed ones.

    ``respelt`` maps a typed key term to the spelling searched instead (Brave's altered query,
    the local index's nearest term), so later stages read the results with the same words.
    ``problems`` are losses met on the way that did not stop the search (lines of a corpus that
    could not be read); each becomes a recoverable ``error`` event beside the results.
    ``pool`` (the local index only) finds, when called, the further candidates of the same search beyond
    these hits, ranked after them: the selection stage may choose a source among them once the results
    are out, so the results never wait for it. Web hits have none.
    ``vectors`` (the local index searching by meaning only) gives, when called with hits, the sentence model's stored
    vectors of each hit's document, one row each (its own, "title. start of the text", first, then its later
    passages'; ``None`` where there are none), so choosing sources by meaning embeds only the question
    (``semantic.closeness``). Web hits have none.
    ``meaning`` (the local index under the ``semantic`` flag) gives, when called, the same search ranked by
    words and meaning (its own ``Hits``; ``None`` while the documents' vectors are still being made): the
    results come from words at once, and the sources are chosen from this ranking once the model has loaded.
    """

    def __init__(
        self,
        hits: Iterable[Hit] = (),
        respelt: Mapping[str, str] | None = None,
        problems: Iterable[Exception] = (),
        pool: Callable[[], list[Hit]] | None = None,
        vectors: Callable[[Sequence[Hit]], list[Any]] | None = None,
        meaning: Callable[[], Hits | None] | None = None,
    ) -> None:
        super().__init__(hits)
        self.respelt: dict[str, str] = dict(respelt or {})
        self.problems: list[Exception] = list(problems)
        self.pool = pool
        self.vectors = vectors
        self.meaning = meaning


@dataclass(frozen=True, slots=True)
class Source:
    """A hit chosen for reading; ``id`` is its citation number."""

    id: int
    hit: Hit
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class Page:
    """The readable text of one source; ``method`` says how it was obtained."""

    source: Source
    text: str
    method: str  # "local", "trafilatura", "fallback", "snippet", ...
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Passage:
    """A ranked span of a page's text (a substring of ``Page.text``)."""

    source_id: int
    url: str
    text: str
    score: float
    #: Whether the passage is where its page begins (a reference entry's summary, an article's definition).
    opening: bool = False


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the analyze stage found in a query (see ``analyze.analyze``)."""

    query: str
    kind: str  # "question" | "keywords" | "code" | "error" | "url" | "difference"
    terms: tuple[str, ...]
    search_query: str
    #: The key terms of each thing a "difference" question compares ("list vs tuple": (("list",), ("tuple",))).
    sides: tuple[tuple[str, ...], ...] = ()
