"""Moving subject references from the request path's queue into the keyed table.

A reference inserted at random into ``audit_subjects`` (keyed by a random HMAC) costs a page
read and a page write at commit once the table outgrows the page cache: a bulk HES call of 500
codes spent ~30 ms of its answer on its 1,000 references (benchmarks/README.md). The request path
now appends them to ``audit_subjects_pending`` (committed with their audit record, so nothing is
lost); ``index_pending`` moves the oldest of them, sorted, in one transaction, so that each page
of the keyed table is written once per batch instead of once per reference. Readers see both
tables through ``all_subjects``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select, text, union_all

from saglik.store.schema import audit_subjects, audit_subjects_pending

BATCH = 200_000

_MOVE_SQLITE = (
    # One statement that writes first: SQLite takes the write lock before reading, so no other
    # worker's indexer or audit writer can slip a row in between this INSERT and the DELETE.
    "INSERT INTO audit_subjects (subject_ref, event_id) "
    "SELECT subject_ref, event_id FROM audit_subjects_pending "
    "WHERE id <= (SELECT max(id) FROM "
    "(SELECT id FROM audit_subjects_pending ORDER BY id LIMIT :batch)) "
    "ORDER BY subject_ref, event_id "
    "ON CONFLICT DO NOTHING",
    "DELETE FROM audit_subjects_pending WHERE id <= (SELECT max(id) FROM "
    "(SELECT id FROM audit_subjects_pending ORDER BY id LIMIT :batch))",
)
_MOVE_POSTGRESQL = (
    # Row by row atomic under READ COMMITTED: a row is inserted exactly when this statement
    # deleted it; rows another worker is moving are skipped, not waited for or moved twice.
    "WITH moved AS (DELETE FROM audit_subjects_pending WHERE id IN "
    "(SELECT id FROM audit_subjects_pending ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED) "
    "RETURNING subject_ref, event_id) "
    "INSERT INTO audit_subjects (subject_ref, event_id) "
    "SELECT subject_ref, event_id FROM moved ORDER BY subject_ref, event_id "
    "ON CONFLICT DO NOTHING",
)


def index_pending(engine: Engine, batch: int = BATCH) -> int:
    """Moves up to ``batch`` of the oldest pending references; returns how many left the queue."""
    statements = _MOVE_POSTGRESQL if engine.dialect.name == "postgresql" else _MOVE_SQLITE
    with engine.begin() as conn:
        counts = [conn.execute(text(sql), {"batch": batch}).rowcount for sql in statements]
    return counts[-1]


def index_all(engine: Engine, batch: int = BATCH) -> int:
    """Drains the queue (at start-up, on a timer, and at shutdown)."""
    total = 0
    while True:
        moved = index_pending(engine, batch)
        total += moved
        if moved < batch:
            return total


def all_subjects() -> Any:
    """(event_id, subject_ref) of every reference, indexed or still queued."""
    return union_all(
        select(audit_subjects.c.event_id, audit_subjects.c.subject_ref),
        select(audit_subjects_pending.c.event_id, audit_subjects_pending.c.subject_ref),
    ).subquery("all_subjects")
