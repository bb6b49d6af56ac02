"""Settings from the environment (``SAGLIK_*``), read once at start-up and checked whole."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from saglik.services.passwords import HashCost

DEFAULT_DATABASE_URL = "sqlite:///saglik.db"

CommaList = Annotated[tuple[str, ...], NoDecode]
"""A comma-separated variable (``a, b``), not JSON."""


class SettingsError(ValueError):
    """A variable that cannot be used; the message names variables, never their values (a
    database URL or a secret may be among them)."""


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAGLIK_", env_ignore_empty=True, frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    credential_delay_seconds: Annotated[float, Field(ge=0)] = 0.0
    """Extra delay before a changed credential is seen; 0 = at once.

    The ÖBS document warns of a 5-minute delay; a sandbox can reproduce it."""
    change_poll_seconds: Annotated[float, Field(ge=0)] = 0.5
    audit_batch_max: Annotated[int, Field(ge=1)] = 512
    moi_endpoint: str | None = None
    moi_secret: str | None = None
    trusted_proxies: CommaList = ()
    cors_origins: CommaList = ()
    """Origins whose browser pages may call the G2G methods (``https://app.example``, or ``*``
    for any); empty: no CORS headers at all."""
    log_level: str = "INFO"
    argon2_time_cost: Annotated[int, Field(ge=1, le=100)] = HashCost.time_cost
    argon2_memory_kib: Annotated[int, Field(ge=1024, le=4_194_304)] = HashCost.memory_kib
    argon2_parallelism: Annotated[int, Field(ge=1, le=64)] = HashCost.parallelism

    @property
    def hash_cost(self) -> HashCost:
        """What a new password hash costs (RFC 9106 low-memory unless tuned)."""
        return HashCost(self.argon2_time_cost, self.argon2_memory_kib, self.argon2_parallelism)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        value = _split(value)
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError → a refused setting
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        value = tuple(origin.rstrip("/") for origin in _split(value))
        for origin in value:
            if origin != "*" and not _is_origin(origin):
                raise ValueError("each origin is scheme://host[:port], without a path, or *")
        return value

    @classmethod
    def from_env(cls) -> Settings:
        try:
            return cls()
        except ValidationError as exc:
            problems = sorted(
                {f"SAGLIK_{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors()}
            )
            raise SettingsError("invalid setting: " + "; ".join(problems)) from None


def _is_origin(text: str) -> bool:
    """What a browser sends in ``Origin``: a scheme, a host and maybe a port, nothing else."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not (parts.path or parts.query or parts.fragment or parts.username)
    )
