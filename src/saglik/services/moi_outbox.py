"""Risky-visitor reports to the Ministry of Interior (contract §4.5): an outbox written in the
audit transaction, delivered at least once, signed, with retries and backoff.

The transport is injected (a ``Sender``), so this module knows nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from saglik.domain.clock import Clock
from saglik.store import outbox_repo
from saglik.telemetry import MOI_DELIVERED, MOI_DELIVERY_FAILURES

if TYPE_CHECKING:
    from saglik.services.hes import Visit

log = logging.getLogger("saglik.moi")

Sender = Callable[[bytes, dict[str, str]], Awaitable[bool]]
"""Delivers one signed body with its headers; True once the receiver acknowledged it."""

MAX_BACKOFF = timedelta(minutes=30)
SEND_TIMEOUT = timedelta(seconds=10)
"""The longest one send may take; past it the attempt counts as failed."""
LEASE = timedelta(seconds=60)
"""How long a claimed report stays its sender's. Six times ``SEND_TIMEOUT``, so the claim's
commit, the send and the outcome's commit fit in it even on a busy store, and nobody else takes a
report while it is on its way; after a crash its reports are claimable again this long after
they were claimed."""
DEFAULT_CONCURRENCY = 4
"""Sends one worker has in flight at once (``SAGLIK_MOI_CONCURRENCY``): a slow receiver still
gets this many reports per ``SEND_TIMEOUT`` from each worker, and never more connections."""


def risky_visit_report(*, at: datetime, env: str, code: str, person_ref: str, visit: Visit) -> str:
    report = {
        "report_id": str(uuid.uuid4()),
        "reported_at": at.isoformat(),
        "environment": env,
        "hes_code": code,
        "person_ref": person_ref,
        **asdict(visit),
    }
    return json.dumps(report, ensure_ascii=False, separators=(",", ":"))


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> timedelta:
    return min(MAX_BACKOFF, timedelta(seconds=2 ** min(attempts, 12)))


async def deliver_due(
    engine: Engine,
    clock: Clock,
    send: Sender,
    secret: str,
    limit: int | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> int:
    """Sends what is due (at most ``limit`` reports; None: until nothing is), ``concurrency`` at
    a time; returns how many were acknowledged.

    Each batch is claimed (leased for ``LEASE``) and committed before it is sent, so any number
    of workers on any number of machines send each report once. A crash between send and mark
    re-sends the report once the lease runs out: receivers deduplicate by ``report_id``. A batch
    is no larger than ``concurrency``, so every report claimed is on its way at once and its
    lease never runs out while it waits behind others."""
    delivered = 0
    remaining = limit
    while remaining is None or remaining > 0:
        size = concurrency if remaining is None else min(concurrency, remaining)
        token = uuid.uuid4().hex
        batch = await asyncio.to_thread(_claim, engine, clock, token, size)
        if not batch:
            break
        if remaining is not None:
            remaining -= len(batch)
        sent = await asyncio.gather(
            *(_deliver(engine, clock, send, secret, token, report) for report in batch)
        )
        delivered += sum(sent)
    return delivered


def _claim(engine: Engine, clock: Clock, token: str, size: int) -> list[outbox_repo.Claimed]:
    now = clock.now()
    with engine.begin() as conn:
        return outbox_repo.claim_due(conn, now=now, until=now + LEASE, token=token, limit=size)


async def _deliver(
    engine: Engine,
    clock: Clock,
    send: Sender,
    secret: str,
    token: str,
    report: outbox_repo.Claimed,
) -> bool:
    """One report's attempt and its outcome, recorded only while the claim still holds it."""
    body = report.payload.encode()
    headers = {"Content-Type": "application/json", "X-Saglik-Signature": signature(secret, body)}
    try:
        async with asyncio.timeout(SEND_TIMEOUT.total_seconds()):
            ok = await send(body, headers)
        error = None if ok else "rejected"
    except Exception as exc:  # any transport failure is retried later
        ok, error = False, type(exc).__name__
    (MOI_DELIVERED if ok else MOI_DELIVERY_FAILURES).inc()

    def record() -> bool:
        with engine.begin() as conn:
            if error is None:
                return outbox_repo.mark_delivered(conn, report.id, token, clock.now())
            retry_at = clock.now() + backoff(report.attempts + 1)
            return outbox_repo.mark_failed(conn, report.id, token, retry_at=retry_at, error=error)

    if not await asyncio.to_thread(record):
        log.warning("MoI report outcome not recorded: its lease ran out and it was claimed again")
    elif error is not None:
        log.warning("MoI report delivery failed (attempt %d): %s", report.attempts + 1, error)
    return ok
