"""How many risky-visitor reports wait for the Ministry of Interior, for ``GET /metrics`` and the
console's dashboard.

Only live reports count: a test-environment report is never owed to the Ministry (it goes to
``SAGLIK_MOI_TEST_ENDPOINT`` if one is set, else it is recorded and not sent), so neither a
sandbox receiver's outage nor sandbox traffic raises the figure operators alert on. Delivered and
withheld reports do not count either.

Read on every scrape, so it must stay cheap whatever happens to the receiver: the count walks
only the live, waiting entries of ``ix_moi_outbox_pending`` (whose leading columns are
``environment``, ``delivered_at`` and ``withheld_at``), never the delivered history nor the test
reports, and stops at ``cap``.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, literal, select

from saglik.store.schema import moi_outbox

BACKLOG_CAP = 100_000
"""A reading of this many means at least this many: far past any alert threshold, and counting
it is still a matter of milliseconds."""

LIVE = "live"


def undelivered(engine: Engine, cap: int = BACKLOG_CAP) -> int:
    """Live reports waiting for delivery (to be sent, or sent again after a failure)."""
    pending = (
        select(literal(1))
        .where(
            moi_outbox.c.environment == LIVE,
            moi_outbox.c.delivered_at.is_(None),
            moi_outbox.c.withheld_at.is_(None),
        )
        .limit(cap)
        .subquery()
    )
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(pending)).scalar_one())
