"""The process pool that extracts pages on every core, so no run's CPU work holds up another's event loop.

Extraction is most of a run's CPU. In a thread it shares the event loop's GIL, so concurrent runs
(``ask_many``, the server) use one core however many the machine has. Here it runs in worker
processes (page bytes in, main text out), started on a run's first need, each with the extractor
already imported (a ``forkserver`` preloads it). ``extract_workers = 0`` keeps the work in a thread
of the run's own process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

__all__ = ["extract", "pool_size", "warm"]

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def pool_size(configured: int | None) -> int:
    """Worker processes for a setting: as configured, or one per core when the machine has more than one."""
    if configured is not None:
        return configured
    cores = os.cpu_count() or 1
    return cores if cores > 1 else 0


def _shared(size: int) -> tuple[ProcessPoolExecutor, bool]:
    """The process's pool, and whether this call created it."""
    global _pool
    with _lock:
        if _pool is not None:
            return _pool, False
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["knowledge_agg.extract"])
        _pool = ProcessPoolExecutor(size, mp_context=context)
        return _pool, True


def _discard(broken: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


def _ready() -> None:
    """A worker's first task: nothing, so that starting it is all it costs."""


def warm(size: int) -> None:
    """Start the workers now (a run calls this once it knows it will read pages), not on the first page."""
    if size > 0:
        pool, created = _shared(size)
        for _ in range(size if created else 0):
            pool.submit(_ready)


async def extract(body: bytes, charset: str | None, url: str | None, size: int) -> str:
    """``extract_page(body, charset, url)`` in a worker process (``size`` > 0) or in a thread of this one."""
    from .extract import extract_page

    if size > 0:
        pool, _ = _shared(size)
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, extract_page, body, charset, url)
        except BrokenProcessPool:  # a worker died (killed, out of memory): a new pool for later pages
            _discard(pool)
    return await asyncio.to_thread(extract_page, body, charset, url)
