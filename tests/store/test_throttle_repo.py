"""The shared failure counts: concurrent counting from many workers loses no failure."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from saglik.store import throttle_repo
from saglik.store.schema import auth_failures

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _count(n: int, _last: datetime | None) -> tuple[int, datetime | None]:
    return n + 1, NOW + timedelta(seconds=n + 1)


def test_concurrent_failures_on_one_key_are_all_counted(store: Engine) -> None:
    key = f"user:live:concurrent-{id(store)}"

    def fail(_: int) -> None:
        with store.begin() as conn:
            throttle_repo.count_failure(conn, key, NOW, _count)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fail, range(40)))
    with store.connect() as conn:
        failures = conn.execute(
            select(auth_failures.c.failures).where(auth_failures.c.key == key)
        ).scalar_one()
        assert failures == 40
        assert throttle_repo.locked_until(conn, [key, "addr:none"], NOW) == NOW + timedelta(
            seconds=40
        )
        assert key in throttle_repo.current_locks(conn, NOW)
        assert key not in throttle_repo.current_locks(conn, NOW + timedelta(seconds=41))
    with store.begin() as conn:
        assert throttle_repo.clear(conn, [key]) == 1
