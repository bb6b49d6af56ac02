"""Risky-visitor reports to the Ministry of Interior (contract §4.5): an outbox written in the
audit transaction, delivered at least once, signed, with retries and backoff.

The transport is injected (a ``Sender``), so this module knows nothing of HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select

from saglik.domain.clock import Clock
from saglik.store.schema import moi_outbox

if TYPE_CHECKING:
    from saglik.services.hes import Visit

log = logging.getLogger("saglik.moi")

Sender = Callable[[bytes, dict[str, str]], Awaitable[bool]]
"""Delivers one signed body with its headers; True once the receiver acknowledged it."""

MAX_BACKOFF = timedelta(minutes=30)


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
    engine: Engine, clock: Clock, send: Sender, secret: str, limit: int = 50
) -> int:
    """Sends what is due; returns how many were acknowledged. A crash between send and mark
    re-sends the report later: receivers deduplicate by ``report_id``."""
    now = clock.now()
    with engine.connect() as conn:
        rows = conn.execute(
            select(moi_outbox.c.id, moi_outbox.c.payload, moi_outbox.c.attempts)
            .where(moi_outbox.c.delivered_at.is_(None), moi_outbox.c.next_attempt_at <= now)
            .order_by(moi_outbox.c.id)
            .limit(limit)
        ).all()
    delivered = 0
    for row in rows:
        body = row.payload.encode()
        headers = {
            "Content-Type": "application/json",
            "X-Saglik-Signature": signature(secret, body),
        }
        try:
            ok = await send(body, headers)
            error = None if ok else "rejected"
        except Exception as exc:  # any transport failure is retried later
            ok, error = False, type(exc).__name__
        with engine.begin() as conn:
            if ok:
                conn.execute(
                    moi_outbox.update()
                    .where(moi_outbox.c.id == row.id)
                    .values(delivered_at=clock.now())
                )
                delivered += 1
            else:
                attempts = row.attempts + 1
                conn.execute(
                    moi_outbox.update()
                    .where(moi_outbox.c.id == row.id)
                    .values(
                        attempts=attempts,
                        next_attempt_at=clock.now() + backoff(attempts),
                        last_error=error,
                    )
                )
                log.warning("MoI report delivery failed (attempt %d): %s", attempts, error)
    return delivered
