"""``ask_many`` over the real local pydocs index: frames with a ``query`` column, error rows, plots."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.data import QUERIES
from knowledge_agg.batch import Batch, ask_many, ask_many_async
from knowledge_agg.errors import KnowledgeAggError
from knowledge_agg.settings import Settings
from knowledge_agg.store import RunStore


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


# ---------------------------------------------------------------- named batches in the run store

_BATCH_PROCESS = """
import sys
from knowledge_agg.batch import ask_many
from knowledge_agg.settings import Settings
questions = sys.argv[3:]
ask_many(questions, concurrency=2, settings=Settings(provider="local", store=sys.argv[1]), progress=False, batch=sys.argv[2])
"""


def _finished_per_question(store: RunStore, name: str) -> Counter[str]:
    return Counter(r.query for r in store.runs(batch=name) if r.ended_at is not None)


def test_a_named_batch_skips_what_is_answered_and_reruns_partial_ones(settings: Settings, tmp_path: Path) -> None:
    path = str(tmp_path / "runs.sqlite3")
    questions = [*_questions(3), ""]  # the empty question ends partial
    first = ask_many(questions, settings=settings, store=path, progress=False, batch="b1")
    assert first.resumed == 0
    again = ask_many(questions, settings=settings, store=path, progress=False, batch="b1")
    assert again.resumed == 3  # the empty one ended partial: run again
    assert [r.run_id for r in again.runs[:3]] == [r.run_id for r in first.runs[:3]]
    assert again.runs[3].run_id != first.runs[3].run_id
    assert [r.to_dicts() for r in again.runs[:3]] == [r.to_dicts() for r in first.runs[:3]]
    kept = ask_many(questions, settings=settings, store=path, progress=False, batch="b1", rerun="none")
    assert kept.resumed == 4 and kept.runs[3].run_id == again.runs[3].run_id
    assert "4 resumed" in repr(kept)
    assert ask_many(questions[:1], settings=settings, store=path, progress=False, batch="other").resumed == 0


def test_a_question_asked_twice_in_a_batch_runs_once(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    q = _questions(1)[0]
    batch = ask_many([q, q], settings=settings, store=str(path), progress=False, batch="twice")
    assert batch.runs[0].run_id == batch.runs[1].run_id and batch.errors == [None, None]
    assert _finished_per_question(RunStore(path), "twice") == {q: 1}


def test_batch_needs_the_store(settings: Settings) -> None:
    with pytest.raises(KnowledgeAggError, match="needs the run store"):
        ask_many(_questions(1), settings=settings, store="off", progress=False, batch="b")


def test_kill_9_mid_batch_then_resume_answers_every_question_exactly_once(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    questions = _questions(16)
    store = RunStore(path)
    process = subprocess.Popen([sys.executable, "-c", _BATCH_PROCESS, str(path), "night", *questions])
    deadline = time.monotonic() + 120
    while sum(_finished_per_question(store, "night").values()) < 4:
        assert process.poll() is None and time.monotonic() < deadline, "the batch ended before it could be killed"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait(10) == -signal.SIGKILL
    before = _finished_per_question(store, "night")
    unfinished = [r for r in store.runs(batch="night") if r.ended_at is None]
    assert 4 <= sum(before.values()) < len(questions)
    assert all(r.state == "unfinished" for r in unfinished)

    resumed = ask_many(questions, settings=settings, store=str(path), progress=False, batch="night")
    assert resumed.resumed == sum(before.values())
    assert resumed.errors == [None] * len(questions) and not any(r.partial for r in resumed)
    assert _finished_per_question(store, "night") == {q: 1 for q in questions}
    assert store.batch_runs("night") == {r.query: r.run_id for r in resumed}
    print(f"\nkilled after {sum(before.values())} of {len(questions)} answered, {len(unfinished)} in flight; "
          f"resumed {resumed.resumed}, ran {len(questions) - resumed.resumed}")


def test_two_processes_on_one_batch_never_run_a_question_twice(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    questions = _questions(10)
    RunStore(path)
    args = [sys.executable, "-c", _BATCH_PROCESS, str(path), "shared", *questions]
    processes = [subprocess.Popen(args) for _ in range(2)]
    assert [p.wait(120) for p in processes] == [0, 0]
    store = RunStore(path)
    assert _finished_per_question(store, "shared") == {q: 1 for q in questions}
    assert len(store.runs(batch="shared")) == len(questions)  # no run was even started twice
