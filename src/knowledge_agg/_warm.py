"""Imports a run defers until the process waits on the network, so its later stages are ready when it needs them.

A fresh process spends most of its first run importing. The stages after the search (choosing sources,
reading and extracting pages, ranking, summarising: ~300 ms of imports, trafilatura most of it) are
not needed until the search has answered, so the pipeline names them with :func:`defer`, and the first
request that is out and waiting for its answer (:func:`waiting`, called by the Brave client once its
request is sent) imports them in a background thread. Never earlier: on the way to the search every bit
of CPU goes to sending it.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading

__all__ = ["defer", "waiting"]

_lock = threading.Lock()
_pending: list[str] = []


def defer(*modules: str) -> None:
    """Import ``modules`` (full names) at the next :func:`waiting`, unless something imports them before."""
    with _lock:
        _pending.extend(m for m in modules if m not in sys.modules and m not in _pending)


def waiting() -> None:
    """The process is waiting on the network: import what was deferred, in a daemon thread (once each)."""
    with _lock:
        modules = [m for m in _pending if m not in sys.modules]
        _pending.clear()
    if modules:
        threading.Thread(target=_import, args=(modules,), name="knowledge-agg-warm", daemon=True).start()


def _import(modules: list[str]) -> None:
    for name in modules:
        # a failure is not lost: the stage that needs the module imports it again and reports it there
        with contextlib.suppress(Exception):
            importlib.import_module(name)
