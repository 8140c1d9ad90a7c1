"""Synthesize: an extractive, cited summary made of sentences taken verbatim from the ranked passages."""

from __future__ import annotations

import ast
import math
import re
import textwrap
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from .analyze import asks_how_to, error_name, python_words
from .events import SynthesisPoint
from .models import Analysis, Passage, Source
from .rank import query_terms
from .select import names, side_of
from .settings import setting_default
from .text import STOPWORDS, sentence_spans, stem, tokenize, word_count

__all__ = ["UNSUPPORTED_MARK", "Synthesis", "markdown", "synthesize"]

#: What follows a sentence of the synthesis text that its citations do not support.
UNSUPPORTED_MARK = "⚠ (unsupported: {reason})"

_MAX_SENTENCES = 7
#: A candidate shorter than this many words is a heading or a fragment, never a point.
_MIN_WORDS = 4
#: A page's first sentence (its summary line) is a point from this many words on.
_MIN_SUMMARY_WORDS = 2
#: A line without end punctuation and at most this many words, before a line break, is a heading.
_HEADING_WORDS = 8
_TERMINAL = re.compile(r"""[.!?:;]["'”’)\]]*$""")
#: Brackets and operators; a unit with more than this share of them among its characters is code.
_CODE_MARKS = re.compile(r"[\[\]{}()=<>;|\\#@%&^~$]")
_CODE_SHARE = 0.15
_VERSION_NOTE = re.compile(r"(?:New|Changed|Deprecated|Removed)\s+(?:in|since)\s+version\b", re.IGNORECASE)
_ASKS_VERSION = re.compile(r"\b(?:version|since|when|added|deprecated|removed)\b", re.IGNORECASE)
#: The reference's boilerplate about a platform or an audit hook ("dir_fd may not be implemented on your platform",
#: "If it is unavailable, using it will raise a NotImplementedError", "raises an auditing event"): it answers a
#: question only when the question speaks of platforms or auditing, and otherwise costs the words of a point.
_BOILERPLATE = re.compile(
    r"may\s+not\s+be\s+implemented\s+on\s+your\s+platform|\bIf\s+it\s+is\s+unavailable,\s+using\s+it\s+will\s+raise"
    r"|\braises\s+an\s+auditing\s+event\b",
    re.IGNORECASE,
)
_ASKS_BOILERPLATE = re.compile(r"\b(?:platforms?|implemented|unavailable|audit\w*|windows|posix|unix)\b", re.IGNORECASE)
_SIGNATURE = re.compile(r"^(?:class\s+)?[A-Za-z_][\w.]*\(.*\)(?:\s*->\s*\S.*)?$")
_HEADING = re.compile(r"\A([^\n]*)\n\s*(?=[\"'“‘(\[]?[A-Z0-9])")


@dataclass(frozen=True, slots=True)
class Synthesis:
    """The cited summary: Markdown ``text`` and its ``points``; no points means nothing relevant was found."""

    text: str
    points: list[SynthesisPoint] = field(default_factory=list)

    @property
    def found(self) -> bool:
        """Whether any relevant sentence was found."""
        return bool(self.points)


@dataclass(slots=True)
class _Sentence:
    text: str
    tokens: list[str]
    source_ids: list[int]
    passage_rank: int
    position: int
    passage_score: float
    #: The sentence is in a passage where its page begins.
    opening: bool = False
    coverage: float = 0.0
    score: float = 0.0


_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion trillion dozen half percent".split()
)
_MONTHS = frozenset(
    "january february march april may june july august september october november december".split()
)
_DATE_WORDS = frozenset("century centuries decade bc ad bce ce".split())
_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("number", re.compile(
        r"\bhow (many|much|long|old|far|large|big|tall|high|often|fast)\b|\bwhat (percent|percentage|number|amount|size)\b"
    )),
    ("date", re.compile(r"\bwhen\b|\b(what|which) (year|years|century|decade|date|day|month|time|period|era)\b|\bwhat time\b")),
    ("person", re.compile(
        r"\bwho(m|se)?\b|\b(what|which) (person|people|man|woman|group|company|organization|team|king|emperor|president)\b"
    )),
    ("place", re.compile(r"\bwhere\b|\b(what|which) (country|city|state|region|place|continent|river|island|location|area)\b")),
)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'’-]*")
_DIGITS = re.compile(r"\d")
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b")


