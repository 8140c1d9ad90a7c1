"""The Brave-compatible stand-in: Brave's search endpoints over a local corpus, its ``/pages``, fault injection.

It lets the real Brave client, fetcher and extractor run end to end offline (tests, benchmarks,
``knowledge-agg serve``). It knows Brave only through ``knowledge_agg.providers.brave.protocol``
and has its own settings (:class:`StandinSettings`, ``KNOWLEDGE_AGG_STANDIN_*``).
"""

from __future__ import annotations

from .brave import Plan, brave_router, error_response, injection_guard
from .corpus import StandinCorpus, excerpts
from .injected import InjectingProvider, RunInjection, run_injection
from .injection import INJECT_HEADER, InjectionConfig, InjectionError, request_injection
from .pages import page_url, pages_router, render_page
from .routes import mount_standin
from .settings import StandinSettings

__all__ = [
    "StandinSettings",
    "StandinCorpus",
    "mount_standin",
    "Plan",
    "brave_router",
    "error_response",
    "injection_guard",
    "pages_router",
    "page_url",
    "render_page",
    "excerpts",
    "INJECT_HEADER",
    "InjectionConfig",
    "InjectionError",
    "request_injection",
    "InjectingProvider",
    "RunInjection",
    "run_injection",
]
