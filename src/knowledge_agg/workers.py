"""The process pool that extracts pages on every core, so no run's CPU work holds up another's event loop.

Extraction is most of a run's CPU. In a thread it shares the event loop's GIL, so concurrent runs
(``ask_many``, the server) use one core however many the machine has. Here it runs in worker
processes (page bytes in, main text out), each with the extractor already imported (a ``forkserver``
preloads it). Starting them takes about a second of CPU, so a process starts its pool only once
more pages wait for extraction at once than one run reads (a single ``knowledge-agg ask`` never
does), in a background thread; until the workers are up, pages are extracted in threads as before.
``extract_workers = 0`` never starts it. :func:`shutdown` stops the workers (the server does when it
stops); a later burst of pages starts a new pool.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

__all__ = ["extract", "pool_size", "shutdown"]

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None  # set once its workers are up
_starting = False
_starter: threading.Thread | None = None  # the thread starting the pool, while it does
_waiting = 0  # extractions in flight in this process


def pool_size(configured: int | None) -> int:
    """Worker processes for a setting: as configured, or one per core when the machine has more than one."""
    if configured is not None:
        return configured
    cores = os.cpu_count() or 1
    return cores if cores > 1 else 0


def _ready() -> None:
    """A worker's first task: nothing, so that starting it is all it costs."""


def _start(size: int) -> None:
    """Create the pool and wait until its workers run (blocking: the forkserver imports the extractor)."""
    global _pool, _starting
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["knowledge_agg.extract"])
    pool = ProcessPoolExecutor(size, mp_context=context)
    try:
        for future in [pool.submit(_ready) for _ in range(size)]:
            future.result()
    except Exception:  # the workers could not start: pages stay in threads, a later burst tries again
        pool.shutdown(wait=False, cancel_futures=True)
        pool = None  # type: ignore[assignment]
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


async def extract(body: bytes, charset: str | None, url: str | None, size: int, *, busy: int) -> str:
    """``extract_page(body, charset, url)`` in a worker process once the pool is up, else in a thread.

    ``busy``: how many extractions in flight at once start the pool (more than one run's pages).
    """
    global _waiting
    from .extract import extract_page

    _waiting += 1
    try:
        if size > 0 and _waiting > busy:
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
        return await asyncio.to_thread(extract_page, body, charset, url)
    finally:
        _waiting -= 1
