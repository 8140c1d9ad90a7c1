"""Select the sources worth reading: dedup by normalised URL, cap per domain, score rank, term matches
and, with the ``semantic`` flag, closeness in meaning; a local page under another page's code name goes last, and a
built-in exception's page leads an error question only when no page among the best names the exception. Local pages
only: a number alone is no term match, a page that is its name and one line does not lead, a how-to question
reads a code name's page before a language reference section, a function's page or a library section closer in
meaning than a leading class or reference section leads, and the places after the lead prefer a page that
differs from those chosen (a new key term in its title, not a variant of a chosen page's code name)."""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from .analyze import EXCEPTION_SUFFIX, asks_how_to, error_name
from .models import Analysis, Hit, Source
from .rank import query_terms
from .semantic import Closeness
from .settings import setting_default
from .text import name_parts, terms
from .urls import domain_of, normalize_url

__all__ = ["names", "select_sources", "side_of"]

#: How much one query term found in the title weighs against one rank step, and how much the
#: idf-weighted query coverage of the hit's best snippet (its description or one extra snippet) weighs.
_TITLE_WEIGHT = 0.5
_SNIPPET_WEIGHT = 8.0
#: A hit's rank counts ``weight / (1 + decay × (rank - 1))``. A web engine's rank (weight 1, decay 0.25: tuned
#: on XQuAD) is one opinion among the snippet's words; the local index's rank (a hit with a ``doc_id``) already
#: weighs titles, code names, aliases and the best passages of whole documents, which its snippet does not show,
#: so it counts 8 times more and falls off twice as fast (chosen by 5-fold cross-validation over a grid of
#: 1–32 × 0.1–1 on pydocs-qa dev: first source 34 of 86 out of fold, 30 before; held-out 10 → 13 of 28;
#: ``benchmarks/results/quality_log.md``, round seven).
_WEB_RANK = (1.0, 0.25)
_INDEX_RANK = (8.0, 0.5)
#: How much the cosine between the question and the hit (semantic flag) weighs; on
#: XQuAD dev the top source scores the same from 16 to 30, one question less from 10 to 15
#: (``benchmarks/results/quality_log.md``, variant 32).
_MEANING_WEIGHT = 20.0


#: How much a hit whose title is a name the question spells out (``asyncio.run()``, ``str.isdigit``) gains,
#: in units of its rank's weight (about two rank steps near the top).
_NAMED_WEIGHT = 2.0
_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|(?<![\w.])[A-Za-z_]\w*(?=\(\))")

_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
#: A code name as a page's title: dotted or not (``shutil.rmtree``, ``sorted``).
_CODE_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_EXCEPTION = re.compile(rf"(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*{EXCEPTION_SUFFIX}")
#: How far down the scored pages a page naming a built-in exception may come from to lead (:func:`_explained_first`).
_EXPLAINER_REACH = 5
#: The longest snippet that can be a local page's whole text when that text is its name and one line (a module
#: docstring's summary, ``code`` "Utilities needed to emulate Python's interactive interpreter.": 66 characters);
#: 100, 150 and 300 chose the same pages on pydocs-qa dev and held-out (:func:`_bare_line`).
_BARE_LINE_CHARS = 150
#: How many pages after the lead may take it from a language reference section or a class's page (:func:`_used_first`);
#: 2 and 4 gained the same two pydocs-qa dev questions, 4 also moved ``json`` behind ``json.JSONEncoder.encode``.
_USE_REACH = 2
#: The part of a local page's URL that marks a section of the language reference (``/3/reference/datamodel.html``).
_REFERENCE_PATH = "/reference/"
#: For the places after the lead (:func:`_different_after`): what a page whose code name varies a chosen page's costs
#: (one rank step near the fifth place), and what the key terms its title holds and no chosen page's title does add
#: (per share of the key terms' idf). On pydocs-qa dev every cost in 0.5–4 and weight in 1–8 chose the same gold
#: pages (quality log, round thirteen).
_VARIANT_COST = 1.0
_NEW_TITLE_WEIGHT = 2.0
#: One hit as scored: score, order among the distinct hits, hit, title terms, snippet terms, closeness.
_Scored = tuple[float, int, Hit, list[str], list[str], float | None]


