"""Migration 0006: a store with reports in its outbox gains the leases and keeps every report, the
undelivered ones claimable at once; a downgrade takes the leases away and keeps the reports."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, inspect, text

from saglik.store import migrate, outbox_repo
from tests.store.test_migrations import app_tables

AT = datetime(2026, 6, 15, 9, 0)  # naive UTC, as the columns store it


def _reports(engine: Engine) -> list[tuple[int, str, int, object]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, payload, attempts, delivered_at FROM moi_outbox ORDER BY id")
        )
        return [tuple(r) for r in rows]


def test_upgrade_keeps_the_outbox_and_leaves_its_reports_claimable(blank_db: Engine) -> None:
    migrate.upgrade(blank_db, "0005")
    with blank_db.begin() as conn:
        for payload, delivered in (('{"n":1}', None), ('{"n":2}', AT)):
            conn.execute(
                text(
                    "INSERT INTO moi_outbox (created_at, payload, attempts, next_attempt_at,"
                    " delivered_at) VALUES (:at, :payload, 2, :at, :delivered)"
                ),
                {"at": AT, "payload": payload, "delivered": delivered},
            )
    before = _reports(blank_db)
    migrate.upgrade(blank_db, "0006")
    assert _reports(blank_db) == before
    migrate.upgrade(blank_db)  # the claim of this version reads the columns of later ones
    now = AT.replace(tzinfo=UTC)
    with blank_db.begin() as conn:
        claimed = outbox_repo.claim_due(conn, now=now, until=now, token="t", limit=10)
    assert [(c.payload, c.attempts) for c in claimed] == [('{"n":1}', 2)]


def test_downgrade_to_0005_removes_the_leases_and_keeps_the_reports(blank_db: Engine) -> None:
    migrate.upgrade(blank_db)
    with blank_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO moi_outbox (created_at, payload, attempts, next_attempt_at,"
                " leased_until, lease_token) VALUES (:at, '{}', 0, :at, :at, 'held')"
            ),
            {"at": AT},
        )
        conn.execute(
            text("INSERT INTO job_leases (name, holder, leased_until) VALUES ('j', 'w', :at)"),
            {"at": AT},
        )
    migrate.downgrade(blank_db, "0005")
    assert "job_leases" not in app_tables(blank_db)
    columns = {c["name"] for c in inspect(blank_db).get_columns("moi_outbox")}
    assert not {"leased_until", "lease_token"} & columns
    assert [(r[1], r[2]) for r in _reports(blank_db)] == [("{}", 0)]
