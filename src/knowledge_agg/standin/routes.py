"""Mounting the stand-in on an app: the Brave-compatible endpoints, the ``/pages`` they point at, the model."""

from __future__ import annotations

from fastapi import FastAPI

from .brave import brave_router, injection_guard
from .corpus import StandinCorpus
from .injection import InjectionLookup
from .model import model_router
from .pages import pages_router
from .settings import StandinSettings

__all__ = ["mount_standin"]


def mount_standin(app: FastAPI, corpus: StandinCorpus, settings: StandinSettings, injection: InjectionLookup) -> None:
    """Add ``/res/v1/web/search``, ``/res/v1/news/search`` and ``/pages/{id}`` over ``corpus`` to ``app``,
    and the stand-in chat model (``POST /v1/chat/completions``).

    ``injection`` gives the fault settings in force (``None`` while error injection is off).
    """
    app.include_router(pages_router(corpus.lookup, injection))
    guard = injection_guard(injection)
    app.include_router(brave_router(corpus.search, plan=settings.billing, keys=settings.accepted_keys(), guard=guard))
    app.include_router(model_router())
