"""Stand-ins for the services knowledge_agg talks to, so every client runs end to end offline."""

from __future__ import annotations
