"""The stand-in's own settings: ``KNOWLEDGE_AGG_STANDIN_*`` environment variables, never per-run options."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .brave import Plan
from .injection import InjectionConfig

__all__ = ["StandinSettings"]


class StandinSettings(BaseSettings):
    """The Brave-compatible stand-in's keys and plan, and the server-wide error injection."""

    model_config = SettingsConfigDict(env_prefix="KNOWLEDGE_AGG_STANDIN_", extra="forbid", validate_default=True)

    keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="keys the stand-in accepts (comma-separated); empty: any key"
    )
    plan: str = Field("Base", description="plan name the stand-in reports in rate-limit errors")
    rate_per_second: int = Field(20, ge=0, description="requests per second per key (0: no cap)")
    quota_per_month: int = Field(20_000_000, ge=0, description="requests per month per key (0: no cap)")
    injection: InjectionConfig = Field(
        default_factory=InjectionConfig,
        description="server-wide error injection (JSON), acting while the error_injection flag is on",
    )

    @field_validator("keys", mode="before")
    @classmethod
    def _parse_keys(cls, value: Any) -> Any:
        return [k.strip() for k in value.split(",") if k.strip()] if isinstance(value, str) else value

    @property
    def billing(self) -> Plan:
        """The plan the stand-in meters each key against."""
        return Plan(self.plan, self.rate_per_second, self.quota_per_month)

    def accepted_keys(self) -> set[str] | None:
        """The keys to accept, or ``None`` for any non-empty key."""
        return {k.get_secret_value() for k in self.keys} or None

    def public(self) -> dict[str, Any]:
        """The settings as JSON with the keys replaced by how many there are."""
        data = self.model_dump(mode="json", exclude={"keys"})
        data["keys_set"] = len(self.keys)
        return data
