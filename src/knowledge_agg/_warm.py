"""Imports a run defers until the process waits on the network, so its later stages are ready when it needs them.

A fresh process spends most of its first run importing. The stages after the search (choosing sources,
reading and extracting pages, ranking, summarising: ~300 ms of imports, trafilatura most of it) are
not needed until the search has answered, so the pipeline names them with :func:`defer`, and the first
request that is out and waiting for its answer (:func:`waiting`, called by the Brave client once its
request is sent) imports them one by one in a background thread. Never earlier: on the way to the
search every bit of CPU goes to sending it. When the answer comes (:func:`busy`) the thread starts no
further import until the run says it may (:func:`resume`, once its results are out), so the
results do not share the interpreter with it (a module already being imported still finishes).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading

__all__ = ["busy", "defer", "resume", "waiting"]

_lock = threading.Lock()
_pending: list[str] = []
_go = threading.Event()  # set while the process waits on the network: the thread may import
_thread: threading.Thread | None = None


def defer(*modules: str) -> None:
    """Import ``modules`` (full names, in this order) while the process waits, unless something imports them before."""
    with _lock:
        _pending.extend(m for m in modules if m not in sys.modules and m not in _pending)


def waiting() -> None:
    """The process is waiting on the network: import what was deferred, in a daemon thread."""
    global _thread
    with _lock:
        if not _pending:
            return
        _go.set()
        if _thread is None:
            _thread = threading.Thread(target=_import, name="knowledge-agg-warm", daemon=True)
            _thread.start()


def resume() -> None:
    """Let a paused thread go on (a run whose search never waited on the network starts none)."""
    with _lock:
        if _thread is not None:
            _go.set()


def busy() -> None:
    """The process has work on the way to the user: start no further import until :func:`resume` (or :func:`waiting`)."""
    _go.clear()


def _import() -> None:
    global _thread
    while True:
        _go.wait()
        with _lock:
            if not _pending:
                _thread = None
                return
            name = _pending.pop(0)
        if name not in sys.modules:
            # a failure is not lost: the stage that needs the module imports it again and reports it there
            with contextlib.suppress(Exception):
                importlib.import_module(name)
