"""pydocs citations of language-reference topics link to their section on docs.python.org, not to a search page."""

from __future__ import annotations

import pydoc
from pydoc_data.topics import topics
from urllib.parse import urlsplit

import pytest

from knowledge_agg.models import Hit
from knowledge_agg.providers.local import LocalProvider
from knowledge_agg.settings import Settings

_PAGES = {
    "/3/reference/simple_stmts.html", "/3/reference/compound_stmts.html", "/3/reference/expressions.html",
    "/3/reference/datamodel.html", "/3/reference/executionmodel.html", "/3/reference/lexical_analysis.html",
    "/3/library/stdtypes.html", "/3/library/string.html", "/3/library/pdb.html",
}


@pytest.fixture
async def pydocs(settings: Settings) -> LocalProvider:
    provider = LocalProvider.from_settings(settings)
    yield provider
    await provider.aclose()


async def _titled(pydocs: LocalProvider, title: str, words: str = "") -> Hit:
    """The hit whose title is exactly ``title`` when searching for it (and for ``words`` of its text)."""
    hits = [h for query in (title, words) if query for h in await pydocs.search(query.replace('"', " "), count=200)]
    # A topic whose own section is empty ("Execution model") is indexed as its subsections only, and one
    # whose text another topic already holds ("Naming and binding") as that topic's subsection.
    found = [h for h in hits if h.title == title] or [
        h for h in hits if h.title.startswith(f"{title}: ") or h.title.endswith(f": {title}")
    ]
    assert found, f"no hit titled {title!r} among {[h.title for h in hits]}"
    return found[0]


@pytest.mark.parametrize(("title", "url"), [
    ('Compound statements: The "while" statement', "reference/compound_stmts.html#the-while-statement"),
    ("Compound statements: Patterns", "reference/compound_stmts.html#patterns"),
    ("Special method names: Emulating numeric types", "reference/datamodel.html#emulating-numeric-types"),
    ("Special method names: *__class_getitem__* versus *__getitem__*",
     "reference/datamodel.html#class-getitem-versus-getitem"),
    ("String Methods", "library/stdtypes.html#string-methods"),
    ('Mapping Types — "dict"', "library/stdtypes.html#typesmapping"),
    ("Format String Syntax: Format Specification Mini-Language", "library/string.html#format-specification-mini-language"),
    # "callable-types" is the label of "Emulating callable objects": this heading's own id would point
    # there, so it links to its topic's section instead.
    ("The standard type hierarchy: Callable types", "reference/datamodel.html#types"),
    # Two headings of one page share the id "except-clause": neither can be predicted, both link to the topic.
    ('Compound statements: "except*" clause', "reference/compound_stmts.html#compound"),
])
async def test_a_topic_links_to_its_section(pydocs: LocalProvider, title: str, url: str) -> None:
    hit = await _titled(pydocs, title)
    assert hit.url == f"https://docs.python.org/3/{url}"


async def test_every_topic_of_this_python_links_to_a_reference_page(pydocs: LocalProvider) -> None:
    """Each ``help()`` topic (and so each keyword pydoc.Helper maps to one) has a page and an anchor."""
    labels = set(topics)
    for target in (*pydoc.Helper.keywords.values(), *pydoc.Helper.topics.values()):
        label = target[0] if isinstance(target, tuple) else target
        assert not label or label.isupper() or label in labels  # keywords name topics or other help entries
    for label in sorted(labels):
        title, _, body = topics[label].strip().partition("\n")
        hit = await _titled(pydocs, title.strip(), " ".join(body.replace("*", " ").split()[:12]))
        parts = urlsplit(hit.url)
        assert parts.path in _PAGES and parts.fragment and not parts.query, (label, hit.url)
