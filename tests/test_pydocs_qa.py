"""The pydocs-qa benchmark's scoring: phrase normalisation, page matching, per-kind shares, a real offline run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.pydocs_qa import (
    DATASET,
    KINDS,
    METRICS,
    QAQuestion,
    is_gold,
    load_questions,
    normalize_phrase,
    score_run,
    summarize,
    synthesis_body,
    table,
    verbatim,
)
from benchmarks.quality import main as quality_main
from knowledge_agg import Run

_Q = QAQuestion(
    id="q1", question="how do I delete a directory tree?", kind="howto", answer='Recursively delete a "directory" tree.',
    gold_titles=("shutil.rmtree", "Compound statements: Patterns"),
    gold_urls=("https://docs.python.org/3/library/shutil.html#shutil.rmtree",
               "https://docs.python.org/3/search.html?q=compound"),
)


def _run(
    sources: list[tuple[str, str]], results: list[tuple[str, str]], passages: list[str], answer: str,
    points: list[dict[str, object]] | None = None,
) -> Run:
    """A finished run made of the events a real run emits (validated by the event models)."""
    events: list[dict[str, object]] = []
    for rank, (title, url) in enumerate(results, start=1):
        events.append({"type": "result", "rank": rank, "title": title, "url": url, "provider": "local"})
    events.append({"type": "sources", "sources": [
        {"id": i, "title": t, "url": u, "score": 1.0, "reason": "test"} for i, (t, u) in enumerate(sources, start=1)
    ]})
    for text in passages:
        events.append({"type": "passage", "source_id": 1, "url": sources[0][1], "text": text, "score": 1.0})
    events.append({"type": "synthesis", "text": answer, "points": points or []})
    events.append({"type": "done", "partial": False, "metrics": {}})
    return Run.from_dicts(_Q.question, [{"seq": i, "t_ms": float(i), **e} for i, e in enumerate(events)])


def test_phrases_compare_without_case_quotes_stars_or_extra_spaces() -> None:
    assert normalize_phrase('  Recursively  delete a\n"directory" *tree*. ') == "recursively delete a directory tree."
    assert normalize_phrase("“it’s” `x`") == "its x"
    assert normalize_phrase("A B") != normalize_phrase("AB")


def test_the_synthesis_is_scored_without_its_source_list() -> None:
    text = "Removes files. [1]\n\nSources:\n[1] shutil.rmtree — https://docs.python.org/3/library/shutil.html"
    assert synthesis_body(text) == "Removes files. [1]"
    assert synthesis_body("No relevant sources found.") == "No relevant sources found."


def test_a_page_is_gold_by_title_or_url_but_never_by_a_search_page_url() -> None:
    assert is_gold("shutil.rmtree", "https://elsewhere.example/x", _Q)
    assert is_gold("Remove a tree", "https://docs.python.org/3/library/shutil.html#shutil.rmtree", _Q)
    assert is_gold("Compound statements: Patterns", "https://docs.python.org/3/search.html?q=compound", _Q)
    # Every section of a reference topic shared that search URL: the URL alone identifies nothing.
    assert not is_gold("Compound statements: Overview", "https://docs.python.org/3/search.html?q=compound", _Q)
    assert not is_gold("shutil.copytree", "https://docs.python.org/3/library/shutil.html#shutil.copytree", _Q)


def test_one_run_is_scored_at_each_stage() -> None:
    rmtree = ("shutil.rmtree", "https://docs.python.org/3/library/shutil.html#shutil.rmtree")
    other = ("os.rmdir", "https://docs.python.org/3/library/os.html#os.rmdir")
    run = _run([other, rmtree], [other, rmtree], ["Recursively delete a  directory tree."],
               "Remove the directory. [1]\n\nSources:\n[1] Recursively delete a directory tree — x")
    assert score_run(_Q, run) == {
        "first_source": False, "in_sources": True, "in_results": True,
        "answer_in_passages": True, "answer_in_synthesis": False, "verbatim": True,
    }
    run = _run([rmtree], [rmtree], ["Nothing here."], "*Recursively* delete a ‘directory’ tree. [1]")
    assert score_run(_Q, run) == {
        "first_source": True, "in_sources": True, "in_results": True,
        "answer_in_passages": False, "answer_in_synthesis": True, "verbatim": True,
    }
    empty = Run(_Q.question, [])
    assert score_run(_Q, empty) == {**dict.fromkeys(METRICS, False), "verbatim": True}  # nothing said, nothing made up


def test_summary_gives_shares_overall_and_per_kind() -> None:
    metrics = tuple(METRICS)
    rows = [
        {"kind": "howto", **dict.fromkeys(metrics, True)},
        {"kind": "howto", **dict.fromkeys(metrics, False)},
        {"kind": "error", **dict.fromkeys(metrics, False), "in_results": True},
    ]
    summary = summarize(rows)
    assert summary["all"]["n"] == 3 and summary["all"]["in_results"] == 66.7 and summary["all"]["first_source"] == 33.3
    assert summary["howto"]["first_source"] == 50.0 and summary["error"]["in_results"] == 100.0
    assert summary["what"] == {"n": 0, **dict.fromkeys(metrics, 0.0)}
    assert list(summary)[:6] == ["all", *KINDS]


def test_answer_figures_count_only_questions_with_an_answer_phrase() -> None:
    metrics = tuple(METRICS)
    rows = [
        {"kind": "howto", **dict.fromkeys(metrics, True)},
        {"kind": "howto", **dict.fromkeys(metrics, False), "has_answer": False},
        {"kind": "error", **dict.fromkeys(metrics, False), "has_answer": False},
    ]
    summary = summarize(rows)
    assert summary["all"]["first_source"] == 33.3 and summary["all"]["answer_in_synthesis"] == 100.0
    assert summary["error"]["answer_in_passages"] is None  # no phrase to look for: not measured, not a miss
    assert "| the answer phrase in the passages | 100.0 % | 100.0 % | — |" in table(summary)


def test_another_dataset_writes_its_own_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmarks.pydocs_qa as qa

    monkeypatch.setattr(qa, "RESULTS", tmp_path)
    held = tmp_path / "heldout.jsonl"
    held.write_text(DATASET.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    assert quality_main(["--set", "pydocs-qa", "--dataset", str(held)]) == 0
    assert (tmp_path / "pydocs_qa-heldout.json").is_file() and not (tmp_path / "pydocs_qa.json").exists()


def test_the_committed_dev_set_loads_and_a_bad_line_is_named(tmp_path: Path) -> None:
    questions = load_questions(DATASET)
    assert len(questions) == 86 and {q.kind for q in questions} == set(KINDS)
    assert all(q.answer and q.gold_titles and len(q.gold_titles) == len(q.gold_urls) for q in questions)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "question": "q"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: not a pydocs-qa question"):
        load_questions(bad)


def test_quality_set_pydocs_qa_runs_real_questions_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "qa.json"
    assert quality_main(["--set", "pydocs-qa", "--limit", "3", "--output", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["summary"]["all"]["n"] == 3 and len(report["questions"]) == 3
    assert all(q["sources"] and not q["errors"] for q in report["questions"])
    assert "| a gold page is the first source |" in capsys.readouterr().out


def test_a_missing_dataset_or_bad_flag_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "qa.json"
    assert quality_main(["--set", "pydocs-qa", "--dataset", str(tmp_path / "none.jsonl"), "--output", str(out)]) == 2
    assert "pydocs-qa questions not found" in capsys.readouterr().err
    assert quality_main(["--set", "pydocs-qa", "--flags", "bogus", "--output", str(out)]) == 2
    assert "unknown feature flag 'bogus'" in capsys.readouterr().err
    assert not out.exists()


def test_a_synthesis_sentence_must_be_copied_from_a_passage_of_a_source_it_cites() -> None:
    rmtree = ("shutil.rmtree", "https://docs.python.org/3/library/shutil.html#shutil.rmtree")
    passage = "Recursively delete a directory tree. If ignore_errors is set, errors are ignored."
    copied = {"text": "Recursively delete a directory tree.", "source_ids": [1]}
    assert verbatim(_run([rmtree], [rmtree], [passage], "x", [copied]))
    reworded = {"text": "Recursively deletes a directory tree.", "source_ids": [1]}
    assert not verbatim(_run([rmtree], [rmtree], [passage], "x", [copied, reworded]))
    miscited = {"text": "Recursively delete a directory tree.", "source_ids": [2]}
    assert not verbatim(_run([rmtree, rmtree], [rmtree], [passage], "x", [miscited]))