def _question_type(query: str) -> str | None:
    lowered = query.lower()
    for kind, pattern in _CUES:
        if pattern.search(lowered):
            return kind
    return None


def _has_answer_shape(sentence: _Sentence, kind: str | None, query: set[str]) -> bool:
    """Whether the sentence holds something of the kind the question asks for, not already in the question."""
    if kind is None:
        return False
    fresh = [t for t in sentence.tokens if t not in query]
    if kind == "number":
        return any(_DIGITS.search(t) or t in _NUMBER_WORDS for t in fresh)
    if kind == "date":
        return bool(_YEAR.search(sentence.text)) or any(t in _MONTHS or t in _DATE_WORDS for t in fresh)
    names = {m.group().lower() for m in _CAPITALISED.finditer(sentence.text)}
    return any(tokenize(name)[0] not in query for name in names if tokenize(name))


def _without_heading(text: str) -> str:
    """``text`` minus leading heading lines (short, unpunctuated, followed by a line break) and call
    signatures (``shutil.rmtree(path, ignore_errors=False)``: a reference entry's title line, not a sentence)."""
    while match := _HEADING.match(text):
        line = match.group(1).strip()
        if not _SIGNATURE.match(line) and (word_count(line) > _HEADING_WORDS or _TERMINAL.search(line)):
            break
        text = text[match.end() :]
    return text


def _is_sentence(text: str) -> bool:
    """Whether ``text`` reads as a sentence: enough words, end punctuation unless it is long, and not code
    (a call signature, an interpreter session or its traceback, a grammar rule, or mostly brackets and operators)."""
    words = word_count(text)
    return (
        words >= _MIN_WORDS
        and (words > _HEADING_WORDS or bool(_TERMINAL.search(text)))
        and not _SIGNATURE.match(text)
        and not _is_code(text)
    )


def _is_summary(text: str) -> bool:
    """Whether ``text``, the first sentence of a page, can be its summary line though shorter than a point may be:
    a reference entry says what it is in a few words ("Compare two files.", "Inappropriate argument type.")."""
    short = word_count(text) >= _MIN_SUMMARY_WORDS and text.rstrip().endswith(".")
    return short and not _SIGNATURE.match(text) and not _is_code(text)


#: A line of an interpreter session cut from its ``>>>`` line: the continuation prompt (``... case (100, y):``).
_CONTINUATION = re.compile(r"^[ \t]*\.\.\.(?:[ \t]|$)", re.MULTILINE)


def _is_code(text: str) -> bool:
    if ">>>" in text or "::=" in text or "Traceback (most recent call last)" in text or _CONTINUATION.search(text):
        return True
    if _parses(text):
        return True
    return len(_CODE_MARKS.findall(text)) > _CODE_SHARE * len(text.replace(" ", ""))


