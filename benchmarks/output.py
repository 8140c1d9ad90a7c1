"""What the benchmark commands share at their edges: the client flags they accept and the JSON they write."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from knowledge_agg.errors import KnowledgeAggError
from knowledge_agg.flags import check_extras, parse_flags

__all__ = ["RESULTS", "checked_flags", "write_json"]

#: The folder every benchmark writes its figures to (its JSON, and PNGs where a picture says more).
RESULTS = Path(__file__).resolve().parent / "results"


def checked_flags(text: str | None) -> dict[str, bool] | None:
    """``--flags`` parsed, with the extras they need checked (``flags.check_extras``); ``None`` after a one-line
    error."""
    try:
        flags = parse_flags(text)
        check_extras(flags)
    except KnowledgeAggError as exc:
        print(exc, file=sys.stderr)
        return None
    return flags


def write_json(path: Path, data: Any, *, indent: int = 2) -> None:
    """Write a benchmark's figures as UTF-8 JSON ending in a newline, making its folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=indent, ensure_ascii=False) + "\n", encoding="utf-8")
