"""The operator change log (``operator_changes``): append, and read back with filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from saglik.store.schema import operator_changes


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    id: int
    occurred_at: datetime
    actor: str
    env: str | None
    entity: str
    action: str
    target: str | None
    subject_ref: str | None
    before: str | None
    after: str | None


def add_change(
    conn: Connection,
    *,
    occurred_at: datetime,
    actor: str,
    env: str | None,
    entity: str,
    action: str,
    target: str | None,
    subject_ref: str | None,
    before: str | None,
    after: str | None,
) -> None:
    conn.execute(
        operator_changes.insert().values(
            occurred_at=occurred_at,
            actor=actor,
            env=env,
            entity=entity,
            action=action,
            target=target,
            subject_ref=subject_ref,
            before=before,
            after=after,
        )
    )


def list_changes(
    conn: Connection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    entity: str | None = None,
    subject_refs: Sequence[str] | None = None,
    limit: int = 100,
) -> list[ChangeRecord]:
    """Newest first; ``since`` inclusive, ``until`` exclusive. With ``subject_refs``, only the
    changes about one of them (a person's references under each audit key)."""
    query = select(operator_changes).order_by(operator_changes.c.id.desc()).limit(limit)
    if since is not None:
        query = query.where(operator_changes.c.occurred_at >= since)
    if until is not None:
        query = query.where(operator_changes.c.occurred_at < until)
    if entity is not None:
        query = query.where(operator_changes.c.entity == entity)
    if subject_refs is not None:
        query = query.where(operator_changes.c.subject_ref.in_(list(subject_refs)))
    return [ChangeRecord(**row._mapping) for row in conn.execute(query)]


def latest_change(conn: Connection, *, entity: str, env: str) -> ChangeRecord | None:
    """The newest change of this kind in this environment."""
    row = conn.execute(
        select(operator_changes)
        .where(operator_changes.c.entity == entity, operator_changes.c.env == env)
        .order_by(operator_changes.c.id.desc())
        .limit(1)
    ).first()
    return ChangeRecord(**row._mapping) if row is not None else None
