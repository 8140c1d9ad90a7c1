"""``ask_many`` over the real local pydocs index: frames with a ``query`` column, error rows, plots."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from benchmarks.data import QUERIES
from knowledge_agg.batch import Batch, ask_many, ask_many_async
from knowledge_agg.settings import Settings


def _questions(n: int) -> list[str]:
    with QUERIES.open(newline="", encoding="utf-8") as f:
        return [row["question"] for row in csv.DictReader(f)][:n]


@pytest.fixture
def batch(settings: Settings) -> Batch:
    # A real batch over the local index: three questions plus an empty one.
    questions = [*_questions(3), ""]
    return ask_many(questions, concurrency=2, settings=settings, progress=False, max_sources=3)


def test_batch_keeps_query_order_and_every_query(batch: Batch) -> None:
    assert batch.queries == [*_questions(3), ""]
    assert all(run.done is not None for run in batch)
    assert [len(run.sources) <= 3 for run in batch] == [True] * 4


def test_frames_carry_a_query_column(batch: Batch) -> None:
    for df in (batch.results_df(), batch.sources_df(), batch.passages_df(), batch.events_df()):
        assert df.columns[0] == "query"
        assert isinstance(df["query"].dtype, pd.CategoricalDtype)
        assert set(df["query"].dropna()) <= set(batch.queries)
    results = batch.results_df()
    assert set(results["query"]) == set(_questions(3))
    per_query = results.groupby("query", observed=True)["rank"].min()
    assert (per_query == 1).all()


def test_metrics_one_row_per_query_with_the_invalid_one_as_an_error_row(batch: Batch) -> None:
    metrics = batch.metrics_df()
    assert len(metrics) == 4
    assert metrics["total_ms"].dtype == "float64"
    good, empty = metrics.iloc[:3], metrics.iloc[3]
    assert good["error"].isna().all()
    assert not good["partial"].any()
    assert (good["results"] > 0).all()
    assert empty["partial"]
    assert "empty" in empty["error"].lower()


def test_series_and_dataframe_inputs_with_a_missing_question(settings: Settings) -> None:
    questions = pd.DataFrame({"id": [1, 2], "question": [_questions(1)[0], None]})
    with pytest.raises(ValueError, match="column="):
        ask_many(questions, settings=settings, progress=False)
    batch = ask_many(questions, column="question", settings=settings, progress=False)
    assert len(batch) == 2
    assert batch.errors[0] is None
    assert batch.errors[1] == "ValueError: question 1 is missing"
    assert len(batch.runs[0].results) > 0
    assert batch.metrics_df()["error"][1] == "ValueError: question 1 is missing"
    assert len(ask_many(questions["question"].iloc[:1], settings=settings, progress=False)) == 1


def test_unknown_option_fails_once_before_any_run(settings: Settings) -> None:
    with pytest.raises(ValueError):
        ask_many(_questions(2), settings=settings, progress=False, no_such_option=1)


def test_single_string_is_refused(settings: Settings) -> None:
    with pytest.raises(TypeError, match=r"knowledge_agg\.ask"):
        ask_many("one question", settings=settings, progress=False)


async def test_async_form_inside_a_running_loop(settings: Settings) -> None:
    batch = await ask_many_async(_questions(2), concurrency=1, settings=settings, progress=False)
    assert [len(run.results) > 0 for run in batch] == [True, True]
    # The sync form also works from inside a running loop (as in Jupyter).
    assert len(ask_many(_questions(1), settings=settings, progress=False)) == 1


def test_plot_distributions(batch: Batch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = batch.plot()
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"first_result_ms", "total_ms"}
    plt.close(ax.figure)


def test_repr_counts_partial_runs(batch: Batch) -> None:
    assert repr(batch) == "<Batch of 4 queries: 1 partial, 0 failed>"
    assert "<table>" in batch._repr_html_()
