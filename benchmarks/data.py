"""Where the repository's evaluation data lives (``data/``, described in ``data/README.md``): the one home for
these paths, used by the benchmarks, the tests and the notebooks' callers alike."""

from __future__ import annotations

from pathlib import Path

__all__ = ["BRAVE_FIXTURES", "DATA", "EXTRACTION", "PYDOCS_QA_DEV", "QUERIES", "XQUAD_DEV", "relative"]

DATA = Path(__file__).resolve().parents[1] / "data"
#: Two real Brave API responses (web and news, query "hello world").
BRAVE_FIXTURES = DATA / "brave"
#: XQuAD's English development half, SQuAD v1.1 format.
XQUAD_DEV = DATA / "xquad" / "xquad.en.dev.json"
#: The article-extraction benchmark's development pages (``html/*.html.gz``) and ``ground-truth.json``.
EXTRACTION = DATA / "extraction"
#: Python questions with the pydocs pages that answer them, one JSON object a line.
PYDOCS_QA_DEV = DATA / "pydocs-qa" / "dev.jsonl"
#: Questions for the batch notebook and its test, each with a word its answering page carries.
QUERIES = DATA / "queries.csv"


def relative(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (so results name no machine's layout)."""
    try:
        return path.resolve().relative_to(DATA.parent).as_posix()
    except ValueError:
        return str(path)
