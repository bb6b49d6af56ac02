"""The gateway in front of every G2G method (contract §3): who is calling, may they call this, how
often, and the audit record that must be committed before any answer leaves."""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import math
import time
from dataclasses import dataclass
from enum import Enum

from limits import RateLimitItem
from limits import parse as parse_rate_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from saglik.domain.clock import Clock
from saglik.services.authn import Authenticator, Principal
from saglik.store.audit_writer import AuditRecord, GroupCommitter

NO_SUCH_METHOD = "no-such-method"


class Denial(Enum):
    """Why a call was refused; each service renders these in its own documented way."""

    UNAUTHENTICATED = "unauthenticated"
    INACTIVE = "inactive"
    IP_NOT_ALLOWED = "ip-not-allowed"
    METHOD_NOT_GRANTED = "method-not-granted"
    RATE_LIMITED = "rate-limited"


@dataclass(frozen=True, slots=True)
class Admission:
    principal: Principal | None
    denial: Denial | None = None
    retry_after: int = 0


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


class Gateway:
    def __init__(
        self,
        authenticator: Authenticator,
        committer: GroupCommitter,
        clock: Clock,
        trusted_proxies: tuple[str, ...] = (),
    ) -> None:
        self._authn = authenticator
        self._committer = committer
        self._clock = clock
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._limits: dict[str, RateLimitItem] = {}
        self._trusted = tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)
        self._flights: dict[tuple[bytes, int], asyncio.Future[Principal | None]] = {}

    def client_ip(self, request: Request) -> str | None:
        """The peer address, or the nearest untrusted hop of X-Forwarded-For behind our proxies."""
        peer = request.client.host if request.client else None
        if not self._trusted or peer is None or not self._is_trusted(peer):
            return peer
        hops = [
            h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()
        ]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop
        return peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._trusted)

    async def admit(
        self, request: Request, env: str, method: str, client_ip: str | None
    ) -> Admission:
        credentials = _basic_credentials(request.headers.get("authorization"))
        if credentials is None:
            return Admission(None, Denial.UNAUTHENTICATED)
        username, password = credentials
        principal = self._authn.cached(env, username, password)
        if principal is None:
            principal = await self._verify_once(env, username, password)
        if principal is None:
            return Admission(None, Denial.UNAUTHENTICATED)
        if not principal.active:
            return Admission(principal, Denial.INACTIVE)
        if not principal.allows_ip(client_ip):
            return Admission(principal, Denial.IP_NOT_ALLOWED)
        if not principal.may_call(method):
            return Admission(principal, Denial.METHOD_NOT_GRANTED)
        if principal.rate_limit is not None:
            limit = self._limits.get(principal.rate_limit)
            if limit is None:
                limit = self._limits[principal.rate_limit] = parse_rate_limit(principal.rate_limit)
            key = str(principal.user_id)
            if not self._limiter.hit(limit, key):
                reset = self._limiter.get_window_stats(limit, key).reset_time
                return Admission(
                    principal, Denial.RATE_LIMITED, max(1, math.ceil(reset - time.time()))
                )
        return Admission(principal)

    async def _verify_once(self, env: str, username: str, password: str) -> Principal | None:
        """Argon2id costs ~17 ms of CPU: concurrent requests with one credential not yet in the
        cache (every client at start-up, or after a change) share a single verification instead
        of each running its own, which made the first second of a load test queue behind 64."""
        key = self._authn.flight_key(env, username, password)
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(
                run_in_threadpool(self._authn.verify, env, username, password)
            )
            self._flights[key] = flight
            flight.add_done_callback(lambda _done: self._flights.pop(key, None))
        return await asyncio.shield(flight)

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
        """Returns once the record is committed; raises AuditUnavailableError if it cannot be."""
        principal = admission.principal
        await self._committer.submit(
            AuditRecord(
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
        )
