"""The console's dashboard figures, aggregated in the database.

Every query groups in SQL and returns at most (buckets × groups) rows: a window has at most ~100
buckets (``domain/time_ranges.py``) and the groups are small closed sets (services, methods,
outcomes, latency bins, 81 provinces, ICD-10 codes). Times are bucketed on whole seconds since
the Unix epoch, which both dialects compute from the naive UTC the columns hold. Buckets and bins
are computed in a subquery and grouped on outside it: PostgreSQL binds parameters on the server,
where an expression repeated in ``GROUP BY`` carries parameters of its own and no longer matches
the one in the select list.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    and_,
    case,
    cast,
    extract,
    func,
    select,
)
from sqlalchemy.engine import Dialect

from saglik.domain.time_ranges import Window
from saglik.store.schema import audit_events, death_causes, death_forms

CALL_DIMENSIONS = ("service", "method", "outcome")
"""The audit columns calls can be grouped by."""


def _epoch_seconds(column: Any, dialect: Dialect) -> ColumnElement[int]:
    """Whole seconds, rounded down. SQLite reads a time to the millisecond, rounding, so its
    fraction is cut off first (the text is ``YYYY-MM-DD HH:MM:SS.ffffff``): 59.9999 s is 59."""
    if dialect.name == "sqlite":
        return cast(func.strftime("%s", func.substr(column, 1, 19)), Integer)
    return cast(func.floor(extract("epoch", column)), BigInteger)


def _bucket(column: Any, dialect: Dialect, window: Window) -> ColumnElement[int]:
    """The 0-based bucket of ``column``: integer division, exact for times inside the window."""
    origin = int(window.start.timestamp())
    return (_epoch_seconds(column, dialect) - origin) // int(window.bucket.total_seconds())


def _calls_in(window: Window, env: str | None) -> list[ColumnElement[bool]]:
    where = [audit_events.c.occurred_at >= window.start, audit_events.c.occurred_at < window.end]
    if env is not None:
        where.append(audit_events.c.env == env)
    return where


def call_counts(
    conn: Connection,
    window: Window,
    *,
    by: Sequence[str],
    env: str | None = None,
    outcomes: Collection[str] | None = None,
) -> list[tuple[int, tuple[str, ...], int]]:
    """(bucket, the ``by`` columns' values, calls) per non-empty group. A folded row counts as
    the ``repeats`` refusals it stands for."""
    if not set(by) <= set(CALL_DIMENSIONS):
        raise ValueError(f"calls are grouped by {', '.join(CALL_DIMENSIONS)} only")
    where = _calls_in(window, env)
    if outcomes is not None:
        where.append(audit_events.c.outcome.in_(sorted(outcomes)))
    rows = (
        select(
            _bucket(audit_events.c.occurred_at, conn.dialect, window).label("bucket"),
            audit_events.c.repeats,
            *(audit_events.c[name] for name in by),
        )
        .where(*where)
        .subquery()
    )
    keys = [rows.c[name] for name in by]
    query = select(rows.c.bucket, func.sum(rows.c.repeats), *keys).group_by(rows.c.bucket, *keys)
    return [
        (int(bucket), tuple(str(value) for value in values), int(calls))
        for bucket, calls, *values in conn.execute(query)
    ]


def latency_histogram(
    conn: Connection, window: Window, edges: Sequence[float], *, env: str | None = None
) -> list[tuple[int, int, int]]:
    """(bucket, latency bin, calls) per non-empty pair; bin ``i`` holds latencies in
    ``[edges[i-1], edges[i])`` (as ``time_ranges.latency_bin``). Calls counted as ``repeats``."""
    latency = audit_events.c.latency_ms
    bin_of = case(*((latency < edge, index) for index, edge in enumerate(edges)), else_=len(edges))
    rows = (
        select(
            _bucket(audit_events.c.occurred_at, conn.dialect, window).label("bucket"),
            bin_of.label("bin"),
            audit_events.c.repeats,
        )
        .where(*_calls_in(window, env))
        .subquery()
    )
    query = select(rows.c.bucket, rows.c.bin, func.sum(rows.c.repeats)).group_by(
        rows.c.bucket, rows.c.bin
    )
    return [(int(bucket), int(bin_), int(calls)) for bucket, bin_, calls in conn.execute(query)]


# --- ÖBS ----------------------------------------------------------------------------------------


def _forms_in(window: Window, env: str) -> list[ColumnElement[bool]]:
    return [
        death_forms.c.env == env,
        death_forms.c.registered_at >= window.start,
        death_forms.c.registered_at < window.end,
    ]


def registrations_per_bucket(conn: Connection, window: Window, env: str) -> list[tuple[int, int]]:
    """(bucket, forms registered) per non-empty bucket."""
    rows = (
        select(_bucket(death_forms.c.registered_at, conn.dialect, window).label("bucket"))
        .where(*_forms_in(window, env))
        .subquery()
    )
    query = select(rows.c.bucket, func.count()).group_by(rows.c.bucket)
    return [(int(bucket), int(forms)) for bucket, forms in conn.execute(query)]


def registrations_by_province(
    conn: Connection, window: Window, env: str, place: Literal["death", "residence"]
) -> list[tuple[int, int]]:
    """(plate, forms registered) per province with any, by the province of death or of
    residence (the two places of ``SCOPE_PLACES``)."""
    province = death_forms.c[f"{place}_province"]
    query = select(province, func.count()).where(*_forms_in(window, env)).group_by(province)
    return [(int(plate), int(forms)) for plate, forms in conn.execute(query)]


def form_count(
    conn: Connection, window: Window, env: str, manners: Collection[int] | None = None
) -> int:
    """Forms registered in the window; with ``manners``, those of these manners only (the
    forensic feed passes ``FORENSIC_MANNERS``, as ``GetAdliFormlarByDate`` does)."""
    query = select(func.count()).select_from(death_forms).where(*_forms_in(window, env))
    if manners is not None:
        query = query.where(death_forms.c.manner.in_(sorted(manners)))
    return int(conn.execute(query).scalar_one())


def underlying_causes(
    conn: Connection, window: Window, env: str, part_one_kinds: Collection[int]
) -> list[tuple[str, int]]:
    """(ICD-10 code, forms) of the underlying cause of each form registered in the window: the
    last line (highest ``seq``) of the chain whose kind is one of ``part_one_kinds``. A form
    without such a line counts nowhere here."""
    forms = select(death_forms.c.id).where(*_forms_in(window, env))
    last = (
        select(death_causes.c.form_id, func.max(death_causes.c.seq).label("seq"))
        .where(
            death_causes.c.kind.in_(sorted(part_one_kinds)),
            death_causes.c.form_id.in_(forms),
        )
        .group_by(death_causes.c.form_id)
        .subquery()
    )
    query = (
        select(death_causes.c.icd_code, func.count())
        .select_from(death_causes)
        .join(
            last,
            and_(death_causes.c.form_id == last.c.form_id, death_causes.c.seq == last.c.seq),
        )
        .group_by(death_causes.c.icd_code)
    )
    return [(str(code), int(forms)) for code, forms in conn.execute(query)]
