"""Refusals folded per kind and minute (README "Refusals are audited without one row each")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from saglik.services import refusal_tally
from saglik.services.refusal_tally import RefusalTally
from saglik.store.audit_writer import AuditRecord

MINUTE = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _refusal(at: datetime, ip: str = "192.0.2.1", outcome: str = "unauthenticated") -> AuditRecord:
    return AuditRecord(at, "live", "hes", "check-hes-code", 401, outcome, 2.0, ip)


def test_the_first_refusal_of_a_kind_in_a_minute_is_written_at_once_the_rest_are_counted() -> None:
    tally = RefusalTally()
    assert tally.add(_refusal(MINUTE + timedelta(seconds=1))) is True
    assert [tally.add(_refusal(MINUTE + timedelta(seconds=s))) for s in (2, 30, 59)] == [False] * 3
    assert tally.add(_refusal(MINUTE + timedelta(seconds=3), ip="192.0.2.2")) is True
    assert tally.add(_refusal(MINUTE + timedelta(seconds=4), outcome="wrong-password")) is True
    assert tally.add(_refusal(MINUTE + timedelta(minutes=1))) is True  # a new minute


def test_a_drained_row_stands_for_the_folded_refusals_of_its_minute() -> None:
    tally = RefusalTally()
    for second in range(10):
        tally.add(_refusal(MINUTE + timedelta(seconds=second)))
    tally.add(_refusal(MINUTE + timedelta(minutes=1)))
    assert tally.drain(before=MINUTE) == []
    (row,) = tally.drain(before=MINUTE + timedelta(minutes=1))
    assert (row.repeats, row.occurred_at, row.client_ip, row.latency_ms) == (
        9,
        MINUTE,
        "192.0.2.1",
        2.0,
    )
    assert tally.drain() == []  # the next minute had only its first, already written


def test_past_the_key_limit_refusals_fold_into_rows_without_an_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(refusal_tally, "MAX_KEYS", 2)
    tally = RefusalTally()
    for n in range(6):
        tally.add(_refusal(MINUTE, ip=f"192.0.2.{n}"))
    assert tally.add(_refusal(MINUTE, ip="192.0.2.99")) is False
    rows = tally.drain()
    assert [(r.client_ip, r.repeats) for r in rows] == [(None, 4)]
