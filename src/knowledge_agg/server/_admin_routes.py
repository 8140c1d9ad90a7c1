"""Operating the server: ``/health``, ``/config``, ``/metrics``, ``/v1/flags`` and ``/v1/injection``.

Changing flags or the injection settings at run time is for development only: without
``dev_mode`` those endpoints answer 403.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, Field

from .. import __version__
from ..errors import FlagError
from ..flags import FLAGS, parse_flags, resolve_flags
from ..standin import InjectionConfig
from ._state import SERVICE, ServerState, get_state
from ._stream_routes import BODY_ERRORS
from .metrics import CONTENT_TYPE_LATEST

__all__ = ["router"]

router = APIRouter(tags=["operations"])
_State = Annotated[ServerState, Depends(get_state)]
_DEV_ONLY_DOC: dict[int | str, dict[str, Any]] = {403: {"description": "development mode is off"}, **BODY_ERRORS}
_DEV_ONLY = "changing this at run time needs development mode: start the server with --dev (KNOWLEDGE_AGG_DEV_MODE=1)"


class Health(BaseModel):
    """Liveness and load; ``service`` identifies a knowledge-agg server."""

    status: str
    service: str
    version: str
    instance: str
    uptime_s: float
    runs_in_flight: int
    runs_waiting: int
    max_concurrent_runs: int
    tasks: int = Field(description="asyncio tasks alive in the server's loop")


class FlagInfo(BaseModel):
    enabled: bool
    default: bool
    description: str


class FlagsView(BaseModel):
    """Every flag with its state; ``mutable`` tells whether PUT/PATCH are allowed (development mode)."""

    flags: dict[str, FlagInfo]
    mutable: bool


class InjectionView(BaseModel):
    """The server-wide error injection settings and whether they act (the ``error_injection`` flag)."""

    active: bool
    config: InjectionConfig
    mutable: bool


@router.get("/health", response_model=Health, summary="Liveness, identity and load")
async def health(state: _State) -> Health:
    """Answers as soon as the server runs; the launcher checks ``service`` to recognise its own server."""
    return Health(
        status="ok", service=SERVICE, version=__version__, instance=state.instance,
        uptime_s=round(time.time() - state.started, 3), runs_in_flight=state.run_cap.in_flight,
        runs_waiting=state.run_cap.waiting, max_concurrent_runs=state.run_cap.limit, tasks=len(asyncio.all_tasks()),
    )


@router.get("/config", summary="Effective settings and flags (no secrets)")
async def config(state: _State) -> dict[str, Any]:
    """The runs' settings, the server's and the stand-in's, with every secret replaced by whether it is set."""
    return {
        "settings": {**state.settings.public(), "flags": dict(state.flags)},
        "server": state.server.model_dump(mode="json"),
        "standin": {k: v for k, v in state.standin.public().items() if k != "injection"},  # live one below
        "flags": dict(state.flags),
        "injection": {"active": state.injection_in_force() is not None, **state.injection.model_dump()},
        "dev_mode": state.server.dev_mode,
    }


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(state: _State) -> Response:
    """Requests, runs in flight, errors by kind, per-stage latency histograms, process memory."""
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/flags", response_model=FlagsView, summary="Feature flags")
async def get_flags(state: _State) -> FlagsView:
    """Every feature flag: on or off now, its default, what it does."""
    return _flags_view(state)


@router.put(
    "/v1/flags", response_model=FlagsView, responses=_DEV_ONLY_DOC, summary="Replace the flags (development mode)"
)
async def put_flags(state: _State, body: dict[str, bool | str]) -> FlagsView:
    """Reset the flags to the server's start-up flags, then apply ``body`` (``{"name": true|false}``)."""
    _require_dev(state)
    state.flags = _apply(resolve_flags(state.settings.flags), body)
    return _flags_view(state)


@router.patch(
    "/v1/flags", response_model=FlagsView, responses=_DEV_ONLY_DOC, summary="Change some flags (development mode)"
)
async def patch_flags(state: _State, body: dict[str, bool | str]) -> FlagsView:
    """Change only the flags named in ``body``."""
    _require_dev(state)
    state.flags = _apply(state.flags, body)
    return _flags_view(state)


@router.get("/v1/injection", response_model=InjectionView, summary="Error injection settings")
async def get_injection(state: _State) -> InjectionView:
    """The server-wide fault settings; they act only while the ``error_injection`` flag is on."""
    return _injection_view(state)


@router.put(
    "/v1/injection", response_model=InjectionView, responses=_DEV_ONLY_DOC, summary="Set error injection (development mode)"
)
async def put_injection(state: _State, body: InjectionConfig) -> InjectionView:
    """Replace the server-wide fault settings (one request can still override them with ``X-Inject``)."""
    _require_dev(state)
    state.injection = body
    return _injection_view(state)


def _require_dev(state: ServerState) -> None:
    if not state.server.dev_mode:
        raise HTTPException(403, _DEV_ONLY)


def _apply(flags: dict[str, bool], body: dict[str, bool | str]) -> dict[str, bool]:
    try:
        return {**flags, **parse_flags(body)}
    except FlagError as exc:
        raise HTTPException(422, detail=[{"loc": ["body"], "msg": str(exc), "type": "value_error"}]) from exc


def _flags_view(state: ServerState) -> FlagsView:
    flags = {
        name: FlagInfo(enabled=state.flags.get(name, f.default), default=f.default, description=f.description)
        for name, f in FLAGS.items()
    }
    return FlagsView(flags=flags, mutable=state.server.dev_mode)


def _injection_view(state: ServerState) -> InjectionView:
    return InjectionView(
        active=state.injection_in_force() is not None, config=state.injection, mutable=state.server.dev_mode
    )
