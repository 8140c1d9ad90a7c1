"""The ``pydocs`` corpus: the running Python's pydoc topics and standard-library docstrings.

Collecting imports hundreds of modules, so it runs in a child interpreter
(``python -m knowledge_agg.providers._pydocs``) that writes one JSON document per line: the
caller's process keeps its memory, its ``sys.modules`` and its terminal untouched.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import io
import json
import os
import pkgutil
import re
import sys
import sysconfig
import warnings
from collections import defaultdict
from collections.abc import Iterator
from types import ModuleType
from typing import Any

__all__ = ["collect", "fingerprint", "topic_url"]

_DOCS = "https://docs.python.org/3"
#: Bumped when the documents' text or links change, or the way the index reads their titles (``text.name_words``),
#: so pydocs indexes built the old way are rebuilt.
_LINKS = "section-links-1:no-environ:agent-verbs:named-defaults:one-copy-of-a-topic"
#: Each pydoc topic key is the Sphinx label its text was taken from (``pydoc_topic_labels`` in CPython's
#: ``Doc/tools/extensions``), and Sphinx makes every label an anchor of its section, so a topic links to
#: its page and label (``if`` → ``reference/compound_stmts.html#if``). Only the page, below by page as in
#: CPython 3.11's docs, is not in the running Python; a label missing here keeps a search-page link.
_TOPIC_PAGES: dict[str, tuple[str, ...]] = {
    "reference/simple_stmts": (
        "assert", "assignment", "augassign", "break", "continue", "del", "global", "import", "nonlocal", "pass",
        "raise", "return", "yield",
    ),
    "reference/compound_stmts": ("async", "class", "compound", "else", "for", "function", "if", "try", "while", "with"),
    "reference/expressions": (
        "atom-identifiers", "atom-literals", "attribute-references", "await", "binary", "bitwise", "booleans",
        "calls", "comparisons", "conversions", "dict", "exprlists", "in", "lambda", "lists", "operator-summary",
        "power", "shifting", "slicings", "subscriptions", "unary",
    ),
    "reference/datamodel": (
        "attribute-access", "callable-types", "context-managers", "customization", "numeric-types", "objects",
        "sequence-types", "specialnames", "types",
    ),
    "reference/executionmodel": ("dynamic-features", "exceptions", "execmodel", "naming"),
    "reference/lexical_analysis": ("floating", "id-classes", "identifiers", "imaginary", "integers", "numbers", "strings"),
    "library/stdtypes": (
        "bltin-code-objects", "bltin-ellipsis-object", "bltin-null-object", "bltin-type-objects", "specialattrs",
        "string-methods", "truth", "typesfunctions", "typesmapping", "typesmethods", "typesmodules", "typesseq",
        "typesseq-mutable",
    ),
    "library/string": ("formatstrings",),
    "library/pdb": ("debugger",),
}
_TOPIC_PAGE = {label: page for page, labels in _TOPIC_PAGES.items() for label in labels}
_MARKUP = re.compile(r"[\"*`]")
_NOT_ID = re.compile(r"[^a-z0-9]+")
_ID_ENDS = re.compile(r"^[-0-9]+|-+$")

#: Modules whose import has side effects (a browser, a printout, a GUI) or that only hold tests.
_SKIP = frozenset(
    {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test", "tests", "idle_test",
     "__main__", "lib2to3", "ensurepip", "pydoc_data", "distutils", "msilib", "winreg", "winsound",
     "ntpath", "nturl2path", "macholib"}
)
#: Packages documented as one page whose submodules are implementation details (codecs, ...).
_NO_WALK = frozenset({"encodings"})
#: Modules documented under another name.
_ALIASES = {"posixpath": "os.path"}
#: Where the builtins are documented, by kind of object.
_BUILTIN_PAGES = {"function": "functions", "exception": "exceptions", "type": "stdtypes"}
_SECTION = re.compile(r"^(\S.*)\n(=+|-+)$", re.MULTILINE)
_RULE_LINE = re.compile(r"^[=\-~^*#+]{3,}[ \t]*\n?", re.MULTILINE)
#: " at 0x7f93…" in default values' reprs: a memory address, different in every process.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def fingerprint() -> str:
    """What the corpus depends on: the Python version and where its standard library lives."""
    return f"pydocs:{_LINKS}:{sys.version}:{sysconfig.get_paths()['stdlib']}"


def collect() -> Iterator[dict[str, str]]:
    """Every document of the corpus as ``{id, title, url, text}``: topics first, then modules."""
    yield from _topics()
    seen: set[int] = set()
    for module in _modules():
        yield from _module_docs(module, seen)


def _topics() -> Iterator[dict[str, str]]:
    """The language reference topics of ``help()``, one document per section and subsection."""
    from pydoc_data.topics import topics

    parts = {key: _sections(text) for key, text in topics.items()}
    aliases = _topic_aliases()
    # The headings that would claim each (page, id): a topic's label and its subsections' headings'
    # ids; the same section printed in two topics has the same heading, so it claims the id once.
    claims: dict[tuple[str | None, str], set[str]] = defaultdict(set)
    for key, sections in parts.items():
        page = _TOPIC_PAGE.get(key)
        claims[(page, key)].add(sections[0][1])
        for _, heading, _ in sections[1:]:
            claims[(page, _section_anchor(heading))].add(heading)
    # A topic of its own is often also a subsection of a longer topic ("Function definitions" of "Compound
    # statements"), printed there under its heading: it took two of the five sources. The section is indexed
    # once, as the subsection (its title names the topic around it, "list" of "Sequence Types — "list"…", which
    # questions say), with help()'s names for the topic.
    names: dict[str, set[str]] = defaultdict(set)  # a topic's own text → help()'s names of the topics it is
    for key, sections in parts.items():
        names[sections[0][0]] |= aliases.get(key, set())
    printed = {_heading_off(section) for sections in parts.values() for section, _, _ in sections[1:]}
    seen: set[str] = set()
    for key, sections in parts.items():
        title = sections[0][1]
        for n, (section, subtitle, _) in enumerate(sections):
            if section and section not in seen and (n or section not in printed):  # a section once
                seen.add(section)
                # A subsection links to its own heading's id unless another section of the page has that id.
                own = n and len(claims[(_TOPIC_PAGE.get(key), _section_anchor(subtitle))]) == 1
                url = topic_url(key, subtitle if own else None)
                name = f"{title}: {subtitle}" if n else title
                said = names.get(_heading_off(section), set()) if n else names[section]
                yield {"id": f"topic:{key}" + (f"#{n}" if n else ""), "title": name, "url": url, "text": section,
                       "aliases": " ".join(sorted(said))}


def _heading_off(section: str) -> str:
    """A subsection's text without its heading line, as the topic of its own prints it."""
    return section.partition("\n")[2].strip()


