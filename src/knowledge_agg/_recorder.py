"""Numbering, timing and counting the events of one run (the pipeline's bookkeeping)."""

from __future__ import annotations

import time
from typing import Any

from .errors import KnowledgeAggError
from .events import (
    ANSWER_TIMINGS,
    COUNTS,
    PEAK_MEMORY,
    STAGES,
    TIMINGS,
    AnswerTiming,
    Count,
    DoneEvent,
    ErrorEvent,
    Event,
    Stage,
    StatusEvent,
    Timing,
)
from .started import Started

__all__ = ["PROGRESS", "Recorder"]

#: Where each stage sits on the run's progress bar (0-1), in the order of ``STAGES`` (zip fails if one is added).
PROGRESS: dict[Stage, float] = dict(zip(STAGES, (0.0, 0.05, 0.1, 0.3, 0.35, 0.75, 0.8, 0.9, 1.0), strict=True))


class Recorder:
    """Numbers events and stamps them with milliseconds since the run started."""

    def __init__(self, start: float | None = None) -> None:
        #: The run's clock: ``time.perf_counter()`` when it started (``Started.clock``), else now.
        self.start = time.perf_counter() if start is None else start
        self.seq = 0
        self.stage: Stage = "started"
        self.marks: dict[Timing | AnswerTiming, float] = {}
        self.counts: dict[Count, int] = dict.fromkeys(COUNTS, 0)

    def ms(self) -> float:
        return round((time.perf_counter() - self.start) * 1000, 3)

    def make(self, cls: type[Event], **fields: Any) -> Event:
        event = cls(seq=self.seq, t_ms=self.ms(), **fields)
        self.seq += 1
        return event

    def first(self, started: Started) -> Event:
        """The run's first event, as ``started`` built it (the CLI may have printed it already)."""
        event = StatusEvent.model_validate(started.fields())
        self.seq = event.seq + 1
        self.marks["first_status_ms"] = event.t_ms
        return event

    def status(self, stage: Stage, message: str, progress: float | None = None) -> Event:
        """A status event; also remembers the stage, so an unexpected failure can name it."""
        self.stage = stage
        return self.make(StatusEvent, stage=stage, message=message, progress=PROGRESS[stage] if progress is None else progress)

    def error(self, stage: Stage, exc: BaseException, *, url: str | None = None, fatal: bool = False) -> Event:
        self.counts["errors"] += 1
        if isinstance(exc, KnowledgeAggError):
            kind, recoverable = exc.kind, exc.recoverable
        elif isinstance(exc, TimeoutError):
            kind, recoverable = "timeout", True
        else:
            kind, recoverable = "internal", True
        recoverable = recoverable and not fatal
        message = str(exc) or type(exc).__name__
        return self.make(ErrorEvent, stage=stage, kind=kind, message=message, recoverable=recoverable, url=url)

    def done(self, peak: int | None) -> Event:
        """The closing event: its metrics, and ``partial`` when any error was reported."""
        self.marks["total_ms"] = self.ms()
        metrics: dict[str, Any] = {
            **{timing: self.marks.get(timing) for timing in (*TIMINGS, *ANSWER_TIMINGS)},
            PEAK_MEMORY: peak,
            **{count: self.counts[count] for count in COUNTS},
        }
        return self.make(DoneEvent, partial=self.counts["errors"] > 0, metrics=metrics)
