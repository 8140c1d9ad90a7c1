"""Numbering, timing and counting the events of one run (the pipeline's bookkeeping)."""

from __future__ import annotations

import time
from typing import Any

from .errors import KnowledgeAggError
from .events import DoneEvent, ErrorEvent, Event, Stage, StatusEvent

__all__ = ["PROGRESS", "Recorder"]

#: Where each stage sits on the run's progress bar (0-1).
PROGRESS: dict[Stage, float] = {
    "started": 0.0,
    "analyzing": 0.05,
    "searching": 0.1,
    "selecting": 0.3,
    "fetching": 0.35,
    "extracting": 0.75,
    "ranking": 0.8,
    "synthesizing": 0.9,
    "done": 1.0,
}


class Recorder:
    """Numbers events and stamps them with milliseconds since the run started."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.seq = 0
        self.stage: Stage = "started"
        self.marks: dict[str, float] = {}
        self.counts = {"results": 0, "sources": 0, "passages": 0, "errors": 0}

    def ms(self) -> float:
        return round((time.perf_counter() - self.start) * 1000, 3)

    def make(self, cls: type[Event], **fields: Any) -> Event:
        event = cls(seq=self.seq, t_ms=self.ms(), **fields)
        self.seq += 1
        return event

    def status(self, stage: Stage, message: str, progress: float | None = None) -> Event:
        """A status event; also remembers the stage, so an unexpected failure can name it."""
        self.stage = stage
        return self.make(StatusEvent, stage=stage, message=message, progress=PROGRESS[stage] if progress is None else progress)

    def error(self, stage: Stage, exc: BaseException, *, url: str | None = None) -> Event:
        self.counts["errors"] += 1
        if isinstance(exc, KnowledgeAggError):
            kind, recoverable = exc.kind, exc.recoverable
        elif isinstance(exc, TimeoutError):
            kind, recoverable = "timeout", True
        else:
            kind, recoverable = "internal", True
        message = str(exc) or type(exc).__name__
        return self.make(ErrorEvent, stage=stage, kind=kind, message=message, recoverable=recoverable, url=url)

    def done(self, peak: int | None) -> Event:
        """The closing event: its metrics, and ``partial`` when any error was reported."""
        metrics: dict[str, Any] = {
            "first_status_ms": self.marks.get("first_status_ms"),
            "first_result_ms": self.marks.get("first_result_ms"),
            "source_select_ms": self.marks.get("source_select_ms"),
            "synthesis_ms": self.marks.get("synthesis_ms"),
            "first_token_ms": self.marks.get("first_token_ms"),
            "first_delta_ms": self.marks.get("first_delta_ms"),
            "total_ms": self.ms(),
            "peak_memory_bytes": peak,
            **self.counts,
        }
        return self.make(DoneEvent, partial=self.counts["errors"] > 0, metrics=metrics)
