"""Batches on a real Dask ``LocalCluster`` of worker processes against the Brave stand-in over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from knowledge_agg import ask_many
from knowledge_agg.batch import ask_many_async
from knowledge_agg.cluster import warm_aggregators
from knowledge_agg.providers.brave import BraveQuotaExceeded
from knowledge_agg.providers.brave.cluster_limiter import ClusterLimiter
from knowledge_agg.providers.brave.rate_headers import RateState, Window
from knowledge_agg.server import create_app, split_options
from knowledge_agg.settings import Settings
from knowledge_agg.store import RunStore
from tests.helpers.corpus_server import corpus_settings
from tests.helpers.servers import serve

distributed = pytest.importorskip("distributed")
dask_config = pytest.importorskip("dask.config")

KEY = "BSAcluster-test-key"
PLAN = 5  # requests per second the stand-in allows before it answers 429
TOPICS = ["asyncio tasks", "event loop", "sqlite full text search", "json decoder", "pathlib glob",
          "threading locks", "cancel a task", "gather coroutines", "daemon thread", "bm25 ranking"]
QUESTIONS = [f"{topic} {word}" for word in ("how", "why", "example", "python") for topic in TOPICS]


@contextlib.contextmanager
def standin(folder: Path) -> Iterator[tuple[str, list[tuple[float, int]]]]:
    """The 8001 app with the Brave stand-in on a 5 requests/s plan; yields its URL and (arrival, status) of searches."""
    settings, server, plan = split_options(
        {"standin_keys": KEY, "standin_rate_per_second": PLAN}, corpus_settings(folder)
    )
    app = create_app(settings, server=server, standin=plan)
    searches: list[tuple[float, int]] = []
    lock = threading.Lock()

    @app.middleware("http")
    async def count(request: Request, call_next: Any) -> Response:
        arrived = time.monotonic()
        response: Response = await call_next(request)
        if request.url.path.startswith("/res/v1/"):
            with lock:
                searches.append((arrived, response.status_code))
        return response

    with serve(app) as url:
        yield url, searches


def brave_settings(url: str, folder: Path) -> Settings:
    """The product's settings for the stand-in's key and plan, its pages allowed, a store of the test's own."""
    host = url.removeprefix("http://")
    return Settings(
        provider="brave", brave_api_key=KEY, brave_base_url=url, brave_rate_limit=PLAN, brave_cache=False,
        fetch_allow_hosts=[host], cache_dir=folder / "cache", store=str(folder / "runs.sqlite"),
        # by words: the plan's pace is what is measured; with the sentence model embedding each run's web hits,
        # four workers on two shared cores, not the plan, set the pace (quality log, round ten, flip)
        flags={"semantic": False},
    )


@pytest.fixture
def cluster() -> Iterator[Any]:
    """Four single-threaded worker processes on loopback, the dashboard on a free port (8787 may be taken)."""
    with distributed.LocalCluster(
        n_workers=4, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0",
    ) as local, distributed.Client(local) as client:
        yield client


def busiest_second(times: list[float]) -> int:
    """The most requests that arrived within any one-second window."""
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u - t < 1.0) for i, t in enumerate(times))


def stored_questions(path: Path, batch: str) -> list[str]:
    store = RunStore(path)
    try:
        return sorted(run.query for run in store.runs(batch=batch, limit=None))
    finally:
        store.close()


def test_four_workers_share_one_plan_without_a_429(tmp_path: Path, cluster: Any) -> None:
    with standin(tmp_path) as (url, searches):
        started = time.monotonic()
        batch = ask_many(QUESTIONS, client=cluster, settings=brave_settings(url, tmp_path), progress=False,
                         batch="plan")
        elapsed = time.monotonic() - started
    assert batch.errors == [None] * len(QUESTIONS)
    assert [run.query for run in batch] == QUESTIONS and all(run.events for run in batch)
    statuses = [status for _, status in searches]
    assert statuses.count(429) == 0 and statuses.count(200) >= len(QUESTIONS)
    assert busiest_second([t for t, _ in searches]) <= PLAN
    arrivals = sorted(t for t, _ in searches)
    span, floor = arrivals[-1] - arrivals[0], (len(arrivals) - PLAN) / PLAN  # the first PLAN requests go at once
    # The plan paced the searches and they kept up >= 60 % of it: each lease comes back a window after its
    # request ended, and on a loaded machine four single-threaded workers, not the plan, set the rest of the pace.
    assert floor <= span < floor * 1.6, (floor, span)
    assert elapsed < span + 10.0, (span, elapsed)  # the workers' first imports and the last runs' tails
    assert stored_questions(tmp_path / "runs.sqlite", "plan") == sorted(QUESTIONS)
    assert set(cluster.run(warm_aggregators).values()) == {1}  # one aggregator per worker, kept across its tasks


