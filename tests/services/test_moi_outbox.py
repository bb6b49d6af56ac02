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
from sqlalchemy import Engine, select

from saglik.domain.clock import ManualClock
from saglik.services.hes import Visit
from saglik.services.moi_outbox import (
    MAX_BACKOFF,
    backoff,
    deliver_due,
    risky_visit_report,
    signature,
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


def enqueue(engine: Engine, payload: str, at: datetime = NOW) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            moi_outbox.insert().values(
                created_at=at, payload=payload, attempts=0, next_attempt_at=at
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
