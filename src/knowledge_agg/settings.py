"""All configuration in one place: ``KNOWLEDGE_AGG_*`` environment variables plus ``BRAVE_API_KEY``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, TypeAdapter, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .choices import Answer, Provider
from .errors import OptionError
from .flags import resolve_flags

__all__ = ["Settings", "setting_default", "parse_setting", "refusal", "refusals"]


class Settings(BaseSettings):
    """Every knob of a run; construct with keyword overrides or let the environment fill it.

    Each field is also a per-run option (``agg.stream(q, max_words=80)``). The server process
    (``knowledge_agg.server.ServerSettings``) and the Brave stand-in
    (``knowledge_agg.standin.StandinSettings``) have settings of their own.
    """

    model_config = SettingsConfigDict(
        env_prefix="KNOWLEDGE_AGG_", extra="forbid", validate_default=True, populate_by_name=True
    )

    # search
    provider: Provider = "auto"
    corpus: str = Field("pydocs", description="'pydocs', a folder of documents, or a .jsonl file")
    max_results: int = Field(20, ge=1, le=200)
    max_query_chars: int = Field(4000, ge=1)
    search_timeout: float = Field(30.0, gt=0, description="seconds a search may take, retries included")

    # brave
    brave_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("BRAVE_API_KEY", "KNOWLEDGE_AGG_BRAVE_API_KEY")
    )
    brave_base_url: str = "https://api.search.brave.com"
    brave_rate_limit: float = Field(1.0, gt=0, description="requests per second allowed by the plan")
    brave_max_retries: int = Field(3, ge=0)
    brave_timeout: float = Field(10.0, gt=0)
    brave_cache: bool = True
    brave_cache_ttl: float = Field(86400.0, ge=0)
    brave_extra_snippets: bool = Field(False, description="ask Brave for extra snippets (paid plans only)")

    # selection
    max_sources: int = Field(5, ge=1, le=50)
    max_per_domain: int = Field(2, ge=1)

    # fetch
    allow_private_hosts: bool = False
    fetch_max_bytes: int = Field(2_000_000, ge=1024)
    fetch_connect_timeout: float = Field(5.0, gt=0)
    fetch_read_timeout: float = Field(10.0, gt=0)
    fetch_total_timeout: float = Field(15.0, gt=0)
    fetch_max_redirects: int = Field(5, ge=0)
    fetch_per_host: int = Field(2, ge=1)
    fetch_max_connections: int = Field(100, ge=1, description="page reads in flight at once, all hosts together")
    fetch_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="host or host:port exempt from the private-address refusal"
    )

    extract_workers: int | None = Field(
        None, ge=0, description="processes that extract pages (0: a thread of the run's process; default: one per core)"
    )

    # ranking and synthesis
    max_passages: int = Field(8, ge=1, le=100)
    max_words: int = Field(120, ge=10, le=2000)

    # written answer (issue 18): the synthesis from a chat model behind any OpenAI-compatible endpoint
    answer: Answer = Field(
        "extractive", description="'extractive' (verbatim cited sentences) or 'llm' (written by a chat model)"
    )
    llm_base_url: str = Field("http://localhost:11434/v1", description="OpenAI-compatible endpoint (Ollama's by default)")
    llm_model: str = "llama3.2"
    llm_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("KNOWLEDGE_AGG_LLM_API_KEY", "OPENAI_API_KEY")
    )
    llm_timeout: float = Field(60.0, gt=0, description="seconds the whole written answer may take")
    llm_max_tokens: int = Field(400, ge=16, le=32_000, description="token budget of the written answer")
    llm_max_retries: int = Field(1, ge=0, le=5, description="retries of a 429/5xx/refused call before falling back")
    llm_drop_unsupported: bool = Field(False, description="leave out sentences the cited passages do not support")

    # runtime
    cache_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_cache_dir("knowledge_agg")))
    flags: Annotated[dict[str, bool], NoDecode] = Field(default_factory=dict)
    store: str = Field(
        default_factory=lambda: str(Path(platformdirs.user_data_dir("knowledge_agg")) / "runs.sqlite3"),
        description="the run store's SQLite file, or 'off' to keep no history",
    )

    @field_validator("flags", mode="before")
    @classmethod
    def _parse_flags(cls, value: Any) -> dict[str, bool]:
        return resolve_flags(value)

    @field_validator("fetch_allow_hosts", mode="before")
    @classmethod
    def _parse_hosts(cls, value: Any) -> Any:
        return [h.strip().lower() for h in value.split(",") if h.strip()] if isinstance(value, str) else value

    @property
    def effective_provider(self) -> Literal["local", "brave"]:
        """``brave`` when asked for, or when ``auto`` and a key is set; else ``local``."""
        if self.provider == "auto":
            return "brave" if self.brave_api_key else "local"
        return self.provider

    @property
    def keeps_runs(self) -> bool:
        """Whether runs are recorded in the run store (``store`` is not ``off``)."""
        return self.store.strip().lower() != "off"

    def override(self, **options: Any) -> Settings:
        """A copy with ``options`` applied and validated; ``flags`` layer over these settings' flags."""
        if not options:
            return self
        unknown = sorted(set(options) - set(type(self).model_fields))
        if unknown:
            raise OptionError(f"unknown option(s): {', '.join(unknown)}")
        if "flags" in options:
            options["flags"] = resolve_flags(self.flags, options["flags"])
        try:
            return type(self).model_validate({**self.model_dump(), **options})
        except ValidationError as exc:
            raise OptionError(refusals(exc)) from exc

    def public(self) -> dict[str, Any]:
        """The settings as JSON with every secret replaced by whether it is set."""
        data = self.model_dump(mode="json", exclude={"brave_api_key", "llm_api_key"})
        data["brave_api_key_set"] = self.brave_api_key is not None
        data["llm_api_key_set"] = self.llm_api_key is not None
        return data


def setting_default(name: str, model: type[BaseSettings] = Settings) -> Any:
    """The default of setting ``name`` of ``model``, for signatures and help texts that would otherwise restate it."""
    return model.model_fields[name].get_default(call_default_factory=True)


_BOUNDS = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
_PARSING = {"int_parsing": "int", "int_from_float": "int", "float_parsing": "float", "bool_parsing": "bool"}


def refusal(error: ErrorDetails) -> str:
    """One refused value as a short phrase ("must be >= 1"), without pydantic's error URL."""
    kind = error["type"]
    if kind in _BOUNDS:
        return f"must be {_BOUNDS[kind]} {next(iter(error.get('ctx', {}).values()))}"
    if kind in _PARSING:
        return f"invalid {_PARSING[kind]} value: {error['input']!r}"
    message = error["msg"]
    return message[:1].lower() + message[1:]


def refusals(exc: ValidationError) -> str:
    """Every refused setting of a validation error on one line: ``max_sources: must be >= 1; …``."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {refusal(e)}" for e in exc.errors())


def parse_setting(name: str, text: str, model: type[BaseSettings] = Settings) -> Any:
    """``text`` (say, a command-line value) read and checked as the setting ``name`` of ``model``; ``OptionError`` if refused."""
    field = model.model_fields[name]
    annotated: Any = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    try:
        return TypeAdapter(annotated).validate_strings(text)
    except ValidationError as exc:
        raise OptionError(refusal(exc.errors()[0])) from None
