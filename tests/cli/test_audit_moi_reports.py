"""``saglik audit moi-reports`` (issue 14 §4): the risky-visitor reports, newest first, each with
its environment, its state and the body exactly as it is (or would have been) sent; looking is
logged as a read, and a bad filter is one red line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from saglik.services.hes import Visit
from saglik.services.moi_outbox import risky_visit_report
from saglik.store.audit_writer import AuditRecord, write_batch
from saglik.store.schema import moi_outbox, operator_changes
from tests.cli.conftest import Invoke, assert_error

AT = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)
VISIT = Visit(institution_id=7, city="ANKARA", district="ÇANKAYA", explicit_address="Bilkent")


def visited(db: Engine, env: str, code: str, at: datetime) -> str:
    """A risky visitor check's audit record and report, written as the server writes them."""
    payload = risky_visit_report(at=at, env=env, code=code, person_ref="ref", visit=VISIT)
    record = AuditRecord(
        occurred_at=at,
        env=env,
        service="hes",
        method="check-visitor-hes-code",
        status=200,
        outcome="ok",
        latency_ms=1.0,
        client_ip="203.0.113.9",
        outbox_payload=payload,
    )
    write_batch(db, [record])
    return payload


def lines(result_stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in result_stdout.splitlines()]


def test_reports_are_listed_with_their_environment_state_and_body(cli: Invoke, db: Engine) -> None:
    assert cli("audit", "moi-reports").exit_code == 0  # an empty store: migrated, none listed
    live = visited(db, "live", "L1VE000001", AT)
    test = visited(db, "test", "T3ST000001", AT + timedelta(minutes=1))
    with db.begin() as conn:  # the live report was acknowledged, the test one withheld
        conn.execute(
            moi_outbox.update().where(moi_outbox.c.environment == "live").values(delivered_at=AT)
        )
        conn.execute(
            moi_outbox.update()
            .where(moi_outbox.c.environment == "test")
            .values(withheld_at=AT, last_error="not sent: no test receiver")
        )

    result = cli("audit", "moi-reports", "--json")
    assert result.exit_code == 0, result.output
    listed = lines(result.stdout)
    assert [(r["environment"], r["status"], r["payload"]) for r in listed] == [
        ("test", "not-sent", test),
        ("live", "delivered", live),
    ]
    only_test = lines(cli("audit", "moi-reports", "--env", "test", "--json").stdout)
    assert [r["payload"] for r in only_test] == [test]
    delivered = lines(cli("audit", "moi-reports", "--status", "delivered", "--json").stdout)
    assert [r["payload"] for r in delivered] == [live]
    later = cli("audit", "moi-reports", "--since", "2026-06-15T09:31:00Z", "--json")
    assert [r["payload"] for r in lines(later.stdout)] == [test]

    table = cli("audit", "moi-reports", "--env", "test").stdout
    assert "1 report(s)" in table
    assert "not sent" in table
    assert "T3ST000001" in table.replace("\n", "").replace("│", "").replace(" ", "")


def test_a_listing_that_shows_reports_is_logged_as_a_read(cli: Invoke, db: Engine) -> None:
    cli("audit", "moi-reports")
    visited(db, "test", "T3ST000002", AT)
    cli("audit", "moi-reports", "--env", "live")  # shows nothing: no read to log
    assert cli("audit", "moi-reports", "--env", "test").exit_code == 0
    with db.connect() as conn:
        reads = conn.execute(
            select(operator_changes.c.entity, operator_changes.c.action, operator_changes.c.env)
        ).all()
    assert [tuple(r) for r in reads if r.entity == "moi_report"] == [("moi_report", "read", "test")]


def test_bad_filters_are_refused_on_one_line(cli: Invoke) -> None:
    assert_error(cli("audit", "moi-reports", "--env", "prod"), "environment must be one of")
    assert_error(cli("audit", "moi-reports", "--status", "lost"), "status must be one of")
    assert_error(
        cli("audit", "moi-reports", "--since", "2026-06-15", "--until", "2026-06-14"),
        "until must be after since",
    )
