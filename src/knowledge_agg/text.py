"""Words, stop words, light stemming, spelling and sentence splitting: the one home of text handling
shared by analysis, the local index, ranking and synthesis."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

__all__ = [
    "STOPWORDS", "SEARCH_KEEPS", "TOKEN", "stem", "tokenize", "terms", "sentence_spans", "word_count", "nearest_spelling",
    "respell",
    "name_parts", "name_words", "spelt_out", "Spelt",
]

#: Words that say nothing about what is asked: function words, contractions' pieces and the words of
#: asking itself ("tell me", "how do I use", "thanks"). Queries, passages and snippets all drop them.
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before
    being below between both but by can can't cannot could did do does doing don down during each either
    else even ever every few for from further get gets got had has have having he her here hers
    herself him himself his how however i if in into is it its itself just let like ll me may might
    more most much must my myself need no nor not now of off on once one only or other ought our
    ours ourselves out over own per please re really s same shall she should so some such t than
    that the their theirs them themselves then there these they this those though through to too
    under until up upon us use used using ve very via was we were what whats when where whether which
    while who whom whose why will with within without would yes yet you your yours yourself
    yourselves d m isn doesn didn wasn won wouldn shouldn couldn
    anyone anybody something someone thing things way ways know known want wanted tell explain
    describe show give called name named hi hello hey thanks thank kindly possible
    """.split()
)
#: Stop words a search still uses: "what is it called", "known as", "the name of" find the sentence that
#: gives the name. Left out of the search, XQuAD dev loses an answer in the top 8 passages (99.56 → 99.41 %).
SEARCH_KEEPS = frozenset({"called", "describe", "known", "may", "name", "named"})

#: A plain word: a run of letters, digits and underscores (what key terms and spelling work on).
TOKEN = re.compile(r"\w+")
_WORD = re.compile(r"\w+(?:['’]\w+)*")
# A sentence ends at . ! or ? (plus closing quotes/brackets and citation marks such as "[12]" or
# ":121,154") followed by space and a likely start.
_END = re.compile(r"""[.!?]+["'”’)\]]*(?:\[[^\]\n]{1,40}\]|:\d[\d,–-]*)*(?=\s+["'“‘(\[]?[A-Z0-9])""")
_NEWLINES = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")
_ABBREV = frozenset(
    """mr mrs ms dr prof sr jr st mt vs etc e.g i.e cf al fig no vol inc ltd co corp gen col lt
    sgt capt rev hon jan feb mar apr jun jul aug sep sept oct nov dec approx ca u.s u.k""".split()
)


