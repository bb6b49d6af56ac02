"""Risky-visitor reports to the Ministry of Interior (contract §4.5): delivered at least once,
signed with HMAC-SHA256 of the body, retried with backoff when the receiver fails."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, select

from saglik.domain.clock import ManualClock
from saglik.domain.errors import InvalidInput
from saglik.services.hes import Visit
from saglik.services.moi_outbox import (
    MAX_BACKOFF,
    MISMATCH,
    NO_TEST_RECEIVER,
    backoff,
    deliver_due,
    list_reports,
    risky_visit_report,
    signature,
    withhold_test_reports,
)
from saglik.store.schema import moi_outbox

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
SECRET = "moi-shared-secret"


@pytest.fixture
def outbox(fresh_store: Engine) -> Engine:
    """The module's own store with an empty outbox."""
    with fresh_store.begin() as conn:
        conn.execute(moi_outbox.delete())
    return fresh_store


@pytest.fixture
def moi_clock() -> ManualClock:
    return ManualClock(NOW)


class Receiver:
    """The transport seam: an async callable that records what it was sent."""

    def __init__(self, *answers: bool | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[bytes, dict[str, str]]] = []

    async def __call__(self, body: bytes, headers: dict[str, str]) -> bool:
        self.calls.append((body, headers))
        answer = self.answers.pop(0) if self.answers else True
        if isinstance(answer, Exception):
            raise answer
        return answer


