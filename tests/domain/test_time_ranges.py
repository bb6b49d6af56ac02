"""The console's ranges (a closed set, parsed without failing), their aligned buckets, the
Istanbul days a range touches, and percentiles read from a latency histogram."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saglik.domain.time_ranges import (
    DEFAULT_RANGE,
    LATENCY_EDGES_MS,
    RANGES,
    TimeRange,
    istanbul_days,
    latency_bin,
    parse_range,
    percentile,
    window,
)

NOW = datetime(2026, 6, 15, 9, 7, 30, tzinfo=UTC)
STEP = 2 ** (1 / 4)


@pytest.mark.parametrize("key", [r.key for r in RANGES])
def test_each_key_parses_to_its_range(key: str) -> None:
    assert parse_range(key).key == key
    assert parse_range(f"  {key.upper()} ").key == key


@pytest.mark.parametrize("value", [None, "", "2h", "24h; DROP TABLE", "1H0", "ｌｈ", "24" * 1000])
def test_anything_else_is_the_default(value: str | None) -> None:
    assert parse_range(value) is DEFAULT_RANGE


@pytest.mark.parametrize("span", RANGES, ids=lambda r: r.key)
def test_every_range_has_a_bounded_whole_number_of_buckets(span: TimeRange) -> None:
    assert span.span % span.bucket == timedelta(0)
    assert 40 <= span.buckets <= 100


@pytest.mark.parametrize("span", RANGES, ids=lambda r: r.key)
def test_the_window_ends_with_the_aligned_bucket_holding_now(span: TimeRange) -> None:
    w = window(span, NOW)
    assert w.count == span.buckets == len(w.starts)
    assert w.end - w.start == span.span
    assert w.starts[-1] <= NOW < w.end
    assert w.start.timestamp() % w.bucket.total_seconds() == 0


def test_a_day_window_for_the_last_hour() -> None:
    w = window(parse_range("1h"), NOW)
    assert (w.start, w.end, w.bucket) == (
        datetime(2026, 6, 15, 8, 8, tzinfo=UTC),
        datetime(2026, 6, 15, 9, 8, tzinfo=UTC),
        timedelta(minutes=1),
    )


def test_the_istanbul_days_a_range_touches() -> None:
    # 24 h to 12:20 Istanbul on the 15th starts at 12:20 on the 14th: two whole days
    days = istanbul_days(window(parse_range("24h"), NOW))
    assert (days.start, days.end, days.count) == (
        datetime(2026, 6, 13, 21, 0, tzinfo=UTC),
        datetime(2026, 6, 15, 21, 0, tzinfo=UTC),
        2,
    )
    late = datetime(2026, 6, 15, 20, 59, tzinfo=UTC)  # 23:59 Istanbul: still the 15th
    assert istanbul_days(window(parse_range("1h"), late)).count == 1
    assert istanbul_days(window(parse_range("30d"), NOW)).count == 31


def test_bins_follow_the_edges() -> None:
    assert latency_bin(0.0) == 0
    assert latency_bin(0.2499) == 0
    assert latency_bin(0.25) == 1
    assert latency_bin(1.0) == latency_bin(1.1) == 9
    assert latency_bin(1e9) == len(LATENCY_EDGES_MS)
    assert LATENCY_EDGES_MS[0] == 0.25
    assert LATENCY_EDGES_MS[-1] == 65536.0


def test_no_calls_have_no_percentile() -> None:
    assert percentile([], 0.5) is None
    assert percentile([0] * (len(LATENCY_EDGES_MS) + 1), 0.99) is None


def test_a_known_distribution() -> None:
    """One call at each of 1 … 1000 ms: p50 is 500 ms, p99 990 ms, reported as their bins'
    upper edges."""
    counts = [0] * (len(LATENCY_EDGES_MS) + 1)
    for ms in range(1, 1001):
        counts[latency_bin(ms)] += 1
    p50, p99 = percentile(counts, 0.5), percentile(counts, 0.99)
    assert p50 == LATENCY_EDGES_MS[latency_bin(500)]
    assert p99 == LATENCY_EDGES_MS[latency_bin(990)]
    assert p50 is not None
    assert 500 < p50 <= 500 * STEP
    assert p99 is not None
    assert 990 < p99 <= 990 * STEP
    assert percentile(counts, 1.0) == LATENCY_EDGES_MS[latency_bin(1000)]


def test_the_slowest_bin_reads_as_its_lower_edge() -> None:
    counts = [0] * (len(LATENCY_EDGES_MS) + 1)
    counts[-1] = 3
    assert percentile(counts, 0.5) == LATENCY_EDGES_MS[-1]


@given(
    st.lists(st.floats(min_value=0.25, max_value=65000, allow_nan=False), min_size=1),
    st.sampled_from([0.01, 0.29, 0.5, 0.9, 0.99, 1.0]),
)
def test_a_percentile_is_never_under_and_at_most_a_bin_over(
    latencies: list[float], q: float
) -> None:
    counts = [0] * (len(LATENCY_EDGES_MS) + 1)
    for ms in latencies:
        counts[latency_bin(ms)] += 1
    true = sorted(latencies)[max(1, math.ceil(round(q * len(latencies), 9))) - 1]
    reported = percentile(counts, q)
    assert reported is not None
    assert true < reported <= true * STEP * (1 + 1e-12)
