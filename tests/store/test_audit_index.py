"""Queued subject references reach the keyed table: all of them, once each, in batches, with
workers indexing at the same time, and readers see them wherever they are."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from saglik.store.audit_index import all_subjects, index_all, index_pending
from saglik.store.audit_writer import AuditRecord, write_batch
from saglik.store.engine import make_engine
from saglik.store.schema import audit_subjects, audit_subjects_pending
from tests.store.backends import backend_of, blank_engine

AT = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)


def _record(*refs: str) -> AuditRecord:
    return AuditRecord(
        occurred_at=AT,
        env="live",
        service="hes",
        method="check-hes-codes",
        status=200,
        outcome="ok",
        latency_ms=1.0,
        client_ip="127.0.0.1",
        subject_refs=refs,
    )


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def _pairs(engine: Engine, table: object) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return sorted(
            (int(e), r)
            for e, r in conn.execute(select(table.c.event_id, table.c.subject_ref))  # type: ignore[attr-defined]
        )


def test_the_request_path_queues_and_the_index_moves_every_reference_once(
    store: Engine, tmp_path: Path
) -> None:
    with blank_engine(backend_of(store), tmp_path, migrated=True) as engine:
        write_batch(engine, [_record(f"r{n}-a", f"r{n}-b") for n in range(25)])
        queued = _pairs(engine, audit_subjects_pending)
        assert len(queued) == 50
        assert _count(engine, audit_subjects) == 0
        assert _pairs(engine, all_subjects()) == queued  # readers see them before indexing
        assert index_pending(engine, batch=20) == 20  # the oldest twenty
        assert _count(engine, audit_subjects_pending) == 30
        assert _pairs(engine, all_subjects()) == queued
        assert index_all(engine, batch=20) == 30
        assert _count(engine, audit_subjects_pending) == 0
        assert _pairs(engine, audit_subjects) == queued
        assert index_all(engine) == 0


def test_indexers_and_writers_of_several_workers_lose_and_repeat_nothing(
    store: Engine, tmp_path: Path
) -> None:
    with blank_engine(backend_of(store), tmp_path, migrated=True) as engine:
        url = engine.url.render_as_string(hide_password=False)
        errors: list[BaseException] = []
        writing = threading.Event()

        def writer(worker: int) -> None:
            own = make_engine(url)
            try:
                for n in range(40):
                    write_batch(own, [_record(f"w{worker}-{n}-{k}") for k in range(5)])
            except BaseException as exc:
                errors.append(exc)
            finally:
                own.dispose()

        def indexer() -> None:
            own = make_engine(url)
            try:
                while writing.is_set():
                    index_pending(own, batch=37)
                index_all(own, batch=37)
            except BaseException as exc:
                errors.append(exc)
            finally:
                own.dispose()

        writing.set()
        writers = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
        indexers = [threading.Thread(target=indexer) for _ in range(2)]
        for thread in writers + indexers:
            thread.start()
        for thread in writers:
            thread.join()
        writing.clear()
        for thread in indexers:
            thread.join()
        index_all(engine)
        assert errors == []
        assert _count(engine, audit_subjects_pending) == 0
        refs = [ref for _, ref in _pairs(engine, audit_subjects)]
        assert len(refs) == 3 * 40 * 5
        assert set(refs) == {f"w{w}-{n}-{k}" for w in range(3) for n in range(40) for k in range(5)}
