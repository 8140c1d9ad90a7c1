"""Batches on a Dask cluster: each question is a task, answered by a warm aggregator on its worker.

``ask_many(questions, client=...)`` comes here. Every worker process builds one aggregator (its HTTP
clients, its local index) per settings and keeps it for every later task; a Brave key's plan is paced
for the whole cluster by a :class:`~knowledge_agg.providers.brave.cluster_limiter.ClusterLimiter`
installed on each worker. Answers come back to the caller as they complete, and the caller (not the
workers) writes them to the run store, so a task Dask re-runs after its worker died is stored once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import TYPE_CHECKING, Any

from .aggregator import KnowledgeAggregator
from .errors import require
from .providers.brave.cluster_limiter import ClusterLimiter, plan_name
from .providers.brave.protocol import key_digest
from .providers.brave.rate_limiter import install_limiter
from .run import Run
from .settings import Settings

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["answer", "as_answered", "connect", "warm_aggregators"]

#: What one answered question comes back as: its index in the batch, its run, or why it failed.
Answer = tuple[int, Run | None, str | None]

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_aggregators: dict[tuple[str, str], KnowledgeAggregator] = {}


def connect(client: Client | str) -> tuple[Client, Callable[[], None]]:
    """A ``distributed.Client`` for ``client`` (a Client, a scheduler address, or ``"local"``), and how to let go of it.

    ``"local"`` starts a ``LocalCluster`` of one worker process per core on loopback, closed again by
    the returned callable; a given Client is left open. Each worker has two threads, so one run's CPU
    overlaps another's page reads (one thread each ran half as fast in the cluster benchmark).
    """
    distributed = require("distributed", "dask")
    if isinstance(client, distributed.Client):
        return client, lambda: None
    if not isinstance(client, str) or not client.strip():
        raise TypeError(f"client must be a distributed.Client, a scheduler address or 'local', not {client!r}")
    if client == "local":
        cluster = distributed.LocalCluster(
            n_workers=os.cpu_count() or 1, threads_per_worker=2, processes=True, host="127.0.0.1",
            dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL,
        )
        local: Any = distributed.Client(cluster)

        def close_local() -> None:
            local.close()
            cluster.close()

        return local, close_local
    remote: Client = distributed.Client(client)
    return remote, remote.close


async def as_answered(
    questions: Iterable[tuple[int, str | None]], client: Client, settings: Settings
) -> AsyncGenerator[Answer, None]:
    """Run each (index, question) as a task on ``client``'s cluster and yield each answer as it completes.

    Waiting costs the caller's event loop nothing: Dask calls back (in a thread of its own) as each task
    ends. Tasks not yet answered when the caller stops reading are cancelled on the cluster.
    """
    if getattr(client, "asynchronous", False):
        raise TypeError("client must be a synchronous distributed.Client (asynchronous=True is not supported)")
    loop = asyncio.get_running_loop()
    ended: asyncio.Queue[Any] = asyncio.Queue()
    on_workers = _on_workers(settings)
    tag = uuid.uuid4().hex[:8]
    futures = {
        client.submit(answer, query, i, on_workers, key=f"knowledge-agg-{tag}-{i}", pure=False): i
        for i, query in questions
    }
    for future in futures:
        future.add_done_callback(  # type: ignore[no-untyped-call]
            lambda done: loop.call_soon_threadsafe(ended.put_nowait, done)
        )
    pending = set(futures)
    try:
        while pending:
            future = await ended.get()
            pending.discard(future)
            i = futures[future]
            if future.status == "error":
                exc = await asyncio.to_thread(future.exception)
                yield i, None, f"{type(exc).__name__}: {exc}"
            elif future.status == "cancelled":
                yield i, None, "CancelledError: its task was cancelled on the cluster"
            else:
                yield i, await asyncio.to_thread(future.result), None
            future.release()
    finally:
        if pending:
            await asyncio.to_thread(client.cancel, list(pending))


def _on_workers(settings: Settings) -> Settings:
    """The settings a task runs with: no run store (the caller stores what comes back, once) and pages
    extracted in the worker's own threads: a Dask worker process is daemonic, so it may start no extraction
    processes, and it is already the cluster's one process per core."""
    return settings.model_copy(update={"store": "off", "extract_workers": 0})


def answer(query: str | None, index: int, settings: Settings) -> Run:
    """The task: answer one question on this worker process's warm aggregator."""
    if query is None:
        raise ValueError(f"question {index} is missing")
    agg = _aggregator(settings)
    return asyncio.run_coroutine_threadsafe(agg.run(query), _runs_loop()).result()


def warm_aggregators() -> int:
    """How many aggregators this process keeps (one per settings a batch used): ``client.run(warm_aggregators)``."""
    return len(_aggregators)


def _aggregator(settings: Settings) -> KnowledgeAggregator:
    """This process's aggregator for ``settings``, built (with the cluster's Brave limiter) on first use."""
    secret = settings.brave_api_key.get_secret_value() if settings.brave_api_key is not None else ""
    key = (settings.model_dump_json(), key_digest(secret) if secret else "")
    with _lock:
        agg = _aggregators.get(key)
        if agg is None:
            if settings.effective_provider == "brave" and secret:
                get_client = require("distributed", "dask").get_client
                base_url = settings.brave_base_url.rstrip("/")
                limiter = ClusterLimiter(plan_name(base_url, key[1]), settings.brave_rate_limit, get_client())
                install_limiter(base_url, key[1], limiter)
            agg = _aggregators[key] = KnowledgeAggregator(settings)
        return agg


def _runs_loop() -> asyncio.AbstractEventLoop:
    """The event loop this process's runs share (their HTTP clients belong to it), started once."""
    global _loop
    with _lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="knowledge-agg-runs", daemon=True).start()
            _loop = loop
        return _loop