def test_a_worker_killed_mid_batch_loses_no_question_and_stores_none_twice(tmp_path: Path, cluster: Any) -> None:
    pids = list(cluster.run(os.getpid).values())
    with standin(tmp_path) as (url, searches):

        def kill_one() -> None:
            while len(searches) < 12:
                time.sleep(0.05)
            os.kill(pids[0], signal.SIGKILL)

        killer = threading.Thread(target=kill_one, daemon=True)
        killer.start()
        batch = ask_many(QUESTIONS, client=cluster, settings=brave_settings(url, tmp_path), progress=False,
                         batch="killed")
        killer.join(5)
    assert not killer.is_alive()
    assert pids[0] not in cluster.run(os.getpid).values()
    assert batch.errors == [None] * len(QUESTIONS)
    assert [run.query for run in batch] == QUESTIONS
    assert stored_questions(tmp_path / "runs.sqlite", "killed") == sorted(QUESTIONS)


def test_ask_many_async_on_a_cluster_stores_each_answer_as_it_completes_without_blocking_the_loop(
    tmp_path: Path, cluster: Any
) -> None:
    questions = QUESTIONS[:12]
    path = tmp_path / "runs.sqlite"

    async def batch_and_watch(url: str) -> tuple[Any, list[int]]:
        stored: list[int] = []

        async def watch() -> None:  # runs on the same event loop as the batch
            while True:
                stored.append(len(await asyncio.to_thread(stored_questions, path, "async")))
                await asyncio.sleep(0.05)

        watcher = asyncio.ensure_future(watch())
        try:
            batch = await ask_many_async(questions, client=cluster, settings=brave_settings(url, tmp_path),
                                         progress=False, batch="async")
        finally:
            watcher.cancel()
        return batch, stored

    with standin(tmp_path) as (url, _):
        batch, stored = asyncio.run(batch_and_watch(url))
    assert batch.errors == [None] * len(questions) and [run.query for run in batch] == questions
    assert stored_questions(path, "async") == sorted(questions)
    # the loop kept running while the cluster worked, and answers were in the store before the last one came back
    assert any(0 < count < len(questions) for count in stored), stored


def test_a_question_that_raises_in_its_task_is_an_error_row_and_the_rest_stand(tmp_path: Path, cluster: Any) -> None:
    questions: list[str | None] = [*QUESTIONS[:9], None, *QUESTIONS[9:12]]
    with standin(tmp_path) as (url, _):
        batch = ask_many(questions, client=cluster, settings=brave_settings(url, tmp_path), progress=False)
    assert batch.errors[9] == "ValueError: question 9 is missing"
    assert [e for i, e in enumerate(batch.errors) if i != 9] == [None] * 12
    assert [run.query for i, run in enumerate(batch) if i != 9] == QUESTIONS[:12]
    metrics = batch.metrics_df()
    assert len(metrics) == 13 and metrics["error"].notna().sum() == 1


def _hold_everyone(name: str, seconds: float, quota_spent: bool) -> None:
    """On one worker: a 429's hold (and maybe a spent monthly quota in the headers) for the whole cluster."""
    limiter = ClusterLimiter(name, PLAN, distributed.get_client())
    limiter.hold(seconds)
    if quota_spent:
        limiter.learn(RateState((Window(limit=2000, remaining=0, reset=86400.0, seconds=2_592_000.0),), time.monotonic()))


