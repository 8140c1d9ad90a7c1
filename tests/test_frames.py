"""Events → DataFrames: dtypes, contents, exports by round trip, age parsing and the timeline plot."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.data import BRAVE_FIXTURES
from knowledge_agg import frames
from knowledge_agg.events import (
    METRICS,
    STAGES,
    AnalysisEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    PassageEvent,
    ResultEvent,
    SourceInfo,
    SourcesEvent,
    StatusEvent,
    SynthesisEvent,
    SynthesisPoint,
)
from knowledge_agg.run import Run

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def _events() -> list[Event]:
    """A plausible run, built from the real event models: two hits, two sources, one failed page."""
    seq = iter(range(100))
    t = iter(float(x) for x in range(0, 1000, 7))

    def common() -> dict[str, float | int]:
        return {"seq": next(seq), "t_ms": next(t)}

    sources = [
        SourceInfo(id=1, url="https://docs.python.org/3/library/io.html", title="io — Core tools",
                   domain="docs.python.org", score=0.8123456789012345, reason="rank 1; 3 query terms"),
        SourceInfo(id=2, url="https://example.org/files", title="Reading files, N/A edition",
                   domain="example.org", score=0.5, reason="rank 2"),
    ]
    return [
        StatusEvent(**common(), stage="started", message="starting"),
        StatusEvent(**common(), stage="analyzing", progress=0.1),
        AnalysisEvent(**common(), kind="question", terms=["read", "file"], search_query="read file python"),
        StatusEvent(**common(), stage="searching", progress=0.2),
        ResultEvent(**common(), rank=1, title="io — Core tools", url=sources[0].url, snippet="Text I/O",
                    domain="docs.python.org", age="2024-12-27T15:49:55", provider="brave"),
        ResultEvent(**common(), rank=2, title="Reading files, N/A edition", url=sources[1].url, snippet="",
                    domain="example.org", age="4 days ago", provider="brave"),
        ResultEvent(**common(), rank=3, title="NA", url="https://null.example/", domain="null.example",
                    age=None, provider="brave"),
        StatusEvent(**common(), stage="selecting", progress=0.4),
        SourcesEvent(**common(), sources=sources),
        StatusEvent(**common(), stage="fetching", progress=0.5),
        ErrorEvent(**common(), stage="fetching", kind="http_status", message="HTTP 503",
                   url=sources[1].url),
        StatusEvent(**common(), stage="ranking", progress=0.8),
        PassageEvent(**common(), source_id=1, url=sources[0].url, text="Use a for loop over the file object.",
                     score=2.25),
        PassageEvent(**common(), source_id=1, url=sources[0].url, text="open() returns a file object.",
                     score=1.0000000000000002),
        StatusEvent(**common(), stage="synthesizing", progress=0.9),
        SynthesisEvent(**common(), text="Loop over the file object [1].",
                       points=[SynthesisPoint(text="Loop over the file object", source_ids=[1])]),
        DoneEvent(**common(), partial=True, metrics={
            "first_status_ms": 0.0, "first_result_ms": 28.0, "source_select_ms": 56.0, "synthesis_ms": 105.0,
            "total_ms": 112.0, "peak_memory_bytes": None,
            "results": 3, "sources": 2, "passages": 2, "errors": 1,
        }),
    ]


@pytest.fixture
def run() -> Run:
    return Run("how do I read a file line by line?", _events())


def test_results_frame_dtypes_and_rows(run: Run) -> None:
    df = frames.results_frame(run, now=NOW)
    assert list(df["rank"]) == [1, 2, 3]
    assert df["rank"].dtype == "Int64"
    assert isinstance(df["domain"].dtype, pd.CategoricalDtype)
    assert isinstance(df["provider"].dtype, pd.CategoricalDtype)
    assert df["title"].dtype == "string"
    assert str(df["published"].dtype) == "datetime64[ns, UTC]"
    assert df["published"][0] == pd.Timestamp("2024-12-27T15:49:55", tz="UTC")
    assert df["published"][1] == pd.Timestamp(NOW - timedelta(days=4))
    assert df["published"].isna()[2]
    # "NA" is a real title, not a missing one; an empty snippet is recorded as missing.
    assert df["title"][2] == "NA"
    assert df["snippet"].isna()[1]


def test_sources_frame_marks_cited_and_counts_passages(run: Run) -> None:
    df = frames.sources_frame(run)
    assert list(df["id"]) == [1, 2]
    assert df["score"].dtype == "float64"
    assert list(df["cited"]) == [True, False]
    assert list(df["passages"]) == [2, 0]
    assert df["cited"].dtype == "boolean"


def test_passages_frame_takes_domain_from_its_source(run: Run) -> None:
    df = frames.passages_frame(run)
    assert list(df["domain"].astype(str)) == ["docs.python.org"] * 2
    assert list(df["words"]) == [8, 5]
    assert df["source_id"].dtype == "Int64"


def test_events_frame_tags_each_event_with_its_stage(run: Run) -> None:
    df = frames.events_frame(run)
    assert len(df) == len(run.events)
    assert list(df["seq"]) == [e.seq for e in run.events]
    assert df["stage"].dtype == pd.CategoricalDtype(STAGES, ordered=True)
    by_type = df.drop_duplicates("type").set_index("type")
    assert by_type.loc["result", "stage"] == "searching"
    assert by_type.loc["sources", "stage"] == "selecting"
    assert by_type.loc["error", "stage"] == "fetching"
    assert by_type.loc["error", "kind"] == "http_status"
    assert by_type.loc["error", "recoverable"]
    # Stages are ordered, so "where did time go" can sort and compare them.
    assert (df["stage"].dropna().cat.codes.diff().dropna() >= 0).all()


def test_empty_run_gives_typed_empty_frames() -> None:
    empty = Run("nothing", [])
    for build in (frames.results_frame, frames.sources_frame, frames.passages_frame, frames.events_frame):
        df = build(empty)
        assert df.empty
        assert list(df.columns) == list(frames._SCHEMAS[build.__name__.removesuffix("_frame")])
    assert frames.results_frame(empty)["rank"].dtype == "Int64"


def test_batch_frame_has_query_column_and_one_metrics_row_per_run(run: Run) -> None:
    other = Run("second question", _events()[:8])
    df = frames.frame("results", [run, other], now=NOW)
    assert df.columns[0] == "query"
    assert df.groupby("query", observed=True).size().to_dict() == {run.query: 3, "second question": 3}
    metrics = frames.metrics_frame([run, other], [None, "ConnectError: refused"])
    assert list(metrics["query"]) == [run.query, "second question"]
    assert metrics["total_ms"][0] == 112.0
    assert metrics["synthesis_ms"][0] == 105.0
    assert list(metrics.columns) == ["query", "partial", *METRICS, "error"]
    assert pd.isna(metrics["total_ms"][1])
    assert list(metrics["partial"]) == [True, True]
    assert metrics["error"][1] == "ConnectError: refused"


@pytest.mark.parametrize("suffix", ["csv", "parquet", "json"])
@pytest.mark.parametrize("kind", ["results", "sources", "passages", "events", "metrics"])
def test_export_round_trip(run: Run, tmp_path: Path, suffix: str, kind: frames.FrameKind) -> None:
    df = frames.frame(kind, [run, Run("another", _events())], now=NOW)
    path = frames.export(df, tmp_path / f"{kind}.{suffix}")
    back = frames.load(path, kind)
    pd.testing.assert_frame_equal(back, df)


def test_json_export_is_plain_records(run: Run, tmp_path: Path) -> None:
    path = frames.export(run.sources_df(), tmp_path / "s.json")
    records = json.loads(path.read_text())
    assert records[0]["score"] == 0.8123456789012345
    assert records[1]["cited"] is False


def test_export_refuses_unknown_format(run: Run, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.csv, \.parquet or \.json"):
        frames.export(run.results_df(), tmp_path / "r.xlsx")


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        ("September 6, 2019", datetime(2019, 9, 6, tzinfo=UTC)),
        ("Sep 6, 2019", datetime(2019, 9, 6, tzinfo=UTC)),
        ("2024-12-31T11:35:03", datetime(2024, 12, 31, 11, 35, 3, tzinfo=UTC)),
        ("2024-12-31T11:35:03Z", datetime(2024, 12, 31, 11, 35, 3, tzinfo=UTC)),
        ("48 minutes ago", NOW - timedelta(minutes=48)),
        ("1 hour ago", NOW - timedelta(hours=1)),
        ("3 weeks ago", NOW - timedelta(weeks=3)),
        ("last Tuesday", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_age(age: str | None, expected: datetime | None) -> None:
    assert frames.parse_age(age, NOW) == expected


def test_parse_age_reads_every_age_in_a_real_brave_response() -> None:
    data = json.loads((BRAVE_FIXTURES / "web_hello_world.json").read_text())
    for hit in data["web"]["results"]:
        for field in ("age", "page_age"):
            if hit.get(field):
                assert frames.parse_age(hit[field], NOW) is not None, hit[field]


def test_run_methods_delegate_to_frames(run: Run) -> None:
    assert len(run.results_df()) == 3
    assert len(run.sources_df()) == 2
    assert len(run.passages_df()) == 2
    assert len(run.events_df()) == len(run.events)


def test_repr_html_links_citations_to_sources(run: Run) -> None:
    html = run._repr_html_()
    assert '<a href="https://docs.python.org/3/library/io.html"' in html
    assert "HTTP 503" in html
    assert "partial" in html
    assert "how do I read a file" in html


def test_plot_timeline_draws_one_row_per_stage(run: Run) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = run.plot_timeline()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["started", "analyzing", "searching", "selecting", "fetching", "ranking", "synthesizing"]
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"result", "passage", "error"}
    plt.close(ax.figure)


def test_missing_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch, run: Run) -> None:
    import sys

    from knowledge_agg.errors import MissingDependency

    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingDependency, match=r"pip install 'knowledge-agg\[notebook\]'"):
        run.results_df()