def _parses(text: str) -> bool:
    """Whether ``text`` is Python source (``for i in range(10): print(i)``): prose never parses, since two
    words side by side are a syntax error, while a code example with few brackets passes the share test."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "invalid escape sequence" and the like: still code
            ast.parse(textwrap.dedent(text))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


_CLAUSE_END = re.compile(r"[;:](?=\s)")


def _units(text: str) -> list[str]:
    """``text`` whole, or cut after its ';' and ':' when it is long (more, shorter units fit the word budget)."""
    if word_count(text) <= _SPLIT_WORDS:
        return [text]
    pieces: list[str] = []
    cut = 0
    for match in _CLAUSE_END.finditer(text):
        piece = text[cut : match.end()].strip()
        if word_count(piece) >= _CLAUSE_MIN and word_count(text[match.end() :]) >= _CLAUSE_MIN:
            pieces.append(piece)
            cut = match.end()
    pieces.append(text[cut:].strip())
    return pieces


#: A line that starts an item of a parameter list (``'delete' -- whether the file is deleted on close``) or a
#: table row (``'x'       create a new file and open it for writing``: a short key, two spaces or more, its text).
_ITEM = re.compile(r"""^[ \t]*(?:\S[^\n]{0,40}?[ \t]--[ \t]+\S|['"`]?[^\s'"`]{1,12}['"`]?[ \t]{2,}[A-Za-z])""")
#: A table's rule line (``========= =====``, ``--------- -----``).
_RULE = re.compile(r"^[ \t]*[=\-]{3,}[=\- \t]*$")


def _items(text: str) -> list[str]:
    """``text`` cut into its list items when two or more of its lines start one (a parameter list, a table's
    rows), each item with the indented lines that continue it; otherwise ``text`` whole. A row that answers ("create a
    new file and open it for writing") is then a point of its own, not lost in a run of rows read as one
    sentence too long to be chosen."""
    lines = text.split("\n")
    if sum(bool(_ITEM.match(line)) for line in lines) < 2:
        return [text]
    pieces: list[list[str]] = [[]]
    in_item = False
    for line in lines:
        if _RULE.match(line):
            pieces.append([])
            in_item = False
        elif _ITEM.match(line):
            pieces.append([line])
            in_item = True
        elif in_item and not line[:1].isspace():  # an unindented line after the items ends the list
            pieces.append([line])
            in_item = False
        else:
            pieces[-1].append(line)
    return [joined for piece in pieces if (joined := "\n".join(piece).strip())]


def _candidates(passages: Sequence[Passage]) -> list[_Sentence]:
    by_text: dict[str, _Sentence] = {}
    for rank, passage in enumerate(passages):
        units = [
            unit
            for start, end in sentence_spans(passage.text)
            for item in _items(passage.text[start:end].strip())
            for unit in _units(_without_heading(item))
        ]
        # A page's first sentence is a point even when short: its summary line ("Compare two files.").
        first = next((n for n, t in enumerate(units) if _is_sentence(t) or _is_summary(t)), None) if passage.opening else None
        for position, text in enumerate(units):
            if not _is_sentence(text) and not (position == first and _is_summary(text)):
                continue
            known = by_text.get(text)
            if known is None:
                by_text[text] = _Sentence(
                    text, tokenize(text), [passage.source_id], rank, position, passage.score, passage.opening
                )
            elif passage.source_id not in known.source_ids:
                known.source_ids.append(passage.source_id)
    return list(by_text.values())


#: Weights of the sentence score, tuned on the XQuAD dev half (benchmarks/results/quality_log.md):
#: an answer-shaped token (number/date vs name), query terms in the sentence before/after,
#: a length penalty per 20 tokens beyond 20, the best passage score of the sentence's source,
#: and being in the first-chosen source.
_W = {"shape": 0.1, "name": 0.1, "prev": 0.2, "next": 0.2, "length": 0.05, "source": 0.4, "top": 0.3}
#: Sentences longer than this many words are cut into clauses of at least ``_CLAUSE_MIN`` words.
_SPLIT_WORDS = 40
_CLAUSE_MIN = 4


def _cover(sentences: list[_Sentence], query: list[str]) -> None:
    """Set each sentence's idf-weighted share of the query terms it holds."""
    n = len(sentences)
    df = {t: sum(1 for s in sentences if t in s.tokens) for t in query}
    idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
    total = sum(idf.values()) or 1.0
    qset = set(query)
    for sentence in sentences:
        sentence.coverage = sum(idf[t] for t in set(sentence.tokens) & qset) / total


def _score(sentences: list[_Sentence], query: list[str], kind: str | None, top: int) -> None:
    """Score every sentence (coverage set by ``_cover``): coverage plus context, answer-shape and source terms,
    and a bonus for being in source ``top``."""
    qset = set(query)
    neighbours = {(s.passage_rank, s.position): s.coverage for s in sentences}
    best_passage = max(s.passage_score for s in sentences) or 1.0
    source_best: dict[int, float] = {}
    for s in sentences:
        for i in s.source_ids:
            source_best[i] = max(source_best.get(i, 0.0), s.passage_score)
    shape_weight = _W["shape" if kind in ("number", "date") else "name"]
    for s in sentences:
        context = (
            _W["prev"] * neighbours.get((s.passage_rank, s.position - 1), 0.0)
            + _W["next"] * neighbours.get((s.passage_rank, s.position + 1), 0.0)
        )
        if not s.coverage and not context:
            continue  # neither the sentence nor its neighbours speak of the query: score stays 0
        s.score = (
            s.coverage
            + context
            + shape_weight * (s.coverage > 0 and _has_answer_shape(s, kind, qset))
            - _W["length"] * max(0, len(s.tokens) - 20) / 20
            + _W["source"] * max(source_best[i] for i in s.source_ids) / best_passage
            + _W["top"] * (min(s.source_ids) == top)
        )


_WHAT_IS = re.compile(
    r"^\W*what(?:'s|\s+is|\s+are)\s+(?P<thing>[^?]+?)\W*$"
    r"|^\W*what\s+(?:does|do)\s+(?P<doer>.+?)\s+(?:mean|do|stand\s+for|return)\W*$",
    re.IGNORECASE,
)
#: A "what is X" question whose X is longer than this, or has a preposition before its last word ("another
#: term for rotors", not "__slots__ used for"), asks about a detail of a page, not about a thing.
_THING_WORDS = 4
_PREPOSITIONS = frozenset("of for in on to by with at about into than".split())


def _asks_about_a_thing(analysis: Analysis) -> bool:
    """Whether the question asks what something is or how to do something (not a detail of a page).

    Then the best page's key sentence answers it; a factoid question ("When did …", "What was the
    name of …") is answered by a sentence further in, and a lead sentence would only cost words.
    """
    if analysis.kind in ("keywords", "error", "code", "difference"):
        return True
    query = analysis.query.strip()
    if asks_how_to(query):
        return True
    match = _WHAT_IS.match(query)
    if match is None:
        return False
    words = (match.group("thing") or match.group("doer")).lower().split()
    words = words[1:] if words[0] in ("a", "an", "the") else words
    return len(words) <= _THING_WORDS and not _PREPOSITIONS.intersection(words[:-1])


def _leads(
    sentences: Sequence[_Sentence], sources: Sequence[Source], analysis: Analysis, top: int
) -> list[_Sentence]:
    """The key sentences that open the synthesis: the top source's, or for a comparison each side's and then
    the sentence after each ("Evaluate the given source …", "Execute the given source …", then what each
    source may be: an expression, statements).

    A page's key sentence is its first, when its opening passage was ranked: a reference entry's summary
    ("Recursively delete a directory tree.") or an article's definition, which state what the page is
    about, often in words the question lacks.
    """
    if not sentences or not _asks_about_a_thing(analysis):
        return []
    read = sorted({i for s in sentences for i in s.source_ids})
    titles = {source.id: source.hit.title for source in sources}
    keys = [top] if top in read else read[:1]
    if analysis.sides:
        by_side = {side_of(titles.get(i, ""), analysis): i for i in reversed(read)}
        keys = sorted(i for side, i in by_side.items() if side is not None) or keys
    elif (error := error_name(analysis)) is not None:  # what fixes it (the best page), what it means
        keys = sorted({*keys, *(i for i in read[:_MAX_SENTENCES] if names(titles.get(i, ""), error))})[:2]
    leads = [_opening(sentences, i) for i in keys]
    found = [lead for lead in leads if lead is not None]
    if analysis.sides:  # each side in two sentences: what it is, then how it differs
        found += [after for lead in found if (after := _following(sentences, lead)) is not None]
    return found


def _following(sentences: Sequence[_Sentence], sentence: _Sentence) -> _Sentence | None:
    """The candidate sentence right after ``sentence`` in its passage, if there is one."""
    return next(
        (s for s in sentences if s.passage_rank == sentence.passage_rank and s.position == sentence.position + 1),
        None,
    )


#: What the key sentence of a source other than the leading one gains when the question asks what a thing is
#: or how to do something: "Puts the connection to the SMTP server into TLS mode." states what its page does,
#: in words the question may lack (pydocs-qa dev, answer in the synthesis, 0 · 0.1 · 0.2–0.8 · 1.5: 36 · 38 ·
#: 39 · 38 of 86; quality log, round seven).
_KEY_WEIGHT = 0.3


def _favour_key_sentences(sentences: Sequence[_Sentence], sources: Sequence[Source]) -> None:
    """Raise the score of each source's key sentence that speaks of the question at all (score above 0)."""
    for source in sources:
        key = _opening(sentences, source.id)
        if key is not None and key.score > 0:
            key.score += _KEY_WEIGHT


def _opening(sentences: Sequence[_Sentence], source_id: int) -> _Sentence | None:
    """The first sentence of source ``source_id``'s opening passage, if that passage was ranked."""
    opening = [s for s in sentences if s.opening and s.source_ids[0] == source_id]
    return min(opening, key=lambda s: (s.passage_rank, s.position), default=None)


_QUOTED = re.compile(r"""'([^']{8,})'|"([^"]{8,})"|`([^`]{8,})`|“([^”]{8,})”|‘([^’]{8,})’""")


def _quoted(analysis: Analysis) -> list[str]:
    """What the question quotes: the error line of an error, and any text in quote marks."""
    found = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(analysis.query)]
    if analysis.kind == "error":
        found.append(analysis.search_query)
    return [_plain(text) for text in found]


def _plain(text: str) -> str:
    """``text`` lower-cased with its whitespace collapsed, to find a sentence the question repeats."""
    return " ".join(text.lower().split())


#: A Python keyword that is also an English word (for, else, is, in) speaks of Python when one of these follows it.
_KEYWORD_NOUN = re.compile(
    r"\b(\w+)\s+(?:statements?|clauses?|blocks?|loops?|keywords?|operators?|expressions?)\b", re.IGNORECASE
)


def _python_terms(query: str) -> list[str]:
    """The stems of the Python words a question writes (``analyze.python_words``: keywords, and the topics of
    operator symbols, ``<`` → comparison, ``...`` → ellipsis), to score sentences by: the reference section that
    answers "when does the else block after a for loop run" speaks of ``else``, and "is 1 < x < 10 valid" asks
    about comparisons. A keyword that is an English stop word counts only
    when quoted or named as Python ("the else block", "a for loop"), never in "what is in it"."""
    named = {m.group(1).lower() for m in _KEYWORD_NOUN.finditer(query)}
    quoted = set(_quoted_words(query))
    words = [w for w in python_words(query) if w not in STOPWORDS or w in named or w in quoted]
    return list(dict.fromkeys(stem(w) for w in words))


_QUOTED_WORD = re.compile(r"""["'`](\w+)["'`]""")


def _quoted_words(query: str) -> list[str]:
    """The single words a question quotes, stemmed, stop words and single letters too: mode ``'x'``, ``"with"``
    (the key terms leave a letter out, and a letter as a key term would be a side of "'w', 'a' and 'x'")."""
    return list(dict.fromkeys(stem(word) for word in _QUOTED_WORD.findall(query)))


def _no_result(analysis: Analysis) -> Synthesis:
    return Synthesis(text=f"No relevant sources found for “{analysis.query.strip()}”.", points=[])


#: What a sentence loses for each sentence already chosen from its source, unless that is the first source:
#: past the first page, the words go to what more sources say rather than to a third sentence of one
#: (pydocs-qa dev, answer in the synthesis, 0 · 0.1–0.3 · 0.5: 53 · 54 · 53 of 86; quality log, round eleven).
_REPEAT_COST = 0.2


#: A sentence that ends in a colon introduces what follows it ("the following values are interpreted as false:").
_INTRODUCES = re.compile(r":\s*$")


def _fill(
    sentences: Sequence[_Sentence], chosen: Sequence[_Sentence], words: int, top: int,
    introduced: dict[int, _Sentence],
) -> list[_Sentence]:
    """The sentences after ``chosen`` (the leads), best first, within ``words`` and ``_MAX_SENTENCES`` in all.

    ``sentences`` come best first; each pick takes the best score less ``_REPEAT_COST`` for every sentence
    already taken from its source (the least told of the sources it cites), source ``top`` exempt. A sentence that
    introduces another (``introduced``, by ``id``) brings it along when both fit: "the following values are
    interpreted as false:" says little without the values. (Dropping such a sentence when what it introduces is
    not a point, a code example, cost XQuAD dev 3 answers of 680; quality log, round eleven.)"""
    told = Counter(i for sentence in chosen for i in sentence.source_ids)

    def worth(sentence: _Sentence) -> float:
        repeats = 0 if top in sentence.source_ids else min(told[i] for i in sentence.source_ids)
        return round(sentence.score - _REPEAT_COST * repeats, 6)

    added: list[_Sentence] = []
    left = list(sentences)
    while left and len(chosen) + len(added) < _MAX_SENTENCES:
        fits = [s for s in left if word_count(s.text) <= words]
        if not fits:
            break
        best = max(fits, key=worth)  # the first of equals: the order ``sentences`` came in
        left.remove(best)
        picked = [best]
        if _INTRODUCES.search(best.text):
            follower = introduced.get(id(best))
            if not (  # a follower without score is one a rule above ruled out (a version note, the quoted error)
                follower is None or follower.score <= 0 or follower in chosen or follower in added
                or word_count(best.text) + word_count(follower.text) > words
                or len(chosen) + len(added) + 2 > _MAX_SENTENCES
            ):
                picked.append(follower)
                if follower in left:
                    left.remove(follower)
        for sentence in picked:
            added.append(sentence)
            words -= word_count(sentence.text)
            told.update(sentence.source_ids)
    return added


def synthesize(
    passages: Sequence[Passage], sources: Sequence[Source], analysis: Analysis, *,
    max_words: int = setting_default("max_words"),
) -> Synthesis:
    """3–7 sentences from ``passages`` best first, each cited ``[n]``, within ``max_words``, plus the source list."""
    query = query_terms(analysis)
    query += [t for t in (*_python_terms(analysis.query), *_quoted_words(analysis.query)) if t not in query]
    qset = set(query)
    sentences = _candidates(passages)
    if not any(qset & set(s.tokens) for s in sentences):
        return _no_result(analysis)
    _cover(sentences, query)
    # The first source leads: since the choice of sources puts the page that answers first more often (pydocs-qa dev
    # 51 %), handing the lead to a later source whose title and key sentence hold more of the question's words took it
    # from a gold first page more often than it gave it to one (quality log, round twelve, the answer in the synthesis).
    top = sources[0].id if sources else 1
    _score(sentences, query, _question_type(analysis.query), top)
    if not _ASKS_VERSION.search(analysis.query):  # "New in version 3.3: …" says when, not what or how
        for sentence in sentences:
            if _VERSION_NOTE.match(sentence.text):
                sentence.score = 0.0
    if not _ASKS_BOILERPLATE.search(analysis.query):
        for sentence in sentences:
            if _BOILERPLATE.search(sentence.text):
                sentence.score = 0.0
    quoted = _quoted(analysis)
    for sentence in sentences:  # a message the question quotes (a pasted error) tells the asker nothing new
        if any(_plain(sentence.text).rstrip(".:") in q for q in quoted):
            sentence.score = 0.0
    leads = _leads(sentences, sources, analysis, top)
    if _asks_about_a_thing(analysis):
        _favour_key_sentences(sentences, sources)
    introduced = {
        id(s): after for s in sentences if _INTRODUCES.search(s.text) and (after := _following(sentences, s)) is not None
    }
    sentences = [s for s in sentences if s.score > 0 and s not in leads]
    # Equal scores (to float noise) go to the shorter sentence: it leaves room for one more point.
    sentences.sort(key=lambda s: (-round(s.score, 6), len(s.tokens), s.passage_rank, s.position))
    chosen: list[_Sentence] = []
    used = 0
    for lead in leads:
        if used + word_count(lead.text) <= max_words // 2:
            chosen.append(lead)
            used += word_count(lead.text)
    chosen += _fill(sentences, chosen, max_words - used, top, introduced)
    if not chosen:
        return _no_result(analysis)
    points = [SynthesisPoint(text=s.text, source_ids=sorted(s.source_ids)) for s in chosen]
    return Synthesis(text=markdown(points, sources), points=points)


def markdown(points: Sequence[SynthesisPoint], sources: Sequence[Source]) -> str:
    """The points as one paragraph, each followed by its ``[n]`` (and a mark when unsupported), then the source list."""
    body = " ".join(_point(p) for p in points)
    listing = [f"[{s.id}] {s.hit.title} — {s.hit.url}" for s in sources]
    return body + "\n\nSources:\n" + "\n".join(listing)


def _point(p: SynthesisPoint) -> str:
    cited = f" {''.join(f'[{i}]' for i in p.source_ids)}" if p.source_ids else ""
    mark = "" if p.supported else " " + UNSUPPORTED_MARK.format(reason=p.reason)
    return f"{_one_line(p.text)}{cited}{mark}"


def _one_line(text: str) -> str:
    """A point's text with its line breaks (hard-wrapped sources) shown as single spaces."""
    return " ".join(text.split())
