"""The repository's own evaluation data (data/, described in data/README.md) is complete and well formed."""

from __future__ import annotations

import gzip
import json
import re

from benchmarks.data import BRAVE_FIXTURES, DATA, EXTRACTION, PYDOCS_QA_DEV, QUERIES, XQUAD_DEV


def test_every_file_the_data_readme_lists_is_there() -> None:
    listed = re.findall(r"^\| `([^`]+)` \|", (DATA / "README.md").read_text(encoding="utf-8"), re.M)
    assert listed and all(any(DATA.glob(pattern)) for pattern in listed), listed
    for path in (BRAVE_FIXTURES / "web_hello_world.json", XQUAD_DEV, EXTRACTION / "ground-truth.json", PYDOCS_QA_DEV,
                 QUERIES):
        assert path.is_file() and path.is_relative_to(DATA)


def test_extraction_pages_each_have_their_annotated_body() -> None:
    truth = json.loads((EXTRACTION / "ground-truth.json").read_text(encoding="utf-8"))
    pages = {p.name.removesuffix(".html.gz"): p for p in (EXTRACTION / "html").glob("*.html.gz")}
    assert len(pages) == 60 and set(truth) == set(pages)
    first = next(iter(pages.values()))
    assert b"<" in gzip.decompress(first.read_bytes())[:2000]
    assert all(entry["articleBody"].strip() and entry["url"].startswith("http") for entry in truth.values())


def test_pydocs_questions_name_their_gold_pages_and_answer() -> None:
    rows = [json.loads(line) for line in PYDOCS_QA_DEV.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 86 and len({r["id"] for r in rows}) == 86
    assert {r["kind"] for r in rows} == {"howto", "error", "what", "difference", "sloppy"}
    assert all(r["question"].strip() and r["answer"].strip() and r["gold_titles"] and r["gold_urls"] for r in rows)


def test_xquad_dev_has_its_680_questions() -> None:
    articles = json.loads(XQUAD_DEV.read_text(encoding="utf-8"))["data"]
    questions = [qa for a in articles for p in a["paragraphs"] for qa in p["qas"]]
    assert (len(articles), len(questions)) == (48, 680) and all(qa["answers"] for qa in questions)
