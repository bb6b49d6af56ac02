"""Reading the G2G audit trail: by institution, method and time, or by subject reference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from saglik.store.schema import (
    audit_events,
    audit_subjects,
    death_forms,
    hes_codes,
    institutions,
    persons,
    service_users,
)


@dataclass(frozen=True, slots=True)
class CallRecord:
    id: int
    occurred_at: datetime
    env: str
    service: str
    method: str
    institution: str | None
    """None when the caller was not identified (wrong credentials)."""
    username: str | None
    status: int
    outcome: str
    latency_ms: float
    client_ip: str | None


def list_calls(
    conn: Connection,
    *,
    institution_id: int | None = None,
    method: str | None = None,
    env: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    subject_refs: Sequence[str] | None = None,
    limit: int = 100,
) -> list[CallRecord]:
    """Newest first; ``since`` inclusive, ``until`` exclusive. With ``subject_refs``, only the
    calls that touched one of them (read through the subjects' primary key)."""
    query = (
        select(
            audit_events.c.id,
            audit_events.c.occurred_at,
            audit_events.c.env,
            audit_events.c.service,
            audit_events.c.method,
            institutions.c.name,
            service_users.c.username,
            audit_events.c.status,
            audit_events.c.outcome,
            audit_events.c.latency_ms,
            audit_events.c.client_ip,
        )
        .select_from(audit_events)
        .outerjoin(institutions, institutions.c.id == audit_events.c.institution_id)
        .outerjoin(service_users, service_users.c.id == audit_events.c.user_id)
        .order_by(audit_events.c.occurred_at.desc(), audit_events.c.id.desc())
        .limit(limit)
    )
    if subject_refs is not None:
        touched = select(audit_subjects.c.event_id).where(
            audit_subjects.c.subject_ref.in_(list(subject_refs))
        )
        query = query.where(audit_events.c.id.in_(touched))
    if institution_id is not None:
        query = query.where(audit_events.c.institution_id == institution_id)
    if method is not None:
        query = query.where(audit_events.c.method == method)
    if env is not None:
        query = query.where(audit_events.c.env == env)
    if outcome is not None:
        query = query.where(audit_events.c.outcome == outcome)
    if since is not None:
        query = query.where(audit_events.c.occurred_at >= since)
    if until is not None:
        query = query.where(audit_events.c.occurred_at < until)
    return [CallRecord(*row) for row in conn.execute(query)]


def codes_held(conn: Connection, identity_number: str) -> list[str]:
    """Every code ever issued to this identity number, in either environment."""
    return list(
        conn.execute(
            select(hes_codes.c.code)
            .join(persons, persons.c.id == hes_codes.c.person_id)
            .where(persons.c.identity_number == identity_number)
        ).scalars()
    )


def forms_of(conn: Connection, identity_number: str) -> list[str]:
    """The FormNo of every death form with this identity number, in either environment."""
    return list(
        conn.execute(
            select(death_forms.c.form_no).where(death_forms.c.identity_number == identity_number)
        ).scalars()
    )