def _named(query: str) -> set[str]:
    """The dotted names and called names (``json.dumps``, ``eval()``) written in the question."""
    return {match.group() for match in _NAME.finditer(query)}


def _aliases_last(scored: list[_Scored], named: set[str]) -> list[_Scored]:
    """``scored`` with each local page whose code name ends as a better one's (``multiprocessing.Pool`` after
    ``multiprocessing.pool.Pool``, ``bytes.isdigit`` after ``str.isdigit``) moved behind the others: the index
    documents one thing under several names (an alias, the same method of bytes, bytearray and the abstract base
    classes) with much the same words, and as two sources they took two of the five places (16 of the 86 pydocs-qa
    dev questions; a gold page among the five 72.1 → 75.6 %: q102, q116, q135). A name the question writes keeps its
    place (``str.split vs re.split``)."""
    later = _behind(scored, named)
    return [item for item in scored if id(item) not in later] + [item for item in scored if id(item) in later]


def _no_exception_first(scored: list[_Scored], query: str) -> list[_Scored]:
    """``scored`` led by its best page that is no exception's, when the best is a local exception page the question
    does not write: a question reporting no error is seldom answered by an exception first (``How do I read a
    pyproject.toml file`` led by ``tomllib.TOMLDecodeError``, before ``tomllib.load``: pydocs-qa dev q031, q099)."""
    if scored and scored[0][2].title.rsplit(".", 1)[-1] in _words_of(query):
        return scored
    return _led_past(scored, _exception_page)


def _led_past(scored: list[_Scored], unwanted: Callable[[Hit], bool]) -> list[_Scored]:
    """``scored`` led by its best page that is not ``unwanted``, when its best one is (the others keep their order)."""
    if not scored or not unwanted(scored[0][2]):
        return scored
    lead = next((n for n, item in enumerate(scored) if not unwanted(item[2])), 0)
    return [scored[lead], *scored[:lead], *scored[lead + 1 :]]


def _explained_first(scored: list[_Scored], error: str, reach: int = _EXPLAINER_REACH) -> list[_Scored]:
    """``scored`` led by the first of its best ``reach`` pages whose snippet names ``error``, when the lead is the
    page of a built-in exception (a title with no dotted name, ``TypeError``): that page says only what the exception
    is ("Inappropriate argument type."), the page naming it says when it arises ("A class that overrides __eq__() and
    does not define __hash__() ..."), and the exception's page comes right after (pydocs-qa dev q039
    UnboundLocalError, q055 TypeError: first source 51.2 → 53.5 %). A module's own exception
    (``subprocess.CalledProcessError``) documents its cause and keeps the lead, as does a built-in one that no other
    page names (``ModuleNotFoundError``)."""
    page = scored[0][2] if scored else None
    if page is None or "." in page.title or not names(page.title, error) or not _exception_page(page):
        return scored
    word = set(terms([page.title]))
    lead = next((n for n, item in enumerate(scored[1:reach], start=1)
                 if any(word <= _words(text) for text in (item[2].snippet, *item[2].extra_snippets))), None)
    if lead is None:
        return scored
    return [scored[lead], scored[0], *scored[1:lead], *scored[lead + 1 :]]


