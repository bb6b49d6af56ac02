"""Settings from the environment, read once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_DATABASE_URL = "sqlite:///saglik.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    credential_cache_seconds: float = 0.0
    """Extra delay before a changed credential is seen; 0 = at once.

    The ÖBS document warns of a 5-minute delay; a sandbox can reproduce it."""
    change_poll_seconds: float = 0.5
    audit_batch_max: int = 512
    moi_endpoint: str | None = None
    moi_secret: str | None = None
    trusted_proxies: tuple[str, ...] = field(default_factory=tuple)
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        proxies = tuple(
            p.strip() for p in env.get("SAGLIK_TRUSTED_PROXIES", "").split(",") if p.strip()
        )
        return cls(
            database_url=env.get("SAGLIK_DATABASE_URL", DEFAULT_DATABASE_URL),
            credential_cache_seconds=float(env.get("SAGLIK_CREDENTIAL_DELAY_SECONDS", "0")),
            change_poll_seconds=float(env.get("SAGLIK_CHANGE_POLL_SECONDS", "0.5")),
            moi_endpoint=env.get("SAGLIK_MOI_ENDPOINT") or None,
            moi_secret=env.get("SAGLIK_MOI_SECRET") or None,
            trusted_proxies=proxies,
            log_level=env.get("SAGLIK_LOG_LEVEL", "INFO"),
        )
