"""Settings from the environment (``SAGLIK_*``), read once at start-up and checked whole."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from saglik.domain.pseudonym import parse_ring
from saglik.services.icd_names import load as load_icd_names
from saglik.services.moi_outbox import DEFAULT_CONCURRENCY
from saglik.services.passwords import HashCost
from saglik.services.rate_limits import storage_scheme

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
    rate_limit_storage: str = "memory://"
    """Where users' rate-limit counts live: ``memory://`` (one worker) or ``redis://host:port/db``
    (every worker and machine; ``services/rate_limits.py``)."""
    read_threads: Annotated[int, Field(ge=1, le=256)] = 4
    """Threads (each with one connection) a worker runs G2G reads on, PostgreSQL only; more
    concurrent calls queue for them (``store/read_pool.py``)."""
    audit_batch_max: Annotated[int, Field(ge=1)] = 512
    refusal_flush_seconds: Annotated[float, Field(ge=0)] = 5.0
    """How often the folded refusals of minutes that are over are written to the audit; 0 =
    only when the server stops."""
    moi_endpoint: str | None = None
    moi_secret: SecretStr | None = None
    moi_concurrency: Annotated[int, Field(ge=1, le=64)] = DEFAULT_CONCURRENCY
    """Reports one worker sends to the Ministry of Interior at once (README, *Risky visitor
    reports*)."""
    moi_test_secret: SecretStr | None = None
    """The key that signs test-environment reports; never the live one, or whoever runs the
    sandbox receiver could sign reports the Ministry's receiver accepts."""
    moi_test_endpoint: str | None = None
    """Where test-environment reports go, and the only place they go (README, *Risky visitor
    reports*); unset, they are recorded and not sent. Needs ``moi_test_secret``."""
    audit_key_file: Path | None = None
    """The audit pseudonym key ring's file, created (mode 0600) on a new store's first start.
    Default: beside an SQLite store's file (``saglik.db.key``); other stores need this or
    ``audit_key``. Never inside the store: a copy of the store must not carry its key."""
    audit_key: SecretStr | None = None
    """The key ring itself (``k1:<64 hex digits>``, more entries space-separated), for
    deployments that hand secrets over in variables."""
    trusted_proxies: CommaList = ()
    cors_origins: CommaList = ()
    """Origins whose browser pages may call the G2G methods (``https://app.example``, or ``*``
    for any); empty: no CORS headers at all."""
    log_level: str = "INFO"
    console_idle_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 30
    """A console session left unused this long is over (README "Console")."""
    console_session_hours: Annotated[int, Field(ge=1, le=7 * 24)] = 12
    """No console session outlives this, however busy: a stolen cookie stops working by then."""
    metrics_token: Annotated[SecretStr, Field(min_length=16)] | None = None
    """The bearer token ``GET /metrics`` requires; unset, the path does not exist."""
    body_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    """Time from a request's headers to the last byte of its body; a client still sending then
    gets 408 and is disconnected (README "Slow, idle and oversized clients")."""
    max_connections: Annotated[int, Field(ge=1, le=1_000_000)] = 4096
    """Connections one worker holds at once; more wait in the listen queue."""
    argon2_time_cost: Annotated[int, Field(ge=1, le=100)] = HashCost.time_cost
    argon2_memory_kib: Annotated[int, Field(ge=1024, le=4_194_304)] = HashCost.memory_kib
    argon2_parallelism: Annotated[int, Field(ge=1, le=64)] = HashCost.parallelism
    icd_names: Path | None = None
    """A CSV file of ICD-10 names (``code,name``, UTF-8) that replace the WHO English titles of
    the codes it lists, in the ÖBS answers' ``IcdAdi`` and the console (``services/icd_names.py``).
    Read and checked at start-up: a bad file is one line naming the file (not a secret) and the
    line."""

    @property
    def hash_cost(self) -> HashCost:
        """What a new password hash costs (RFC 9106 low-memory unless tuned)."""
        return HashCost(self.argon2_time_cost, self.argon2_memory_kib, self.argon2_parallelism)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        value = _split(value)
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:  # its message quotes the value
                raise ValueError("each entry is a network (203.0.113.0/24) or an address") from None
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        value = tuple(origin.rstrip("/") for origin in _split(value))
        for origin in value:
            if origin != "*" and not _is_origin(origin):
                raise ValueError("each origin is scheme://host[:port], without a path, or *")
        return value

    @field_validator("moi_test_endpoint")
    @classmethod
    def _moi_test_endpoint(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Sandbox reports must never reach the Ministry: not by its address, not under a key
        its receiver trusts (declared after the fields it reads, so they are in ``info.data``)."""
        if value is None:
            return value
        secret = info.data.get("moi_test_secret")
        if secret is None:
            raise ValueError("needs SAGLIK_MOI_TEST_SECRET")
        live = info.data.get("moi_endpoint")
        if (
            live is not None
            and value.strip().rstrip("/").lower() == live.strip().rstrip("/").lower()
        ):
            raise ValueError("must not be SAGLIK_MOI_ENDPOINT: test reports never go there")
        live_secret = info.data.get("moi_secret")
        if live_secret is not None and secret.get_secret_value() == live_secret.get_secret_value():
            raise ValueError("needs a SAGLIK_MOI_TEST_SECRET other than SAGLIK_MOI_SECRET")
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _rate_limit_storage(cls, value: str) -> str:
        storage_scheme(value)  # RateLimitStorageError (a ValueError) names the schemes only
        return value

    @field_validator("icd_names")
    @classmethod
    def _icd_names(cls, value: Path | None) -> Path | None:
        load_icd_names(value)  # IcdNamesError (a ValueError) names the file and the line
        return value

    @field_validator("audit_key")
    @classmethod
    def _ring(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_ring(value.get_secret_value())  # KeyRingError (a ValueError) says where, not what
        return value

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """What ``repr`` and ``str`` show, and so any log line that formats the settings: the
        database URL with its password masked (the secrets are ``SecretStr`` already)."""
        for name, value in super().__repr_args__():
            masked = name in ("database_url", "rate_limit_storage")
            yield name, masked_url(value) if masked else value

    @classmethod
    def from_env(cls) -> Settings:
        try:
            return cls()
        except ValidationError as exc:
            problems = sorted(
                {f"SAGLIK_{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors()}
            )
            raise SettingsError("invalid setting: " + "; ".join(problems)) from None


def masked_url(url: str) -> str:
    """A database URL fit to show: its password, in the user part or the query, as ``***``."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "(not a database URL)"
    query = {k: "***" if "password" in k.lower() else v for k, v in parsed.query.items()}
    return parsed.set(query=query).render_as_string(hide_password=True)


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
