"""How many risky-visitor reports wait for delivery, for ``GET /metrics``.

Read on every scrape, so it must stay cheap whatever happens to the receiver: the count walks
only the undelivered entries of ``ix_moi_outbox_pending`` (whose first column is
``delivered_at``), never the delivered history, and stops at ``cap``.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, literal, select

from saglik.store.schema import moi_outbox

BACKLOG_CAP = 100_000
"""A reading of this many means at least this many: far past any alert threshold, and counting
it is still a matter of milliseconds."""


def undelivered(engine: Engine, cap: int = BACKLOG_CAP) -> int:
    pending = select(literal(1)).where(moi_outbox.c.delivered_at.is_(None)).limit(cap).subquery()
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(pending)).scalar_one())
