"""Rank passages: cut pages into sentence-aligned passages, score them with BM25, keep a diverse top-k."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from .models import Analysis, Page, Passage
from .settings import setting_default
from .text import STOPWORDS, sentence_spans, terms, tokenize, word_count

__all__ = ["BM25", "query_terms", "split_passages", "rank_passages"]

#: The words a passage aims for: at least the first, at most the second (a long sentence may pass it).
PASSAGE_WORDS = (50, 150)


class BM25:
    """Okapi BM25 over a fixed list of tokenised documents (idf from that list)."""

    def __init__(self, docs: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._tfs = [Counter(doc) for doc in docs]
        self._lens = [len(doc) for doc in docs]
        self._avg = (sum(self._lens) / len(docs)) if docs else 0.0
        df: Counter[str] = Counter()
        for tf in self._tfs:
            df.update(tf.keys())
        n = len(docs)
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    def score(self, index: int, query: Sequence[str]) -> float:
        """The BM25 score of document ``index`` for the query terms."""
        tf, length = self._tfs[index], self._lens[index]
        norm = self.k1 * (1 - self.b + self.b * length / self._avg) if self._avg else self.k1
        total = 0.0
        for term in query:
            f = tf.get(term, 0)
            if f:
                total += self.idf[term] * f * (self.k1 + 1) / (f + norm)
        return total

    def scores(self, query: Sequence[str]) -> list[float]:
        """The BM25 score of every document, in document order."""
        return [self.score(i, query) for i in range(len(self._tfs))]


def query_terms(analysis: Analysis) -> list[str]:
    """The content stems to rank by: the analysis's key terms (the query's own words when it found none)."""
    return terms(analysis.terms) or terms([analysis.query])


def split_passages(text: str, *, min_words: int = PASSAGE_WORDS[0], max_words: int = PASSAGE_WORDS[1]) -> list[str]:
    """Passages of about ``min_words``–``max_words`` words cut at sentence ends, each a substring of ``text``."""
    spans = sentence_spans(text)
    groups: list[list[tuple[int, int, int]]] = []
    current: list[tuple[int, int, int]] = []
    size = 0
    for start, end in spans:
        words = word_count(text[start:end])
        if current and size >= min_words and size + words > max_words:
            groups.append(current)
            current, size = [], 0
        current.append((start, end, words))
        size += words
    if current:
        if groups and size < min_words and sum(w for *_, w in groups[-1]) + size <= max_words:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return [text[group[0][0] : group[-1][1]] for group in groups]


def _similarity(a: Counter[str], b: Counter[str]) -> float:
    shared = sum(min(a[t], b[t]) for t in a.keys() & b.keys())
    return shared / max(1, min(sum(a.values()), sum(b.values())))


def rank_passages(
    pages: Sequence[Page],
    analysis: Analysis,
    *,
    k: int = setting_default("max_passages"),
    min_words: int = PASSAGE_WORDS[0],
    max_words: int = PASSAGE_WORDS[1],
    mmr_lambda: float = 0.9,
) -> list[Passage]:
    """The ``k`` best passages of ``pages`` for the query: BM25, diversified by MMR, best first.

    Pages are taken in their sources' order, not in the order they were read (which the network decides), so
    equal scores fall the same way in every run."""
    candidates: list[tuple[Page, str, bool]] = [
        (page, text, n == 0)
        for page in sorted(pages, key=lambda page: page.source.id)
        for n, text in enumerate(split_passages(page.text, min_words=min_words, max_words=max_words))
    ]
    if not candidates or k <= 0:
        return []
    query = query_terms(analysis)
    tokens = [tokenize(text) for _, text, _ in candidates]
    bm25 = BM25(tokens)
    relevance = bm25.scores(query)
    top = max(relevance) or 1.0
    bags = [Counter(t for t in doc if t not in STOPWORDS) for doc in tokens]
    chosen: list[int] = []
    remaining = set(range(len(candidates)))
    while remaining and len(chosen) < k:
        def mmr(i: int) -> tuple[float, int]:
            redundancy = max((_similarity(bags[i], bags[j]) for j in chosen), default=0.0)
            return mmr_lambda * relevance[i] / top - (1 - mmr_lambda) * redundancy, -i

        best = max(remaining, key=mmr)
        chosen.append(best)
        remaining.discard(best)
    return [
        Passage(
            source_id=candidates[i][0].source.id,
            url=candidates[i][0].source.hit.url,
            text=candidates[i][1],
            score=round(relevance[i], 4),
            opening=candidates[i][2],
        )
        for i in chosen
    ]
