"""Migration 0008 (issue 14 §4): the reports already in the outbox take the environment their
payload names, so a test report still waiting is never sent to the Ministry after the upgrade;
a downgrade settles the undelivered test reports, since the older version would send them
there."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Engine, inspect, text

from saglik.store import migrate, outbox_repo
from saglik.store.outbox_backlog import undelivered

AT = datetime(2026, 6, 15, 9, 0)  # naive UTC, as the columns store it


def _payload(report_id: str, environment: str, address: str = "Bilkent") -> str:
    """As ``risky_visit_report`` writes it: compact JSON, the environment before the visit."""
    report = {"report_id": report_id, "environment": environment, "explicit_address": address}
    return json.dumps(report, ensure_ascii=False, separators=(",", ":"))


def _insert(engine: Engine, payload: str, delivered: datetime | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO moi_outbox (created_at, payload, attempts, next_attempt_at,"
                " delivered_at) VALUES (:at, :payload, 0, :at, :delivered)"
            ),
            {"at": AT, "payload": payload, "delivered": delivered},
        )


def test_upgrade_gives_each_report_the_environment_its_payload_names(blank_db: Engine) -> None:
    migrate.upgrade(blank_db, "0007")
    _insert(blank_db, _payload("live-waiting", "live"))
    _insert(blank_db, _payload("test-waiting", "test"))
    _insert(blank_db, _payload("test-sent", "test"), delivered=AT)
    # a visitor's address quoting the key: escaped inside the value, it names nothing
    _insert(blank_db, _payload("live-quoting", "live", address='x","environment":"test'))
    migrate.upgrade(blank_db, "0008")
    with blank_db.connect() as conn:
        rows = conn.execute(text("SELECT payload, environment FROM moi_outbox")).all()
    by_id = {json.loads(payload)["report_id"]: env for payload, env in rows}
    assert by_id == {
        "live-waiting": "live",
        "test-waiting": "test",
        "test-sent": "test",
        "live-quoting": "live",
    }
    now = AT.replace(tzinfo=UTC)
    with blank_db.begin() as conn:
        claimed = outbox_repo.claim_due(conn, now=now, until=now, token="t", limit=10)
    assert sorted(json.loads(c.payload)["report_id"] for c in claimed) == [
        "live-quoting",
        "live-waiting",
    ]
    assert undelivered(blank_db) == 2  # the waiting test report is no backlog


def test_downgrade_settles_the_undelivered_test_reports_and_keeps_every_report(
    blank_db: Engine,
) -> None:
    migrate.upgrade(blank_db)
    _insert(blank_db, _payload("live-waiting", "live"))
    _insert(blank_db, _payload("test-waiting", "test"))
    with blank_db.begin() as conn:
        conn.execute(
            text("UPDATE moi_outbox SET environment = 'test' WHERE payload LIKE '%test-%'")
        )
    migrate.downgrade(blank_db, "0007")
    columns = {c["name"] for c in inspect(blank_db).get_columns("moi_outbox")}
    assert not {"environment", "withheld_at"} & columns
    indexes = {i["name"]: i["column_names"] for i in inspect(blank_db).get_indexes("moi_outbox")}
    assert indexes == {"ix_moi_outbox_pending": ["delivered_at", "next_attempt_at"]}
    with blank_db.connect() as conn:
        rows = conn.execute(text("SELECT payload, delivered_at, last_error FROM moi_outbox"))
        state = {json.loads(p)["report_id"]: (d is not None, e) for p, d, e in rows}
    assert state == {
        "live-waiting": (False, None),  # still owed to the Ministry
        "test-waiting": (True, "test report: not sent"),  # the older version never sends it
    }