def enqueue(engine: Engine, payload: str, at: datetime = NOW, environment: str = "live") -> int:
    with engine.begin() as conn:
        result = conn.execute(
            moi_outbox.insert().values(
                created_at=at,
                environment=environment,
                payload=payload,
                attempts=0,
                next_attempt_at=at,
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


def row(engine: Engine, row_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(moi_outbox).where(moi_outbox.c.id == row_id)).one()


def deliver(engine: Engine, clock: ManualClock, receiver: Receiver, **kwargs: Any) -> int:
    return asyncio.run(deliver_due(engine, clock, receiver, SECRET, **kwargs))


def test_an_acknowledged_report_is_marked_delivered_and_not_sent_again(
    outbox: Engine, moi_clock: ManualClock
) -> None:
    row_id = enqueue(outbox, '{"report_id":"r1"}')
    receiver = Receiver(True)
    moi_clock.advance(timedelta(seconds=5))
    assert deliver(outbox, moi_clock, receiver) == 1
    assert [body for body, _ in receiver.calls] == [b'{"report_id":"r1"}']
    delivered = row(outbox, row_id)
    assert delivered.delivered_at == moi_clock.now()
    assert delivered.attempts == 0
    moi_clock.advance(timedelta(days=1))
    assert deliver(outbox, moi_clock, receiver) == 0
    assert len(receiver.calls) == 1


def test_the_body_is_sent_as_json_signed_with_hmac_sha256(
    outbox: Engine, moi_clock: ManualClock
) -> None:
    payload = '{"report_id":"r2","city":"İstanbul"}'
    enqueue(outbox, payload)
    receiver = Receiver(True)
    deliver(outbox, moi_clock, receiver)
    [(body, headers)] = receiver.calls
    assert body == payload.encode("utf-8")
    assert headers["Content-Type"] == "application/json"
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Saglik-Signature"] == f"sha256={expected}"


def test_the_signature_depends_on_the_secret_and_every_byte_of_the_body() -> None:
    body = b'{"report_id":"r3"}'
    assert signature(SECRET, body) == signature(SECRET, body)
    assert signature(SECRET, body) != signature(SECRET + "x", body)
    assert signature(SECRET, body) != signature(SECRET, body + b" ")
    assert hmac.compare_digest(
        signature(SECRET, body),
        "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
    )


def test_a_rejected_report_is_retried_after_a_growing_backoff(
    outbox: Engine, moi_clock: ManualClock
) -> None:
    row_id = enqueue(outbox, '{"report_id":"r4"}')
    receiver = Receiver(False, False, True)
    assert deliver(outbox, moi_clock, receiver) == 0
    first = row(outbox, row_id)
    assert first.attempts == 1
    assert first.delivered_at is None
    assert first.last_error == "rejected"
    assert first.next_attempt_at == NOW + backoff(1)

    moi_clock.set(first.next_attempt_at - timedelta(microseconds=1))
    assert deliver(outbox, moi_clock, receiver) == 0
    assert len(receiver.calls) == 1  # not due yet

    moi_clock.set(first.next_attempt_at)
    assert deliver(outbox, moi_clock, receiver) == 0
    second = row(outbox, row_id)
    assert second.attempts == 2
    assert second.next_attempt_at == moi_clock.now() + backoff(2)
    assert backoff(2) > backoff(1)

    moi_clock.set(second.next_attempt_at)
    assert deliver(outbox, moi_clock, receiver) == 1
    assert row(outbox, row_id).delivered_at == moi_clock.now()
    assert len(receiver.calls) == 3


def test_a_sender_that_raises_is_retried_later(outbox: Engine, moi_clock: ManualClock) -> None:
    row_id = enqueue(outbox, '{"report_id":"r5"}')
    receiver = Receiver(ConnectionError("refused"), True)
    assert deliver(outbox, moi_clock, receiver) == 0
    failed = row(outbox, row_id)
    assert failed.attempts == 1
    assert failed.last_error == "ConnectionError"
    assert failed.delivered_at is None
    moi_clock.set(failed.next_attempt_at)
    assert deliver(outbox, moi_clock, receiver) == 1
    assert row(outbox, row_id).delivered_at is not None


def test_one_failing_report_does_not_hold_back_the_others(
    outbox: Engine, moi_clock: ManualClock
) -> None:
    failing = enqueue(outbox, '{"report_id":"r6"}')
    ok = enqueue(outbox, '{"report_id":"r7"}')
    receiver = Receiver(TimeoutError(), True)
    assert deliver(outbox, moi_clock, receiver) == 1
    assert row(outbox, failing).delivered_at is None
    assert row(outbox, ok).delivered_at is not None


def test_reports_not_yet_due_are_left_alone(outbox: Engine, moi_clock: ManualClock) -> None:
    later = enqueue(outbox, '{"report_id":"r8"}', at=NOW + timedelta(minutes=1))
    receiver = Receiver()
    assert deliver(outbox, moi_clock, receiver) == 0
    assert receiver.calls == []
    assert row(outbox, later).attempts == 0


def test_reports_go_out_oldest_first_and_at_most_limit_per_round(
    outbox: Engine, moi_clock: ManualClock
) -> None:
    for n in range(5):
        enqueue(outbox, json.dumps({"report_id": f"n{n}"}))
    receiver = Receiver()
    assert deliver(outbox, moi_clock, receiver, limit=3) == 3
    assert deliver(outbox, moi_clock, receiver, limit=3) == 2
    sent = [json.loads(body)["report_id"] for body, _ in receiver.calls]
    assert sent == ["n0", "n1", "n2", "n3", "n4"]


def test_backoff_doubles_from_two_seconds_and_is_capped() -> None:
    assert backoff(1) == timedelta(seconds=2)
    assert backoff(2) == timedelta(seconds=4)
    assert backoff(5) == timedelta(seconds=32)
    assert all(backoff(n) < backoff(n + 1) for n in range(1, 10))
    assert backoff(11) == MAX_BACKOFF == timedelta(minutes=30)
    assert backoff(1000) == MAX_BACKOFF


def test_the_report_names_the_visit_and_a_pseudonymous_person_only() -> None:
    visit = Visit(
        institution_id=42,
        city="İstanbul",
        district="Kadıköy",
        explicit_address="Moda Cd. 1",
        latitude=40.98,
        longitude=29.02,
    )
    raw = risky_visit_report(
        at=NOW, env="live", code="A1B2345678", person_ref="ab" * 20, visit=visit
    )
    report = json.loads(raw)
    assert report["reported_at"] == NOW.isoformat()
    assert report["environment"] == "live"
    assert report["hes_code"] == "A1B2345678"
    assert report["person_ref"] == "ab" * 20
    assert (report["institution_id"], report["city"], report["district"]) == (
        42,
        "İstanbul",
        "Kadıköy",
    )
    assert (report["latitude"], report["longitude"]) == (40.98, 29.02)
    assert report["explicit_address"] == "Moda Cd. 1"
    other = json.loads(
        risky_visit_report(at=NOW, env="live", code="A1B2345678", person_ref="x", visit=visit)
    )
    assert other["report_id"] != report["report_id"]


# --- environments (issue 14 §4) ------------------------------------------------------------------


def _report(report_id: str, environment: str) -> str:
    return json.dumps({"report_id": report_id, "environment": environment}, separators=(",", ":"))


def test_each_environment_is_sent_only_its_own_reports(
    outbox: Engine, moi_clock: ManualClock
) -> None:
    enqueue(outbox, _report("live-1", "live"))
    enqueue(outbox, _report("test-1", "test"), environment="test")
    ministry, sandbox = Receiver(), Receiver()
    assert deliver(outbox, moi_clock, ministry) == 1
    assert (
        asyncio.run(deliver_due(outbox, moi_clock, sandbox, "sandbox-key", environment="test")) == 1
    )
    assert [json.loads(body)["report_id"] for body, _ in ministry.calls] == ["live-1"]
    [(body, headers)] = sandbox.calls
    assert json.loads(body)["report_id"] == "test-1"
    assert headers["X-Saglik-Signature"] == signature("sandbox-key", body)


def test_a_report_naming_another_environment_than_its_row_is_never_sent(
    outbox: Engine, moi_clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The row decides which receiver claims a report; the report itself is checked again
    before it leaves, so a row written wrong can never put a sandbox report in front of the
    Ministry. It is recorded not sent, and the log line holds nothing of the report."""
    payload = json.dumps({"report_id": "r9", "environment": "test", "hes_code": "T7R1SKL1"})
    row_id = enqueue(outbox, payload)  # a live row
    ministry = Receiver()
    assert deliver(outbox, moi_clock, ministry) == 0
    assert ministry.calls == []
    withheld = row(outbox, row_id)
    assert (withheld.withheld_at, withheld.last_error) == (moi_clock.now(), MISMATCH)
    assert withheld.delivered_at is None
    moi_clock.advance(timedelta(days=1))
    assert deliver(outbox, moi_clock, ministry) == 0  # for good
    assert ministry.calls == []
    assert "T7R1SKL1" not in caplog.text
    assert "r9" not in caplog.text


def test_without_a_test_receiver_due_test_reports_are_marked_not_sent(
    outbox: Engine, moi_clock: ManualClock
) -> None:
    live = enqueue(outbox, _report("live-2", "live"))
    due = enqueue(outbox, _report("test-2", "test"), environment="test")
    later = enqueue(
        outbox, _report("test-3", "test"), at=NOW + timedelta(seconds=1), environment="test"
    )
    assert withhold_test_reports(outbox, moi_clock) == 1
    assert (row(outbox, due).withheld_at, row(outbox, due).last_error) == (NOW, NO_TEST_RECEIVER)
    assert row(outbox, later).withheld_at is None
    assert row(outbox, live).withheld_at is None  # a live report waits for its receiver
    moi_clock.advance(timedelta(seconds=1))
    assert withhold_test_reports(outbox, moi_clock) == 1
    assert withhold_test_reports(outbox, moi_clock) == 0


def test_test_deliveries_are_not_counted_as_the_ministrys(
    outbox: Engine, moi_clock: ManualClock
) -> None:
    def counted() -> tuple[float, float]:
        return (
            REGISTRY.get_sample_value("saglik_moi_delivered_total") or 0.0,
            REGISTRY.get_sample_value("saglik_moi_delivery_failures_total") or 0.0,
        )

    enqueue(outbox, _report("test-4", "test"), environment="test")
    enqueue(outbox, _report("test-5", "test"), environment="test")
    before = counted()
    sandbox = Receiver(True, False)
    asyncio.run(deliver_due(outbox, moi_clock, sandbox, "k", environment="test"))
    assert len(sandbox.calls) == 2
    assert counted() == before


class _Reads:
    """Stands in for the change log: what ``list_reports`` records as read."""

    def __init__(self) -> None:
        self.reads: list[dict[str, Any]] = []

    def record_read(self, _engine: Engine, **kwargs: Any) -> None:
        self.reads.append(kwargs)


def test_listing_reports_checks_its_filters_and_logs_the_read(
    outbox: Engine, moi_clock: ManualClock
) -> None:
    enqueue(outbox, _report("live-6", "live"))
    enqueue(outbox, _report("test-6", "test"), environment="test")
    reads = _Reads()
    listed = list_reports(outbox, reads, environment="test")  # type: ignore[arg-type]
    assert [json.loads(r.payload)["report_id"] for r in listed] == ["test-6"]
    assert reads.reads == [{"entity": "moi_report", "env": "test"}]
    both = list_reports(outbox, reads)  # type: ignore[arg-type]
    assert len(both) == 2
    assert reads.reads[1:] == [
        {"entity": "moi_report", "env": "live"},
        {"entity": "moi_report", "env": "test"},
    ]
    nothing = list_reports(outbox, reads, since=NOW + timedelta(days=1))  # type: ignore[arg-type]
    assert nothing == []
    assert len(reads.reads) == 3  # nothing shown, nothing read
    for bad in (
        {"environment": "prod"},
        {"status": "lost"},
        {"since": datetime(2026, 1, 1)},
        {"since": NOW, "until": NOW},
        {"limit": 0},
    ):
        with pytest.raises(InvalidInput):
            list_reports(outbox, reads, **bad)  # type: ignore[arg-type]