def _time_one_request(name: str, rate: float = PLAN) -> float | str:
    """On another worker: how long a request waits for its slot, or the error that refused it."""
    limiter = ClusterLimiter(name, rate, distributed.get_client())

    async def take() -> None:
        async with limiter.slot():
            pass

    started = time.monotonic()
    try:
        asyncio.run(take())
    except BraveQuotaExceeded as exc:
        return f"refused: {exc.code}"
    return time.monotonic() - started


def test_a_429_on_one_worker_holds_the_others_and_a_spent_quota_refuses_them(cluster: Any) -> None:
    first, second = list(cluster.scheduler_info()["workers"])[:2]
    cluster.run(importlib.import_module, __name__)  # the workers' first import of this module is not timed
    cluster.submit(_hold_everyone, "hold-test", 2.0, False, workers=[first], pure=False).result()
    waited = cluster.submit(_time_one_request, "hold-test", workers=[second], pure=False).result()
    assert isinstance(waited, float) and 1.0 < waited < 2.5
    cluster.submit(_hold_everyone, "quota-test", 0.0, True, workers=[first], pure=False).result()
    assert cluster.submit(_time_one_request, "quota-test", workers=[second], pure=False).result() == "refused: QUOTA_LIMITED"


def test_a_local_cluster_is_started_for_the_batch_and_closed_after_it(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    with standin(tmp_path) as (url, _):
        batch = ask_many(QUESTIONS[:4], client="local", settings=brave_settings(url, tmp_path), progress=False)
    assert batch.errors == [None] * 4 and [run.query for run in batch] == QUESTIONS[:4]
    assert all(run.sources for run in batch)

    def started() -> list[str]:
        """Command lines of the processes started since (multiprocessing's resource tracker stays by design)."""
        lines = []
        for p in me.children(recursive=True):
            with contextlib.suppress(psutil.Error):  # it ended meanwhile
                line = " ".join(p.cmdline())
                if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in line:
                    lines.append(line)
        return lines

    deadline = time.monotonic() + 10
    while (left := started()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left  # the cluster's nannies and workers are gone


def test_a_client_that_is_no_cluster_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"^client must be a distributed.Client, a scheduler address or 'local', not 42$"):
        ask_many(["a question"], client=42, settings=Settings(provider="local", store="off"), progress=False)  # type: ignore[arg-type]


def _die_holding_a_lease(name: str, victim: int) -> str:
    """On the victim worker: take the plan's only lease and die (SIGKILL) before giving it back."""
    if os.getpid() != victim:  # the task Dask reschedules after the kill does nothing
        return "spared"
    limiter = ClusterLimiter(name, 1, distributed.get_client())

    async def hold() -> None:
        async with limiter.slot():
            os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(hold())
    return "survived"


def test_a_worker_that_dies_holding_a_lease_slows_the_plan_until_the_lease_timeout_never_speeds_it() -> None:
    timeouts = {"distributed.scheduler.locks.lease-timeout": "2s",
                "distributed.scheduler.locks.lease-validation-interval": "0.2s"}
    with dask_config.set(timeouts), distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0",
    ) as local, distributed.Client(local) as client:
        client.run(importlib.import_module, __name__)
        (victim_address, victim), (other, _) = list(client.run(os.getpid).items())
        before_the_lease = time.monotonic()
        doomed = client.submit(_die_holding_a_lease, "dead-lease", victim, workers=[victim_address], pure=False)
        while victim_address in client.scheduler_info()["workers"]:
            time.sleep(0.05)
        waited = client.submit(_time_one_request, "dead-lease", 1, workers=[other], pure=False).result(timeout=30)
        granted_by = time.monotonic() - before_the_lease
        doomed.release()
    # the dead worker's lease counted against the plan until the scheduler timed it out, 2 s after its last refresh
    # (itself after this test asked for the lease): the other worker's slot came no sooner, whatever the time the
    # scheduler took to see the worker gone on a loaded machine; and it came, well before 5 s of waiting
    assert isinstance(waited, float) and 0 < waited < 5.0, waited
    assert granted_by >= 2.0 - 0.2, granted_by  # the lease timeout, less one lease-validation interval
