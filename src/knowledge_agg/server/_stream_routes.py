"""The aggregator over HTTP: ``/v1/stream`` (SSE or NDJSON), ``/v1/answer`` and the seed's ``POST /search``."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from ..errors import KnowledgeAggError
from ..events import AnyEvent, Event, SourceInfo, SynthesisEvent, to_ndjson, to_sse
from ..flags import parse_flags
from ..run import Run
from ._runs import RunSlot, open_run, run_events
from ._sse import NDJSON, NDJSONResponse, RunEventSourceResponse
from ._state import RUN_ID_HEADER, get_state

__all__ = ["router", "RunOptions", "RunRequest", "AnswerResponse", "BODY_ERRORS"]


class RunOptions(BaseModel):
    """Per-run options: each overrides the server's setting of the same name for this run only."""

    model_config = ConfigDict(extra="forbid")

    max_results: int | None = Field(None, ge=1, le=200, description="search hits to ask for")
    max_sources: int | None = Field(None, ge=1, le=50, description="sources to read")
    max_per_domain: int | None = Field(None, ge=1, description="sources allowed from one domain")
    max_passages: int | None = Field(None, ge=1, le=100, description="passages to keep")
    max_words: int | None = Field(None, ge=10, le=2000, description="length of the synthesis")
    search_timeout: float | None = Field(None, gt=0, le=120, description="seconds the search may take")
    fetch_read_timeout: float | None = Field(None, gt=0, le=120, description="seconds to wait for page data")
    fetch_total_timeout: float | None = Field(None, gt=0, le=300, description="seconds one page may take")
    flags: str | None = Field(None, description='feature flags for this run, e.g. "synthesis=off,content_fetch=off"')
    answer: Literal["extractive", "llm"] | None = Field(
        None, description="'llm' for an answer written by the server's chat model, every sentence checked"
    )
    llm_model: str | None = Field(None, min_length=1, max_length=200, description="chat model for a written answer")
    llm_drop_unsupported: bool | None = Field(None, description="leave out sentences their citations do not support")

    def overrides(self) -> dict[str, Any]:
        """The options that were given, as keyword arguments for ``KnowledgeAggregator.stream``."""
        return self.model_dump(exclude_none=True, exclude={"q", "query"})


class StreamParams(RunOptions):
    """``GET /v1/stream`` query parameters: ``q`` and any per-run option."""

    q: str = Field(description="the question or search terms")


class RunRequest(RunOptions):
    """A JSON run request: ``query`` (or ``q``) and any per-run option."""

    query: str = Field(validation_alias=AliasChoices("query", "q"), description="the question or search terms")


class AnswerResponse(BaseModel):
    """A finished run as one document."""

    query: str
    events: list[AnyEvent]
    synthesis: SynthesisEvent | None
    sources: list[SourceInfo]
    metrics: dict[str, Any]
    partial: bool


_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "empty or oversized query, unknown option, malformed JSON, invalid X-Inject"},
    503: {"description": "too many runs at once; retry after the `Retry-After` header's seconds"},
}
# The event models are in the schema's components through AnswerResponse.events.
_EVENT_SCHEMA = {
    "oneOf": [{"$ref": f"#/components/schemas/{cls.__name__}"} for cls in get_args(Event)],
    "discriminator": {
        "propertyName": "type",
        "mapping": {
            cls.model_fields["type"].default: f"#/components/schemas/{cls.__name__}" for cls in get_args(Event)
        },
    },
}
_SSE_ITEM = {
    "type": "object",
    "required": ["event", "id", "data"],
    "properties": {
        "event": {"type": "string", "description": "the event's type"},
        "id": {"type": "string", "description": "the event's seq"},
        "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": _EVENT_SCHEMA},
    },
}
# With itemSchema, `schema` describes the whole stream (OpenAPI 3.2): the list of its messages, not a string.
_SSE_CONTENT = {"schema": {"type": "array", "items": _SSE_ITEM}, "itemSchema": _SSE_ITEM}
_STREAM_DOC = {
    200: {
        "description": "one event per SSE message (`event:` type, `id:` seq, `data:` JSON), or per NDJSON line "
        "with `Accept: application/x-ndjson`; `done` comes last. The `X-Run-Id` header names the run: "
        "`GET /v1/runs/{run_id}/events` with `Last-Event-ID` resumes it",
        "headers": {"X-Run-Id": {"description": "the run's id in the run store", "schema": {"type": "string"}}},
        "content": {"text/event-stream": _SSE_CONTENT, NDJSON: {"itemSchema": _EVENT_SCHEMA}},
    },
    **_ERRORS,
}
_SSE_DOC = {
    200: {
        "description": "one event per SSE message (`event:` type, `id:` seq, `data:` JSON); `done` comes last",
        "content": {"text/event-stream": _SSE_CONTENT},
    },
    **_ERRORS,
}
#: FastAPI answers 400 before the route runs when a JSON body is not UTF-8 text.
BODY_ERRORS: dict[int | str, dict[str, Any]] = {400: {"description": "a request body that is not UTF-8 text"}}

