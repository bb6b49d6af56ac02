"""Claims on the MoI outbox (issue 12 §1): a report is leased to one sender at a time, however
many claim at once; a lease that runs out (its sender died) is claimed again; an outcome is
recorded only by the claim that still holds the row."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from saglik.store import outbox_repo
from saglik.store.schema import moi_outbox
from tests.store.backends import backend_of, blank_engine

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


@pytest.fixture(scope="module")
def own_store(store: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated store of this module's own: claims must not take the shared store's reports."""
    with blank_engine(backend_of(store), tmp_path_factory.mktemp("outbox"), migrated=True) as db:
        yield db


@pytest.fixture
def outbox(own_store: Engine) -> Engine:
    """An empty outbox, whatever an earlier test left leased or due."""
    with own_store.begin() as conn:
        conn.execute(moi_outbox.delete())
    return own_store


def enqueue(
    engine: Engine, count: int, due: datetime = NOW, environment: str = "live"
) -> list[int]:
    with engine.begin() as conn:
        return [
            int(
                conn.execute(
                    moi_outbox.insert().values(
                        created_at=due,
                        environment=environment,
                        payload=f'{{"n":{n}}}',
                        attempts=0,
                        next_attempt_at=due,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
            for n in range(count)
        ]


def claim(
    engine: Engine, token: str, *, at: datetime = NOW, limit: int = 10, environment: str = "live"
) -> list[int]:
    with engine.begin() as conn:
        claimed = outbox_repo.claim_due(
            conn, now=at, until=at + LEASE, token=token, limit=limit, environment=environment
        )
    return [c.id for c in claimed]


def row(engine: Engine, row_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(moi_outbox).where(moi_outbox.c.id == row_id)).one()


def test_a_claim_leases_the_oldest_due_reports_and_a_second_claim_gets_the_others(
    outbox: Engine,
) -> None:
    ids = enqueue(outbox, 5)
    enqueue(outbox, 1, due=NOW + timedelta(seconds=1))  # not due yet
    assert claim(outbox, "a", limit=3) == ids[:3]
    leased = row(outbox, ids[0])
    assert (leased.lease_token, leased.leased_until) == ("a", NOW + LEASE)
    assert claim(outbox, "b") == ids[3:]
    assert claim(outbox, "c") == []


def test_concurrent_claimers_never_get_the_same_report(outbox: Engine) -> None:
    ids = enqueue(outbox, 120)
    claims: dict[str, list[int]] = {}
    start = threading.Barrier(6)

    def claimer(token: str) -> None:
        mine = claims.setdefault(token, [])
        start.wait()
        for attempt in range(len(ids)):  # bounded: a broken claim may never run dry
            got = claim(outbox, f"{token}-{attempt}", limit=4)
            if not got:
                return
            mine.extend(got)

    threads = [threading.Thread(target=claimer, args=(f"t{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    every_claim = [row_id for mine in claims.values() for row_id in mine]
    assert sorted(every_claim) == ids  # each report once, none left behind
    assert sum(1 for mine in claims.values() if mine) > 1  # they did claim side by side


def test_a_claim_passes_over_reports_another_claim_is_taking(tmp_path: Path) -> None:
    """PostgreSQL: ``SKIP LOCKED``, so a claim never waits behind (or repeats) an uncommitted
    one. SQLite has one writer: the second claim waits for the first (the test above)."""
    with blank_engine("postgresql", tmp_path, migrated=True) as outbox:
        ids = enqueue(outbox, 4)
        with outbox.begin() as first:
            taken = outbox_repo.claim_due(first, now=NOW, until=NOW + LEASE, token="a", limit=2)
            with outbox.begin() as second:
                second.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                passed = outbox_repo.claim_due(
                    second, now=NOW, until=NOW + LEASE, token="b", limit=4
                )
    assert [c.id for c in taken] == ids[:2]
    assert [c.id for c in passed] == ids[2:]


def test_an_expired_lease_is_claimed_again_and_only_the_new_claim_records_the_outcome(
    outbox: Engine,
) -> None:
    (row_id,) = enqueue(outbox, 1)
    assert claim(outbox, "crashed") == [row_id]
    assert claim(outbox, "early", at=NOW + LEASE - timedelta(microseconds=1)) == []
    later = NOW + LEASE
    assert claim(outbox, "heir", at=later) == [row_id]

    with outbox.begin() as conn:  # the first sender comes back: its outcome is not recorded
        assert not outbox_repo.mark_delivered(conn, row_id, "crashed", later)
        assert not outbox_repo.mark_failed(
            conn, row_id, "crashed", retry_at=later + timedelta(hours=1), error="rejected"
        )
    unchanged = row(outbox, row_id)
    assert (unchanged.delivered_at, unchanged.attempts, unchanged.lease_token) == (None, 0, "heir")

    with outbox.begin() as conn:
        assert outbox_repo.mark_delivered(conn, row_id, "heir", later)
    done = row(outbox, row_id)
    assert (done.delivered_at, done.leased_until, done.lease_token) == (later, None, None)
    assert claim(outbox, "after", at=later + timedelta(days=1)) == []


def test_a_failure_ends_the_lease_and_the_report_waits_for_its_retry(outbox: Engine) -> None:
    (row_id,) = enqueue(outbox, 1)
    token = uuid.uuid4().hex
    assert claim(outbox, token) == [row_id]
    retry_at = NOW + timedelta(seconds=2)
    with outbox.begin() as conn:
        assert outbox_repo.mark_failed(conn, row_id, token, retry_at=retry_at, error="rejected")
    failed = row(outbox, row_id)
    assert (failed.attempts, failed.next_attempt_at, failed.last_error) == (1, retry_at, "rejected")
    assert (failed.leased_until, failed.lease_token) == (None, None)
    assert claim(outbox, "soon", at=retry_at - timedelta(microseconds=1)) == []
    with outbox.begin() as conn:
        (again,) = outbox_repo.claim_due(
            conn, now=retry_at, until=retry_at + LEASE, token="retry", limit=1
        )
    assert (again.id, again.attempts) == (row_id, 1)


# --- environments (issue 14 §4) ------------------------------------------------------------------


def test_a_claim_takes_only_the_reports_of_its_own_environment(outbox: Engine) -> None:
    live = enqueue(outbox, 2)
    test = enqueue(outbox, 2, environment="test")
    assert claim(outbox, "ministry") == live
    assert claim(outbox, "sandbox", environment="test") == test


def test_withholding_marks_due_unleased_test_reports_not_sent_for_good(outbox: Engine) -> None:
    live = enqueue(outbox, 1)
    (on_its_way, due, later) = (
        *enqueue(outbox, 2, environment="test"),
        *enqueue(outbox, 1, due=NOW + timedelta(minutes=1), environment="test"),
    )
    assert claim(outbox, "sender", environment="test", limit=1) == [on_its_way]
    with outbox.begin() as conn:
        count = outbox_repo.withhold_due(conn, environment="test", now=NOW, reason="no receiver")
    assert count == 1
    withheld = row(outbox, due)
    assert (withheld.withheld_at, withheld.last_error) == (NOW, "no receiver")
    assert withheld.delivered_at is None
    assert row(outbox, on_its_way).withheld_at is None  # its sender records its outcome
    assert row(outbox, later).withheld_at is None  # not due yet
    assert row(outbox, live[0]).withheld_at is None
    # withheld is for good: no claim takes it, however late (the others' turn comes)
    later_on = NOW + timedelta(days=1)
    assert claim(outbox, "any", at=later_on, environment="test") == [on_its_way, later]
    with outbox.begin() as conn:
        assert outbox_repo.withhold_due(conn, environment="test", now=NOW, reason="x") == 0


def test_a_claimed_report_can_be_withheld_by_its_claim_only(outbox: Engine) -> None:
    (row_id,) = enqueue(outbox, 1)
    assert claim(outbox, "mine") == [row_id]
    with outbox.begin() as conn:
        assert not outbox_repo.mark_withheld(conn, row_id, "other", at=NOW, reason="r")
        assert outbox_repo.mark_withheld(conn, row_id, "mine", at=NOW, reason="mismatch")
    done = row(outbox, row_id)
    assert (done.withheld_at, done.last_error, done.lease_token) == (NOW, "mismatch", None)
    assert claim(outbox, "again", at=NOW + LEASE) == []


def test_the_listing_is_newest_first_with_each_reports_state(outbox: Engine) -> None:
    first, second = enqueue(outbox, 2)
    (sandbox,) = enqueue(outbox, 1, due=NOW + timedelta(minutes=5), environment="test")
    token = uuid.uuid4().hex
    assert claim(outbox, token) == [first, second]
    with outbox.begin() as conn:
        outbox_repo.mark_delivered(conn, first, token, NOW)
        outbox_repo.mark_failed(conn, second, token, retry_at=NOW + LEASE, error="rejected")
        outbox_repo.withhold_due(
            conn, environment="test", now=NOW + timedelta(minutes=5), reason="no receiver"
        )
    with outbox.connect() as conn:
        listed = outbox_repo.list_reports(conn)
        assert [(r.id, r.status) for r in listed] == [
            (sandbox, "not-sent"),
            (second, "waiting"),
            (first, "delivered"),
        ]
        assert listed[1].next_attempt_at == NOW + LEASE
        assert listed[1].last_error == "rejected"
        assert listed[0].next_attempt_at is None
        assert [r.id for r in outbox_repo.list_reports(conn, environment="test")] == [sandbox]
        assert [r.id for r in outbox_repo.list_reports(conn, status="delivered")] == [first]
        assert [r.id for r in outbox_repo.list_reports(conn, status="waiting")] == [second]
        assert [r.id for r in outbox_repo.list_reports(conn, since=NOW + LEASE)] == [sandbox]
        assert [r.id for r in outbox_repo.list_reports(conn, until=NOW + LEASE, limit=1)] == [
            second
        ]
