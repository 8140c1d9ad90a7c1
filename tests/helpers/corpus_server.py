"""A small JSONL corpus and a real server over it (product API and stand-in), shared by the server tests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from knowledge_agg.server import create_app, split_options
from knowledge_agg.settings import Settings
from tests.helpers.servers import serve

DOCS: list[dict[str, str]] = [
    {
        "id": "asyncio-tasks",
        "title": "Coroutines and Tasks",
        "text": (
            "Tasks are used to schedule coroutines concurrently. When a coroutine is wrapped into a Task with "
            "functions like asyncio.create_task() the coroutine is automatically scheduled to run soon.\n\n"
            "A Task can be cancelled with its cancel() method. Cancellation raises CancelledError inside the "
            "wrapped coroutine at the next await, so it can clean up in finally blocks before it ends.\n\n"
            "To run several tasks at once and wait for all of them, use asyncio.gather() or a TaskGroup; "
            "a TaskGroup cancels the remaining tasks of the group when one of them fails."
        ),
    },
    {
        "id": "asyncio-loop",
        "title": "The asyncio event loop",
        "text": (
            "The event loop is the core of every asyncio application. Event loops run asynchronous tasks and "
            "callbacks, perform network IO operations, and run subprocesses.\n\n"
            "Application developers should typically use the high-level asyncio functions, such as asyncio.run(), "
            "and should rarely need to reference the loop object or call its methods directly.\n\n"
            "Only one event loop runs per thread; asyncio.get_running_loop() returns the loop of the current "
            "thread and raises RuntimeError when no loop is running there."
        ),
    },
    {
        "id": "sqlite3",
        "title": "sqlite3 — DB-API 2.0 interface for SQLite databases",
        "text": (
            "SQLite is a C library that provides a lightweight disk-based database that does not require a "
            "separate server process and allows accessing the database using a nonstandard variant of SQL.\n\n"
            "The full text search extension FTS5 lets an application search a large collection of documents "
            "by words, ranking the matches with the BM25 function.\n\n"
            "Connections are not thread safe by default; pass check_same_thread=False and guard the "
            "connection with a lock to share one between threads."
        ),
    },
    {
        "id": "json",
        "title": "json — JSON encoder and decoder",
        "text": (
            "JSON (JavaScript Object Notation) is a lightweight data interchange format inspired by JavaScript "
            "object literal syntax. The json module exposes an API familiar to users of the marshal and pickle "
            "modules.\n\n"
            "json.dumps() serialises an object to a JSON formatted string and json.loads() parses one back; "
            "a malformed document raises JSONDecodeError with the line and column of the problem."
        ),
    },
    {
        "id": "pathlib",
        "title": "pathlib — Object-oriented filesystem paths",
        "text": (
            "This module offers classes representing filesystem paths with semantics appropriate for different "
            "operating systems. Path classes are divided between pure paths and concrete paths.\n\n"
            "Path.read_text() opens a file, reads it and closes it again; Path.glob() yields the paths that "
            "match a pattern such as '*.py' below a folder."
        ),
    },
    {
        "id": "threading",
        "title": "threading — Thread-based parallelism",
        "text": (
            "This module constructs higher-level threading interfaces on top of the lower level thread module. "
            "A Thread object runs a callable in a separate thread of control.\n\n"
            "Locks, conditions, semaphores and events synchronise threads; a daemon thread does not keep the "
            "interpreter alive when the main thread ends, so asyncio event loops in daemon threads stop with it."
        ),
    },
]


def write_corpus(folder: Path) -> Path:
    """The test corpus as a JSONL file in ``folder``."""
    path = folder / "corpus.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    return path


def corpus_settings(folder: Path, **overrides: Any) -> Settings:
    """Local-provider settings over the test corpus, with the index cached in ``folder``."""
    overrides.setdefault("cache_dir", folder / "cache")
    return Settings(provider="local", corpus=str(write_corpus(folder)), **overrides)


@contextlib.contextmanager
def running_server(folder: Path, **overrides: Any) -> Iterator[str]:
    """A real server over the test corpus on a free loopback port; yields its base URL.

    ``overrides`` are run, server (``dev_mode``, …) and ``standin_*`` settings, as for ``launch()``.
    """
    settings, server, standin = split_options(overrides, corpus_settings(folder))
    with serve(create_app(settings, server=server, standin=standin)) as url:
        yield url
