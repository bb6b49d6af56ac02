"""The outbox backlog ``GET /metrics`` reads on every scrape: undelivered live reports only,
counted up to a cap so that a scrape stays cheap however far the receiver has fallen behind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from saglik.store.outbox_backlog import undelivered
from saglik.store.schema import moi_outbox
from tests.store.backends import backend_of, blank_engine

AT = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def outbox(store: Engine, tmp_path: Path) -> Iterator[Engine]:
    with blank_engine(backend_of(store), tmp_path, migrated=True) as engine:
        yield engine


def enqueue(
    engine: Engine,
    count: int,
    delivered_at: datetime | None = None,
    *,
    environment: str = "live",
    withheld_at: datetime | None = None,
) -> None:
    row = {
        "created_at": AT,
        "next_attempt_at": AT,
        "attempts": 0,
        "delivered_at": delivered_at,
        "environment": environment,
        "withheld_at": withheld_at,
    }
    with engine.begin() as conn:
        conn.execute(insert(moi_outbox), [{**row, "payload": f'{{"n":{n}}}'} for n in range(count)])


def test_only_undelivered_reports_count(outbox: Engine) -> None:
    assert undelivered(outbox) == 0
    enqueue(outbox, 4, delivered_at=AT)
    enqueue(outbox, 3)
    assert undelivered(outbox) == 3


def test_the_count_stops_at_its_cap(outbox: Engine) -> None:
    enqueue(outbox, 5)
    assert undelivered(outbox, cap=2) == 2
    assert undelivered(outbox, cap=5) == 5


def test_test_environment_reports_never_count(outbox: Engine) -> None:
    """Sandbox reports are never owed to the Ministry (issue 14 §4): waiting for a test
    receiver, or recorded and not sent, they stay out of the figure operators alert on."""
    enqueue(outbox, 2, environment="test")
    enqueue(outbox, 3, environment="test", withheld_at=AT)
    assert undelivered(outbox) == 0
    enqueue(outbox, 1)
    assert undelivered(outbox) == 1
