"""The gateway in front of every G2G method (contract §3): who is calling, may they call this,
how often, and the audit record that must be committed before any answer leaves.

The order is the README's ("Refusals"): the user named, its state, the caller's address and the
method are decided before the password is looked at, so those refusals cannot tell a right
password from a wrong one; then the guessing throttle; then the password; then the rate limit.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import logging
import math
import time
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from saglik.domain import throttle
from saglik.domain.clock import Clock
from saglik.services.authn import Account, Authenticator, Principal
from saglik.services.rate_limits import RateLimits, RateLimitsUnavailableError
from saglik.services.refusal_tally import RefusalTally
from saglik.services.throttle import GuessThrottle
from saglik.store.audit_writer import AuditRecord, GroupCommitter
from saglik.store.change_feed import ChangeFeed
from saglik.store.state import Versions

log = logging.getLogger("saglik.audit")


class Refusal(Enum):
    """What a denied caller is told; each service renders these in its own documented way."""

    CHALLENGE = "challenge"
    """No credentials, or a wrong password (HES 401)."""
    FORBIDDEN = "forbidden"
    """Anything decided before the password: one answer for all of them (HES 403)."""
    THROTTLED = "throttled"
    """Too many wrong passwords for this username or address (HES 429, ``Retry-After``)."""
    RATE_LIMITED = "rate-limited"
    """Over the user's own rate limit (429, ``Retry-After``)."""
    UNAVAILABLE = "unavailable"
    """The rate-limit storage could not count the call (503, ``Retry-After``)."""


class Denial(Enum):
    """Why a call was refused, as the audit records it; ``refusal`` is what the caller learns."""

    UNAUTHENTICATED = "unauthenticated"
    WRONG_PASSWORD = "wrong-password"  # noqa: S105 (an outcome name, not a password)
    UNKNOWN_USER = "unknown-user"
    INACTIVE = "inactive"
    IP_NOT_ALLOWED = "ip-not-allowed"
    METHOD_NOT_GRANTED = "method-not-granted"
    THROTTLED = "throttled"
    RATE_LIMITED = "rate-limited"
    RATE_LIMITS_UNAVAILABLE = "rate-limits-unavailable"

    @property
    def refusal(self) -> Refusal:
        return _REFUSAL.get(self, Refusal.FORBIDDEN)


_REFUSAL = {
    Denial.UNAUTHENTICATED: Refusal.CHALLENGE,
    Denial.WRONG_PASSWORD: Refusal.CHALLENGE,
    Denial.THROTTLED: Refusal.THROTTLED,
    Denial.RATE_LIMITED: Refusal.RATE_LIMITED,
    Denial.RATE_LIMITS_UNAVAILABLE: Refusal.UNAVAILABLE,
}

UNAVAILABLE_RETRY_SECONDS = 5


@dataclass(frozen=True, slots=True)
class Admission:
    principal: Principal | None
    """The user named by the credentials (known even when refused), or None."""
    denial: Denial | None = None
    retry_after: int = 0
    versions: Versions | None = None
    """The users and locks the decision was made with (None: no credentials, nothing to
    decide with)."""

    @property
    def credentials_version(self) -> int | None:
        return None if self.versions is None else self.versions.credentials


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep or not username or "\x00" in username:  # no user has one; PostgreSQL text can't
        return None
    return username, password


def _before_password(account: Account | None, method: str, client_ip: str | None) -> Denial | None:
    if account is None:
        return Denial.UNKNOWN_USER
    principal = account.principal
    if not principal.active:
        return Denial.INACTIVE
    if not principal.allows_ip(client_ip):
        return Denial.IP_NOT_ALLOWED
    if not principal.may_call(method):
        return Denial.METHOD_NOT_GRANTED
    return None


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