def _bare_line(hit: Hit) -> bool:
    """Whether ``hit`` is a local page whose whole text is its name and one line with no call signature (a module
    docstring's summary, an attribute's line): its snippet shows all of it (no "…", at most ``_BARE_LINE_CHARS``)
    and starts with its title and a space. A function's one-line page (``calendar.isleap(year) Return True if year
    is a leap year, otherwise False.``) starts with its signature and is not one.

    Such a page does not lead (:func:`_led_past`): saying only what a module is for, it answers no question
    (pydocs-qa dev q164 "What does ... (three dots) mean" led by ``code``, "Utilities needed to emulate Python's
    interactive interpreter.", before ``The Ellipsis Object``; held-out h21 led by ``json.decoder``,
    "Implementation of JSONDecoder", before ``json.JSONDecodeError``: first source +1 on each)."""
    snippet = hit.snippet
    return (hit.doc_id is not None and len(snippet) <= _BARE_LINE_CHARS and "…" not in snippet
            and snippet.startswith(f"{hit.title} "))


def _code_name_first(scored: list[_Scored], query: str) -> list[_Scored]:
    """``scored`` with its first two pages swapped when a how-to question (:func:`analyze.asks_how_to`) is led by a
    section of the language reference and the page after it is a code name's (a local page titled with a dotted
    name): asked how to do something, one wants the thing to call before how the language works (pydocs-qa dev
    q094 "How do I write a function that behaves differently depending on the type of its first argument?" led by
    ``The standard type hierarchy: User-defined functions`` before ``functools.singledispatch``: first source +1).
    Only the second page may take the lead: from the third, it put ``locale.format_string`` before the format
    specification (q017; quality log, round twelve, H1)."""
    if len(scored) < 2 or not asks_how_to(query) or not _reference_section(scored[0][2]):
        return scored
    if _code_name(scored[1][2]) is None:
        return scored
    return [scored[1], scored[0], *scored[2:]]


def _used_first(scored: list[_Scored], reach: int = _USE_REACH) -> list[_Scored]:
    """``scored`` led by the first of the ``reach`` pages after its lead that says what to use (a function's page, a
    section of the library's documentation: :func:`_use_page`) and is closer in meaning to the question than the lead,
    when the lead is a section of the language reference or a class's page (a setting, not the thing to use): asked
    "how do I delete a directory and everything inside it?", ``shutil.rmtree`` before ``tempfile.TemporaryDirectory``
    (pydocs-qa dev q001); asked "Which values count as False in an if statement?", ``Truth Value Testing`` before
    ``Compound statements: The "if" statement`` (q047). First source +2 on dev, none lost on dev or held-out; no rule
    without closeness (quality log, round thirteen). Without closeness in meaning (words alone) nothing moves."""
    if len(scored) < 2 or scored[0][5] is None or not (_reference_section(scored[0][2]) or _class_page(scored[0][2])):
        return scored
    lead = scored[0][5]
    found = next((n for n, item in enumerate(scored[1 : reach + 1], start=1)
                  if _use_page(item[2]) and item[5] is not None and item[5] > lead), None)
    if found is None:
        return scored
    return [scored[found], *scored[:found], *scored[found + 1 :]]


def _class_page(hit: Hit) -> bool:
    """Whether ``hit`` is the local index's page of a class (a code name whose last name is CapWords:
    ``tempfile.TemporaryDirectory``), not an exception's."""
    return (hit.doc_id is not None and _CODE_NAME.fullmatch(hit.title) is not None
            and hit.title.rsplit(".", 1)[-1][:1].isupper() and not _exception_page(hit))


def _use_page(hit: Hit) -> bool:
    """Whether ``hit`` is a local page that says what to use: a code name's in lower case (a function, a method, a
    built-in: ``shutil.rmtree``, ``sorted``) but not a module's (a page of its own, with no ``#`` in its URL), or a
    section of the library's documentation (``Truth Value Testing``), not the language reference's."""
    if hit.doc_id is None:
        return False
    if _CODE_NAME.fullmatch(hit.title):
        return hit.title.rsplit(".", 1)[-1][:1].islower() and bool(urlsplit(hit.url).fragment)
    return " " in hit.title and not _reference_section(hit)


