"""The guessing throttle's rules (README "Guessing")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from saglik.domain import throttle

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_the_free_failures_lock_nothing() -> None:
    assert [throttle.lock_for(n) for n in range(throttle.FREE_FAILURES + 1)] == [timedelta(0)] * 6


def test_each_failure_past_the_free_ones_doubles_the_lock_from_one_second() -> None:
    first = throttle.FREE_FAILURES + 1
    locks = [throttle.lock_for(n).total_seconds() for n in range(first, first + 5)]
    assert locks == [1, 2, 4, 8, 16]


def test_no_lock_outlasts_fifteen_minutes_however_many_failures() -> None:
    assert throttle.lock_for(25) == throttle.MAX_LOCK == timedelta(minutes=15)
    assert throttle.lock_for(10**9) == throttle.MAX_LOCK


def test_a_count_forgets_once_an_hour_passes_without_a_failure() -> None:
    assert throttle.counted_failures(7, NOW - timedelta(minutes=59), NOW) == 8
    assert throttle.counted_failures(7, NOW - timedelta(minutes=61), NOW) == 1
    assert throttle.counted_failures(0, None, NOW) == 1


def test_a_caller_inside_the_users_allow_list_is_checked_on_its_address_only() -> None:
    inside = throttle.Keys("user:live:u", "addr:192.0.2.1", user_lock_applies=False)
    outside = throttle.Keys("user:live:u", "addr:198.51.100.1", user_lock_applies=True)
    assert inside.checked() == ("addr:192.0.2.1",)
    assert outside.checked() == ("user:live:u", "addr:198.51.100.1")


def test_keys_name_the_environment_and_never_collide_across_kinds() -> None:
    assert throttle.user_key("live", "a") != throttle.user_key("test", "a")
    assert throttle.address_key("a") != throttle.user_key("live", "a")
    assert throttle.address_key(None) == "addr:-"
