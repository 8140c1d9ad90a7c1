"""Main text out of HTML with trafilatura."""

from __future__ import annotations

import trafilatura

__all__ = ["extract_text"]


def extract_text(html: str, url: str | None = None) -> str:
    """The main text of ``html`` (empty when nothing readable is found)."""
    return trafilatura.extract(html, url=url, favor_precision=True) or ""
