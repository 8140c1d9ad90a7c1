"""SQuAD-format questions, the one-page-per-article corpus, and the SQuAD answer normalisation."""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Article", "Question", "load_squad", "normalize_answer", "contains_answer", "write_corpus"]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


@dataclass(frozen=True, slots=True)
class Article:
    """One article: its paragraphs joined as the text of a single page."""

    id: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Question:
    """A question, the article it was asked about, and its gold answers."""

    id: str
    text: str
    article_id: str
    answers: tuple[str, ...]


def load_squad(path: Path) -> tuple[list[Article], list[Question]]:
    """Articles and questions of a SQuAD v1.1-format file, in file order."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    articles: list[Article] = []
    questions: list[Question] = []
    for number, item in enumerate(data):
        article_id = f"a{number:03d}"
        paragraphs = [p["context"].strip() for p in item["paragraphs"]]
        articles.append(Article(article_id, item["title"].replace("_", " "), "\n\n".join(paragraphs)))
        for paragraph in item["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                questions.append(Question(qa["id"], qa["question"], article_id, answers))
    return articles, questions


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower-case, punctuation and articles removed, whitespace collapsed."""
    text = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def contains_answer(text: str, answers: tuple[str, ...]) -> bool:
    """Whether any gold answer occurs, normalised, as a substring of the normalised ``text``."""
    haystack = normalize_answer(text)
    return any(normalize_answer(a) in haystack for a in answers if normalize_answer(a))


def write_corpus(articles: list[Article], path: Path) -> Path:
    """The articles as a JSONL corpus of ``{id, title, text}`` (what the stand-in server reads)."""
    with path.open("w", encoding="utf-8") as out:
        for article in articles:
            out.write(json.dumps({"id": article.id, "title": article.title, "text": article.text}) + "\n")
    return path
