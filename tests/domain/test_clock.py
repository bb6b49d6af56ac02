"""The one clock: every "now" is an aware UTC datetime; the manual clock moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from saglik.domain.clock import ManualClock, SystemClock

START = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)


def test_the_system_clock_gives_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)


def test_a_manual_clock_stands_still_until_moved() -> None:
    clock = ManualClock(START)
    assert clock.now() == START
    assert clock.now() == START


def test_a_manual_clock_advances_by_the_given_delta() -> None:
    clock = ManualClock(START)
    clock.advance(timedelta(hours=72))
    assert clock.now() == START + timedelta(hours=72)


def test_a_manual_clock_converts_other_zones_to_utc() -> None:
    plus_three = timezone(timedelta(hours=3))
    clock = ManualClock(datetime(2026, 6, 15, 12, 0, tzinfo=plus_three))
    assert clock.now() == START
    assert clock.now().utcoffset() == timedelta(0)
    clock.set(datetime(2026, 1, 1, 3, 0, tzinfo=plus_three))
    assert clock.now() == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_a_manual_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2026, 6, 15, 9, 0))
    clock = ManualClock(START)
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2026, 6, 15, 9, 0))
    assert clock.now() == START
