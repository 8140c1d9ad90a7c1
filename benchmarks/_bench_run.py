"""The benchmark's two sides: the stand-in server process it drives, and one measured run as its consumer sees it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from knowledge_agg import KnowledgeAggregator
from knowledge_agg.analyze import analyze
from knowledge_agg.events import DoneEvent, ErrorEvent, ResultEvent, SourcesEvent, StatusEvent, SynthesisEvent
from knowledge_agg.providers.brave.protocol import encode

__all__ = ["StandinProcess", "RunTimes", "cpu_seconds", "measure_run", "bare_search", "UnhandledCounter"]

_ROOT = Path(__file__).resolve().parents[1]
_START_TIMEOUT = 120.0  # a fresh install builds the pydocs index on first start


def cpu_seconds(process: psutil.Process) -> float:
    """CPU seconds used so far by ``process`` and its living children (the extraction workers)."""
    total = 0.0
    for p in (process, *process.children(recursive=True)):
        try:
            times = p.cpu_times()
        except psutil.Error:  # a worker that just exited
            continue
        total += times.user + times.system
    return total


class StandinProcess:
    """``python -m benchmarks.standin_server`` as a child process: its ``url``, ``cpu_seconds()``, ``stop()``."""

    def __init__(
        self, *, corpus: str, search_latency: tuple[float, float], page_latency: tuple[float, float],
        plan_per_second: int = 0, real_pages: Path | None = None,
    ) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.standin_server", "--corpus", corpus,
             "--search-latency", _pair(search_latency), "--page-latency", _pair(page_latency),
             "--plan-per-second", str(plan_per_second), *(["--real-pages", str(real_pages)] if real_pages else [])],
            cwd=_ROOT, env=env, stdout=subprocess.PIPE, text=True,
        )
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not line.startswith("LISTENING "):
            self.stop()
            raise RuntimeError(f"the stand-in server did not start (said {line!r}); see its output above")
        self.url = line.split()[1]
        self.pid = self._proc.pid
        self._ps = psutil.Process(self.pid)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the stand-in server exited with status {self._proc.returncode}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2.0, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the stand-in server at {self.url} did not answer /health in {_START_TIMEOUT:g} s")

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server process has used so far."""
        t = self._ps.cpu_times()
        return t.user + t.system

    def configure(self, *, faults: dict[str, Any] | None = None, search: tuple[float, float] | None = None,
                  page: tuple[float, float] | None = None, salt: str | None = None) -> None:
        """Set the server-wide injected faults (``PUT /v1/injection``) and the latency ranges."""
        with httpx.Client(base_url=self.url, trust_env=False, timeout=10.0) as client:
            if faults is not None:
                client.put("/v1/injection", json=faults).raise_for_status()
            latency = {k: v for k, v in (("search", search), ("page", page), ("salt", salt)) if v is not None}
            if latency:
                client.put("/_bench/latency", json=latency).raise_for_status()

    def stop(self) -> None:
        """Terminate the server process and wait for it."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()

    def __enter__(self) -> StandinProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pair(bounds: tuple[float, float]) -> str:
    return f"{bounds[0]},{bounds[1]}"


@dataclass
class RunTimes:
    """One run seen from the consumer's clock (ms since ``stream()`` was called) plus its ``done.metrics``."""

    query: str
    first_status: float | None = None
    first_result: float | None = None
    last_result: float | None = None
    sources: float | None = None
    synthesis: float | None = None
    total: float | None = None
    done: bool = False
    partial: bool = False
    has_synthesis: bool = False
    error_events: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    exception: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


async def measure_run(agg: KnowledgeAggregator, query: str, **options: Any) -> RunTimes:
    """Consume one run to its end, stamping each milestone as it reaches this consumer."""
    out = RunTimes(query)
    start = time.perf_counter()

    def now() -> float:
        return (time.perf_counter() - start) * 1000

    try:
        async with agg.stream(query, **options) as events:
            async for event in events:
                if isinstance(event, StatusEvent) and out.first_status is None:
                    out.first_status = now()
                elif isinstance(event, ResultEvent):
                    out.last_result = now()
                    if out.first_result is None:
                        out.first_result = out.last_result
                elif isinstance(event, SourcesEvent):
                    out.sources = now()
                elif isinstance(event, SynthesisEvent):
                    out.synthesis, out.has_synthesis = now(), bool(event.text.strip())
                elif isinstance(event, ErrorEvent):
                    out.error_events += 1
                    key = f"{event.stage}:{event.kind}"
                    out.error_kinds[key] = out.error_kinds.get(key, 0) + 1
                elif isinstance(event, DoneEvent):
                    out.done, out.partial, out.metrics = True, event.partial, dict(event.metrics)
    except Exception as exc:  # an exception escaping the stream is exactly what the benchmark counts
        out.exception = f"{type(exc).__name__}: {exc}"
    out.total = now()
    return out


async def bare_search(client: httpx.AsyncClient, query: str, *, count: int) -> float:
    """Milliseconds for one plain GET of the stand-in's web search, as the provider would send it, JSON parsed."""
    items = encode("web", {"q": analyze(query).search_query, "count": min(count, 20), "offset": 0})
    start = time.perf_counter()
    response = await client.get("/res/v1/web/search", params=items)
    response.raise_for_status()
    json.loads(response.content)
    return (time.perf_counter() - start) * 1000


class UnhandledCounter:
    """Counts what reaches the event loop's exception handler (task errors nobody awaited, callback failures)."""

    def __init__(self) -> None:
        self.count = 0
        self.messages: list[str] = []

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Become ``loop``'s exception handler, still passing each context to the default one."""

        def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            self.count += 1
            if len(self.messages) < 20:
                self.messages.append(str(context.get("message") or context.get("exception")))
            loop.default_exception_handler(context)

        loop.set_exception_handler(handler)