def _different_after(
    scored: list[_Scored], idf: Mapping[str, float], places: int, placed: int, named: set[str]
) -> list[_Scored]:
    """``scored`` with its best ``places`` chosen one by one after the ``placed`` pages the rules put first (the lead,
    an error's own page, a comparison's sides), each place going to the page whose score, plus what its title adds and
    less what it repeats, is highest (:func:`_worth`); the chosen pages keep their order. Variants of one name say much
    the same, and five of them crowd out a page that answers differently: pydocs-qa dev q146 "run a cleanup function
    automatically when my program exits" read four ``unittest`` cleanups, not ``atexit.register``; q009 "pyhton check
    if file exsits" five pages matching "python" and "file", not ``pathlib.Path.exists``. Local pages only: a list
    holding a web hit is left as it is. A page the alias rule put behind (:func:`_aliases_last`) stays behind."""
    if len(scored) <= places or any(item[2].doc_id is None for item in scored):
        return scored
    chosen = scored[:placed]
    behind = _behind(scored, named)
    rest = [item for item in scored[placed:] if id(item) not in behind]
    spelt = {id(item): _name_words(item[2], idf) for item in (*chosen, *rest)}
    worth = functools.partial(_worth, spelt=spelt, idf=idf, total=sum(idf.values()) or 1.0)
    while len(chosen) < places and rest:
        titled = set().union(*(item[3] for item in chosen))
        said = set().union(*(spelt[id(item)] for item in chosen))
        best = max(rest, key=functools.partial(worth, titled=titled, said=said))
        rest.remove(best)
        chosen.append(best)
    ids = {id(item) for item in chosen}
    return [item for item in scored if id(item) in ids] + [item for item in scored if id(item) not in ids]


def _worth(
    item: _Scored, *, titled: set[str], said: set[str], spelt: Mapping[int, frozenset[str]], idf: Mapping[str, float],
    total: float,
) -> float:
    """What ``item`` is worth for the next place: its score, plus ``_NEW_TITLE_WEIGHT`` × the share (of the key terms'
    idf ``total``) of the key terms its title holds and no chosen page's title (``titled``) does
    (``pathlib.Path.exists``'s "exists"), less ``_VARIANT_COST`` when its code name matches the question through a
    word a chosen page's name does too (``said``; each page's such words in ``spelt``, :func:`_name_words`: cleanup
    for ``doModuleCleanups`` after ``doCleanups``)."""
    new = sum(idf[term] for term in set(item[3]) - titled) / total
    return item[0] + _NEW_TITLE_WEIGHT * new - _VARIANT_COST * bool(spelt[id(item)] & said)


def _behind(scored: list[_Scored], named: set[str]) -> set[int]:
    """The ids of the pages :func:`_aliases_last` puts behind: a code name a page before it ends with, not written."""
    seen: set[str] = set()
    later: set[int] = set()
    for item in scored:
        name = _code_name(item[2])
        if name is not None and name in seen and item[2].title not in named:
            later.add(id(item))
        elif name is not None:
            seen.add(name)
    return later


def _name_words(hit: Hit, query: Collection[str]) -> frozenset[str]:
    """The key terms a local page's code name spells as one of its words (``doModuleCleanups`` → cleanup for "run a
    cleanup function"; ``b32encode`` → encode for "base64-encode bytes"): two pages whose names both match the question
    through one word are variants of one name. A word the question does not use is no such match
    (``traceback.print_exception`` and ``traceback.TracebackException.format_exception_only`` for a SyntaxError)."""
    name = _code_name(hit)
    if name is None:
        return frozenset()
    return _words(" ".join(name_parts(name))).intersection(query)


def _reference_section(hit: Hit) -> bool:
    """Whether ``hit`` is the local index's page of a section of the language reference (``Compound statements:
    Function definitions``), which says how the language works rather than what to call."""
    return hit.doc_id is not None and _REFERENCE_PATH in urlsplit(hit.url).path


