"""UtcDateTime: aware UTC in, aware UTC out, the same instants on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, Table, select
from sqlalchemy.exc import StatementError

from saglik.store.types import UtcDateTime


@pytest.fixture
def probe(store: Engine) -> Iterator[Table]:
    """A table of this test's own in the shared store, dropped afterwards."""
    meta = MetaData()
    table = Table(
        f"utc_probe_{uuid.uuid4().hex[:10]}",
        meta,
        Column("id", Integer, primary_key=True),
        Column("at", UtcDateTime, nullable=True),
    )
    meta.create_all(store)
    try:
        yield table
    finally:
        meta.drop_all(store)


def put(engine: Engine, table: Table, value: datetime | None) -> int:
    with engine.begin() as conn:
        result = conn.execute(table.insert().values(at=value))
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


def get(engine: Engine, table: Table, row_id: int) -> datetime | None:
    with engine.connect() as conn:
        return conn.execute(select(table.c.at).where(table.c.id == row_id)).scalar_one()


def test_an_aware_utc_datetime_comes_back_equal_and_aware_utc(store: Engine, probe: Table) -> None:
    moment = datetime(2026, 6, 15, 9, 0, 1, 123456, tzinfo=UTC)
    back = get(store, probe, put(store, probe, moment))
    assert back == moment
    assert back is not None
    assert back.tzinfo is UTC


def test_another_zone_is_stored_as_the_same_instant_and_read_back_in_utc(
    store: Engine, probe: Table
) -> None:
    local = datetime(2026, 6, 15, 12, 0, tzinfo=ZoneInfo("Europe/Istanbul"))
    back = get(store, probe, put(store, probe, local))
    assert back == local
    assert back is not None
    assert back.tzinfo is UTC
    assert (back.hour, back.minute) == (9, 0)


def test_the_stored_value_is_naive_utc_wall_time(store: Engine, probe: Table) -> None:
    local = datetime(2026, 1, 1, 2, 30, tzinfo=timezone(timedelta(hours=3)))
    row_id = put(store, probe, local)
    raw = Table(probe.name, MetaData(), Column("id", Integer), Column("at", DateTime))
    with store.connect() as conn:
        stored = conn.execute(select(raw.c.at).where(raw.c.id == row_id)).scalar_one()
    assert stored == datetime(2025, 12, 31, 23, 30)


def test_null_stays_null(store: Engine, probe: Table) -> None:
    assert get(store, probe, put(store, probe, None)) is None


def test_a_naive_datetime_is_refused(store: Engine, probe: Table) -> None:
    with pytest.raises(StatementError) as caught:
        put(store, probe, datetime(2026, 6, 15, 9, 0))
    assert isinstance(caught.value.orig, ValueError)
    assert "naive" in str(caught.value.orig)
    with store.connect() as conn:
        assert conn.execute(select(probe.c.id)).all() == []


def test_a_naive_datetime_is_refused_in_a_comparison_too(store: Engine, probe: Table) -> None:
    with store.connect() as conn, pytest.raises(StatementError):
        conn.execute(select(probe.c.id).where(probe.c.at < datetime(2026, 1, 1))).all()


def test_comparisons_use_instants_not_wall_clocks(store: Engine, probe: Table) -> None:
    early = put(store, probe, datetime(2026, 6, 15, 8, 0, tzinfo=UTC))
    late = put(store, probe, datetime(2026, 6, 15, 10, 0, tzinfo=UTC))
    # 12:00 in Istanbul is 09:00 UTC: between the two, although its wall clock is after both.
    noon_istanbul = datetime(2026, 6, 15, 12, 0, tzinfo=ZoneInfo("Europe/Istanbul"))
    with store.connect() as conn:
        before = conn.execute(select(probe.c.id).where(probe.c.at < noon_istanbul)).scalars()
        assert list(before) == [early]
        after = conn.execute(select(probe.c.id).where(probe.c.at > noon_istanbul)).scalars()
        assert list(after) == [late]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2),
        max_value=datetime(2100, 12, 31),
        timezones=st.timezones(),
    )
)
def test_any_aware_datetime_round_trips_to_the_same_instant_in_utc(
    store: Engine, probe: Table, moment: datetime
) -> None:
    # Compared with astimezone(UTC), not with ``moment`` itself: Python never calls a time in a
    # summer-time gap or fold equal to a time in another zone (PEP 495).
    back = get(store, probe, put(store, probe, moment))
    assert back == moment.astimezone(UTC)
    assert back is not None
    assert back.tzinfo is UTC
