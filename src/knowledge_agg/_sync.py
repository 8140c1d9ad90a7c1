"""Run a coroutine to the end from synchronous code, in a plain script or inside a running loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_sync"]

_T = TypeVar("_T")


def run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run`` where no loop runs; inside one (Jupyter), a private loop in a worker thread.

    Either way an interrupt (Ctrl-C, a notebook's stop button) cancels the run at once: its page reads
    stop and its clients close before the ``KeyboardInterrupt`` goes on to the caller.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # asyncio.run cancels its task on SIGINT by itself
    # The caller's loop is busy running the caller: leave it alone rather than nesting into it.
    return _in_worker(coro)


def _in_worker(coro: Coroutine[Any, Any, _T]) -> _T:
    running: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]]
    running = concurrent.futures.Future()
    outcome: concurrent.futures.Future[_T] = concurrent.futures.Future()

    async def main() -> _T:
        task = asyncio.current_task()
        assert task is not None
        running.set_result((asyncio.get_running_loop(), task))
        return await coro

    def work() -> None:
        try:
            outcome.set_result(asyncio.run(main()))
        except BaseException as exc:  # handed to the waiting caller, whatever it is
            outcome.set_exception(exc)

    worker = threading.Thread(target=work, name="knowledge-agg-run", daemon=True)
    worker.start()
    try:
        return outcome.result()
    except BaseException:
        if not outcome.done():  # the caller was interrupted while the run goes on: cancel it, let it unwind
            either: list[concurrent.futures.Future[Any]] = [running, outcome]
            concurrent.futures.wait(either, return_when=concurrent.futures.FIRST_COMPLETED)
            if running.done():
                loop, task = running.result()
                with contextlib.suppress(RuntimeError):  # the loop may have just finished on its own
                    loop.call_soon_threadsafe(task.cancel)
            worker.join()
        raise