def _exception_page(hit: Hit) -> bool:
    """Whether ``hit`` is the local index's page of an exception class (``ValueError``, ``json.JSONDecodeError``)."""
    return hit.doc_id is not None and _EXCEPTION.fullmatch(hit.title) is not None


def _words_of(text: str) -> set[str]:
    """The words of ``text`` as written (case kept: an exception's name is matched as its page spells it)."""
    return set(re.findall(r"\w+", text))


def _code_name(hit: Hit) -> str | None:
    """The last name of a local page titled with a dotted name (``sqlite3.Cursor.execute`` → ``execute``; a
    module's page, ``pprint``, is not its namesake function's, ``pprint.pprint``)."""
    if hit.doc_id is None or not _DOTTED_NAME.fullmatch(hit.title):
        return None
    return hit.title.rsplit(".", 1)[-1]


def _run_together(analysis: Analysis, hits: Sequence[Hit], query: Sequence[str]) -> list[str]:
    """Two key terms in a row run together as one word (context manager → contextmanager, priority queue →
    priorityqueue) when a hit's title or snippet has that word: code names write what a question says in
    two words as one, so the page named ``contextlib.contextmanager`` matches "context manager" too."""
    shown = set().union(*(_words(text) for hit in hits for text in (hit.title, hit.snippet)))
    found: dict[str, None] = {}
    for first, second in itertools.pairwise(analysis.terms):
        found.update(dict.fromkeys(word for word in terms([first + second]) if word in shown and word not in query))
    return list(found)


def _key(hit: Hit) -> str:
    if hit.doc_id is not None:
        return f"doc:{hit.doc_id}"
    try:
        return normalize_url(hit.url)
    except ValueError:
        return hit.url.strip()


@functools.lru_cache(maxsize=4096)
def _words(text: str) -> frozenset[str]:
    """The terms of one title or snippet, kept: a choice among a pool (100 hits) reads each several times."""
    return frozenset(terms([text]))


def _matches(query: Sequence[str], text: str) -> list[str]:
    present = _words(text)
    return [term for term in query if term in present]


def _idf(hits: Sequence[Hit], query: Sequence[str]) -> dict[str, float]:
    """BM25 idf of each query term over the hits' snippets: a term every hit shows tells them apart least."""
    shown = [_words(hit.snippet).union(*map(_words, hit.extra_snippets)) for hit in hits]
    n = len(shown)
    df = {term: sum(term in s for s in shown) for term in query}
    return {term: math.log(1 + (n - d + 0.5) / (d + 0.5)) for term, d in df.items()}


def _rank_weight(hit: Hit) -> tuple[float, float]:
    """The weight and decay of the hit's rank: a web engine's or the local index's."""
    return _WEB_RANK if hit.doc_id is None else _INDEX_RANK


def _counted(query: Sequence[str], hit: Hit) -> Sequence[str]:
    """The key terms that count as ``hit``'s title and snippet matches: for a local page, not those made of digits
    alone ("10" in "Is 1 < x < 10 valid Python", "17" in "[Errno 17]"), which a page shows as any number in its
    text (``int``: "The base defaults to 10.") and not as what it is about (pydocs-qa dev q160 led by ``int``
    before ``Comparisons``: first source +1). A web hit's terms are all counted."""
    return query if hit.doc_id is None else [term for term in query if not term.isdigit()]


def _score(hit: Hit, query: Sequence[str], idf: Mapping[str, float]) -> tuple[float, list[str], list[str]]:
    query = _counted(query, hit)
    title = _matches(query, hit.title)
    matched = [_matches(query, text) for text in (hit.snippet, *hit.extra_snippets)]
    coverage, snippet = max(((sum(idf[t] for t in m), m) for m in matched), default=(0.0, []))
    share = len(query) or 1
    total = sum(idf[term] for term in query) or 1.0
    weight, decay = _rank_weight(hit)
    score = weight / (1 + decay * (hit.rank - 1)) + _TITLE_WEIGHT * len(title) / share + _SNIPPET_WEIGHT * coverage / total
    return score, title, snippet


