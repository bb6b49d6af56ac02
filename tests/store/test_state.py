"""Instance values written by several workers at once: the audit key every worker must share, and
the credentials version every user change must move."""

from __future__ import annotations

import threading
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


def _secret(engine: Engine) -> str:
    with engine.begin() as conn:
        return state.get_or_create_secret(conn, state.AUDIT_KEY)


def _bump(engine: Engine) -> None:
    with engine.begin() as conn:
        state.bump_credentials_version(conn)


def test_workers_starting_together_all_get_the_same_audit_key(
    store: Engine, tmp_path: Path
) -> None:
    for _ in range(5):  # a fresh store each time: the race is on the first write
        with blank_engine(backend_of(store), tmp_path, migrated=True) as engine:
            results = _race(engine, _secret)
            assert not [r for r in results if isinstance(r, Exception)], results
            assert len(set(results)) == 1
            assert results[0] == _secret(engine)
            assert len(str(results[0])) == 64


def test_concurrent_user_changes_each_move_the_credentials_version(
    store: Engine, tmp_path: Path
) -> None:
    with blank_engine(backend_of(store), tmp_path, migrated=True) as engine:
        results = _race(engine, _bump, rounds=10)
        assert not [r for r in results if isinstance(r, Exception)], results
        with engine.connect() as conn:
            assert state.credentials_version(conn) == THREADS * 10
