"""Who is calling: the service users as each worker knows them, and their passwords checked once.

Every refusal that does not depend on the password — an unknown user, a disabled one, an address
outside the allow-list, a method not granted — must be decided without looking at it, so that it
answers the same whether the password was right or wrong (README "Refusals"). The gateway
therefore looks a user up by name first (``account``, no secret involved) and only then checks
the password (``cached`` or ``verify``).

All users are held in memory: an institution's users number in the thousands at most, and a
lookup that misses costs the same as one that hits, so not even timing tells a known name from
an unknown one. The copy is replaced whenever the store's credentials version moves, which every
user change bumps (``store/change_feed.py`` says how a worker learns of it). Argon2id costs ~17 ms
of CPU by design, so a password is verified once per credential and copy; the cache is keyed by
a keyed digest (the clear password is never kept).
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine

from saglik.services.passwords import verify_password
from saglik.services.versioned import VersionedCopy
from saglik.store import accounts_repo

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


@dataclass(frozen=True, slots=True)
class Account:
    principal: Principal
    password_hash: str
    generation: int
    """The credentials version of the copy of the users this came from: a password verified
    against one copy is not trusted once a newer copy (a change) is in use."""


def _account(record: accounts_repo.UserRecord, generation: int) -> Account:
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
    return Account(principal, record.password_hash, generation)


class Authenticator:
    def __init__(self, engine: Engine, *, fixed_delay_seconds: float = 0) -> None:
        self._engine = engine
        self._fixed_delay = fixed_delay_seconds
        self._digest_key = secrets.token_bytes(32)
        self._users = VersionedCopy[dict[tuple[str, str], Account]](self._load, {})
        self._verified: dict[bytes, int] = {}
        self._change_seen_at: float | None = None

    def _key(self, account: Account, password: str) -> bytes:
        principal = account.principal
        material = f"{principal.env}\x00{principal.username}\x00{password}".encode()
        return hashlib.blake2b(material, key=self._digest_key, digest_size=32).digest()

    async def sync(self, version: int) -> None:
        """Makes the users current with the store's credentials ``version``; with the
        sandbox's documented delay, only once the change has waited that long."""
        if version == self._users.version:
            return
        if self._users.version is not None and self._fixed_delay:
            monotonic = time.monotonic()
            if self._change_seen_at is None:
                self._change_seen_at = monotonic
            if monotonic - self._change_seen_at < self._fixed_delay:
                return
        if await self._users.sync(version):
            self._verified = {}
            self._change_seen_at = None

    def _load(self, version: int) -> dict[tuple[str, str], Account]:
        with self._engine.connect() as conn:
            records = accounts_repo.list_users(conn)
        return {(r.env, r.username): _account(r, version) for r in records}

    def account(self, env: str, username: str) -> Account | None:
        """The user of that name in that environment, as of the last ``sync``; no secret
        needed."""
        return self._users.value.get((env, username))

    def cached(self, account: Account, password: str) -> bool:
        """True if this password was already verified for this copy of the account."""
        return self._verified.get(self._key(account, password)) == account.generation

    def flight_key(self, account: Account, password: str) -> tuple[bytes, int]:
        """Identifies one verification: concurrent requests with the same key may share it; one
        arriving with a newer copy of the account may not ride on one that started before."""
        return self._key(account, password), account.generation

    def verify(self, account: Account, password: str) -> bool:
        """Checks the hash (slow: run it off the event loop) and remembers a success."""
        if not verify_password(account.password_hash, password):
            return False
        self._verified[self._key(account, password)] = account.generation
        return True
