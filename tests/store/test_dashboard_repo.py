"""The dashboards' aggregations, on both backends: buckets cut exactly at their edges, folded
refusals counted as the refusals they stand for, latency bins as ``time_ranges.latency_bin``
draws them, and each form's underlying cause as the last Part I line of its chain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from saglik.domain.obs import FORENSIC_MANNERS
from saglik.domain.time_ranges import (
    LATENCY_EDGES_MS,
    Window,
    istanbul_days,
    latency_bin,
    parse_range,
    window,
)
from saglik.services.obs import DeathFormInput, ObsRegistryService, new_form_numbers
from saglik.store import dashboard_repo, obs_repo
from saglik.store.audit_writer import write_batch
from tests.services.obs_support import valid_form
from tests.store.audit_support import call
from tests.store.backends import backend_of, blank_engine

HOUR = window(parse_range("1h"), datetime(2030, 1, 1, 9, 59, 30, tzinfo=UTC))
"""[09:00, 10:00) in minutes."""
PART_ONE = frozenset({1, 2, 3, 4})


@pytest.fixture(scope="module")
def db(store: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with blank_engine(backend_of(store), tmp_path_factory.mktemp("dash"), migrated=True) as e:
        yield e


def at(minutes: float) -> datetime:
    return HOUR.start + timedelta(minutes=minutes)


def test_calls_fall_in_their_buckets_and_folded_rows_count_their_repeats(db: Engine) -> None:
    edge = timedelta(microseconds=1)
    write_batch(
        db,
        [
            call(HOUR.start),  # the first instant: bucket 0
            call(at(1) - edge, outcome="wrong-password", status=401, repeats=5),
            call(at(1)),  # bucket 1
            call(HOUR.end - edge, service="obs", method="GetTumOlumlerByDate"),  # bucket 59
            call(HOUR.start - edge),  # before the window
            call(HOUR.end),  # after it
            call(at(1), env="test"),
        ],
    )
    with db.connect() as conn:
        full = dashboard_repo.call_counts(conn, HOUR, by=dashboard_repo.CALL_DIMENSIONS)
        live = dashboard_repo.call_counts(conn, HOUR, by=("service",), env="live")
        refused = dashboard_repo.call_counts(
            conn, HOUR, by=("outcome",), outcomes={"wrong-password", "throttled"}
        )
    assert sorted(full) == [
        (0, ("hes", "check-hes-code", "ok"), 1),
        (0, ("hes", "check-hes-code", "wrong-password"), 5),
        (1, ("hes", "check-hes-code", "ok"), 2),
        (59, ("obs", "GetTumOlumlerByDate", "ok"), 1),
    ]
    assert sorted(live) == [(0, ("hes",), 6), (1, ("hes",), 1), (59, ("obs",), 1)]
    assert refused == [(0, ("wrong-password",), 5)]


def test_calls_are_grouped_by_audit_columns_only(db: Engine) -> None:
    with db.connect() as conn, pytest.raises(ValueError, match="grouped by"):
        dashboard_repo.call_counts(conn, HOUR, by=("client_ip",))


def test_latency_bins_match_the_domain_rule(db: Engine) -> None:
    day = window(parse_range("24h"), datetime(2030, 2, 1, 12, 0, tzinfo=UTC))
    latencies = [0.0, 0.1, 0.25, 1.0, 1.18, 1.19, 7.5, 250.0, 65535.9, 65536.0, 1e7]
    write_batch(
        db,
        [call(day.start, latency_ms=ms) for ms in latencies]
        + [call(day.start + timedelta(hours=2), latency_ms=3.0, outcome="throttled", repeats=4)],
    )
    expected: dict[tuple[int, int], int] = {}
    for ms in latencies:
        key = (0, latency_bin(ms))
        expected[key] = expected.get(key, 0) + 1
    expected[(6, latency_bin(3.0))] = 4
    with db.connect() as conn:
        rows = dashboard_repo.latency_histogram(conn, day, LATENCY_EDGES_MS)
        assert dashboard_repo.latency_histogram(conn, day, LATENCY_EDGES_MS, env="test") == []
    assert {(bucket, bin_): calls for bucket, bin_, calls in rows} == expected
    assert (0, len(LATENCY_EDGES_MS)) in expected  # the slowest bin is used


# --- ÖBS ----------------------------------------------------------------------------------------


def register(db: Engine, registered: datetime, env: str = "live", **changes: Any) -> None:
    form = DeathFormInput.model_validate(valid_form(**changes))
    record = ObsRegistryService.to_record(form, new_form_numbers(), registered)
    with db.begin() as conn:
        obs_repo.insert_form(conn, env, record)


def causes(*chain: tuple[int, str]) -> list[dict[str, Any]]:
    return [{"kind": kind, "icd_code": code} for kind, code in chain]


@pytest.fixture(scope="module")
def days(db: Engine) -> Window:
    """Istanbul 2030-03-09 and 2030-03-10, with forms registered on both, around them, and in
    the test environment."""
    days = istanbul_days(window(parse_range("24h"), datetime(2030, 3, 10, 9, 0, tzinfo=UTC)))
    first, second = days.start, days.start + timedelta(days=1)
    register(db, first, death_province=34, death_district=None, manner=3)
    register(db, first + timedelta(hours=5), residence_province=35, residence_district=None)
    register(
        db,
        second,
        manner=4,
        causes=causes((1, "I46.9"), (2, "I21.9"), (4, "I25.1"), (5, "E11.9")),
    )
    register(db, days.end - timedelta(microseconds=1), causes=causes((5, "E11.9")))
    register(db, days.start - timedelta(microseconds=1), manner=3)
    register(db, days.end, manner=3)
    register(db, second, env="test", manner=3)
    return days


def test_registrations_per_day(db: Engine, days: Window) -> None:
    with db.connect() as conn:
        assert sorted(dashboard_repo.registrations_per_bucket(conn, days, "live")) == [
            (0, 2),
            (1, 2),
        ]
        assert dashboard_repo.registrations_per_bucket(conn, days, "test") == [(1, 1)]


def test_registrations_by_province_of_death_and_of_residence(db: Engine, days: Window) -> None:
    with db.connect() as conn:
        death = dashboard_repo.registrations_by_province(conn, days, "live", "death")
        residence = dashboard_repo.registrations_by_province(conn, days, "live", "residence")
    assert sorted(death) == [(6, 3), (34, 1)]
    assert sorted(residence) == [(6, 3), (35, 1)]


def test_forms_counted_by_manner(db: Engine, days: Window) -> None:
    with db.connect() as conn:
        assert dashboard_repo.form_count(conn, days, "live") == 4
        assert dashboard_repo.form_count(conn, days, "live", FORENSIC_MANNERS) == 2
        assert dashboard_repo.form_count(conn, days, "test", FORENSIC_MANNERS) == 1


def test_the_underlying_cause_is_the_last_part_one_line(db: Engine, days: Window) -> None:
    with db.connect() as conn:
        found = dashboard_repo.underlying_causes(conn, days, "live", PART_ONE)
    # valid_form's chain is I21.9 alone; the long chain ends Part I with I25.1; a chain of
    # Part II alone has no underlying cause
    assert sorted(found) == [("I21.9", 2), ("I25.1", 1)]
