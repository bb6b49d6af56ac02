"""Migration 0003: audit subjects keyed by reference. Existing rows survive both ways, the data
subject's lookup by reference is served by the primary key, and no separate index is left."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, inspect, select, text

from saglik.store import migrate
from saglik.store.audit_writer import AuditRecord, write_batch
from saglik.store.schema import audit_subjects
from tests.store.test_migrations import schema_diff

AT = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)


def _record(*refs: str) -> AuditRecord:
    return AuditRecord(
        occurred_at=AT,
        env="live",
        service="hes",
        method="check-employee-hes-code",
        status=200,
        outcome="ok",
        latency_ms=1.0,
        client_ip="127.0.0.1",
        subject_refs=refs,
    )


def _write_before_0005(engine: Engine, *events: tuple[str, ...]) -> None:
    """Audit rows as the writer of that time wrote them (no ``repeats`` column yet)."""
    with engine.begin() as conn:
        for refs in events:
            event_id = conn.execute(
                text(
                    "INSERT INTO audit_events (occurred_at, env, service, method, status, outcome,"
                    " latency_ms) VALUES (:at, 'live', 'hes', 'check-hes-code', 200, 'ok', 1.0)"
                    " RETURNING id"
                ),
                {"at": AT.replace(tzinfo=None)},
            ).scalar_one()
            for ref in refs:
                conn.execute(
                    text("INSERT INTO audit_subjects (event_id, subject_ref) VALUES (:e, :r)"),
                    {"e": event_id, "r": ref},
                )


def _subject_rows(engine: Engine) -> set[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT event_id, subject_ref FROM audit_subjects"))
        return {(int(event_id), ref) for event_id, ref in rows}


def test_upgrade_keeps_every_subject_row_and_keys_them_by_reference(blank_db: Engine) -> None:
    migrate.upgrade(blank_db, "0002")
    _write_before_0005(blank_db, ("ref-a", "ref-b"), ("ref-a",))
    before = _subject_rows(blank_db)
    migrate.upgrade(blank_db, "0003")
    assert _subject_rows(blank_db) == before
    assert len(before) == 3
    inspector = inspect(blank_db)
    assert inspector.get_pk_constraint("audit_subjects")["constrained_columns"] == [
        "subject_ref",
        "event_id",
    ]
    assert inspector.get_indexes("audit_subjects") == []
    assert [d for d in schema_diff(blank_db) if "audit_subjects" in repr(d)] == []


def test_downgrade_to_0002_restores_the_event_first_key_and_the_index(blank_db: Engine) -> None:
    migrate.upgrade(blank_db)
    write_batch(blank_db, [_record("ref-a", "ref-b")])
    before = _subject_rows(blank_db)
    migrate.downgrade(blank_db, "0002")
    assert _subject_rows(blank_db) == before
    inspector = inspect(blank_db)
    assert inspector.get_pk_constraint("audit_subjects")["constrained_columns"] == [
        "event_id",
        "subject_ref",
    ]
    assert [i["name"] for i in inspector.get_indexes("audit_subjects")] == ["ix_audit_subjects_ref"]


def test_a_lookup_by_reference_is_served_by_the_primary_key(store: Engine) -> None:
    sqlite = store.dialect.name == "sqlite"
    with store.connect() as conn:
        if sqlite:  # one B-tree, not a rowid table beside its key
            ddl = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'audit_subjects'")
            ).scalar()
            assert "WITHOUT ROWID" in str(ddl)
        lookup = select(audit_subjects.c.event_id).where(audit_subjects.c.subject_ref == "x")
        compiled = str(lookup.compile(store, compile_kwargs={"literal_binds": True}))
        plan = " ".join(
            str(row[-1])
            for row in conn.execute(
                text(f"EXPLAIN {'QUERY PLAN ' if sqlite else ''}{compiled}")
            ).all()
        )
    assert "pk_audit_subjects" in plan or "PRIMARY KEY" in plan, plan