def _topic_aliases() -> dict[str, set[str]]:
    """The names ``help()`` gives each topic label, lower-cased: its topic names (``TRUTHVALUE`` → truth)
    and keywords (``global``, ``elif`` → if), as the running Python's ``pydoc.Helper`` lists them."""
    import pydoc

    helper = pydoc.Helper
    entries: dict[str, str | tuple[str, ...]] = {**helper.topics, **helper.keywords}

    def label(entry: str | tuple[str, ...], depth: int = 0) -> str | None:
        if isinstance(entry, tuple):
            return entry[0]
        target = entries.get(entry)  # another topic or keyword name, followed a few steps at most
        return label(target, depth + 1) if target and depth < 4 else None

    found: dict[str, set[str]] = defaultdict(set)
    for name, entry in entries.items():
        if (key := label(entry)) is not None:
            found[key].add(name.lower())
    return found


def _sections(text: str) -> list[tuple[str, str, int]]:
    """A topic's ``(text, heading, start)`` per section: the topic's own title first, then each subsection's."""
    title, _, body = text.strip().partition("\n")
    headings = [m for m in _SECTION.finditer(body) if len(m.group(2)) == len(m.group(1))]
    starts = [0, *(m.start() for m in headings)]
    names = [title.strip(), *(m.group(1).strip() for m in headings)]
    ends = [*starts[1:], len(body)]
    return [(_RULE_LINE.sub("", body[a:b]).strip(), name, a) for a, b, name in zip(starts, ends, names, strict=True)]


def _section_anchor(heading: str) -> str:
    """The id Sphinx (docutils' ``make_id``) gives a section titled ``heading`` as pydoc prints it."""
    return _ID_ENDS.sub("", _NOT_ID.sub("-", _MARKUP.sub("", heading).lower()))


def topic_url(label: str, heading: str | None = None) -> str:
    """The docs.python.org link of topic ``label``, or of its subsection ``heading``; a search page if unknown.

    A subsection's anchor is its heading's id, so pass ``heading`` only when no other section of the page
    has that id (docutils numbers repeated ids, which cannot be predicted).
    """
    page = _TOPIC_PAGE.get(label)
    if page is None:
        return f"{_DOCS}/search.html?q={label}"
    return f"{_DOCS}/{page}.html#{_section_anchor(heading) if heading else label}"


