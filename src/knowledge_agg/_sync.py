"""Run a coroutine to the end from synchronous code, in a plain script or inside a running loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_sync"]

_T = TypeVar("_T")


def run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run`` where no loop runs; inside one (Jupyter), a private loop in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # The caller's loop is busy running the caller: leave it alone rather than nesting into it.
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="knowledge-agg") as pool:
        return pool.submit(asyncio.run, coro).result()
