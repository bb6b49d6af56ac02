"""The console's time ranges, their buckets, and percentiles read from a latency histogram.

The ranges are a small closed set so that every chart has a known, bounded number of points
(48–84) and every query a bounded number of groups; anything else asked for reads as the
default. SQLite has no percentile function, so the store counts calls per latency bin and the
quantile is found here from those counts.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from saglik.domain.obs import ISTANBUL, istanbul_day

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class TimeRange:
    key: str
    """What a URL carries (``?range=24h``)."""
    span: timedelta
    bucket: timedelta

    @property
    def buckets(self) -> int:
        return self.span // self.bucket


RANGES: tuple[TimeRange, ...] = (
    TimeRange("1h", timedelta(hours=1), timedelta(minutes=1)),
    TimeRange("24h", timedelta(hours=24), timedelta(minutes=20)),
    TimeRange("7d", timedelta(days=7), timedelta(hours=2)),
    TimeRange("30d", timedelta(days=30), timedelta(hours=12)),
)
DEFAULT_RANGE = RANGES[1]


def parse_range(value: str | None) -> TimeRange:
    """Never fails: a page asked for with an unknown range shows the default one."""
    wanted = (value or "").strip().lower()
    return next((r for r in RANGES if r.key == wanted), DEFAULT_RANGE)


@dataclass(frozen=True, slots=True)
class Window:
    """``[start, end)`` cut into buckets of ``bucket``; the store numbers them from 0."""

    start: datetime
    end: datetime
    bucket: timedelta

    @property
    def count(self) -> int:
        return (self.end - self.start) // self.bucket

    @property
    def starts(self) -> tuple[datetime, ...]:
        return tuple(self.start + i * self.bucket for i in range(self.count))


def window(span: TimeRange, now: datetime) -> Window:
    """The range ending with the bucket that holds ``now`` (still filling). Buckets are aligned
    to multiples of their size since the Unix epoch, so a reload does not shift every point."""
    end = EPOCH + ((now - EPOCH) // span.bucket + 1) * span.bucket
    return Window(end - span.span, end, span.bucket)


def istanbul_days(within: Window) -> Window:
    """The Istanbul calendar days ``within`` touches, one bucket each. Turkey has kept UTC+3 all
    year since 2016, so each such day is 24 hours long."""
    first = within.start.astimezone(ISTANBUL).date()
    last = (within.end - timedelta(microseconds=1)).astimezone(ISTANBUL).date()
    return Window(istanbul_day(first)[0], istanbul_day(last)[1], DAY)


def day_of(moment: datetime) -> date:
    return moment.astimezone(ISTANBUL).date()


# --- latency histogram ------------------------------------------------------------------------

LATENCY_EDGES_MS: tuple[float, ...] = tuple(2 ** (i / 4) for i in range(-8, 65))
"""Bin upper edges, four per doubling from 0.25 ms to 65.5 s: bin ``i`` holds latencies in
``[edges[i-1], edges[i])``, bin 0 everything under 0.25 ms and the last bin everything from
65.5 s up. A percentile is reported as its bin's upper edge: never below the true value and at
most 19% (2^¼) above it; in the last bin, as 65.5 s ("at least")."""


def latency_bin(latency_ms: float, edges: Sequence[float] = LATENCY_EDGES_MS) -> int:
    """The bin the store's ``CASE`` puts a latency in (the number of edges at or below it)."""
    return bisect_right(edges, latency_ms)


def percentile(
    counts: Sequence[int], q: float, edges: Sequence[float] = LATENCY_EDGES_MS
) -> float | None:
    """The nearest-rank ``q`` quantile (0 < q ≤ 1) of a histogram of ``len(edges) + 1`` bins;
    None for no calls."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = max(1, math.ceil(round(q * total, 9)))  # 0.29 * 100 is 28.999999999999996
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return edges[min(index, len(edges) - 1)]
    return edges[-1]
