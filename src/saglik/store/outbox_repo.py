"""Claims on the MoI outbox (``moi_outbox``): a report is sent by the one sender that leased it,
to the receiver of its own environment only.

The lease length and the backoff are the caller's rules (``services/moi_outbox.py``); this module
only makes a claim atomic on both databases and keeps every outcome to the claim it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, or_, select, update

from saglik.store.schema import moi_outbox

WAITING, DELIVERED, NOT_SENT = "waiting", "delivered", "not-sent"
STATUSES = (WAITING, DELIVERED, NOT_SENT)
"""A report is waiting (to be sent, or sent again after a failure) until it is delivered (its
receiver acknowledged it) or not sent (recorded, never to be sent: ``withheld_at``)."""


@dataclass(frozen=True, order=True)
class Claimed:
    id: int
    payload: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Report:
    """One outbox row as an operator reads it (``saglik audit moi-reports``)."""

    id: int
    created_at: datetime
    environment: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    """When it is tried next; None once it is delivered or not sent."""
    delivered_at: datetime | None
    withheld_at: datetime | None
    payload: str
    """The body exactly as it is (or would have been) sent."""


def _waiting(environment: str) -> ColumnElement[bool]:
    """Reports of ``environment`` that are neither delivered nor withheld (the pending index's
    leading columns)."""
    return and_(
        moi_outbox.c.environment == environment,
        moi_outbox.c.delivered_at.is_(None),
        moi_outbox.c.withheld_at.is_(None),
    )


def _due(environment: str, now: datetime) -> ColumnElement[bool]:
    """Waiting, due, and not leased (or leased by a sender that died: the lease ran out)."""
    return and_(
        _waiting(environment),
        moi_outbox.c.next_attempt_at <= now,
        or_(moi_outbox.c.leased_until.is_(None), moi_outbox.c.leased_until <= now),
    )


def claim_due(
    conn: Connection,
    *,
    now: datetime,
    until: datetime,
    token: str,
    limit: int,
    environment: str = "live",
) -> list[Claimed]:
    """Leases to ``token`` until ``until`` up to ``limit`` reports of ``environment`` that are
    due and waiting, and not leased (or whose lease ran out: their sender died), oldest first.

    Commit before sending: the lease must be visible to every other claimer while the report is
    on its way. PostgreSQL: ``FOR UPDATE SKIP LOCKED`` passes over rows another claim is taking
    instead of waiting for it, and a row whose claim committed meanwhile fails the lease test when
    rechecked. SQLite: the UPDATE is the transaction's first statement, so it holds the single
    write lock before it reads, and claims run one after the other."""
    due = (
        select(moi_outbox.c.id)
        .where(_due(environment, now))
        .order_by(moi_outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = conn.execute(
        update(moi_outbox)
        .where(moi_outbox.c.id.in_(due.scalar_subquery()))
        .values(leased_until=until, lease_token=token)
        .returning(moi_outbox.c.id, moi_outbox.c.payload, moi_outbox.c.attempts)
    ).all()
    return sorted(Claimed(row.id, row.payload, row.attempts) for row in rows)


def withhold_due(conn: Connection, *, environment: str, now: datetime, reason: str) -> int:
    """Marks every due, waiting and unleased report of ``environment`` not sent (``withheld_at``
    ``now``, ``last_error`` ``reason``); returns how many. A report on its way (leased) is left
    to its sender.

    Looks before it writes: most calls find nothing, and on SQLite a read takes no write lock."""
    if not conn.execute(select(exists().where(_due(environment, now)))).scalar_one():
        return 0
    result = conn.execute(
        update(moi_outbox)
        .where(_due(environment, now))
        .values(withheld_at=now, last_error=reason[:200])
    )
    return int(result.rowcount)


def mark_delivered(conn: Connection, row_id: int, token: str, at: datetime) -> bool:
    """Records the acknowledgement and ends the lease; False if the claim ``token`` no longer
    holds the row (it was reclaimed after its lease ran out: the other sender records its own)."""
    return _settle(conn, row_id, token, delivered_at=at)


def mark_failed(
    conn: Connection, row_id: int, token: str, *, retry_at: datetime, error: str
) -> bool:
    """Counts one more failed attempt, sets the next one and ends the lease; False as above."""
    return _settle(
        conn,
        row_id,
        token,
        attempts=moi_outbox.c.attempts + 1,
        next_attempt_at=retry_at,
        last_error=error,
    )


def mark_withheld(conn: Connection, row_id: int, token: str, *, at: datetime, reason: str) -> bool:
    """Records a claimed report as not sent, for good, and ends the lease; False as above."""
    return _settle(conn, row_id, token, withheld_at=at, last_error=reason[:200])


def _settle(conn: Connection, row_id: int, token: str, **values: object) -> bool:
    result = conn.execute(
        update(moi_outbox)
        .where(moi_outbox.c.id == row_id, moi_outbox.c.lease_token == token)
        .values(leased_until=None, lease_token=None, **values)
    )
    return result.rowcount == 1


def list_reports(
    conn: Connection,
    *,
    environment: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[Report]:
    """Reports recorded in ``[since, until)``, newest first, at most ``limit``."""
    c = moi_outbox.c
    conditions: list[ColumnElement[bool]] = []
    if environment is not None:
        conditions.append(c.environment == environment)
    if status == DELIVERED:
        conditions.append(c.delivered_at.is_not(None))
    elif status == NOT_SENT:
        conditions += [c.delivered_at.is_(None), c.withheld_at.is_not(None)]
    elif status == WAITING:
        conditions += [c.delivered_at.is_(None), c.withheld_at.is_(None)]
    if since is not None:
        conditions.append(c.created_at >= since)
    if until is not None:
        conditions.append(c.created_at < until)
    rows = conn.execute(
        select(moi_outbox)
        .where(*conditions)
        .order_by(c.created_at.desc(), c.id.desc())
        .limit(limit)
    ).all()
    return [_report(row) for row in rows]


def _report(row: Any) -> Report:
    if row.delivered_at is not None:
        status = DELIVERED
    elif row.withheld_at is not None:
        status = NOT_SENT
    else:
        status = WAITING
    return Report(
        id=row.id,
        created_at=row.created_at,
        environment=row.environment,
        status=status,
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at if status == WAITING else None,
        delivered_at=row.delivered_at,
        withheld_at=row.withheld_at,
        payload=row.payload,
    )
