"""Shared test fixtures: an isolated cache directory and settings that never touch the user's."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_agg.settings import Settings


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads the developer's key, flags or cache."""
    for name in ("BRAVE_API_KEY", "KNOWLEDGE_AGG_FLAGS", "KNOWLEDGE_AGG_PROVIDER", "KNOWLEDGE_AGG_BRAVE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KNOWLEDGE_AGG_CACHE_DIR", str(_shared_cache(tmp_path_factory)))


def _shared_cache(factory: pytest.TempPathFactory) -> Path:
    # One cache per test session, so the pydocs index is built once, not once per test.
    path = factory.getbasetemp() / "ka-cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings with the local provider and the session's cache."""
    return Settings(provider="local")