def names(title: str, name: str) -> bool:
    """Whether a page titled ``title`` documents ``name`` (``TypeError``, ``subprocess.TimeoutExpired``)."""
    return title == name or title.endswith(f".{name}") or name.endswith(f".{title}")


def side_of(title: str, analysis: Analysis) -> int | None:
    """Which side of a comparison a page titled ``title`` is about: the first whose own words (those
    not shared by every side) the title's last part has (``list.extend`` is about extend, the section
    ``Sequence Types — "list", "tuple", "range": Tuples`` about tuples), else its whole title, or ``None``
    (also for a question that compares nothing)."""
    sides = [terms(side) for side in analysis.sides]
    if not sides:
        return None
    shared = set.intersection(*(set(side) for side in sides))
    own = [set(side) - shared for side in sides]
    for part in (_last_part(title), title):
        named = set(terms([part]))
        found = next((i for i, words in enumerate(own) if named & words), None)
        if found is not None:
            return found
    return None


def _last_part(title: str) -> str:
    """What a title names last: a section after its topic's ``": "``, or a dotted name's last name."""
    if ": " in title:
        return title.rsplit(": ", 1)[1]
    return title.rsplit(".", 1)[-1]


def _quote(words: Sequence[str]) -> str:
    return ", ".join(f"'{w}'" for w in words)


def _meanings(hits: Sequence[Hit], query: str, closeness: Closeness | None) -> list[float | None]:
    """Each hit's closeness in meaning to the question (``None`` each without a ``closeness``)."""
    if closeness is None:
        return [None] * len(hits)
    return list(closeness(query, hits))


def select_sources(
    hits: Sequence[Hit],
    analysis: Analysis,
    *,
    max_sources: int = setting_default("max_sources"),
    max_per_domain: int = setting_default("max_per_domain"),
    closeness: Closeness | None = None,
    pool: Sequence[Hit] = (),
    results: Sequence[Hit] | None = None,
) -> list[Source]:
    """Up to ``max_sources`` distinct hits, best first, each with a score and a readable reason.

    ``closeness`` (``semantic.closeness`` under the ``semantic`` flag, with the provider's stored document vectors
    when it has them) adds how close each hit is in meaning to the question, for questions that share few words
    with the answer.
    ``pool`` (``Hits.pool``: the local index's candidates ranked after the results) competes for every
    source but the first, which the results alone give, so a page beyond them fills a later place (its reason
    says it came from beyond the results).
    ``results``: the hits the run showed, when ``hits`` is not them but the local index's ranking by words and
    meaning (``Hits.meaning``): each reason says its rank is in that ranking, and a page the results did not show
    says it was not among them.
    """
    shown = None if results is None else {_key(hit) for hit in results}
    choose = functools.partial(_select, analysis=analysis, max_per_domain=max_per_domain, closeness=closeness, shown=shown)
    if pool:
        first = choose(hits, max_sources=1)
        if first and max_sources > 1:
            lead = _key(first[0].hit)
            ranked = choose([*hits, *pool], max_sources=max_sources, beyond=len(hits))
            rest = [source for source in ranked if _key(source.hit) != lead][: max_sources - 1]
            return [first[0], *(replace(source, id=n) for n, source in enumerate(rest, start=2))]
    return choose(hits, max_sources=max_sources)