router = APIRouter(tags=["runs"])


_SSE_ROUTE: dict[str, Any] = {"response_class": RunEventSourceResponse, "status_code": 200}


@router.get("/v1/stream", **_SSE_ROUTE, responses=_STREAM_DOC, summary="Stream a run")
async def stream_get(request: Request, params: Annotated[StreamParams, Query()]) -> Any:
    """Run ``q`` and stream its events as they happen (SSE, or NDJSON on request)."""
    return await _stream(request, params.q, params, ndjson_ok=True)


@router.post("/v1/stream", **_SSE_ROUTE, responses={**_STREAM_DOC, **BODY_ERRORS}, summary="Stream a run")
async def stream_post(request: Request, body: RunRequest) -> Any:
    """Like ``GET /v1/stream``, with the query and options in a JSON body."""
    return await _stream(request, body.query, body, ndjson_ok=True)


@router.post("/search", **_SSE_ROUTE, responses={**_SSE_DOC, **BODY_ERRORS}, summary="Stream a run (seed API)")
async def search(request: Request, body: RunRequest) -> Any:
    """The seed project's endpoint: ``{"query": ...}`` in, the run's events out as SSE."""
    return await _stream(request, body.query, body, ndjson_ok=False)


@router.post(
    "/v1/answer", response_model=AnswerResponse, responses={**_ERRORS, **BODY_ERRORS}, summary="Run to the end"
)
async def answer(request: Request, response: Response, body: RunRequest) -> Any:
    """Run the query to the end and return every event with the synthesis, sources and metrics."""
    slot = await _open(request, body.query, body)
    response.headers[RUN_ID_HEADER] = slot.stream.run_id
    run = Run(body.query, run_id=slot.stream.run_id)
    try:
        async for event in run_events(slot, lambda e: e):
            run.events.append(event)
    finally:
        await slot.close()
    return AnswerResponse(
        query=run.query, events=run.events, synthesis=run.synthesis, sources=run.sources,
        metrics=run.metrics, partial=run.partial,
    )


async def _stream(request: Request, query: str, options: RunOptions, *, ndjson_ok: bool) -> Any:
    """Start the run in a task of its own and follow it: a hang-up leaves it ``resume_grace`` seconds to resume."""
    slot = await _open(request, query, options)
    state = get_state(request)
    live = state.live.start(slot, state.server.resume_grace)
    headers = {RUN_ID_HEADER: live.run_id}
    if ndjson_ok and NDJSON in request.headers.get("accept", ""):
        return NDJSONResponse(live.follow(to_ndjson), headers=headers)
    return RunEventSourceResponse(live.follow(to_sse), headers=headers)


async def _open(request: Request, query: str, options: RunOptions) -> RunSlot:
    """Validate the request and take a run slot; 422 for bad input, 503 when the server is full."""
    state = get_state(request)
    if not query.strip():
        raise _invalid("q", "the query is empty: ask a question or give search terms")
    if len(query) > state.settings.max_query_chars:
        raise _invalid("q", f"the query has {len(query)} characters; the limit is {state.settings.max_query_chars}")
    overrides = options.overrides()
    try:
        run_flags = parse_flags(overrides.pop("flags", None))
    except KnowledgeAggError as exc:
        raise _invalid("flags", str(exc)) from exc
    return await open_run(request, state, query, overrides, run_flags)


def _invalid(field: str, message: str) -> HTTPException:
    return HTTPException(422, detail=[{"loc": ["query", field], "msg": message, "type": "value_error"}])

