"""``create_app``: the one FastAPI app of the 8001 server (DESIGN §5).

It holds the aggregator over HTTP, the Brave-compatible stand-in and the ``/pages`` it points
at, all answering from one corpus index, plus health, config, flags, metrics and error injection.
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

from ..aggregator import KnowledgeAggregator
from ..models import Hit
from ..providers import SearchProvider, make_provider
from ..providers.local import LocalProvider
from ..settings import Settings
from . import _admin_routes, _history_routes, _stream_routes
from ._corpus import ServedCorpus
from ._limiter import RunLimiter
from ._state import ServerState
from .injection import InjectionConfig, standin_guard
from .metrics import RequestMetricsMiddleware, ServerMetrics
from .pages import pages_router
from .standin import Plan, brave_router

__all__ = ["create_app"]

_DESCRIPTION = """\
Ask a question, get a stream of knowledge: search results, chosen sources, ranked passages and a
cited synthesis, as Server-Sent Events (`GET /v1/stream?q=...`) or NDJSON
(`Accept: application/x-ndjson`). Every event has `type`, `seq` and `t_ms`; `done` is always last.

Also here: a Brave Search API stand-in (`/res/v1/web/search`, `/res/v1/news/search`) answering
from this server's corpus, whose result URLs point at `/pages/{id}`; error injection for recovery
tests (flag `error_injection`; server-wide via `KNOWLEDGE_AGG_INJECTION` or `PUT /v1/injection`,
per request via the `X-Inject` header holding a JSON object of `InjectionConfig` fields).
"""


def create_app(settings: Settings | None = None, *, provider: SearchProvider | None = None) -> FastAPI:
    """The server app over ``settings.corpus`` (or the given index ``provider``); nothing opens until startup."""
    settings = settings if settings is not None else Settings()
    try:
        injection = InjectionConfig.model_validate(settings.injection)
    except ValueError as exc:
        raise ValueError(f"KNOWLEDGE_AGG_INJECTION is not valid error injection config: {exc}") from exc
    corpus = ServedCorpus(provider if provider is not None else LocalProvider.from_settings(settings))
    run_provider = make_provider(settings) if settings.provider == "brave" else corpus
    state = ServerState(
        settings=settings,
        flags=dict(settings.flags),
        injection=injection,
        metrics=ServerMetrics(),
        limiter=RunLimiter(
            settings.max_concurrent_runs, queue_size=settings.run_queue_size, wait=settings.run_queue_wait
        ),
        corpus=corpus,
        aggregator=KnowledgeAggregator(settings, provider=run_provider),
    )
    state.metrics.in_flight.set_function(lambda: state.limiter.in_flight)
    state.metrics.waiting.set_function(lambda: state.limiter.waiting)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warm = asyncio.ensure_future(_warm_up(corpus))
        try:
            yield
        finally:
            warm.cancel()
            await asyncio.gather(warm, return_exceptions=True)
            await state.live.aclose()
            await state.require_aggregator().aclose()
            if run_provider is not corpus:
                await run_provider.aclose()
            await corpus.aclose()

    app = FastAPI(title="knowledge-agg", version=_version(), description=_DESCRIPTION, lifespan=lifespan)
    app.state.knowledge_agg = state
    app.include_router(_stream_routes.router)
    app.include_router(_admin_routes.router)
    app.include_router(_history_routes.router)
    app.include_router(pages_router(corpus.lookup, state.injection_in_force))

    async def standin_search(query: str, limit: int) -> Sequence[Hit]:
        return await corpus.search(query, count=min(limit, 200), excerpts=True)

    plan = Plan(settings.standin_plan, settings.standin_rate_per_second, settings.standin_quota_per_month)
    keys = {k.get_secret_value() for k in settings.standin_keys} or None
    guard = standin_guard(state.injection_in_force)
    app.include_router(brave_router(standin_search, plan=plan, keys=keys, guard=guard))
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.add_middleware(RequestMetricsMiddleware, metrics=state.metrics)
    return app


async def _warm_up(corpus: ServedCorpus) -> None:
    """Open (or build) the index in the background, so the first query does not pay for it."""
    build = getattr(corpus.index, "build", None)
    if build is not None:
        with contextlib.suppress(Exception):  # a broken corpus is reported by the run that searches it
            await build()


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


def _version() -> str:
    from importlib.metadata import version

    return version("knowledge-agg")