def _modules() -> Iterator[ModuleType]:
    """Public standard-library modules and their public submodules that import cleanly."""
    for name in sorted(sys.stdlib_module_names):
        if name.startswith("_") or name in _SKIP:
            continue
        module = _import(name)
        if module is None:
            continue
        yield module
        if name in _NO_WALK:
            continue
        for info in pkgutil.walk_packages(getattr(module, "__path__", []), f"{name}.", onerror=lambda _: None):
            parts = info.name.split(".")[1:]
            if any(p.startswith("_") or p in _SKIP for p in parts):
                continue
            sub = _import(info.name)
            if sub is not None:
                yield sub


def _import(name: str) -> ModuleType | None:
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return importlib.import_module(name)
    except BaseException:
        return None


def _module_docs(module: ModuleType, seen: set[int]) -> Iterator[dict[str, str]]:
    """The module's own docstring, then its public classes and functions, then their methods."""
    name = _ALIASES.get(module.__name__, module.__name__)
    page = f"{_DOCS}/library/{name}.html"
    if doc := _own_doc(module):
        yield {"id": f"py:{name}", "title": name, "url": page, "text": f"{name}\n\n{doc}"}
    exported = getattr(module, "__all__", None)
    for attr, obj in list(vars(module).items()):
        if attr.startswith("_") or not (inspect.isclass(obj) or inspect.isroutine(obj)) or id(obj) in seen:
            continue
        if getattr(obj, "__module__", None) != module.__name__ and not (isinstance(exported, (list, tuple)) and attr in exported):
            continue
        seen.add(id(obj))
        qualname = f"{name}.{attr}"
        if name == "builtins":
            qualname, page = attr, f"{_DOCS}/library/{_BUILTIN_PAGES[_builtin_kind(obj)]}.html"
        if doc := _own_doc(obj):
            prefix = "class " if inspect.isclass(obj) else ""
            yield {"id": f"py:{qualname}", "title": qualname, "url": f"{page}#{qualname}",
                   "text": f"{prefix}{qualname}{_signature(obj)}\n\n{doc}"}
        if inspect.isclass(obj):
            yield from _methods(obj, qualname, page)


def _builtin_kind(obj: Any) -> str:
    if not inspect.isclass(obj):
        return "function"
    return "exception" if issubclass(obj, BaseException) else "type"


def _methods(cls: type, qualname: str, page: str) -> Iterator[dict[str, str]]:
    for attr, member in vars(cls).items():
        if attr.startswith("_"):
            continue
        target = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        if not (inspect.isroutine(target) or isinstance(target, property)):
            continue
        doc = _own_doc(target)
        if doc and not any(_own_doc(getattr(base, attr, None)) == doc for base in cls.__mro__[1:]):
            full = f"{qualname}.{attr}"
            sig = "" if isinstance(target, property) else _signature(target)
            yield {"id": f"py:{full}", "title": full, "url": f"{page}#{full}", "text": f"{full}{sig}\n\n{doc}"}


def _own_doc(obj: Any) -> str:
    doc = getattr(obj, "__doc__", None) if obj is not None else None
    return inspect.cleandoc(doc) if isinstance(doc, str) and doc.strip() else ""


def _signature(obj: Any) -> str:
    """The call signature as written, with defaults that print the collecting machine's own values named,
    not printed: ``os.environ`` (its repr is the process's environment, secrets included), the interpreter's
    path and the standard library's folder. Their words would vary each build's ranking, and the text of a
    page must be the same on every machine for its shipped vector to be found (``shipped.key``)."""
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)" if callable(obj) else ""
    if "environ({" in text:  # the repr is built only for the few signatures that print it
        text = text.replace(repr(os.environ), "os.environ")
    for value, name in _machine_defaults().items():
        text = text.replace(value, name)
    return _ADDRESS.sub("", text)


@functools.cache
def _machine_defaults() -> dict[str, str]:
    """The reprs of the defaults that hold this machine's paths (``platform.architecture``'s interpreter,
    ``pydoc.Doc.getdocloc``'s library folder) and the expressions that make them."""
    return {repr(sys.executable): "sys.executable", repr(sysconfig.get_path("stdlib")): "sysconfig.get_path('stdlib')"}


def _main() -> None:
    warnings.simplefilter("ignore")
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", errors="replace", newline="\n")
    for doc in collect():
        out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    out.flush()


if __name__ == "__main__":
    _main()
