"""The dashboards' figures from real rows on both backends: calls per minute, latency
percentiles of a known distribution, refusals in their two groups (held to the gateway's
``Denial``), the outbox backlog, and the ÖBS registrations, causes and forensic share over the
Istanbul days of a range. Each test has a period of its own in the module's store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from saglik.data.tables import provinces
from saglik.domain.clock import ManualClock
from saglik.domain.errors import InvalidInput
from saglik.domain.obs import Scope
from saglik.domain.time_ranges import LATENCY_EDGES_MS, latency_bin, parse_range
from saglik.services.dashboards import (
    AUTH_FAILURE_OUTCOMES,
    AUTH_FAILURES,
    THROTTLE_OUTCOMES,
    THROTTLES,
    Dashboards,
    icd_chapter,
)
from saglik.services.obs import DeathFormInput, Feed, ObsQueryService, ObsRegistryService
from saglik.store.audit_writer import write_batch
from saglik.store.schema import moi_outbox
from saglik.web.gateway import Denial
from tests.change_support import change_log
from tests.services.obs_support import own_store, valid_form
from tests.store.audit_support import call

STEP = 2 ** (1 / 4)


@pytest.fixture(scope="module")
def db(store: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    yield from own_store(store, tmp_path_factory)


@pytest.fixture
def dashboards(db: Engine, clock: ManualClock) -> Dashboards:
    return Dashboards(db, clock)


def test_the_outcome_groups_are_the_gateway_denials() -> None:
    assert not AUTH_FAILURE_OUTCOMES & THROTTLE_OUTCOMES
    assert {denial.value for denial in Denial} == AUTH_FAILURE_OUTCOMES | THROTTLE_OUTCOMES
    assert {"throttled", "rate-limited"} <= THROTTLE_OUTCOMES
    assert {"wrong-password", "unknown-user", "ip-not-allowed"} <= AUTH_FAILURE_OUTCOMES


def test_calls_per_minute_by_service_method_and_outcome(
    db: Engine, clock: ManualClock, dashboards: Dashboards
) -> None:
    now = datetime(2030, 1, 10, 12, 5, tzinfo=UTC)  # 24 h in 20-minute buckets to 12:20
    clock.set(now)
    write_batch(
        db,
        [call(now) for _ in range(30)]
        + [call(now - timedelta(minutes=20), service="obs", method="GetTumOlumlerByDate")] * 2
        + [call(now, outcome="wrong-password", status=401, repeats=10)]
        + [call(now, env="test")]
        + [call(now - timedelta(hours=25))],
    )
    traffic = dashboards.calls(parse_range("24h"), env="live")
    timeline = traffic.timeline
    assert len(timeline.starts) == 72
    assert timeline.starts[-1] == datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
    assert timeline.bucket == timedelta(minutes=20)
    assert [(bar.key, bar.value) for bar in traffic.totals] == [
        ("hes/check-hes-code/ok", 30),
        ("hes/check-hes-code/wrong-password", 10),
        ("obs/GetTumOlumlerByDate/ok", 2),
    ]
    assert traffic.total == 42
    by_key = {s.key: s for s in timeline.series}
    assert [s.key for s in timeline.series] == [bar.key for bar in traffic.totals]
    assert by_key["hes/check-hes-code/ok"].label == "hes · check-hes-code · ok"
    assert by_key["hes/check-hes-code/ok"].values[-1] == 1.5  # 30 in 20 minutes
    assert by_key["hes/check-hes-code/wrong-password"].values[-1] == 0.5
    assert by_key["obs/GetTumOlumlerByDate/ok"].values[-2:] == (0.1, 0.0)
    assert sum(by_key["hes/check-hes-code/ok"].values[:-1]) == 0

    by_service = dashboards.calls(parse_range("24h"), by=("service",))
    assert [(bar.key, bar.value) for bar in by_service.totals] == [("hes", 41), ("obs", 2)]
    assert by_service.by == ("service",)


@pytest.mark.parametrize("by", [(), ("client_ip",), ("service", "service")])
def test_calls_are_grouped_by_known_columns(dashboards: Dashboards, by: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInput):
        dashboards.calls(parse_range("1h"), by=by)


def test_an_unknown_environment_is_refused(dashboards: Dashboards) -> None:
    with pytest.raises(InvalidInput):
        dashboards.calls(parse_range("1h"), env="prod")
    with pytest.raises(InvalidInput):
        dashboards.registrations(parse_range("1h"), "prod")


def test_latency_percentiles_of_a_known_distribution(
    db: Engine, clock: ManualClock, dashboards: Dashboards
) -> None:
    """One call at each of 1 … 200 ms in one minute, and 100 calls at 40 ms folded in one row
    the next: p50 = 100 ms and p99 = 198 ms in the first, 40 ms in the second."""
    now = datetime(2030, 1, 20, 8, 30, 10, tzinfo=UTC)
    clock.set(now)
    first = datetime(2030, 1, 20, 8, 28, 0, tzinfo=UTC)
    write_batch(
        db,
        [call(first + timedelta(milliseconds=ms), latency_ms=float(ms)) for ms in range(1, 201)]
        + [call(first + timedelta(minutes=1), latency_ms=40.0, repeats=100)],
    )
    latency = dashboards.latency(parse_range("1h"))
    p50, p99 = (s.values for s in latency.timeline.series)
    assert [s.key for s in latency.timeline.series] == ["p50", "p99"]
    assert (p50[-3], p99[-3]) == (edge(100), edge(198))
    assert (p50[-2], p99[-2]) == (edge(40), edge(40))
    assert p50[-1] is None
    assert p99[:-3] == (None,) * 57
    for value, true in ((p50[-3], 100), (p99[-3], 198)):
        assert value is not None
        assert true < value <= true * STEP
    # all 300 in order: 1 … 39, 40 (101 times), 41 … 200; the 150th is 50, the 297th 197
    assert latency.calls == 300
    assert (latency.p50, latency.p99) == (edge(50), edge(197))
    assert dashboards.latency(parse_range("1h"), env="test").p50 is None


def edge(ms: float) -> float:
    return LATENCY_EDGES_MS[latency_bin(ms)]


def test_refusals_as_authentication_failures_and_throttles(
    db: Engine, clock: ManualClock, dashboards: Dashboards
) -> None:
    now = datetime(2030, 2, 1, 10, 0, 30, tzinfo=UTC)
    clock.set(now)
    write_batch(
        db,
        [
            call(now, outcome="wrong-password", status=401, repeats=7),
            call(now, outcome="unknown-user", status=401),
            call(now - timedelta(minutes=3), outcome="ip-not-allowed", status=403),
            call(now, outcome="throttled", status=429, repeats=3),
            call(now, outcome="rate-limited", status=429),
            call(now, outcome="ok"),
            call(now, outcome="not-found", status=200),
        ],
    )
    refusals = dashboards.refusals(parse_range("1h"))
    assert (refusals.auth_failures, refusals.throttles) == (9, 4)
    auth, throttles = refusals.timeline.series
    assert (auth.key, throttles.key) == (AUTH_FAILURES, THROTTLES)
    assert (auth.values[-1], auth.values[-4], throttles.values[-1]) == (8, 1, 4)
    assert sum(v or 0 for v in auth.values) == 9
    outcomes = {bar.key: bar.value for bar in refusals.by_outcome}
    assert outcomes == {denial.value: 0 for denial in Denial} | {
        "wrong-password": 7,
        "unknown-user": 1,
        "ip-not-allowed": 1,
        "throttled": 3,
        "rate-limited": 1,
    }
    assert refusals.by_outcome[0].key == "wrong-password"


def test_the_backlog_counts_undelivered_reports(
    db: Engine, clock: ManualClock, dashboards: Dashboards
) -> None:
    at = clock.now()
    row = {"created_at": at, "next_attempt_at": at, "attempts": 0, "payload": "{}"}
    with db.begin() as conn:
        conn.execute(
            insert(moi_outbox), [{**row, "delivered_at": when} for when in (None, None, at)]
        )
    backlog = dashboards.backlog()
    assert (backlog.undelivered, backlog.capped, backlog.at) == (2, False, at)


# --- ÖBS ----------------------------------------------------------------------------------------

ENV = "live"


def register(
    db: Engine, clock: ManualClock, registered: datetime, env: str = ENV, **changes: Any
) -> None:
    clock.set(registered)
    registry = ObsRegistryService(db, clock, change_log(db, clock))
    registry.register(env, DeathFormInput.model_validate(valid_form(**changes)))


def chain(*lines: tuple[int, str]) -> list[dict[str, Any]]:
    return [{"kind": kind, "icd_code": code} for kind, code in lines]


def test_registrations_per_day_and_by_province(
    db: Engine, clock: ManualClock, dashboards: Dashboards
) -> None:
    # 7 days to 12:00 Istanbul on the 10th start at 13:00 on the 3rd: days 3 … 10
    day = datetime(2030, 3, 4, 0, 0, tzinfo=UTC)  # 03:00 Istanbul, the 4th
    register(db, clock, day, death_province=34, death_district=None)
    register(db, clock, day + timedelta(hours=20), residence_province=35, residence_district=None)
    register(db, clock, day + timedelta(days=6))
    register(db, clock, day + timedelta(days=6), env="test")
    register(db, clock, day - timedelta(hours=28))  # 23:00 on the 2nd: before the first day
    clock.set(datetime(2030, 3, 10, 9, 0, tzinfo=UTC))
    found = dashboards.registrations(parse_range("7d"), ENV)
    assert found.days == tuple(date(2030, 3, d) for d in range(3, 11))
    assert found.per_day.starts[0] == datetime(2030, 3, 2, 21, 0, tzinfo=UTC)
    assert found.per_day.bucket == timedelta(days=1)
    (series,) = found.per_day.series
    assert series.values == (0, 2, 0, 0, 0, 0, 0, 1)
    assert found.total == 3
    names = provinces()
    assert len(found.by_death_province) == len(found.by_residence_province) == 81
    assert [(b.key, b.label, b.value) for b in found.by_death_province[:3]] == [
        ("6", names[6], 2),
        ("34", names[34], 1),
        ("1", names[1], 0),
    ]
    assert [(b.key, b.value) for b in found.by_residence_province[:2]] == [("6", 2), ("35", 1)]
    assert sum(b.value for b in found.by_residence_province) == 3


def test_causes_by_icd_chapter_of_the_underlying_cause(
    db: Engine, clock: ManualClock, dashboards: Dashboards
) -> None:
    day = datetime(2030, 4, 2, 9, 0, tzinfo=UTC)
    register(db, clock, day)  # I21.9 alone
    register(db, clock, day, causes=chain((1, "J96.0"), (2, "J18.9"), (4, "C34.9"), (5, "I10")))
    register(db, clock, day, causes=chain((1, "A09"), (5, "E11.9")))
    register(db, clock, day, causes=chain((5, "E11.9")))
    clock.set(day + timedelta(hours=1))
    found = dashboards.causes(parse_range("24h"), ENV)
    assert [bar.key for bar in found.chapters][:3] == ["I", "II", "III"]
    assert len(found.chapters) == 22
    counted = {bar.key: bar.value for bar in found.chapters if bar.value}
    assert counted == {"IX": 1, "II": 1, "I": 1}
    labels = {bar.key: bar.label for bar in found.chapters}
    assert labels["IX"] == "Diseases of the circulatory system"
    assert (found.forms, found.without_underlying) == (4, 1)
    assert icd_chapter("U07.1") == "XXII"
    assert icd_chapter("Q99.9x") == "?"


def test_the_forensic_share_is_what_the_forensic_feed_returns(
    db: Engine, clock: ManualClock, dashboards: Dashboards
) -> None:
    day = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)
    for manner in (1, 3, 4, 5, 3, 9):
        register(db, clock, day, manner=manner)
    register(db, clock, day, env="test", manner=3)
    clock.set(day + timedelta(minutes=30))
    found = dashboards.forensic_share(parse_range("1h"), ENV)
    assert (found.forensic, found.other, found.total) == (3, 3, 6)
    assert found.fraction == 0.5
    feed = ObsQueryService(db, change_log(db, clock).pseudonymizer)
    try:
        adli = feed.deaths_by_date(ENV, Scope(), "2030-05-06", None, Feed.FORENSIC)
    finally:
        feed.close()
    assert len(adli) == found.forensic


def test_no_forms_no_share(clock: ManualClock, dashboards: Dashboards) -> None:
    clock.set(datetime(2031, 1, 1, tzinfo=UTC))
    found = dashboards.forensic_share(parse_range("30d"), ENV)
    assert (found.forensic, found.total, found.fraction) == (0, 0, None)
    causes = dashboards.causes(parse_range("30d"), ENV)
    assert (causes.forms, sum(bar.value for bar in causes.chapters)) == (0, 0)
