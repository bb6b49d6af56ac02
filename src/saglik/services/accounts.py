"""Institutions and service users (the operator's side of the gateway)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from limits import parse as parse_rate_limit
from sqlalchemy import Connection, Engine

from saglik.domain import throttle
from saglik.domain.clock import Clock
from saglik.domain.errors import InvalidInput
from saglik.domain.methods import ALL_METHODS, ENV_RULE, ENVIRONMENTS
from saglik.services.changes import ChangeLog
from saglik.services.passwords import generate_password, hash_password
from saglik.store import accounts_repo, obs_repo, throttle_repo
from saglik.store.accounts_repo import UserRecord


class InvalidAccountError(InvalidInput):
    """A request the operator can fix: unknown method, bad CIDR, bad rate limit."""


@dataclass(frozen=True)
class IssuedCredential:
    username: str
    env: str
    password: str
    """Shown once to the operator; only its hash is kept."""


@dataclass(frozen=True)
class AddedUser(IssuedCredential):
    """What ``add_user`` returns: the credential, and the user as stored."""

    user: UserRecord


@dataclass(frozen=True)
class AddedInstitution:
    """What ``add_institution`` stored (it has no users yet)."""

    id: int
    name: str
    created_at: datetime


USERNAME_RULE = "username must be 1-100 printable characters, without spaces, ':' or '/'"


def valid_username(name: str) -> bool:
    """The one username rule, of the CLI, the operator API's bodies and its paths: ``:`` ends the
    name in HTTP Basic credentials, and ``/`` would split the API's ``/users/{env}/{username}``;
    a non-printable character (NUL, which PostgreSQL refuses in text) never reaches the store."""
    return (
        0 < len(name) <= 100
        and name.isprintable()
        and not any(c.isspace() or c in ":/" for c in name)
    )


def _check_env(env: str) -> None:
    if env not in ENVIRONMENTS:
        raise InvalidAccountError(ENV_RULE)


def _check_methods(methods: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(methods)
    unknown = sorted(chosen - set(ALL_METHODS))
    if unknown:
        raise InvalidAccountError(
            f"unknown method(s): {', '.join(unknown)}; known: {', '.join(ALL_METHODS)}"
        )
    return chosen


def _check_networks(cidrs: Iterable[str]) -> tuple[str, ...]:
    out = []
    for cidr in cidrs:
        try:
            out.append(str(ipaddress.ip_network(cidr.strip(), strict=False)))
        except ValueError as exc:
            raise InvalidAccountError(f"not an IP network: {cidr!r}") from exc
    return tuple(out)


def _check_rate_limit(rate_limit: str | None) -> str | None:
    if rate_limit is None:
        return None
    try:
        amount = parse_rate_limit(rate_limit).amount
    except ValueError:
        amount = 0
    if amount < 1:
        raise InvalidAccountError(
            f"not a rate limit: {rate_limit!r} (write it like '100/second' or '5000/hour')"
        )
    return rate_limit


def _check_scope(conn: Connection, province: int | None, district: int | None) -> None:
    """An ÖBS scope: a plate code 1–81, optionally one of that province's districts."""
    if province is None:
        if district is not None:
            raise InvalidAccountError("a district scope needs its province (--il)")
        return
    if not 1 <= province <= 81:
        raise InvalidAccountError("province must be a plate code from 1 to 81")
    if district is not None:
        plate = obs_repo.district_plate(conn, district)
        if plate is None:
            raise InvalidAccountError(
                "unknown district code (not in the district table; `saglik refdata import PATH` "
                "loads a newer one)"
            )
        if plate != province:
            raise InvalidAccountError(f"district {district} is not in province {province}")


def _settings(user: UserRecord) -> dict[str, Any]:
    """What the change log shows of a user: everything but the password hash."""
    return {
        "institution": user.institution_name,
        "methods": sorted(user.methods),
        "province_code": user.province_code,
        "district_code": user.district_code,
        "ip_allowlist": list(user.ip_allowlist),
        "rate_limit": user.rate_limit,
        "active": user.active,
    }


class _Keep:
    """Marks an update argument the caller did not give (None means "clear it")."""


KEEP: Any = _Keep()