def stem(word: str) -> str:
    """A light English stem (plural, possessive and common verb endings) so 'wars' matches 'war'."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if len(w) > 5 and w.endswith("ing"):
        return w[:-3]
    if len(w) > 4 and w.endswith("ed") and not w.endswith("eed"):
        return w[:-2]
    return w


def tokenize(text: str) -> list[str]:
    """Every word of ``text`` as a lower-cased stem, stopwords included (for lengths and positions).

    Each distinct word is stemmed once per call (most of a text's words are repeats): ranking five
    real pages spent most of its CPU in ``stem``.
    """
    stems: dict[str, str] = {}
    out = []
    for match in _WORD.finditer(text):
        word = match.group()
        stemmed = stems.get(word)
        if stemmed is None:
            stemmed = stems[word] = stem(word)
        out.append(stemmed)
    return out


def terms(texts: Iterable[str]) -> list[str]:
    """The distinct content stems of ``texts`` in first-seen order (stopwords dropped)."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in _WORD.finditer(text):
            if match.group().lower() in STOPWORDS:
                continue
            token = stem(match.group())
            if token and token not in STOPWORDS:
                seen.setdefault(token, None)
    return list(seen)


def nearest_spelling(word: str, candidates: Iterable[str], *, typo: bool = False) -> str | None:
    """The candidate spelt most like ``word`` (Ghandi → gandhi), or None when none is close enough.

    Close enough: same first letter and at most one edit (insert, delete, change or swap of two
    neighbours) per two letters beyond the second, three at most, which also pairs a word with its
    variants (percentage → percent). ``typo`` asks for a slip of the keys only: one edit up to eight
    letters, two up to eleven, three beyond (one more for the same letters out of place), so a real
    word is not "corrected" into another (forecast → format, minimum → maximum). Among equally few
    edits the same letters in another order win (exsits → exists, not exits), then the one sharing
    more letters (gandhi over ghana), then the earlier candidate, so callers list the commonest first.
    Words under six letters (many/may, three/there) or with digits are never respelt.
    """
    word = word.lower()
    if len(word) < 6 or not word.isalpha():
        return None
    from rapidfuzz import process  # here, not at the top: a run's analysis (before its search) never needs it
    from rapidfuzz.distance import OSA, Indel

    limit = 1 + (len(word) > 8) + (len(word) > 11) if typo else min(3, (len(word) - 2) // 2)
    pool = [c for c in candidates if c[:1] == word[:1] and c != word and abs(len(c) - len(word)) <= limit]
    found = process.extract(word, pool, scorer=OSA.distance, score_cutoff=limit + typo, limit=None)
    letters = sorted(word)
    if typo:  # one more edit for a letter typed out of place (ghandi → gandhi): the same letters
        found = [m for m in found if m[1] <= limit or sorted(m[0]) == letters]
    best = min(
        found, key=lambda m: (m[1], sorted(m[0]) != letters, -Indel.normalized_similarity(word, m[0]), m[2]), default=None
    )
    return best[0] if best else None


_CODE_NAME = re.compile(r"^[A-Za-z_][\w.]*$")
_NAME_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def name_parts(name: str) -> list[str]:
    """The words an identifier runs together, as written: ``doModuleCleanups`` → do, Module, Cleanups;
    ``HTTPServer`` → HTTP, Server; ``b32encode`` → b, 32, encode (underscores and dots only separate)."""
    return _NAME_PART.findall(name)


def name_words(title: str, counts: Mapping[str, int], memo: dict[str, list[str]] | None = None) -> list[str]:
    """The words run together in a code name (``os.makedirs`` → make, dirs; ``PriorityQueue`` → priority,
    queue) and the verbs of its agent nouns (``TopologicalSorter`` → sort), so a question that says
    "priority queue" or "sort" finds it; ``[]`` for a title that is not a code name.

    A title is a code name when it is one dotted identifier with a dot, an underscore or an inner
    capital. A run-together word is cut where every part is a word of ``counts`` (word → how many
    documents have it) of two letters or more that is commoner than the whole (makedirs, not
    append → app end), preferring the cut whose shortest part is longest. ``memo`` keeps the cuts
    made so far, for callers naming many titles.
    """
    if not _CODE_NAME.match(title) or (not any(c in title for c in "._") and title[1:].islower()):
        return []
    memo = {} if memo is None else memo
    found: dict[str, None] = {}
    for token in re.findall(r"[A-Za-z0-9]+", title):
        parts = [p.lower() for p in name_parts(token)]
        if len(parts) > 1:
            found.update(dict.fromkeys(parts))
        for part in parts:
            if part not in memo:
                memo[part] = _cut(part, counts, counts.get(part, 0))
            if len(memo[part]) > 1:
                found.update(dict.fromkeys(memo[part]))
            if verb := _agent_verb(part, counts):
                found.update(dict.fromkeys([part, verb]))
    return list(found)


#: How much of a page's text is read for the words its code name abbreviates (its signature and first lines).
_SPELT_CHARS = 1000
#: A code name's piece, matched to a page word: a word as written, the word's letters abbreviated (b64 → base64),
#: one letter of a phrase (pp → pretty print): the fewest and plainest pieces win.
_WHOLE, _SHORT, _LETTER = 1, 2, 3
#: How many letters a piece that shortens a page word has: two fit too many words (``op`` of optional), and a
#: longer piece is a word of its own.
_SHORT_LETTERS = (3, 6)
#: A name cut into more pieces than this is not read as an abbreviation (cancel → c·a·n·c·e·l).
_PIECES = 4


class Spelt(NamedTuple):
    """The words a code name abbreviates (:func:`spelt_out`) and whether one of them it shortens (b64 of base64),
    not only spells by initials (p of pretty) or as written (print)."""

    words: list[str]
    shortened: bool


_NOTHING = Spelt([], False)


def spelt_out(title: str, text: str) -> Spelt:
    """The words of ``text`` (a page) that the last part of its dotted code-name ``title`` abbreviates, so a
    question that says "base64-encode" finds ``base64.b64encode`` and "pretty print" ``pprint.pprint``; no words
    when the title is no dotted code name or the page does not spell the name out.

    The name is cut into pieces, each a word of the page as written, or the in-order letters of a longer page
    word starting with the same letter (``b64`` of base64, ``abs`` of absolute), or one letter standing for a
    page word next to the word of its neighbouring piece in the text (``p`` + print: "pretty-print"; ``pp``:
    "pretty print"); the fewest and plainest pieces win. Only words that are not the pieces themselves (nor a
    stop word, nor of two letters) are returned, with the page words of the whole pieces beside them.
    """
    token = title.rsplit(".", 1)[-1].lower()
    if "." not in title or not _CODE_NAME.match(title) or len(token) < 2 or not token.isalnum():
        return _NOTHING
    sequence = [w.lower() for w in TOKEN.findall(text[:_SPELT_CHARS])]
    named = {w.lower() for w in TOKEN.findall(title)}
    candidates = {w for w in sequence if token not in w and "_" not in w}
    words = candidates - named
    by_letter: dict[str, list[str]] = {}
    for word in dict.fromkeys(sequence):
        if word in candidates:
            by_letter.setdefault(word[0], []).append(word)
    # best[i]: the cheapest cut of token[:i] as (cost, pieces), each piece (text, kind, word or None)
    best: list[tuple[int, list[tuple[str, int, str | None]]] | None] = [(0, []), *([None] * len(token))]
    for end in range(1, len(token) + 1):
        for start in range(end):
            before = best[start]
            piece = token[start:end]
            if before is None or piece == token:
                continue
            if piece in words and (len(piece) > 2 or piece in STOPWORDS):
                kind, word = _WHOLE, piece
            elif len(piece) == 1:
                kind, word = _LETTER, None
            elif _SHORT_LETTERS[0] <= len(piece) <= _SHORT_LETTERS[1] and (
                short := next((w for w in by_letter.get(piece[0], ()) if _shortens(piece, w)), None)
            ):
                kind, word = _SHORT, short
            else:
                continue
            cost = before[0] + kind
            if best[end] is None or cost < best[end][0]:  # type: ignore[index]
                best[end] = (cost, [*before[1], (piece, kind, word)])
    found = best[-1]
    if found is None or len(found[1]) > _PIECES or all(kind == _WHOLE for _, kind, _ in found[1]):
        return _NOTHING
    pieces = _letters_spelt(found[1], sequence, {w for w in words if len(w) > 1})
    if pieces is None:
        return _NOTHING
    out = [w for w in pieces if len(w) > 2 and w not in STOPWORDS]
    return Spelt(list(dict.fromkeys(out)), any(kind == _SHORT for _, kind, _ in found[1]))


def _shortens(piece: str, word: str) -> bool:
    """Whether ``piece`` abbreviates the longer ``word`` (which starts with its first letter): some of its letters
    in order (``abs`` of absolute, ``b64`` of base64)."""
    if len(word) <= len(piece):
        return False
    letters = iter(word)
    return all(c in letters for c in piece)


def _letters_spelt(
    pieces: list[tuple[str, int, str | None]], sequence: list[str], spelt: set[str]
) -> list[str] | None:
    """The page words of ``pieces``, each run of one-letter pieces read as the words in a row of ``sequence``
    (of ``spelt``) with those initials, right before or after its neighbouring piece's word (anywhere for two letters or more);
    ``None`` when a run is not spelt out."""
    words: list[str | None] = [word for _, _, word in pieces]
    i = 0
    while i < len(pieces):
        if words[i] is not None:
            i += 1
            continue
        j = i
        while j < len(pieces) and words[j] is None:
            j += 1
        initials = [piece for piece, _, _ in pieces[i:j]]
        starts = [s for s in range(len(sequence) - len(initials) + 1)
                  if all(sequence[s + k].startswith(c) and sequence[s + k] in spelt for k, c in enumerate(initials))]
        if len(initials) == 1:
            after, before = (words[j] if j < len(words) else None), (words[i - 1] if i else None)
            starts = [s for s in starts if (s + 1 < len(sequence) and sequence[s + 1] == after)
                      or (s and sequence[s - 1] == before)]
        if not starts:
            return None
        words[i:j] = sequence[starts[0] : starts[0] + len(initials)]
        i = j
    return [w for w in words if w is not None]


def _agent_verb(word: str, counts: Mapping[str, int]) -> str | None:
    """The verb of an agent noun in a code name (sorter → sort, parser → parse, formatter → format) when the
    corpus has it more often than the noun, so "sort tasks" finds ``TopologicalSorter`` (pydocs-qa dev among
    the sources 60.5 → 62.8 %, held-out among the results 67.9 → 71.4 %; quality log, round seven)."""
    if len(word) < 5 or not word.endswith("er"):
        return None
    verbs = [word[:-2], word[:-1], *([word[:-3]] if word[-3] == word[-4] else [])]
    whole = counts.get(word, 0)
    return next((verb for verb in verbs if len(verb) >= 3 and counts.get(verb, 0) > whole), None)


def _cut(word: str, counts: Mapping[str, int], whole: int, depth: int = 0) -> list[str]:
    """``word`` cut into words commoner than ``whole`` (at most three cuts), or ``[word]``."""
    if len(word) < 5 or depth > 2:
        return [word]
    best: tuple[int, list[str]] | None = None
    for i in range(2, len(word) - 1):
        head, tail = word[:i], word[i:]
        if counts.get(head, 0) <= whole:
            continue
        rest = [tail] if counts.get(tail, 0) > whole else _cut(tail, counts, whole, depth + 1)
        if all(counts.get(part, 0) > whole for part in rest):
            shortest = min(len(head), *(len(part) for part in rest))
            if best is None or shortest > best[0]:
                best = (shortest, [head, *rest])
    return best[1] if best else [word]


def respell(
    terms: Sequence[str], known: Callable[[str], bool], candidates: Callable[[str], Iterable[str]], *, typo: bool = False
) -> dict[str, str]:
    """Each term that is not ``known``, mapped to the candidate spelt most like it (see :func:`nearest_spelling`).

    ``candidates(term)`` lists the words to choose from, commonest first. With ``typo`` only slips of
    the keys are corrected, unless no term is known: then, as engines do rather than answer nothing,
    the wider guess (Cypiddids → cydippids, two letters swapped twice).
    """
    absent = [term for term in terms if not known(term)]
    words = {term: list(candidates(term)) for term in absent}
    found = _nearest(words, typo=typo)
    if typo and not found and absent and len(absent) == len(terms):
        found = _nearest(words, typo=False)
    return found


def _nearest(words: Mapping[str, list[str]], *, typo: bool) -> dict[str, str]:
    pairs = {term: nearest_spelling(term, candidates, typo=typo) for term, candidates in words.items()}
    return {term: word for term, word in pairs.items() if word is not None}


def word_count(text: str) -> int:
    """The number of words in ``text`` (whitespace-separated runs)."""
    return len(text.split())


def _is_abbreviation(text: str, end: int) -> bool:
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:end].rstrip(".").lower().lstrip("(\"'")
    return word in _ABBREV or (len(word) == 1 and word.isalpha())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of the sentences of ``text``, whitespace trimmed, in order."""
    spans: list[tuple[int, int]] = []
    block_start = 0
    blocks = [m.start() for m in _NEWLINES.finditer(text)] + [len(text)]
    for block_end in blocks:
        cut = block_start
        for match in _END.finditer(text, block_start, block_end):
            dot = match.start()
            if text[dot] == "." and match.group().startswith(".") and _is_abbreviation(text, dot):
                continue
            spans.append((cut, match.end()))
            cut = match.end()
        spans.append((cut, block_end))
        block_start = block_end
    trimmed = []
    for start, end in spans:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            trimmed.append((start, end))
    return trimmed