def _select(
    hits: Sequence[Hit],
    analysis: Analysis,
    *,
    max_sources: int,
    max_per_domain: int,
    closeness: Closeness | None,
    shown: set[str] | None,
    beyond: int | None = None,
) -> list[Source]:
    """:func:`select_sources` among ``hits`` alone; ``shown`` and ``beyond`` as :func:`_source` says."""
    query = query_terms(analysis)
    query += _run_together(analysis, hits, query)
    idf = _idf(hits, query)
    seen: set[str] = set()
    distinct: list[Hit] = []
    for hit in sorted(hits, key=lambda h: h.rank):
        key = _key(hit)
        if key not in seen:
            seen.add(key)
            distinct.append(hit)
    scored: list[_Scored] = []
    named = _named(analysis.query)
    for order, (hit, meaning) in enumerate(zip(distinct, _meanings(distinct, analysis.query, closeness), strict=True)):
        score, title, snippet = _score(hit, query, idf)
        if hit.title in named:
            score += _NAMED_WEIGHT * _rank_weight(hit)[0]
        if meaning is not None:
            score += _MEANING_WEIGHT * meaning
        scored.append((score, order, hit, title, snippet, meaning))
    scored.sort(key=lambda item: (-item[0], item[1]))
    if analysis.sides:  # a comparison reads the best page on each side first
        firsts = {side_of(item[2].title, analysis): n for n, item in reversed(list(enumerate(scored)))}
        ahead = sorted(n for side, n in firsts.items() if side is not None)
        scored = [scored[n] for n in ahead] + [item for n, item in enumerate(scored) if n not in ahead]
    error = error_name(analysis)
    meaning = next((n for n, item in enumerate(scored) if error and names(item[2].title, error)), None)
    if meaning is not None and meaning > 1:  # an error's own page (what it means) right after the best
        scored.insert(1, scored.pop(meaning))
    if error:
        scored = _explained_first(scored, error)
    scored = _aliases_last(scored, named)
    if analysis.kind != "error" and not analysis.sides:
        scored = _no_exception_first(scored, analysis.query)
        scored = _code_name_first(scored, analysis.query)
        scored = _used_first(scored)
    scored = _led_past(scored, _bare_line)
    placed = max(len(analysis.sides), 2 if error else 1)
    scored = _different_after(scored, idf, max_sources, placed, named)
    per_domain: Counter[str] = Counter()
    picked: list[tuple[float, Hit, list[str], list[str], float | None]] = []
    for score, _, hit, title, snippet, meaning in scored:
        if len(picked) >= max_sources:
            break
        if hit.doc_id is None:
            domain = domain_of(hit.url) or hit.domain
            if per_domain[domain] >= max_per_domain:
                continue
            per_domain[domain] += 1
        picked.append((score, hit, title, snippet, meaning))
    listed: Counter[str] = Counter()
    return [_source(i, *item, per_domain, listed, shown, beyond) for i, item in enumerate(picked, start=1)]


def _source(
    number: int,
    score: float,
    hit: Hit,
    title: list[str],
    snippet: list[str],
    meaning: float | None,
    per_domain: Counter[str],
    listed: Counter[str],
    shown: set[str] | None,
    beyond: int | None,
) -> Source:
    """The chosen hit as a ``Source`` whose reason says why (rank, matches, domain share); ``shown``: the keys of
    the results, when the hit's rank is in the ranking by words and meaning instead (:func:`select_sources`);
    ``beyond``: how many of the hits were the results, when the rest came from the pool."""
    rank = f"rank {hit.rank}" + (" by words and meaning" if shown is not None else "")
    parts = [rank + (f", beyond the {beyond} results" if beyond is not None and hit.rank > beyond else "")]
    if title:
        parts.append(f"title matches {_quote(title)}")
    snippet_only = [w for w in snippet if w not in title]
    if snippet_only:
        parts.append(f"snippet matches {_quote(snippet_only)}")
    if meaning is not None:
        parts.append(f"closeness in meaning {meaning:.2f}")
    if hit.doc_id is None:
        domain = domain_of(hit.url) or hit.domain
        listed[domain] += 1
        parts.append(f"{listed[domain]} of {per_domain[domain]} from {domain}")
    if shown is not None and _key(hit) not in shown:
        parts.append("not among the results")
    return Source(id=number, hit=hit, score=round(score, 4), reason="; ".join(parts))
