"""The run store over real SQLite files: runs recorded by the aggregator, reloaded, exported, and kept across kills."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from knowledge_agg import KnowledgeAggError, KnowledgeAggregator, Run, RunStore, ask, history
from knowledge_agg.events import DoneEvent, parse_event
from knowledge_agg.settings import Settings

QUESTIONS = [
    "how do asyncio tasks get cancelled",
    "what does functools.lru_cache do",
    "sqlite3 full text search",
    "json decode error line and column",
]


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "runs.sqlite3"


def _seqs(store: RunStore, run_id: str) -> list[int]:
    return [e.seq for e in store.events(run_id)]


def test_every_event_of_a_run_is_stored_under_its_id(settings: Settings, store_path: Path) -> None:
    run = ask(QUESTIONS[0], settings=settings, store=str(store_path), max_sources=3)
    store = RunStore(store_path)
    stored = store.get(run.run_id or "")
    assert stored is not None
    assert stored.state == "done" and stored.partial is False and stored.ended_at is not None
    assert stored.query == QUESTIONS[0]
    assert stored.options["max_sources"] == 3 and stored.options["provider"] == "local"
    assert stored.metrics == run.metrics and stored.events == len(run.events)
    assert [e.to_dict() for e in store.events(stored.run_id)] == run.to_dicts()
    assert [e.seq for e in store.events(stored.run_id, after=10)] == list(range(11, len(run.events)))


def test_a_reloaded_run_has_the_same_events_and_frames(settings: Settings, store_path: Path) -> None:
    run = ask(QUESTIONS[1], settings=settings, store=str(store_path))
    loaded = Run.load(run.run_id or "", store=str(store_path))
    assert loaded.run_id == run.run_id and loaded.query == run.query
    assert loaded.events == run.events
    pd.testing.assert_frame_equal(loaded.results_df(), run.results_df())
    pd.testing.assert_frame_equal(loaded.passages_df(), run.passages_df())
    assert loaded.answer == run.answer != ""


def test_the_api_key_never_reaches_the_store(tmp_path: Path, store_path: Path) -> None:
    secret = "BSAsecret-never-stored-0123456789"
    settings = Settings(provider="local", brave_api_key=secret, store=str(store_path))
    ask(QUESTIONS[2], settings=settings, brave_api_key=secret)
    RunStore(store_path).runs()  # readers must find it too
    for file in tmp_path.glob("runs.sqlite3*"):
        assert secret.encode() not in file.read_bytes()


def test_store_off_writes_nothing(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNOWLEDGE_AGG_STORE", "off")
    run = ask(QUESTIONS[0], settings=Settings(provider="local"))
    assert run.done is not None and run.run_id
    assert not list(tmp_path.rglob("*.sqlite3*"))
    with pytest.raises(KnowledgeAggError, match="store is off"):
        history()
    with pytest.raises(KnowledgeAggError, match="store is off"):
        Run.load(run.run_id)


async def test_a_run_left_early_is_stored_as_cancelled(settings: Settings, store_path: Path) -> None:
    async with KnowledgeAggregator(settings.override(store=str(store_path))) as agg:
        async with agg.stream(QUESTIONS[0]) as events:
            seen = []
            async for event in events:
                seen.append(event)
                if len(seen) == 4:
                    break
        run_id = events.run_id
    stored = RunStore(store_path).get(run_id)
    assert stored is not None and stored.status == "cancelled" and stored.ended_at is not None
    assert _seqs(RunStore(store_path), run_id) == [0, 1, 2, 3]


def test_history_filters_by_query_time_and_batch(settings: Settings, store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNOWLEDGE_AGG_STORE", str(store_path))
    first = ask(QUESTIONS[0], settings=settings, store=str(store_path))
    cut = pd.Timestamp.now(tz="UTC")
    second = ask(QUESTIONS[1], settings=settings, store=str(store_path))
    df = history()
    assert list(df["run_id"]) == [second.run_id, first.run_id]  # newest first
    assert df["started_at"].dt.tz is not None and (df["state"] == "done").all()
    assert df["total_ms"].dtype == "float64" and (df["results"] > 0).all()
    assert list(history(query="LRU_CACHE")["run_id"]) == [second.run_id]
    assert list(history(since=cut)["run_id"]) == [second.run_id]
    assert history(batch="nightly").empty


def test_export_parquet_holds_every_run_and_event(settings: Settings, store_path: Path, tmp_path: Path) -> None:
    runs = [ask(q, settings=settings, store=str(store_path)) for q in QUESTIONS[:2]]
    paths = RunStore(store_path).export_parquet(tmp_path / "export")
    assert sorted(paths) == ["events", "runs"]
    stored = pd.read_parquet(paths["runs"])
    assert set(stored["run_id"]) == {r.run_id for r in runs}
    assert stored.set_index("run_id").loc[runs[0].run_id, "results"] == len(runs[0].results)
    events = pd.read_parquet(paths["events"])
    assert len(events) == sum(len(r.events) for r in runs)
    first = events[events["run_id"] == runs[0].run_id]
    assert [parse_event(j) for j in first["json"]] == runs[0].events
    assert list(first["type"]) == [e.type for e in runs[0].events]


_WRITER = """
import sys
from knowledge_agg import ask
from knowledge_agg.settings import Settings
settings = Settings(provider="local", store=sys.argv[1])
for i in range(int(sys.argv[2])):
    ask(sys.argv[3], settings=settings)
"""


async def test_twenty_concurrent_runs_and_a_second_process_lose_nothing(settings: Settings, store_path: Path) -> None:
    RunStore(store_path)  # create the file first, so both processes open an existing store
    other = subprocess.Popen([sys.executable, "-c", _WRITER, str(store_path), "15", "pathlib glob patterns"])
    try:
        async with KnowledgeAggregator(settings.override(store=str(store_path))) as agg:
            runs = await asyncio.gather(*(agg.run(QUESTIONS[i % 4]) for i in range(20)))
    finally:
        assert other.wait(120) == 0
    store = RunStore(store_path)
    for run in runs:
        assert _seqs(store, run.run_id or "") == list(range(len(run.events)))
        assert store.get(run.run_id or "").state == "done"  # type: ignore[union-attr]
    theirs = [r for r in store.runs() if r.pid == other.pid]
    assert len(theirs) == 15 and all(r.state == "done" for r in theirs)
    for r in theirs:
        events = store.events(r.run_id)
        assert [e.seq for e in events] == list(range(r.events)) and isinstance(events[-1], DoneEvent)


_KILLED = """
import asyncio, os, signal, sys, time
from knowledge_agg import KnowledgeAggregator, ask
from knowledge_agg.settings import Settings
settings = Settings(provider="local", store=sys.argv[1])
print(ask("asyncio event loop", settings=settings).run_id, flush=True)

async def main():
    async with KnowledgeAggregator(settings) as agg, agg.stream("threading locks") as events:
        print(events.run_id, flush=True)
        async for event in events:
            if event.seq == 5:
                time.sleep(0.5)  # the writer thread commits what is queued
                os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def test_kill_9_mid_run_keeps_earlier_runs_and_marks_this_one_unfinished(store_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _KILLED, str(store_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    finished, killed = done.stdout.split()
    store = RunStore(store_path)
    before = store.get(finished)
    assert before is not None and before.state == "done" and isinstance(store.events(finished)[-1], DoneEvent)
    after = store.get(killed)
    assert after is not None and after.ended_at is None and after.status == "running"
    assert after.state == "unfinished"  # its process is gone
    assert _seqs(store, killed) == list(range(6))
    assert Run.load(killed, store=str(store_path)).partial  # no done: shown as partial