class Gateway:
    def __init__(
        self,
        changes: ChangeFeed,
        authenticator: Authenticator,
        guesses: GuessThrottle,
        rate_limits: RateLimits,
        committer: GroupCommitter,
        clock: Clock,
        *,
        trusted_proxies: tuple[str, ...] = (),
        refusal_flush_seconds: float = 5.0,
    ) -> None:
        self._changes = changes
        self._authn = authenticator
        self._guesses = guesses
        self._rate_limits = rate_limits
        self._committer = committer
        self._clock = clock
        self._trusted = tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)
        self._flights: dict[tuple[bytes, int], asyncio.Future[bool | datetime]] = {}
        self._tally = RefusalTally()
        self._flush_seconds = refusal_flush_seconds
        self._flusher: asyncio.Task[None] | None = None

    def client_ip(self, request: Request) -> str | None:
        """The peer address, or the nearest untrusted hop of X-Forwarded-For behind our proxies."""
        peer = request.client.host if request.client else None
        if not self._trusted or peer is None or not self.is_trusted(peer):
            return peer
        hops = [
            h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()
        ]
        for hop in reversed(hops):
            if not self.is_trusted(hop):
                return hop
        return peer

    def is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._trusted)

    async def admit(
        self,
        request: Request,
        env: str,
        method: str,
        client_ip: str | None,
        versions: Versions | None = None,
    ) -> Admission:
        """Decides with the users and locks as of ``versions`` at least (by default, every
        change this worker has heard of)."""
        credentials = _basic_credentials(request.headers.get("authorization"))
        if credentials is None:
            return Admission(None, Denial.UNAUTHENTICATED)
        if versions is None:
            versions = await self._changes.versions()
        await self._authn.sync(versions.credentials)
        await self._guesses.sync(versions.locks)
        admission = await self._decide(env, method, client_ip, *credentials)
        return replace(admission, versions=versions)

    def confirm(self) -> Versions | None:
        """The versions as committed now, where the change feed may not have delivered the
        latest yet (PostgreSQL); None where it always has (SQLite). Blocking: it runs in the
        read thread, right after the call's own reads (``web/pipeline.py``)."""
        return None if self._changes.exact else self._changes.confirm()

    async def _decide(
        self, env: str, method: str, client_ip: str | None, username: str, password: str
    ) -> Admission:
        account = self._authn.account(env, username)
        denial = _before_password(account, method, client_ip)
        if denial is not None:
            return Admission(account.principal if account else None, denial)
        assert account is not None
        principal = account.principal
        keys = throttle.Keys(
            throttle.user_key(env, username),
            throttle.address_key(client_ip),
            # past the allow-list check: a user with a list is called from inside it
            user_lock_applies=not principal.networks,
        )
        if self._authn.cached(account, password):
            lock = self._guesses.known_lock(keys)
        else:
            checked = await self._check_once(account, password, keys)
            lock = checked if isinstance(checked, datetime) else None
            if checked is False:
                return Admission(principal, Denial.WRONG_PASSWORD)
        if lock is not None:
            return Admission(principal, Denial.THROTTLED, _seconds_until(lock, self._clock.now()))
        if principal.rate_limit is None:
            return Admission(principal)
        try:
            retry_after = await self._rate_limits.retry_after(
                principal.rate_limit, principal.user_id
            )
        except RateLimitsUnavailableError as exc:
            log.error("rate-limit storage unavailable: %s", exc)
            return Admission(principal, Denial.RATE_LIMITS_UNAVAILABLE, UNAVAILABLE_RETRY_SECONDS)
        if retry_after is None:
            return Admission(principal)
        return Admission(principal, Denial.RATE_LIMITED, retry_after)

    async def _check_once(
        self, account: Account, password: str, keys: throttle.Keys
    ) -> bool | datetime:
        """Argon2id costs ~17 ms of CPU: concurrent requests with one credential not yet in the
        cache (every client at start-up, or after a change) share a single check instead of each
        running its own, which made the first second of a load test queue behind 64.

        True: the password is right; False: wrong; a moment: a lock runs until then, and the
        password was not looked at (a locked key gets no answer about its guesses)."""
        flight_key = self._authn.flight_key(account, password)
        flight = self._flights.get(flight_key)
        if flight is None:
            flight = asyncio.ensure_future(run_in_threadpool(self._check, account, password, keys))
            self._flights[flight_key] = flight
            flight.add_done_callback(lambda _done: self._flights.pop(flight_key, None))
        return await asyncio.shield(flight)

    def _check(self, account: Account, password: str, keys: throttle.Keys) -> bool | datetime:
        lock = self._guesses.stored_lock(keys)
        if lock is not None:
            return lock
        if self._authn.verify(account, password):
            self._guesses.succeeded(keys)
            return True
        self._guesses.failed(keys)  # a lock it sets holds from the next attempt on
        return False

    async def audit(
        self,
        *,
        admission: Admission,
        env: str,
        service: str,
        method: str,
        status: int,
        outcome: str,
        started: float,
        client_ip: str | None,
        subject_refs: tuple[str, ...] = (),
        outbox_payload: str | None = None,
    ) -> None:
        """Returns once the record is committed; raises AuditUnavailableError if it cannot be.

        A call that was not admitted (refused by the gateway, to no method, or unreadable) is
        tallied (``services/refusal_tally.py``): only the first of its kind in a minute is
        written at once; the answer to the others does not wait for their (folded) row."""
        principal = admission.principal
        record = AuditRecord(
            occurred_at=self._clock.now(),
            env=env,
            service=service,
            method=method,
            status=status,
            outcome=outcome,
            latency_ms=(time.perf_counter() - started) * 1000,
            client_ip=client_ip,
            institution_id=principal.institution_id if principal else None,
            user_id=principal.user_id if principal else None,
            subject_refs=subject_refs,
            outbox_payload=outbox_payload,
        )
        if (admission.denial is not None or principal is None) and not self._tally.add(record):
            return
        await self._committer.submit(record)

    async def _flush_tally(self, everything: bool = False) -> None:
        cutoff = None if everything else self._clock.now().replace(second=0, microsecond=0)
        rows = self._tally.drain(cutoff)
        results = await asyncio.gather(
            *(self._committer.submit(row) for row in rows), return_exceptions=True
        )
        lost = sum(r.repeats for r, res in zip(rows, results, strict=True) if res is not None)
        if lost:
            log.error("audit store unavailable: %d tallied refusals not written", lost)

    def start(self) -> None:
        """Writes tallied refusals once their minute is over (the committer must be started)."""
        if not self._flush_seconds:
            return

        async def flush_forever() -> None:
            while True:
                await asyncio.sleep(self._flush_seconds)
                await self._flush_tally()

        self._flusher = asyncio.get_running_loop().create_task(flush_forever())

    async def close(self) -> None:
        """Writes every tallied refusal, the current minute's too (before the committer closes)."""
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
            self._flusher = None
        await self._flush_tally(everything=True)
