"""Shared test fixtures: an isolated cache directory and settings that never touch the user's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge_agg.settings import Settings


@pytest.fixture(autouse=True, scope="session")
def _isolated_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Before any fixture of any scope builds settings: runs go to a session store, never the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KNOWLEDGE_AGG_STORE", str(_shared_cache(tmp_path_factory) / "runs.sqlite3"))
        yield


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads the developer's key, flags, cache or run store."""
    for name in (
        "BRAVE_API_KEY", "KNOWLEDGE_AGG_FLAGS", "KNOWLEDGE_AGG_PROVIDER", "KNOWLEDGE_AGG_BRAVE_API_KEY",
        "OPENAI_API_KEY", "KNOWLEDGE_AGG_LLM_API_KEY", "KNOWLEDGE_AGG_ANSWER", "KNOWLEDGE_AGG_LLM_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KNOWLEDGE_AGG_CACHE_DIR", str(_shared_cache(tmp_path_factory)))
    monkeypatch.setenv("KNOWLEDGE_AGG_STORE", str(_shared_cache(tmp_path_factory) / "runs.sqlite3"))


def _shared_cache(factory: pytest.TempPathFactory) -> Path:
    # One cache per test session, so the pydocs index is built once, not once per test.
    path = factory.getbasetemp() / "ka-cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings with the local provider and the session's cache."""
    return Settings(provider="local")
