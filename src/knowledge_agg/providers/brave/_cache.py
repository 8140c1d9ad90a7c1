"""The on-disk Brave response cache (diskcache): re-running a notebook cell spends no quota."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import diskcache

__all__ = ["ResponseCache"]


class ResponseCache:
    """Response bodies keyed by base URL, endpoint, parameters and the key's digest, expiring after ``ttl``."""

    def __init__(self, directory: Path, *, ttl: float) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._cache = diskcache.Cache(str(directory), size_limit=256 * 1024 * 1024)
        self._ttl = ttl

    @staticmethod
    def make_key(base_url: str, endpoint: str, items: Sequence[tuple[str, str]], digest: str) -> str:
        """One stable string per distinct request: a SHA-256 over its parts, parameters sorted."""
        parts = json.dumps([base_url.rstrip("/"), endpoint, sorted(items), digest], separators=(",", ":"))
        return "brave:" + hashlib.sha256(parts.encode()).hexdigest()

    def get(self, key: str) -> Any | None:
        """The cached body, or ``None`` when absent or expired."""
        return self._cache.get(key)

    def set(self, key: str, body: Any) -> None:
        """Store a successful response body for the cache's TTL (a TTL of 0 stores nothing)."""
        if self._ttl > 0:
            self._cache.set(key, body, expire=self._ttl)

    def close(self) -> None:
        """Close the underlying SQLite connections."""
        self._cache.close()
