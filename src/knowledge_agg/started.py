"""The start of a run: the moment its clock starts and its first event, built without pydantic or asyncio.

``knowledge-agg ask`` makes a :class:`Started` as soon as it has the question and prints the first
``status`` event from it while the rest of the package is still being imported; the pipeline then
yields the same event (``seq`` 0, the same ``t_ms`` on the same clock) as its first, so every face
and the run store see one run with one clock. ``Started.fields`` is the one home of that event's content.
"""

from __future__ import annotations

import json
import time
from typing import Any

__all__ = ["Started"]


class Started:
    """A run's clock (``time.perf_counter()`` when it started) and the first status event's time on it."""

    __slots__ = ("clock", "query", "t_ms")

    def __init__(self, query: str, clock: float, t_ms: float) -> None:
        self.query = query
        self.clock = clock
        self.t_ms = t_ms

    @classmethod
    def now(cls, query: str) -> Started:
        """Start a run's clock now; its first event is stamped at once."""
        clock = time.perf_counter()
        return cls(query, clock, round((time.perf_counter() - clock) * 1000, 3))

    def fields(self) -> dict[str, Any]:
        """The first ``status`` event of the run, in the order ``StatusEvent`` serialises its fields."""
        return {
            "seq": 0,
            "t_ms": self.t_ms,
            "type": "status",
            "stage": "started",
            "message": f"query received ({len(self.query)} characters)",
            "progress": 0.0,
        }

    def to_json(self) -> str:
        """The first event as one compact JSON object, exactly as ``StatusEvent.to_json`` writes it."""
        return json.dumps(self.fields(), ensure_ascii=False, separators=(",", ":"))

    def __repr__(self) -> str:
        return f"<Started {self.query!r} at {self.clock:.6f}>"
