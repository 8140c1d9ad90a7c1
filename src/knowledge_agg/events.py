"""The typed events every face consumes, and their two wire formats (docs/architecture.md#events)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "Stage",
    "STAGES",
    "Timing",
    "TIMINGS",
    "AnswerTiming",
    "ANSWER_TIMINGS",
    "Count",
    "COUNTS",
    "PEAK_MEMORY",
    "METRICS",
    "Event",
    "StatusEvent",
    "AnalysisEvent",
    "ResultEvent",
    "SourceInfo",
    "SourcesEvent",
    "PassageEvent",
    "SynthesisPoint",
    "SynthesisDeltaEvent",
    "SynthesisEvent",
    "ErrorEvent",
    "DoneEvent",
    "AnyEvent",
    "parse_event",
    "to_ndjson",
    "to_sse",
]

Stage = Literal[
    "started",
    "analyzing",
    "searching",
    "selecting",
    "fetching",
    "extracting",
    "ranking",
    "synthesizing",
    "done",
]
#: The stages in the order a run goes through them.
STAGES: tuple[Stage, ...] = get_args(Stage)

#: The timings in ``DoneEvent.metrics``: milliseconds since the run started, in the order they happen.
Timing = Literal["first_status_ms", "first_result_ms", "source_select_ms", "synthesis_ms", "total_ms"]
TIMINGS: tuple[Timing, ...] = get_args(Timing)
#: A written answer's timings (``answer="llm"``, else ``None``): its first piece reached the client, its event.
AnswerTiming = Literal["first_token_ms", "first_delta_ms"]
ANSWER_TIMINGS: tuple[AnswerTiming, ...] = get_args(AnswerTiming)
#: The counts in ``DoneEvent.metrics``: results, chosen sources, passages kept, errors reported.
Count = Literal["results", "sources", "passages", "errors"]
COUNTS: tuple[Count, ...] = get_args(Count)
#: The peak traced memory in bytes (``None`` unless the ``memory_tracking`` flag is on).
PEAK_MEMORY = "peak_memory_bytes"
#: Every key of ``DoneEvent.metrics``, in order.
METRICS: tuple[str, ...] = (*TIMINGS, *ANSWER_TIMINGS, PEAK_MEMORY, *COUNTS)


class _Base(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=0, description="0, 1, 2, … per run")
    t_ms: float = Field(ge=0, description="milliseconds since the run started")

    def to_dict(self) -> dict[str, Any]:
        """The event as a plain JSON-ready dict (``type`` first)."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        """The event as one compact JSON object."""
        return self.model_dump_json()


class StatusEvent(_Base):
    """A stage started or made progress; a retry is reported here too."""

    type: Literal["status"] = "status"
    stage: Stage
    message: str = ""
    progress: float = Field(ge=0.0, le=1.0, default=0.0)


class AnalysisEvent(_Base):
    """What the query is and what will be searched."""

    type: Literal["analysis"] = "analysis"
    kind: Literal["question", "keywords", "code", "error", "url", "difference"]
    terms: list[str]
    search_query: str


class ResultEvent(_Base):
    """One search hit, in rank order, with a plain-text snippet."""

    type: Literal["result"] = "result"
    rank: int = Field(ge=1)
    title: str
    url: str
    snippet: str = ""
    domain: str = ""
    age: str | None = None
    provider: str


class SourceInfo(BaseModel):
    """A chosen source; ``id`` is the citation number used as ``[id]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int = Field(ge=1)
    url: str
    title: str
    domain: str = ""
    score: float
    reason: str


class SourcesEvent(_Base):
    type: Literal["sources"] = "sources"
    sources: list[SourceInfo]


class PassageEvent(_Base):
    type: Literal["passage"] = "passage"
    source_id: int = Field(ge=1)
    url: str
    text: str
    score: float


class SynthesisPoint(BaseModel):
    """One sentence of the synthesis, the sources it cites, and whether they back it (``support`` 0-1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    source_ids: list[int]
    supported: bool = Field(True, description="whether the cited passages state what the sentence says")
    support: float = Field(1.0, ge=0.0, le=1.0, description="share of the sentence's words and facts found in them")
    reason: str = Field("", description="why the sentence is not supported (empty when it is)")


class SynthesisDeltaEvent(_Base):
    """A piece of a written answer as the model streams it; the checked ``synthesis`` follows."""

    type: Literal["synthesis_delta"] = "synthesis_delta"
    text: str


class SynthesisEvent(_Base):
    """The cited summary; empty ``points`` means no relevant sources were found."""

    type: Literal["synthesis"] = "synthesis"
    text: str
    points: list[SynthesisPoint]


class ErrorEvent(_Base):
    """Something failed; ``recoverable`` says whether the run went on without it."""

    type: Literal["error"] = "error"
    stage: Stage
    kind: str
    message: str
    recoverable: bool = True
    url: str | None = None


class DoneEvent(_Base):
    """Always the last event of a run; ``metrics`` holds the keys of :data:`METRICS`."""

    type: Literal["done"] = "done"
    partial: bool
    metrics: dict[str, Any]


Event = (
    StatusEvent
    | AnalysisEvent
    | ResultEvent
    | SourcesEvent
    | PassageEvent
    | SynthesisDeltaEvent
    | SynthesisEvent
    | ErrorEvent
    | DoneEvent
)
#: ``Event`` discriminated by its ``type`` field, for validating wire data.
AnyEvent = Annotated[Event, Field(discriminator="type")]

_adapter: TypeAdapter[Event] = TypeAdapter(AnyEvent)


def parse_event(data: str | bytes | dict[str, Any]) -> Event:
    """Rebuild a typed event from its JSON text or dict (what a client of the server receives)."""
    if isinstance(data, dict):
        return _adapter.validate_python(data)
    return _adapter.validate_json(data)


def to_ndjson(event: Event) -> str:
    """One NDJSON line (with its newline)."""
    return event.to_json() + "\n"


def to_sse(event: Event) -> dict[str, str]:
    """The SSE fields for an event: ``event`` = type, ``id`` = seq, ``data`` = JSON."""
    return {"event": event.type, "id": str(event.seq), "data": event.to_json()}
