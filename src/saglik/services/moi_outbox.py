"""Risky-visitor reports to the Ministry of Interior (contract §4.5): an outbox written in the
audit transaction, delivered at least once, signed, with retries and backoff.

Each report goes only to the receiver of its own environment: live reports to the Ministry
(``SAGLIK_MOI_ENDPOINT``), test-environment reports to ``SAGLIK_MOI_TEST_ENDPOINT`` if one is
set, signed with that receiver's own key; with no test receiver a test report is recorded and
marked not sent (``withhold_test_reports``), never retried. Sandbox traffic never reaches the
Ministry: the claim selects by the row's environment, and the report's own ``environment`` is
checked again before it is sent.

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
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from saglik.domain.clock import Clock
from saglik.domain.errors import InvalidInput
from saglik.store import outbox_repo
from saglik.telemetry import MOI_DELIVERED, MOI_DELIVERY_FAILURES

if TYPE_CHECKING:
    from saglik.services.changes import ChangeLog
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
"""Sends one worker has in flight at once to each receiver (``SAGLIK_MOI_CONCURRENCY``): a slow
receiver still gets this many reports per ``SEND_TIMEOUT`` from each worker, and never more
connections."""

LIVE, TEST = "live", "test"
"""The environments a report belongs to (the call's): each has its own receiver."""
NO_TEST_RECEIVER = "not sent: no test receiver (SAGLIK_MOI_TEST_ENDPOINT unset)"
MISMATCH = "not sent: the report names another environment than its row"
REPORT_READ = "moi_report"
"""The change log's entity for an operator's read of the reports (they hold HES codes)."""


@dataclass(frozen=True)
class Destination:
    """One receiver: the transport to it and the key that signs what it is sent."""

    send: Sender
    secret: str


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
    environment: str = LIVE,
) -> int:
    """Sends what is due of ``environment``'s reports, and nothing else, to ``send`` (at most
    ``limit`` reports; None: until nothing is), ``concurrency`` at a time; returns how many were
    acknowledged.

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
        batch = await asyncio.to_thread(_claim, engine, clock, token, size, environment)
        if not batch:
            break
        if remaining is not None:
            remaining -= len(batch)
        sent = await asyncio.gather(
            *(
                _deliver(engine, clock, Destination(send, secret), environment, token, report)
                for report in batch
            )
        )
        delivered += sum(sent)
    return delivered


def withhold_test_reports(engine: Engine, clock: Clock) -> int:
    """With no test receiver: marks the test reports that are due not sent (blocking). They
    stay in the outbox with their audit record, for ``saglik audit moi-reports``; nobody tries
    them again, and the backlog never counted them."""
    with engine.begin() as conn:
        return outbox_repo.withhold_due(
            conn, environment=TEST, now=clock.now(), reason=NO_TEST_RECEIVER
        )


def _claim(
    engine: Engine, clock: Clock, token: str, size: int, environment: str
) -> list[outbox_repo.Claimed]:
    now = clock.now()
    with engine.begin() as conn:
        return outbox_repo.claim_due(
            conn, now=now, until=now + LEASE, token=token, limit=size, environment=environment
        )


def report_environment(payload: str) -> str | None:
    """The ``environment`` a report names; None if it names none (or is not a JSON object)."""
    try:
        report = json.loads(payload)
    except ValueError:
        return None
    named = report.get("environment") if isinstance(report, dict) else None
    return named if isinstance(named, str) else None


async def _deliver(
    engine: Engine,
    clock: Clock,
    destination: Destination,
    environment: str,
    token: str,
    report: outbox_repo.Claimed,
) -> bool:
    """One report's attempt and its outcome, recorded only while the claim still holds it.

    A report that names another environment than the one it was claimed for is not sent (its
    row was written wrong; sending it could put sandbox traffic in front of the Ministry): it is
    recorded not sent, and logged without its content."""
    named = report_environment(report.payload)
    if named is not None and named != environment:
        await asyncio.to_thread(_withhold, engine, clock, token, report)
        log.error(
            "MoI report %d not sent: it names another environment than %s", report.id, environment
        )
        return False
    body = report.payload.encode()
    headers = {
        "Content-Type": "application/json",
        "X-Saglik-Signature": signature(destination.secret, body),
    }
    try:
        async with asyncio.timeout(SEND_TIMEOUT.total_seconds()):
            ok = await destination.send(body, headers)
        error = None if ok else "rejected"
    except Exception as exc:  # any transport failure is retried later
        ok, error = False, type(exc).__name__
    if environment == LIVE:  # the metrics count what the Ministry acknowledged, nothing else
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
        log.warning(
            "MoI report delivery failed (%s, attempt %d): %s",
            environment,
            report.attempts + 1,
            error,
        )
    return ok


def _withhold(engine: Engine, clock: Clock, token: str, report: outbox_repo.Claimed) -> None:
    with engine.begin() as conn:
        outbox_repo.mark_withheld(conn, report.id, token, at=clock.now(), reason=MISMATCH)


def list_reports(
    engine: Engine,
    changes: ChangeLog,
    *,
    environment: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[outbox_repo.Report]:
    """The reports recorded in ``[since, until)``, newest first, each with its state and its
    body exactly as it is (or would have been) sent: what an integrator checks their test
    receiver against, or what the Ministry was sent.

    A report holds a HES code in clear and where it was shown, so a listing that shows any is
    logged as a read (entity ``moi_report``) under ``changes``' actor, before it is returned. The
    bodies themselves are never logged."""
    if environment is not None and environment not in (LIVE, TEST):
        raise InvalidInput(f"environment must be one of {LIVE}, {TEST}")
    if status is not None and status not in outbox_repo.STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(outbox_repo.STATUSES)}")
    for moment in (since, until):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput("times need an offset (e.g. 2026-11-23T10:00:00+03:00)")
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until must be after since")
    if not 1 <= limit <= 10_000:
        raise InvalidInput("limit must be between 1 and 10000")
    with engine.connect() as conn:
        reports = outbox_repo.list_reports(
            conn, environment=environment, status=status, since=since, until=until, limit=limit
        )
    for env in sorted({r.environment for r in reports}):
        changes.record_read(engine, entity=REPORT_READ, env=env)
    return reports
