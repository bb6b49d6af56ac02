"""Instance values written by several workers at once: the audit keys a store has used, which the
first worker to start records, and the credentials version every user change must move."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from saglik.store import state
from saglik.store.engine import make_engine
from tests.store.backends import backend_of, blank_engine

THREADS = 6


def _race(engine: Engine, work: Callable[[Engine], str | None], rounds: int = 1) -> list[object]:
    """Runs ``work`` from THREADS threads, each on an engine of its own (like separate worker
    processes), released together; returns every result or the exception raised."""
    url = engine.url.render_as_string(hide_password=False)
    barrier = threading.Barrier(THREADS)
    results: list[object] = []

    def worker() -> None:
        own = make_engine(url)
        try:
            barrier.wait()
            for _ in range(rounds):
                results.append(work(own))
        except Exception as exc:
            results.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _record(engine: Engine) -> str:
    """Records the key k1 under a fingerprint of this worker's own; returns the one recorded."""
    mine = uuid.uuid4().hex[:16]
    with engine.begin() as conn:
        state.record_audit_key(conn, "k1", mine)
        return state.used_audit_keys(conn)["k1"]


def _bump(engine: Engine) -> None:
    with engine.begin() as conn:
        state.bump_credentials_version(conn)


def test_workers_recording_a_key_together_all_see_the_first_record(
    store: Engine, tmp_path: Path
) -> None:
    for _ in range(5):  # a fresh store each time: the race is on the first write
        with blank_engine(backend_of(store), tmp_path, migrated=True) as engine:
            results = _race(engine, _record)
            assert not [r for r in results if isinstance(r, Exception)], results
            assert len(set(results)) == 1
            with engine.connect() as conn:
                assert state.used_audit_keys(conn) == {"k1": results[0]}


def test_the_used_keys_are_only_the_audit_key_rows(store: Engine, tmp_path: Path) -> None:
    with blank_engine(backend_of(store), tmp_path, migrated=True) as engine:
        with engine.begin() as conn:
            state.bump_credentials_version(conn)
            state.put(conn, "auditXkey_used:k9", "not a key row")  # "_" is no wildcard
            state.record_audit_key(conn, "legacy", "f" * 16)
            state.record_audit_key(conn, "k2", "e" * 16)
        with engine.connect() as conn:
            assert state.used_audit_keys(conn) == {"legacy": "f" * 16, "k2": "e" * 16}


def test_concurrent_user_changes_each_move_the_credentials_version(
    store: Engine, tmp_path: Path
) -> None:
    with blank_engine(backend_of(store), tmp_path, migrated=True) as engine:
        results = _race(engine, _bump, rounds=10)
        assert not [r for r in results if isinstance(r, Exception)], results
        with engine.connect() as conn:
            assert state.versions(conn).credentials == THREADS * 10
