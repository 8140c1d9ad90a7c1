"""knowledge_agg: a question in, a stream of knowledge out — results, sources, passages, a cited synthesis.

The public API is this module's ``__all__`` plus the public modules (names without a leading
underscore) of the package and its subpackages.

The rule for private modules: a module or package named ``_x`` is private to the package that
holds it. Only modules inside that package (its subpackages included) import it; tests,
benchmarks and other packages import public modules or ``__all__`` names. Whatever they need
from a private module is re-exported by a public one or made public. ``tests/test_public_api.py``
checks the rule over ``src/``, ``tests/`` and ``benchmarks/``.

``__all__`` holds what a default install can import, so ``from knowledge_agg import *`` always works;
``launch`` needs the server extra and is reached by name (``knowledge_agg.launch``), which names the
``pip install`` that is missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aggregator import EventStream, KnowledgeAggregator, ask
    from .batch import ask_many
    from .errors import (
        FetchError,
        FlagError,
        KnowledgeAggError,
        MissingDependency,
        OptionError,
        ProviderError,
        QueryError,
    )
    from .events import (
        AnalysisEvent,
        DoneEvent,
        ErrorEvent,
        Event,
        PassageEvent,
        ResultEvent,
        SourcesEvent,
        StatusEvent,
        SynthesisDeltaEvent,
        SynthesisEvent,
        SynthesisPoint,
        parse_event,
    )
    from .flags import FLAGS
    from .llm import LLMError
    from .models import Document, Hit, Hits
    from .providers import SearchProvider
    from .run import Run
    from .server import launch as launch
    from .settings import Settings
    from .started import Started
    from .store import RunStore, history

__all__ = [
    "KnowledgeAggregator",
    "EventStream",
    "Started",
    "Run",
    "RunStore",
    "history",
    "Settings",
    "SearchProvider",
    "Hit",
    "Hits",
    "Document",
    "FLAGS",
    "ask",
    "ask_many",
    "parse_event",
    "Event",
    "StatusEvent",
    "AnalysisEvent",
    "ResultEvent",
    "SourcesEvent",
    "PassageEvent",
    "SynthesisDeltaEvent",
    "SynthesisEvent",
    "SynthesisPoint",
    "ErrorEvent",
    "DoneEvent",
    "KnowledgeAggError",
    "QueryError",
    "FlagError",
    "OptionError",
    "ProviderError",
    "FetchError",
    "MissingDependency",
    "LLMError",
]


#: The module that holds each public name. Nothing is imported until a name is first used, so
#: ``import knowledge_agg`` (and the CLI's ``--help``) pays for no HTTP client, extractor or pydantic.
_HOMES = {
    **dict.fromkeys(("KnowledgeAggregator", "EventStream", "ask"), "aggregator"),
    "Run": "run",
    "Started": "started",
    **dict.fromkeys(("RunStore", "history"), "store"),
    "Settings": "settings",
    "SearchProvider": "providers",
    **dict.fromkeys(("Document", "Hit", "Hits"), "models"),
    "FLAGS": "flags",
    **dict.fromkeys(
        ("parse_event", "Event", "StatusEvent", "AnalysisEvent", "ResultEvent", "SourcesEvent", "PassageEvent",
         "SynthesisDeltaEvent", "SynthesisEvent", "SynthesisPoint", "ErrorEvent", "DoneEvent"),
        "events",
    ),
    **dict.fromkeys(
        ("KnowledgeAggError", "QueryError", "FlagError", "OptionError", "ProviderError", "FetchError",
         "MissingDependency"),
        "errors",
    ),
    "LLMError": "llm",
}
#: Public names that live behind an optional extra: (module, extra).
_OPTIONAL = {"launch": ("server", "server"), "ask_many": ("batch", "notebook")}


def __getattr__(name: str) -> Any:
    # Each public name is imported on first use and then kept as a module attribute; optional extras
    # fail with a message naming the install that fixes them.
    if name == "__version__":  # the installed distribution's version; pyproject.toml is its one home
        from importlib.metadata import version

        value: Any = version("knowledge-agg")
    elif name in _HOMES:
        value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    elif name in _OPTIONAL:
        module, extra = _OPTIONAL[name]
        try:
            imported = importlib.import_module(f".{module}", __name__)
        except ImportError as exc:
            from .errors import MissingDependency

            raise MissingDependency(f"{name}() needs an extra: pip install 'knowledge-agg[{extra}]'") from exc
        value = getattr(imported, name)
    else:
        raise AttributeError(f"module 'knowledge_agg' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_OPTIONAL})
