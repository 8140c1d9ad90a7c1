"""``create_app``: the one FastAPI app of the 8001 server (docs/architecture.md#the-8001-server).

It holds the aggregator over HTTP (with the product's own provider: Brave with a key, else the
local index), health, config, flags, metrics and error injection, and mounts the Brave-compatible
stand-in (``knowledge_agg.standin``) and the ``/pages`` it points at, answering from the local index.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse

from .. import __version__, workers
from ..aggregator import KnowledgeAggregator
from ..providers import make_provider
from ..providers.local import LocalProvider
from ..settings import Settings
from ..standin import InjectingProvider, StandinCorpus, StandinSettings, mount_standin
from . import _admin_routes, _history_routes, _stream_routes
from ._run_cap import RunCap
from ._state import ServerState
from .metrics import RequestMetricsMiddleware, ServerMetrics
from .settings import ServerSettings

__all__ = ["create_app"]

_DESCRIPTION = """\
Ask a question, get a stream of knowledge: search results, chosen sources, ranked passages and a
cited synthesis, as Server-Sent Events (`GET /v1/stream?q=...`) or NDJSON
(`Accept: application/x-ndjson`). Every event has `type`, `seq` and `t_ms`; `done` is always last.

Also here: a Brave Search API stand-in (`/res/v1/web/search`, `/res/v1/news/search`) answering
from this server's local corpus, whose result URLs point at `/pages/{id}`; error injection for
recovery tests (flag `error_injection`; server-wide via `KNOWLEDGE_AGG_STANDIN_INJECTION` or
`PUT /v1/injection`, per request via the `X-Inject` header holding a JSON object of
`InjectionConfig` fields); and an OpenAI-compatible stand-in chat model (`POST /v1/chat/completions`,
model `standin`, faults planted through the model name) for written answers (`answer="llm"`).
"""


def create_app(
    settings: Settings | None = None, *, server: ServerSettings | None = None, standin: StandinSettings | None = None
) -> FastAPI:
    """The server app; each settings object not given is read from the environment. Nothing opens until startup.

    Runs use the provider ``settings`` choose (``effective_provider``: Brave with a key, else the
    local index); the stand-in answers from the local index of ``settings.corpus``.
    """
    settings = settings if settings is not None else Settings()
    server = server if server is not None else ServerSettings()
    standin = standin if standin is not None else StandinSettings()
    index = LocalProvider.from_settings(settings)
    product = index if settings.effective_provider == "local" else make_provider(settings)
    state = ServerState(
        settings=settings,
        server=server,
        standin=standin,
        flags=dict(settings.flags),
        injection=standin.injection,
        metrics=ServerMetrics(),
        run_cap=RunCap(server.max_concurrent_runs, queue_size=server.run_queue_size, wait=server.run_queue_wait),
        aggregator=KnowledgeAggregator(settings, provider=InjectingProvider(product)),
    )
    state.metrics.in_flight.set_function(lambda: state.run_cap.in_flight)
    state.metrics.waiting.set_function(lambda: state.run_cap.waiting)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warm = asyncio.ensure_future(_warm_up(index))
        try:
            yield
        finally:
            warm.cancel()
            await asyncio.gather(warm, return_exceptions=True)
            await state.live.aclose()
            await state.aggregator.aclose()
            if product is not index:
                await product.aclose()
            await index.aclose()
            await asyncio.to_thread(workers.shutdown)  # the extraction workers this server's load started

    app = FastAPI(title="knowledge-agg", version=__version__, description=_DESCRIPTION, lifespan=lifespan)
    app.state.knowledge_agg = state
    app.include_router(_stream_routes.router)
    app.include_router(_admin_routes.router)
    app.include_router(_history_routes.router)
    mount_standin(app, StandinCorpus(index), standin, state.injection_in_force)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.add_middleware(RequestMetricsMiddleware, metrics=state.metrics)
    return app


async def _warm_up(index: LocalProvider) -> None:
    """Open (or build) the index in the background, so the first query does not pay for it."""
    with contextlib.suppress(Exception):  # a broken corpus is reported by the run that searches it
        await index.build()


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with FastAPI's ``detail`` list and one plain sentence saying what to fix."""
    errors = exc.errors()
    return JSONResponse(
        {"detail": _jsonable(errors), "message": "; ".join(_describe(e) for e in errors)}, status_code=422
    )


def _describe(error: dict[str, Any]) -> str:
    loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "header")]
    name = ".".join(loc) or "request"
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        known = ", ".join(sorted(_stream_routes.RunOptions.model_fields))
        return f"unknown option {name!r} (options: {known})"
    if kind == "json_invalid":
        return f"malformed JSON body: {error.get('ctx', {}).get('error', error.get('msg'))}"
    if kind == "model_attributes_type" and name == "request":
        return "the body must be a JSON object such as {\"query\": \"...\"} (with Content-Type: application/json)"
    if kind == "missing":
        return f"{name} is required"
    return f"{name}: {error.get('msg')}"


def _jsonable(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in dict(e).items() if k in ("type", "loc", "msg")} for e in errors]
