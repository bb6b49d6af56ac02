"""Who is calling: Basic credentials → a principal, with a verified-credential cache.

Argon2id costs ~17 ms of CPU by design, so it runs once per credential, not once per request.
The cache is keyed by a keyed digest of the credential (the clear password is never kept) and is
dropped whenever the store's credentials version moves, which every user change bumps.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine

from saglik.services.passwords import verify_password
from saglik.store import accounts_repo, state

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    institution_id: int
    username: str
    env: str
    active: bool
    methods: frozenset[str]
    networks: tuple[IPNetwork, ...]
    rate_limit: str | None
    province_code: int | None
    district_code: int | None

    def may_call(self, method: str) -> bool:
        return method in self.methods

    def allows_ip(self, ip: str | None) -> bool:
        """No allow-list means any address; with one, the caller's address must be inside it."""
        if not self.networks:
            return True
        if ip is None:
            return False
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in net for net in self.networks)


class Authenticator:
    def __init__(
        self, engine: Engine, *, poll_seconds: float, fixed_delay_seconds: float = 0
    ) -> None:
        self._engine = engine
        self._poll = poll_seconds
        self._fixed_delay = fixed_delay_seconds
        self._digest_key = secrets.token_bytes(32)
        self._cache: dict[bytes, tuple[Principal, float, int]] = {}
        self._version = -1
        self._checked_at = 0.0

    def _key(self, env: str, username: str, password: str) -> bytes:
        material = f"{env}\x00{username}\x00{password}".encode()
        return hashlib.blake2b(material, key=self._digest_key, digest_size=32).digest()

    def _refresh(self, monotonic: float) -> None:
        if monotonic - self._checked_at < self._poll:
            return
        self._checked_at = monotonic
        with self._engine.connect() as conn:
            version = state.credentials_version(conn)
        if version != self._version:
            self._version = version
            if not self._fixed_delay:
                self._cache.clear()

    def flight_key(self, env: str, username: str, password: str) -> tuple[bytes, int]:
        """Identifies one verification of this credential against the credentials version known
        now: concurrent requests with the same key may share it; one arriving after a change
        (a new version) may not ride on a verification that started before it."""
        return self._key(env, username, password), self._version

    def cached(self, env: str, username: str, password: str) -> Principal | None:
        """The principal for an already-verified credential, or None (then call ``verify``)."""
        now = time.monotonic()
        self._refresh(now)
        hit = self._cache.get(self._key(env, username, password))
        if hit is None:
            return None
        principal, verified_at, version = hit
        if self._fixed_delay and now - verified_at > self._fixed_delay:
            return None
        if not self._fixed_delay and version != self._version:
            return None  # verified against a record read before the latest change
        return principal

    def verify(self, env: str, username: str, password: str) -> Principal | None:
        """Checks the hash (slow, run off the event loop); caches and returns the principal."""
        # Learn the credentials version before reading the record and tag the entry with it:
        # ``cached`` serves the entry only while that version is current, so a change that lands
        # while the hash is being checked cannot leave a stale credential in the cache.
        self._refresh(time.monotonic())
        version = self._version
        with self._engine.connect() as conn:
            record = accounts_repo.find_user(conn, env, username)
        if not verify_password(record.password_hash if record else None, password):
            return None
        assert record is not None
        principal = Principal(
            user_id=record.id,
            institution_id=record.institution_id,
            username=record.username,
            env=record.env,
            active=record.active,
            methods=record.methods,
            networks=tuple(ipaddress.ip_network(n) for n in record.ip_allowlist),
            rate_limit=record.rate_limit,
            province_code=record.province_code,
            district_code=record.district_code,
        )
        self._cache[self._key(env, username, password)] = (principal, time.monotonic(), version)
        return principal
