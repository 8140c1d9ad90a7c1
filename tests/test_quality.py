"""A fast smoke run of the quality evaluation on a few XQuAD questions, and its scoring rules."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from benchmarks.data import XQUAD_DEV
from benchmarks.quality import main
from benchmarks.quality_data import Article, Question, contains_answer, load_squad, normalize_answer, write_corpus
from benchmarks.quality_http import run_over_http
from knowledge_agg.server import launch
from knowledge_agg.settings import Settings


def test_squad_normalisation_and_substring_match() -> None:
    assert normalize_answer("The  Sea of Japan!") == "sea of japan"
    assert contains_answer("It stretched to the Sea of Japan.", ("sea of Japan",))
    assert not contains_answer("It stretched to the Caspian Sea.", ("Sea of Japan",))


def test_one_page_per_article() -> None:
    articles, questions = load_squad(XQUAD_DEV)
    assert len(articles) == 48 and len(questions) == 680
    by_id = {a.id: a for a in articles}
    assert all(any(a in by_id[q.article_id].text for a in q.answers) for q in questions[:50])


def test_direct_evaluation_on_a_few_questions_writes_the_report(tmp_path: Path) -> None:
    xquad = XQUAD_DEV
    out = tmp_path / "quality.json"
    code = main(["--xquad", str(xquad), "--mode", "direct", "--limit", "12", "--output", str(out),
                 "--extraction", str(tmp_path / "absent")])
    assert code == 0
    report = json.loads(out.read_text())
    figures = report["figures"]
    assert figures["questions"] == 12
    assert figures["verbatim"] == 100.0
    assert figures["synthesis_words_max"] <= 100
    assert figures["top8_passages"] >= 50 and figures["synthesis"] >= 50  # most of 12 are answered
    assert figures["extraction_f1"] is None


def test_flags_are_checked_before_any_question_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xquad = XQUAD_DEV
    out = tmp_path / "quality.json"
    assert main(["--xquad", str(xquad), "--flags", "bogus", "--output", str(out)]) == 2
    assert "unknown feature flag 'bogus'" in capsys.readouterr().err
    assert main(["--xquad", str(xquad), "--mode", "direct", "--flags", "semantic", "--output", str(out)]) == 2
    assert "--mode http or replay" in capsys.readouterr().err
    assert not out.exists()


def test_a_misspelt_question_is_answered_over_http(tmp_path: Path) -> None:
    """The stand-in's index searches 'Ghandi' as 'gandhi' and says so in Brave's ``query.altered``; the client
    then selects and ranks with that spelling, so the Gandhi page comes first although others repeat the rest."""
    filler = " ".join(f"Paragraph filler sentence number {i} says little about anything at all." for i in range(12))
    articles = [
        Article("a000", "Steam engine", f"This work is called mechanical work. Work was called labour.\n\n{filler}"),
        Article("a001", "Civil disobedience", f"Gandhi called his nonviolent work Satyagraha. It spread widely.\n\n{filler}"),
        Article("a002", "Ghana", f"Ghana is a country in West Africa. Its work force is called young.\n\n{filler}"),
    ]
    question = Question("q1", "What was Ghandi's work called?", "a001", ("Satyagraha",))
    [outcome] = run_over_http(articles, [question], max_words=60, concurrency=1)
    assert outcome.hits[0].title == "Civil disobedience"
    assert contains_answer(outcome.top_source, question.answers)
    assert contains_answer(" ".join(outcome.synthesis), question.answers) and all(outcome.verbatim)

    corpus = write_corpus(articles, tmp_path / "people.jsonl")
    server = Settings(provider="local", corpus=str(corpus), cache_dir=tmp_path / "server")
    with launch(0, settings=server, standin_keys=["k"]) as handle:
        reply = httpx.get(f"{handle.url}/res/v1/web/search", params={"q": "Ghandi's work"},
                          headers={"X-Subscription-Token": "k"})
    assert reply.status_code == 200
    query = reply.json()["query"]
    assert (query["original"], query["altered"]) == ("Ghandi's work", "gandhi's work")
