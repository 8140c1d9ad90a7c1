"""The citation check: is each sentence of a written answer stated by the passages it cites?

A sentence is unsupported when it cites nothing, cites a number that is not a listed source, or
says what its cited passages do not: a number, year or name missing from them, or too few of its
content words in them. The check reads words, not meaning: it catches changed facts and wrong
citations, not a negation or a reversed relation made of the passages' own words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .events import SynthesisPoint
from .text import STOPWORDS, sentence_spans, stem, terms, tokenize

__all__ = ["MIN_COVERAGE", "Claim", "check_answer", "check_claim", "split_claims"]

#: The share of a sentence's content words its cited passages must hold (faithful paraphrase keeps
#: most of them; a sentence about something else keeps few). Measured in benchmarks/llm_answer.py.
MIN_COVERAGE = 0.6

_MARK = r"\[\d+(?:\s*,\s*\d+)*\]"
_CITES = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_LEADING_CITES = re.compile(rf"^(?:\s*{_MARK})+[.!?]?")
_CLAIM_END = re.compile(rf"(?:{_MARK}\s*[.!?]|[.!?]\s*(?:{_MARK})+)(?=\s)")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
#: A word as ``_text.tokenize`` reads one (hyphenated words are two), so claim and passage split alike.
_WORD = re.compile(r"\b[^\W\d_]\w*(?:['’]\w+)*")
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate((
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
    ))
}


@dataclass(frozen=True, slots=True)
class Claim:
    """One sentence of an answer without its ``[n]`` marks, and the numbers it cites."""

    text: str
    source_ids: tuple[int, ...]


def split_claims(answer: str) -> list[Claim]:
    """The answer's sentences with the ``[n]``, ``[n][m]`` or ``[n, m]`` marks each carries.

    Marks written after the full stop (``Text. [1]``) belong to the sentence before them.
    """
    claims: list[Claim] = []
    for sentence in _sentences(answer):
        leading = _LEADING_CITES.match(sentence)
        if leading and claims:  # "Text. [1] Next sentence": the [1] closes the sentence before
            last = claims[-1]
            claims[-1] = Claim(last.text, tuple(dict.fromkeys(last.source_ids + _ids(leading.group()))))
            sentence = sentence[leading.end() :]
        ids = _ids(sentence)
        text = " ".join(_CITES.sub("", sentence).split())
        text = re.sub(r"\s+([.!?,;:])", r"\1", text)
        if text.strip(" .!?"):
            claims.append(Claim(text, ids))
    return claims


def _sentences(answer: str) -> list[str]:
    """Sentences cut where a citation closes one (``… [2]. next``, ``…. [2] next``), whatever case follows,
    then by the ordinary rule: a written answer often starts a sentence with a lower-case name (``asyncio.run``)."""
    pieces, cut = [], 0
    for match in _CLAIM_END.finditer(answer):
        pieces.append(answer[cut : match.end()])
        cut = match.end()
    pieces.append(answer[cut:])
    return [piece[start:end] for piece in pieces for start, end in sentence_spans(piece)]


def _ids(text: str) -> tuple[int, ...]:
    return tuple(dict.fromkeys(int(n) for group in _CITES.findall(text) for n in group.split(",")))


def _numbers(text: str) -> set[str]:
    found = {m.group().replace(",", "").rstrip(".") for m in _NUMBER.finditer(text)}
    found |= {_NUMBER_WORDS[w.lower()] for w in _WORD.findall(text) if w.lower() in _NUMBER_WORDS}
    return found


def _names(text: str) -> dict[str, str]:
    """Capitalised words not opening the sentence (proper names, months): stem → the word as written."""
    words = _WORD.findall(text)
    return {stem(w): w for w in words[1:] if w[0].isupper() and w.lower() not in STOPWORDS}


def check_claim(claim: Claim, passages: Mapping[int, str]) -> SynthesisPoint:
    """The claim as a synthesis point, checked against the passages listed under each citation number."""
    point: dict[str, Any] = {"text": claim.text, "source_ids": sorted(claim.source_ids)}
    if not claim.source_ids:
        return SynthesisPoint(**point, supported=False, support=0.0, reason="cites no source")
    unknown = [n for n in claim.source_ids if n not in passages]
    if unknown:
        listed = ", ".join(f"[{n}]" for n in unknown)
        return SynthesisPoint(**point, supported=False, support=0.0, reason=f"cites {listed}, not a listed source")
    evidence = " ".join(passages[n] for n in claim.source_ids)
    cited = "".join(f"[{n}]" for n in sorted(claim.source_ids))
    evidence_stems = set(tokenize(evidence))
    words = terms([claim.text])
    words = [w for w in words if not w.isdigit()]
    coverage = sum(w in evidence_stems for w in words) / len(words) if words else 1.0
    numbers, names = _numbers(claim.text), _names(claim.text)
    missing_numbers = sorted(numbers - _numbers(evidence))
    missing_names = sorted(word for key, word in names.items() if key not in evidence_stems)
    facts = len(numbers) + len(names)
    found_facts = facts - len(missing_numbers) - len(missing_names)
    support = round(coverage * (found_facts / facts if facts else 1.0), 3)
    if missing_numbers:
        reason = f"{', '.join(missing_numbers)} is not in {cited}"
    elif missing_names:
        reason = f"{', '.join(missing_names)} is not in {cited}"
    elif coverage < MIN_COVERAGE:
        reason = f"only {coverage:.0%} of its words are in {cited}"
    else:
        return SynthesisPoint(**point, supported=True, support=support)
    return SynthesisPoint(**point, supported=False, support=support, reason=reason)


def check_answer(answer: str, passages: Mapping[int, Sequence[str]]) -> list[SynthesisPoint]:
    """Every sentence of ``answer`` checked against ``passages`` (citation number → its passage texts)."""
    joined = {n: " ".join(texts) for n, texts in passages.items()}
    return [check_claim(claim, joined) for claim in split_claims(answer)]
