"""The 8001 server: the aggregator over HTTP, the Brave-compatible stand-in, pages, flags and metrics."""

from __future__ import annotations

from .app import create_app
from .launcher import LaunchHandle, PortInUse, launch, run_server

__all__ = ["create_app", "launch", "LaunchHandle", "PortInUse", "run_server"]
