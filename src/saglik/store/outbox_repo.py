"""Claims on the MoI outbox (``moi_outbox``): a report is sent by the one sender that leased it.

The lease length and the backoff are the caller's rules (``services/moi_outbox.py``); this module
only makes a claim atomic on both databases and keeps every outcome to the claim it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, or_, select, update

from saglik.store.schema import moi_outbox


@dataclass(frozen=True, order=True)
class Claimed:
    id: int
    payload: str
    attempts: int


def claim_due(
    conn: Connection, *, now: datetime, until: datetime, token: str, limit: int
) -> list[Claimed]:
    """Leases to ``token`` until ``until`` up to ``limit`` reports that are due, undelivered and
    not leased (or whose lease ran out: their sender died), oldest first.

    Commit before sending: the lease must be visible to every other claimer while the report is
    on its way. PostgreSQL: ``FOR UPDATE SKIP LOCKED`` passes over rows another claim is taking
    instead of waiting for it, and a row whose claim committed meanwhile fails the lease test when
    rechecked. SQLite: the UPDATE is the transaction's first statement, so it holds the single
    write lock before it reads, and claims run one after the other."""
    due = (
        select(moi_outbox.c.id)
        .where(
            moi_outbox.c.delivered_at.is_(None),
            moi_outbox.c.next_attempt_at <= now,
            or_(moi_outbox.c.leased_until.is_(None), moi_outbox.c.leased_until <= now),
        )
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


def _settle(conn: Connection, row_id: int, token: str, **values: object) -> bool:
    result = conn.execute(
        update(moi_outbox)
        .where(moi_outbox.c.id == row_id, moi_outbox.c.lease_token == token)
        .values(leased_until=None, lease_token=None, **values)
    )
    return result.rowcount == 1
