"""How the 8001 server runs: address, run cap, development mode (``KNOWLEDGE_AGG_*``, never per-run options).

These describe the server process, not a run, so they live apart from :class:`~knowledge_agg.Settings`:
a run (``agg.stream(q, port=1)``, ``POST /v1/answer``) cannot name them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..errors import OptionError
from ..settings import Settings
from ..standin import StandinSettings

__all__ = ["ServerSettings", "split_options"]

#: The prefix that routes a ``launch()`` keyword to :class:`StandinSettings` (``standin_keys=...``).
_STANDIN = "standin_"


class ServerSettings(BaseSettings):
    """The server process's own settings."""

    model_config = SettingsConfigDict(env_prefix="KNOWLEDGE_AGG_", extra="forbid", validate_default=True)

    host: str = "127.0.0.1"
    port: int = Field(8001, ge=0, le=65535)
    max_concurrent_runs: int = Field(20, ge=1)
    dev_mode: bool = False
    run_queue_size: int = Field(20, ge=0, description="requests that may wait for a run slot before 503")
    run_queue_wait: float = Field(2.0, ge=0, description="seconds a request waits for a run slot before 503")
    resume_grace: float = Field(
        30.0, ge=0, description="seconds a streamed run goes on after its client hung up, for a reconnect to resume it"
    )


def split_options(
    options: Mapping[str, Any], settings: Settings | None = None
) -> tuple[Settings, ServerSettings, StandinSettings]:
    """One bag of keyword options sorted into the product's, the server's and the stand-in's settings.

    Server fields (``dev_mode``, ``max_concurrent_runs``, …) go to :class:`ServerSettings`,
    ``standin_<field>`` to :class:`StandinSettings`, the rest are per-run settings over ``settings``
    (or the environment). Each class reads its own environment variables for what is not given.
    """
    server = {k: v for k, v in options.items() if k in ServerSettings.model_fields}
    standin = {k.removeprefix(_STANDIN): v for k, v in options.items() if k.startswith(_STANDIN)}
    product = {k: v for k, v in options.items() if k not in server and not k.startswith(_STANDIN)}
    base = settings if settings is not None else Settings()
    try:
        return base.override(**product), ServerSettings(**server), StandinSettings(**standin)
    except ValidationError as exc:
        raise OptionError(str(exc)) from exc