class AccountService:
    """Institutions and service users, shared by the CLI and the operator API; every change is
    logged (never a password or its hash) and takes effect on every worker at once."""

    def __init__(self, engine: Engine, clock: Clock, changes: ChangeLog) -> None:
        self._engine = engine
        self._clock = clock
        self._changes = changes

    def add_institution(self, name: str) -> AddedInstitution:
        name = " ".join(name.split())
        if not name:
            raise InvalidAccountError("institution name must not be blank")
        if len(name) > 200:
            raise InvalidAccountError("institution name must be at most 200 characters")
        now = self._clock.now()
        with self._engine.begin() as conn:
            institution = accounts_repo.add_institution(conn, name, now)
            self._changes.record(conn, entity="institution", action="add", target=name)
        return AddedInstitution(id=institution, name=name, created_at=now)

    def list_institutions(self) -> list[tuple[int, str, datetime, int]]:
        with self._engine.connect() as conn:
            return accounts_repo.list_institutions(conn)

    def add_user(
        self,
        *,
        username: str,
        institution: str,
        env: str,
        methods: Iterable[str],
        password: str | None = None,
        province_code: int | None = None,
        district_code: int | None = None,
        ip_allowlist: Iterable[str] = (),
        rate_limit: str | None = None,
    ) -> AddedUser:
        """The new user's credential, with the user as stored."""
        _check_env(env)
        if not valid_username(username):
            raise InvalidAccountError(USERNAME_RULE)
        if password is not None and len(password) < 12:
            raise InvalidAccountError("password must be at least 12 characters")
        chosen = _check_methods(methods)
        networks = _check_networks(ip_allowlist)
        limit = _check_rate_limit(rate_limit)
        secret = password if password is not None else generate_password()
        with self._engine.begin() as conn:
            _check_scope(conn, province_code, district_code)
            accounts_repo.add_user(
                conn,
                institution=accounts_repo.institution_id(conn, " ".join(institution.split())),
                env=env,
                username=username,
                password_hash=hash_password(secret),
                methods=chosen,
                now=self._clock.now(),
                province_code=province_code,
                district_code=district_code,
                ip_allowlist=networks,
                rate_limit=limit,
            )
            user = self._user(conn, env, username)
            self._changes.record(
                conn,
                entity="service_user",
                action="add",
                env=env,
                target=username,
                after=_settings(user),
            )
        return AddedUser(username=username, env=env, password=secret, user=user)

    def _user(self, conn: Connection, env: str, username: str) -> UserRecord:
        user = accounts_repo.find_user(conn, env, username)
        if user is None:
            raise accounts_repo.NotFoundError(f"no user {username!r} in the {env} environment")
        return user

    def user(self, env: str, username: str) -> UserRecord:
        _check_env(env)
        with self._engine.connect() as conn:
            return self._user(conn, env, username)

    def update_user(
        self,
        env: str,
        username: str,
        *,
        methods: Iterable[str] | None = None,
        province_code: int | None = KEEP,
        district_code: int | None = KEEP,
        ip_allowlist: Iterable[str] | None = None,
        rate_limit: str | None = KEEP,
        active: bool | None = None,
    ) -> UserRecord:
        """Change what is given, keep the rest; returns the user as now stored."""
        _check_env(env)
        chosen = None if methods is None else _check_methods(methods)
        columns: dict[str, Any] = {}
        if ip_allowlist is not None:
            columns["ip_allowlist"] = accounts_repo.stored_allowlist(_check_networks(ip_allowlist))
        if rate_limit is not KEEP:
            columns["rate_limit"] = _check_rate_limit(rate_limit)
        if active is not None:
            columns["active"] = active
        with self._engine.begin() as conn:
            before = self._user(conn, env, username)
            if province_code is not KEEP or district_code is not KEEP:
                province = before.province_code if province_code is KEEP else province_code
                district = None if district_code is KEEP else district_code
                _check_scope(conn, province, district)
                columns["province_code"], columns["district_code"] = province, district
            accounts_repo.update_user(
                conn, before.id, self._clock.now(), columns=columns, methods=chosen
            )
            after = self._user(conn, env, username)
            old, new = _settings(before), _settings(after)
            changed = [k for k in old if old[k] != new[k]]
            if changed:
                self._changes.record(
                    conn,
                    entity="service_user",
                    action="update",
                    env=env,
                    target=username,
                    before={k: old[k] for k in changed},
                    after={k: new[k] for k in changed},
                )
            return after

    def reset_password(
        self, username: str, env: str, password: str | None = None
    ) -> IssuedCredential:
        _check_env(env)
        if password is not None and len(password) < 12:
            raise InvalidAccountError("password must be at least 12 characters")
        secret = password if password is not None else generate_password()
        with self._engine.begin() as conn:
            accounts_repo.set_password_hash(
                conn, env, username, hash_password(secret), self._clock.now()
            )
            self._changes.record(
                conn, entity="service_user", action="reset-password", env=env, target=username
            )
        return IssuedCredential(username=username, env=env, password=secret)

    def unlock(self, username: str | None, env: str | None, addresses: Iterable[str]) -> int:
        """Forgets the failed-password counts (and so the locks) of a username and of client
        addresses (README "Guessing"); returns how many counts there were."""
        keys = [throttle.address_key(address) for address in addresses]
        if username is not None:
            if env is None:
                raise InvalidAccountError("a username is unlocked in one environment: give --env")
            _check_env(env)
            keys.append(throttle.user_key(env, username))
        if not keys:
            raise InvalidAccountError("nothing to unlock: give a username, an address, or both")
        with self._engine.begin() as conn:
            cleared = throttle_repo.clear(conn, keys)
            for key in keys:
                self._changes.record(conn, entity="auth_failures", action="unlock", target=key)
        return cleared

    def list_users(self, env: str | None = None) -> list[UserRecord]:
        """Every user, or those of ``env``; by environment and username."""
        if env is not None:
            _check_env(env)
        with self._engine.connect() as conn:
            return accounts_repo.list_users(conn, env=env)
