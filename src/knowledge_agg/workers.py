"""The process pool that extracts pages on every core, so no run's CPU work holds up another's event loop.

Extraction is most of a run's CPU. In a thread it shares the event loop's GIL, so concurrent runs
(``ask_many``, the server) use one core however many the machine has. Here it runs in worker
processes (page bytes in, main text out), each with the extractor already imported (a ``forkserver``
preloads it). Starting them takes about a second of CPU, so a process starts its pool, in a
background thread, at the first extraction while two or more runs are reading pages in it at once
(the pipeline counts each run's reading stage with :func:`running`): ``ask_many`` and a server with
concurrent clients start it, a single ``knowledge-agg ask`` never does. Until the workers are up (and with no pool), pages are
extracted one at a time per event loop in a thread of its default executor: more threads would share the GIL with the
event loop and with one another, and each page in extraction holds its transient memory (its
tree, up to about 1.5 MB of Python objects for a large page), so one at a time bounds a run's peak.
Once up the pool stays warm for every later page, one run's as well, until :func:`shutdown`
(the server calls it when it stops; a later pair of runs starts a new pool).
``extract_workers = 0`` never starts it.

A ``multiprocessing`` child re-runs the parent's main script (as ``__mp_main__``) before its first
task; a script that calls ``ask_many`` at top level, outside ``if __name__ == "__main__":``, would run
its whole batch again in each worker. The workers need nothing from the main script (their task is
``extract.extract_page``, found by its module), so they are started without it, as loky (joblib's
process pool) starts its workers (``init_main_module=False``): the preparation data multiprocessing
sends to a process named as an extraction worker leaves the main module out; every other process
gets it unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.context
import multiprocessing.spawn
import os
import sys
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

__all__ = ["extract", "pool_size", "running", "shutdown"]

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None  # set once its workers are up
_starting = False
_starter: threading.Thread | None = None  # the thread starting the pool, while it does
#: Per event loop, the gate that lets one page at a time into a thread while there is no pool.
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()
_runs = 0  # runs reading pages in this process (every event loop's)
#: Runs in flight at once that make the pool worth its start: more than one run shares the process.
_CONCURRENT_RUNS = 2


@contextlib.contextmanager
def running() -> Iterator[None]:
    """Count one run reading pages for as long as the block lasts (the pipeline wraps each run's reading in it)."""
    global _runs
    with _lock:
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1


#: The name every extraction worker process's name starts with.
WORKER_NAME = "knowledge-agg-extract"
_usual_preparation = multiprocessing.spawn.get_preparation_data


def _preparation(name: str) -> dict[str, Any]:
    """multiprocessing's preparation data for a new process; an extraction worker's leaves the main module out."""
    data = _usual_preparation(name)
    if name.startswith(WORKER_NAME):
        data.pop("init_main_from_name", None)
        data.pop("init_main_from_path", None)
    return data


if sys.platform != "win32":  # forkserver is POSIX only; elsewhere pages are extracted in threads

    class _Worker(multiprocessing.context.ForkServerProcess):
        """An extraction worker process: a forkserver child named so that it starts without the main module."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.name = f"{WORKER_NAME}-{self.name}"

    class _Context(multiprocessing.context.ForkServerContext):
        """The forkserver context, making :class:`_Worker` processes."""

        Process = _Worker


def pool_size(configured: int | None) -> int:
    """Worker processes for a setting: as configured, or one per core when the machine has more than one."""
    if configured is not None:
        return configured
    cores = os.cpu_count() or 1
    return cores if cores > 1 and sys.platform != "win32" else 0


def _ready() -> None:
    """A worker's first task: nothing, so that starting it is all it costs."""


def _start(size: int) -> None:
    """Create the pool and wait until its workers run (blocking: the forkserver imports the extractor)."""
    global _pool, _starting
    pool: ProcessPoolExecutor | None = None
    try:
        multiprocessing.spawn.get_preparation_data = _preparation  # workers start without the main module
        context = _Context()
        context.set_forkserver_preload(["knowledge_agg.extract"])
        pool = ProcessPoolExecutor(size, mp_context=context)
        for future in [pool.submit(_ready) for _ in range(size)]:
            future.result()
    except Exception:  # the workers could not start: pages stay in threads, later runs try again
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        pool = None
    with _lock:
        _pool, _starting = pool, False


def _begin(size: int) -> None:
    """Start the pool in a background thread, once, so no event loop waits for it."""
    global _starting, _starter
    with _lock:
        if _pool is not None or _starting:
            return
        _starting = True
        _starter = threading.Thread(target=_start, args=(size,), name="extract-pool-start", daemon=True)
        _starter.start()


def shutdown() -> None:
    """Stop the workers (after a start in progress, and the extractions already given to them); blocking."""
    global _pool
    with _lock:
        starter = _starter
    if starter is not None:
        starter.join()
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True)


def _discard(broken: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


async def extract(body: bytes, charset: str | None, url: str | None, size: int) -> str:
    """``extract_page(body, charset, url)`` in a worker process once the pool is up, else in a thread, one page at a time.

    ``size``: the pool's worker processes (0: always a thread). The first page extracted while
    two or more runs are reading pages starts the pool.
    """
    from .extract import extract_page

    if size > 0 and _pool is None and _runs >= _CONCURRENT_RUNS:
        _begin(size)
    pool = _pool if size > 0 else None
    if pool is not None:
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, extract_page, body, charset, url)
        except BrokenProcessPool:  # a worker died (killed, out of memory): a new pool for later pages
            _discard(pool)
        except RuntimeError:
            if pool is _pool:  # the extractor's own failure, not a pool shut down meanwhile
                raise
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(1)
    async with gate:  # waiting pages wait here, on the loop, not in threads
        return await asyncio.to_thread(extract_page, body, charset, url)
