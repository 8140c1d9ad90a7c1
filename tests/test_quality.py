"""A fast smoke run of the quality evaluation on a few XQuAD questions, and its scoring rules."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks._quality_data import contains_answer, load_squad, normalize_answer
from benchmarks.quality import main
from tests.conftest import shared_path


def test_squad_normalisation_and_substring_match() -> None:
    assert normalize_answer("The  Sea of Japan!") == "sea of japan"
    assert contains_answer("It stretched to the Sea of Japan.", ("sea of Japan",))
    assert not contains_answer("It stretched to the Caspian Sea.", ("Sea of Japan",))


def test_one_page_per_article() -> None:
    articles, questions = load_squad(shared_path("datasets", "xquad", "xquad.en.dev.json"))
    assert len(articles) == 48 and len(questions) == 680
    by_id = {a.id: a for a in articles}
    assert all(any(a in by_id[q.article_id].text for a in q.answers) for q in questions[:50])


def test_direct_evaluation_on_a_few_questions_writes_the_report(tmp_path: Path) -> None:
    xquad = shared_path("datasets", "xquad", "xquad.en.dev.json")
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
