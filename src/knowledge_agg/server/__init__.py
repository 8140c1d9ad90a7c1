"""The 8001 server: the aggregator over HTTP, flags, metrics and error injection; it mounts the Brave stand-in."""

from __future__ import annotations

from .app import create_app
from .launcher import LaunchHandle, PortInUse, launch, run_server
from .settings import ServerSettings, split_options

__all__ = ["create_app", "launch", "LaunchHandle", "PortInUse", "run_server", "ServerSettings", "split_options"]
