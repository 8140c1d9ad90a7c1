"""The run store: every event of every run appended to one SQLite file, so runs outlive the process.

SQLite in WAL mode lets many processes (a notebook kernel, the CLI, the server) write the same file:
one writer at a time, each transaction a few hundred microseconds, readers never blocked. Writes
leave the event loop at once: they go through a queue to one writer thread per store, which commits
what arrived within ``GROUP_SECONDS`` (20 ms) of the first in one short transaction. A process killed
mid-run leaves every committed run intact and its own run with no ``ended_at``, which readers show
as ``unfinished``.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import socket
import sqlite3
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .errors import KnowledgeAggError, require
from .events import DoneEvent, Event, parse_event
from .settings import Settings

if TYPE_CHECKING:
    import pandas as pd


__all__ = [
    "GROUP_SECONDS", "HEARTBEAT", "RunStore", "StoredRun", "RunStatus", "Claim", "open_store", "public_options",
    "record", "history",
]

#: How a run ended as stored; ``running`` until it ends (readers add ``unfinished`` for a dead writer).
RunStatus = Literal["running", "done", "partial", "failed", "cancelled"]
#: Seconds the writer waits after a first write for others to join its transaction: events are at most this
#: much behind on disk, and a run's events take a few commits instead of one each.
GROUP_SECONDS = 0.02
#: Seconds between a batch's heartbeats on the questions it holds; a claim three beats old is free.
HEARTBEAT = 5.0
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    query TEXT NOT NULL,
    options_json TEXT NOT NULL,
    batch TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    status TEXT NOT NULL,
    partial INTEGER,
    metrics_json TEXT,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
CREATE INDEX IF NOT EXISTS runs_batch ON runs (batch, query);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    t_ms REAL NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS batch_items (
    batch TEXT NOT NULL,
    question TEXT NOT NULL,
    run_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    heartbeat REAL NOT NULL,
    PRIMARY KEY (batch, question)
);
"""
_HOST = socket.gethostname()
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredRun:
    """One row of the ``runs`` table; ``state`` is what a reader should show."""

    run_id: str
    query: str
    options: dict[str, Any]
    batch: str | None
    started_at: float
    ended_at: float | None
    status: RunStatus
    partial: bool | None
    metrics: dict[str, Any]
    pid: int
    host: str
    events: int

    @property
    def state(self) -> str:
        """The stored status, or ``unfinished`` for a run whose process died before it ended."""
        if self.status == "running" and not _alive(self.pid, self.host):
            return "unfinished"
        return self.status

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with ``state`` beside the stored ``status``."""
        return {**self.__dict__, "state": self.state}


@dataclass(frozen=True)
class Claim:
    """What a batch may do with one question: run it (``run_id`` is its new run) or skip it."""

    action: Literal["run", "done", "busy"]
    run_id: str


def _alive(pid: int, host: str) -> bool:
    """Whether a process on this host still runs; a run from another host is taken as alive."""
    if host != _HOST:
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed child not yet reaped still has a pid: read its state where /proc says it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


class RunStore:
    """The runs and events in one SQLite file; appends are queued and never wait on the database.

    Reads open a short-lived connection each; writes go through one daemon thread started on
    the first write. :meth:`flush` waits until everything queued so far is committed. After
    :meth:`close`, a late write (a run abandoned by its consumer and finalised by the event loop after
    its aggregator closed) is committed at once in the caller's thread: no writer outlives ``close``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                if conn.execute("PRAGMA user_version").fetchone()[0] < _SCHEMA_VERSION:
                    with conn:
                        conn.executescript(_SCHEMA)
                        conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise KnowledgeAggError(f"the run store {self.path} cannot be opened: {exc}") from exc
        self._queue: queue.SimpleQueue[tuple[str, tuple[Any, ...]] | threading.Event | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_pid = os.getpid()
        self._closed = False  # set by close: later writes are committed directly, not by a new writer
        self._hurry = threading.Event()  # set by flush and close: commit now, do not wait for more
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<RunStore {str(self.path)!r}>"

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL: a committed run survives the process being killed
        return conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()

    # ------------------------------------------------------------------ writing (queued)

    def begin(self, run_id: str, query: str, options: Mapping[str, Any], batch: str | None = None) -> None:
        """Record that a run started (its options must hold no secret: see :func:`public_options`)."""
        row = (run_id, query, json.dumps(dict(options), default=str), batch, time.time(), os.getpid(), _HOST)
        self._put("begin", row)

    def append(self, run_id: str, event: Event) -> None:
        """Queue one event of a run."""
        self._put("event", (run_id, event.seq, event.type, event.t_ms, event.to_json()))

    def end(self, run_id: str, status: RunStatus, done: DoneEvent | None) -> None:
        """Record how a run ended, with its ``done`` event's ``partial`` and metrics when it got that far."""
        metrics = json.dumps(done.metrics) if done is not None else None
        self._put("end", (time.time(), status, None if done is None else int(done.partial), metrics, run_id))

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every write queued before this call is committed."""
        if self._writer is None:
            return
        marker = threading.Event()
        self._queue.put(marker)
        self._hurry.set()
        if not marker.wait(timeout):
            raise KnowledgeAggError(f"the run store {self.path} did not commit within {timeout:g} s")

    def close(self) -> None:
        """Commit what is queued and stop the writer thread; the store can still be read, and a later
        write is committed directly (one short transaction in the caller's thread)."""
        with self._lock:  # under the lock: no write is queued behind the stop marker
            writer, self._writer, self._closed = self._writer, None, True
            if writer is not None:
                self._queue.put(None)
        if writer is not None:
            self._hurry.set()
            writer.join()

    def _put(self, kind: str, row: tuple[Any, ...]) -> None:
        with self._lock:
            if self._writer_pid != os.getpid():  # a forked child's copy: its own queue and writer
                self._queue = queue.SimpleQueue()
                self._writer, self._writer_pid, self._closed = None, os.getpid(), False
            if not self._closed:
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_loop, name="knowledge-agg-store", daemon=True)
                    self._writer.start()
                    _open_stores.add(self)
                self._queue.put((kind, row))
                return
        with closing(self._connect()) as conn:  # closed: commit this late write now, start no thread
            self._commit(conn, [(kind, row)])

    def _write_loop(self) -> None:
        conn = self._connect()
        try:
            while True:
                item = self._queue.get()
                if isinstance(item, tuple):  # let the rest of this moment's events join it: one wake-up, one commit
                    self._hurry.clear()
                    self._hurry.wait(GROUP_SECONDS)
                batch: list[tuple[str, tuple[Any, ...]]] = []
                markers: list[threading.Event] = []
                stop = False
                while True:  # everything waiting goes into one transaction
                    if item is None:
                        stop = True
                    elif isinstance(item, threading.Event):
                        markers.append(item)
                    else:
                        batch.append(item)
                    if len(batch) >= 1000:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    self._commit(conn, batch)
                for marker in markers:
                    marker.set()
                if stop:
                    return
        finally:
            conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                for kind in _WRITES:  # begins, events, ends: a run's end follows its begin, as queued
                    rows = [row for k, row in batch if k == kind]
                    if rows:
                        conn.executemany(_WRITES[kind], rows)
        except sqlite3.Error as exc:  # one bad write must not lose the others: retry them one by one
            _log.warning("run store %s: a group of %d writes failed (%s); writing them one by one", self.path, len(batch), exc)
            for kind, row in batch:
                try:
                    with conn:
                        conn.execute(_WRITES[kind], row)
                except sqlite3.Error as one:
                    _log.error("run store %s: %s write for run %s lost: %s", self.path, kind, row[0], one)

    # ------------------------------------------------------------------ reading

    def runs(
        self, *, query: str | None = None, since: float | None = None, batch: str | None = None, limit: int | None = None
    ) -> list[StoredRun]:
        """Stored runs, newest first; ``query`` matches part of the question (any case)."""
        where: list[str] = []
        args: list[Any] = []
        if query:
            where.append("instr(lower(r.query), lower(?)) > 0")
            args.append(query)
        if since is not None:
            where.append("r.started_at >= ?")
            args.append(since)
        if batch is not None:
            where.append("r.batch = ?")
            args.append(batch)
        sql = _RUNS_SQL + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY r.started_at DESC, r.rowid DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._read() as conn:
            return [_stored(row) for row in conn.execute(sql, args)]

    def get(self, run_id: str) -> StoredRun | None:
        """One run's row, or None."""
        with self._read() as conn:
            row = conn.execute(_RUNS_SQL + " WHERE r.run_id = ?", (run_id,)).fetchone()
        return _stored(row) if row else None

    def events(self, run_id: str, after: int = -1) -> list[Event]:
        """A run's stored events with ``seq`` greater than ``after``, in order."""
        with self._read() as conn:
            rows = conn.execute("SELECT json FROM events WHERE run_id = ? AND seq > ? ORDER BY seq", (run_id, after))
            return [parse_event(r[0]) for r in rows]

    def history(
        self, query: str | None = None, since: Any = None, batch: str | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        """The stored runs as a DataFrame, newest first (``since``: a datetime, a string pandas reads, or a Timestamp)."""
        pd: Any = require("pandas", "notebook")
        cutoff = None
        if since is not None:
            stamp = pd.Timestamp(since)
            cutoff = (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).timestamp()
        rows = [r.to_dict() for r in self.runs(query=query, since=cutoff, batch=batch, limit=limit)]
        df = pd.DataFrame(rows, columns=_HISTORY_COLUMNS)
        for column in ("started_at", "ended_at"):
            df[column] = pd.to_datetime(df[column], unit="s", utc=True)
        metrics = pd.json_normalize([r["metrics"] for r in rows]) if rows else pd.DataFrame()
        for name in ("first_result_ms", "total_ms", "results", "sources", "passages", "errors"):
            df[name] = metrics[name].astype("float64") if name in metrics else pd.Series(dtype="float64")
        df["partial"] = df["partial"].astype("boolean")
        df["options"] = [json.dumps(o) for o in df["options"]]
        df = df.drop(columns=["metrics"])
        for column in ("state", "status", "batch", "host"):
            df[column] = df[column].astype("category")
        return df

    def export_parquet(self, folder: str | Path) -> dict[str, Path]:
        """Write the ``runs`` table (as :meth:`history` shows it) and the ``events`` table as Parquet files."""
        pd: Any = require("pandas", "notebook")
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"runs": out / "runs.parquet", "events": out / "events.parquet"}
        self.history().to_parquet(paths["runs"], index=False)
        with self._read() as conn:
            events = pd.read_sql_query("SELECT run_id, seq, type, t_ms, json FROM events ORDER BY run_id, seq", conn)
        events.to_parquet(paths["events"], index=False)
        return paths

    # ------------------------------------------------------------------ batches

    def claim(self, batch: str, question: str, run_id: str, *, rerun: frozenset[str]) -> Claim:
        """Take ``question`` of ``batch`` for a new run ``run_id``, in one transaction.

        ``done``: its last run finished with a status not in ``rerun`` (that run's id is returned);
        ``busy``: a live process holds it (heartbeat fresh, process alive); otherwise ``run``.
        """
        self.flush()  # this process's own runs must be visible before their state is judged
        with self._read() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                held = conn.execute(
                    "SELECT b.run_id, b.pid, b.host, b.heartbeat, r.status, r.ended_at FROM batch_items b "
                    "LEFT JOIN runs r ON r.run_id = b.run_id WHERE b.batch = ? AND b.question = ?",
                    (batch, question),
                ).fetchone()
                if held is not None:
                    last, pid, host, beat, status, ended = held
                    if ended is not None and status not in rerun:
                        conn.execute("COMMIT")
                        return Claim("done", last)
                    fresh = time.time() - beat < 3 * HEARTBEAT
                    if ended is None and (pid, host) != (os.getpid(), _HOST) and fresh and _alive(pid, host):
                        conn.execute("COMMIT")
                        return Claim("busy", last)
                conn.execute(
                    "INSERT OR REPLACE INTO batch_items (batch, question, run_id, pid, host, heartbeat) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (batch, question, run_id, os.getpid(), _HOST, time.time()),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return Claim("run", run_id)

    def heartbeat(self, batch: str, run_ids: list[str]) -> None:
        """Say that this process still works on these runs of ``batch``."""
        if not run_ids:
            return
        marks = ",".join("?" * len(run_ids))
        with self._read() as conn:
            conn.execute(
                f"UPDATE batch_items SET heartbeat = ? WHERE batch = ? AND run_id IN ({marks})",
                (time.time(), batch, *run_ids),
            )

    def batch_runs(self, batch: str) -> dict[str, str]:
        """Each question of ``batch`` → the id of its current run."""
        with self._read() as conn:
            return dict(conn.execute("SELECT question, run_id FROM batch_items WHERE batch = ?", (batch,)).fetchall())


_WRITES = {
    "begin": "INSERT INTO runs (run_id, query, options_json, batch, started_at, status, pid, host) "
    "VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
    "event": "INSERT INTO events (run_id, seq, type, t_ms, json) VALUES (?, ?, ?, ?, ?)",
    "end": "UPDATE runs SET ended_at = ?, status = ?, partial = ?, metrics_json = ? WHERE run_id = ?",
}
_RUNS_SQL = (
    "SELECT r.run_id, r.query, r.options_json, r.batch, r.started_at, r.ended_at, r.status, r.partial, "
    "r.metrics_json, r.pid, r.host, (SELECT count(*) FROM events e WHERE e.run_id = r.run_id) FROM runs r"
)
_HISTORY_COLUMNS = [
    "run_id", "query", "state", "started_at", "ended_at", "partial", "batch", "events", "status",
    "metrics", "options", "pid", "host",
]


def _stored(row: tuple[Any, ...]) -> StoredRun:
    run_id, query, options, batch, started, ended, status, partial, metrics, pid, host, events = row
    return StoredRun(
        run_id=run_id, query=query, options=json.loads(options), batch=batch, started_at=started, ended_at=ended,
        status=status, partial=None if partial is None else bool(partial),
        metrics=json.loads(metrics) if metrics else {}, pid=pid, host=host, events=events,
    )


# ---------------------------------------------------------------------- the one place events are appended

_open_stores: weakref.WeakSet[RunStore] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """At a normal exit, commit what is still queued (a kill leaves the run unfinished instead)."""
    for store in list(_open_stores):
        store.close()


def open_store(settings: Settings) -> RunStore | None:
    """The store the settings name, or None when ``store`` is ``off``."""
    if not settings.keeps_runs:
        return None
    return RunStore(settings.store)


#: Option names whose values never reach the store.
_SECRET = ("key", "token", "secret", "password")


def public_options(settings: Settings, options: Mapping[str, Any]) -> dict[str, Any]:
    """What the store records of a run's options: the provider and corpus, then the given overrides, no secret."""
    kept = {k: v for k, v in options.items() if not any(s in k.lower() for s in _SECRET)}
    return {"provider": settings.effective_provider, "corpus": settings.corpus, **kept}


async def record(
    events: AsyncGenerator[Event, None], store: RunStore, run_id: str, query: str, options: Mapping[str, Any],
    batch: str | None = None,
) -> AsyncGenerator[Event, None]:
    """Pass a run's events through, appending each to ``store`` as it is emitted, and record how it ended."""
    store.begin(run_id, query, options, batch)
    done: DoneEvent | None = None
    status: RunStatus = "cancelled"
    try:
        async for event in events:
            store.append(run_id, event)
            if isinstance(event, DoneEvent):
                done = event
            yield event
        status = "failed"  # the pipeline always ends with done; without one it broke
    except Exception:
        status = "failed"
        raise
    finally:
        if done is not None:
            status = "partial" if done.partial else "done"
        store.end(run_id, status, done)
        await events.aclose()


def history(query: str | None = None, since: Any = None, batch: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """The runs in the configured store (``KNOWLEDGE_AGG_STORE``) as a DataFrame, newest first."""
    store = open_store(Settings())
    if store is None:
        raise KnowledgeAggError("the run store is off (KNOWLEDGE_AGG_STORE=off): there is no history to show")
    return store.history(query=query, since=since, batch=batch, limit=limit)
