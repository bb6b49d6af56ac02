"""Leases on periodic jobs (``job_leases``): whoever holds a job's row runs the job."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from saglik.store.schema import job_leases
from saglik.store.upsert import dialect_insert


def claim(conn: Connection, name: str, holder: str, *, now: datetime, until: datetime) -> bool:
    """Takes the job ``name`` for ``holder`` until ``until`` if nobody holds it at ``now``.

    One conditional upsert: the first claim ever inserts the row, a later one updates it only if
    the lease has run out. Both databases decide it on the row itself (PostgreSQL locks the
    conflicting row and rechecks the condition on its latest version; SQLite has one writer), so
    of any number of claimers at once exactly one gets True."""
    insert = dialect_insert(conn)(job_leases).values(name=name, holder=holder, leased_until=until)
    claimed = conn.execute(
        insert.on_conflict_do_update(
            index_elements=[job_leases.c.name],
            set_={"holder": holder, "leased_until": until},
            where=job_leases.c.leased_until <= now,
        ).returning(job_leases.c.name)  # an INSERT's rowcount is not reliable through psycopg
    ).first()
    return claimed is not None
