"""Group commit of audit records (contract §3 Audit, §8): every submitted record is committed before
its submitter goes on, many records share one transaction, and a failing store fails every waiter
instead of leaving one hanging."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, event, func, select

from saglik.store import migrate
from saglik.store.audit_writer import (
    AuditRecord,
    AuditUnavailableError,
    GroupCommitter,
    write_batch,
)
from saglik.store.schema import audit_events, audit_subjects, moi_outbox

AT = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
SAFETY = 60.0
"""Only a guard against a hang turning into a stuck run; nothing here measures time."""

T = TypeVar("T")


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    async def guarded() -> T:
        return await asyncio.wait_for(scenario(), SAFETY)

    return asyncio.run(guarded())


@pytest.fixture
def audit_db(blank_db: Engine) -> Engine:
    migrate.upgrade(blank_db)
    return blank_db


@pytest.fixture
def commits(audit_db: Engine) -> Iterator[list[int]]:
    """One entry per transaction committed on the engine."""
    seen: list[int] = []

    def on_commit(_conn: Any) -> None:
        seen.append(1)

    event.listen(audit_db, "commit", on_commit)
    yield seen
    event.remove(audit_db, "commit", on_commit)


def record(method: str, **changes: Any) -> AuditRecord:
    values: dict[str, Any] = {
        "occurred_at": AT,
        "env": "test",
        "service": "hes",
        "method": method,
        "status": 200,
        "outcome": "ok",
        "latency_ms": 1.5,
        "client_ip": "192.0.2.1",
    }
    values.update(changes)
    return AuditRecord(**values)


def rows(engine: Engine, method: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(audit_events)
                .where(audit_events.c.method == method)
            ).scalar_one()
        )


def marker() -> str:
    return f"m-{uuid.uuid4().hex}"


def test_concurrent_submits_are_all_committed_in_fewer_transactions_than_records(
    audit_db: Engine, commits: list[int]
) -> None:
    method, count = marker(), 300

    async def scenario() -> None:
        committer = GroupCommitter(audit_db)
        committer.start()
        await asyncio.gather(*(committer.submit(record(method)) for _ in range(count)))
        await committer.close()

    run(scenario)
    assert rows(audit_db, method) == count
    assert 1 <= len(commits) < count


def test_a_batch_never_holds_more_than_max_batch_records(
    audit_db: Engine, commits: list[int]
) -> None:
    method, count, max_batch = marker(), 100, 10

    async def scenario() -> None:
        committer = GroupCommitter(audit_db, max_batch=max_batch)
        committer.start()
        await asyncio.gather(*(committer.submit(record(method)) for _ in range(count)))
        await committer.close()

    run(scenario)
    assert rows(audit_db, method) == count
    assert len(commits) >= count // max_batch


def test_submit_returns_only_after_the_record_is_committed(audit_db: Engine) -> None:
    method = marker()
    committing, release = threading.Event(), threading.Event()

    def hold_commit(_conn: Any) -> None:  # runs in the writer thread, before the COMMIT
        committing.set()
        release.wait(SAFETY)

    event.listen(audit_db, "commit", hold_commit)

    async def scenario() -> None:
        committer = GroupCommitter(audit_db)
        committer.start()
        submitted = asyncio.create_task(committer.submit(record(method)))
        assert await asyncio.to_thread(committing.wait, SAFETY)
        for _ in range(20):
            await asyncio.sleep(0)
        assert not submitted.done()
        assert rows(audit_db, method) == 0
        release.set()
        await submitted
        assert rows(audit_db, method) == 1
        await committer.close()

    try:
        run(scenario)
    finally:
        release.set()
        event.remove(audit_db, "commit", hold_commit)


def test_every_waiter_learns_that_the_store_failed(blank_db: Engine) -> None:
    """An unmigrated database: every insert fails."""

    async def scenario() -> list[BaseException | None]:
        committer = GroupCommitter(blank_db)
        committer.start()
        outcomes = await asyncio.gather(
            *(committer.submit(record(marker())) for _ in range(50)), return_exceptions=True
        )
        await committer.close()
        return outcomes

    outcomes = run(scenario)
    assert len(outcomes) == 50
    assert all(isinstance(o, AuditUnavailableError) for o in outcomes)


def test_the_writer_keeps_going_after_a_failed_batch(blank_db: Engine) -> None:
    method = marker()

    async def scenario() -> None:
        committer = GroupCommitter(blank_db)
        committer.start()
        with pytest.raises(AuditUnavailableError):
            await committer.submit(record(marker()))
        with pytest.raises(AuditUnavailableError):
            await committer.submit(record(marker()))
        await asyncio.to_thread(migrate.upgrade, blank_db)  # the store comes back
        await committer.submit(record(method))
        await committer.close()

    run(scenario)
    assert rows(blank_db, method) == 1


def test_a_failing_record_fails_its_whole_batch_and_commits_none_of_it(audit_db: Engine) -> None:
    good = marker()

    async def scenario() -> list[BaseException | None]:
        committer = GroupCommitter(audit_db)
        committer.start()
        batch = [record(good) for _ in range(5)] + [record(marker(), env=None)]
        outcomes = await asyncio.gather(
            *(committer.submit(r) for r in batch), return_exceptions=True
        )
        await committer.close()
        return outcomes

    outcomes = run(scenario)
    assert all(isinstance(o, AuditUnavailableError) for o in outcomes)
    assert rows(audit_db, good) == 0


def test_close_drains_records_still_queued(audit_db: Engine) -> None:
    method = marker()
    first_commit, release = threading.Event(), threading.Event()

    def hold_first_commit(_conn: Any) -> None:
        if not first_commit.is_set():
            first_commit.set()
            release.wait(SAFETY)

    event.listen(audit_db, "commit", hold_first_commit)

    async def scenario() -> None:
        committer = GroupCommitter(audit_db)
        committer.start()
        first = asyncio.create_task(committer.submit(record(method)))
        assert await asyncio.to_thread(first_commit.wait, SAFETY)
        queued = [asyncio.create_task(committer.submit(record(method))) for _ in range(25)]
        for _ in range(5):
            await asyncio.sleep(0)
        assert not any(task.done() for task in queued)
        closing = asyncio.create_task(committer.close())
        await asyncio.sleep(0)
        release.set()
        await closing
        assert first.done()
        assert all(task.done() and task.exception() is None for task in queued)

    try:
        run(scenario)
    finally:
        release.set()
        event.remove(audit_db, "commit", hold_first_commit)
    assert rows(audit_db, method) == 26


def test_the_queue_depth_and_the_time_of_each_commit_are_measured(audit_db: Engine) -> None:
    """What ``GET /metrics`` shows of the audit (issue 12 §5): the records waiting for their
    commit, sampled as each batch starts, and how long every commit took."""
    method = marker()
    entered, leave = threading.Semaphore(0), threading.Semaphore(0)

    def hold_each_commit(_conn: Any) -> None:  # the writer thread, before the COMMIT
        entered.release()
        leave.acquire(timeout=SAFETY)

    def sample(name: str) -> float | None:
        return REGISTRY.get_sample_value(name)

    commits_before = sample("saglik_audit_commit_seconds_count") or 0
    event.listen(audit_db, "commit", hold_each_commit)

    async def scenario() -> None:
        committer = GroupCommitter(audit_db)
        committer.start()
        first = asyncio.create_task(committer.submit(record(method)))
        assert await asyncio.to_thread(entered.acquire, timeout=SAFETY)
        assert sample("saglik_audit_queue_depth") == 1
        queued = [asyncio.create_task(committer.submit(record(method))) for _ in range(25)]
        for _ in range(5):
            await asyncio.sleep(0)
        leave.release()
        assert await asyncio.to_thread(entered.acquire, timeout=SAFETY)
        assert sample("saglik_audit_queue_depth") == 25
        leave.release()
        await asyncio.gather(first, *queued)
        assert sample("saglik_audit_queue_depth") == 0
        await committer.close()

    try:
        run(scenario)
    finally:
        for _ in range(2):
            leave.release()
        event.remove(audit_db, "commit", hold_each_commit)
    assert sample("saglik_audit_commit_seconds_count") == commits_before + 2
    assert rows(audit_db, method) == 26


def test_close_without_start_is_harmless(audit_db: Engine) -> None:
    async def scenario() -> None:
        await GroupCommitter(audit_db).close()

    run(scenario)


def test_a_record_is_written_with_its_subject_refs_and_its_outbox_report(audit_db: Engine) -> None:
    method = marker()
    payload = '{"report_id":"r-1"}'
    write_batch(
        audit_db,
        [
            record(method, subject_refs=("ref-a", "ref-b", "ref-a"), outbox_payload=payload),
            record(method, institution_id=7, user_id=9),
        ],
    )
    with audit_db.connect() as conn:
        events = conn.execute(
            select(audit_events).where(audit_events.c.method == method).order_by(audit_events.c.id)
        ).all()
        assert len(events) == 2
        refs = conn.execute(
            select(audit_subjects.c.subject_ref).where(audit_subjects.c.event_id == events[0].id)
        ).scalars()
        assert sorted(refs) == ["ref-a", "ref-b"]
        assert (events[1].institution_id, events[1].user_id) == (7, 9)
        assert events[0].occurred_at == AT
        assert events[0].client_ip == "192.0.2.1"
        outbox = conn.execute(select(moi_outbox).where(moi_outbox.c.payload == payload)).one()
    assert outbox.attempts == 0
    assert outbox.created_at == AT
    assert outbox.next_attempt_at == AT
    assert outbox.delivered_at is None


def test_a_batch_is_one_transaction(audit_db: Engine, commits: list[int]) -> None:
    method = marker()
    write_batch(audit_db, [record(method, subject_refs=("x",)) for _ in range(40)])
    assert rows(audit_db, method) == 40
    assert len(commits) == 1


def test_each_event_gets_the_subject_refs_of_its_own_record(audit_db: Engine) -> None:
    method = marker()
    batch = [
        record(method, status=200 + n, subject_refs=tuple(f"ref-{n}-{k}" for k in range(n % 3)))
        for n in range(30)
    ]
    write_batch(audit_db, batch)
    with audit_db.connect() as conn:
        pairs = conn.execute(
            select(audit_events.c.status, audit_subjects.c.subject_ref)
            .join(audit_subjects, audit_subjects.c.event_id == audit_events.c.id)
            .where(audit_events.c.method == method)
        ).all()
        statuses = conn.execute(
            select(audit_events.c.status).where(audit_events.c.method == method)
        ).scalars()
        assert sorted(statuses) == [200 + n for n in range(30)]
    assert sorted(pairs) == sorted(
        (200 + n, f"ref-{n}-{k}") for n in range(30) for k in range(n % 3)
    )


def test_an_empty_batch_writes_nothing(audit_db: Engine) -> None:
    write_batch(audit_db, [])
    with audit_db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_events)).scalar_one() == 0


def test_submit_after_close_fails_instead_of_waiting_forever(audit_db: Engine) -> None:
    async def scenario() -> None:
        committer = GroupCommitter(audit_db)
        committer.start()
        await committer.close()
        with pytest.raises(AuditUnavailableError):
            await committer.submit(record("after-close"))

    run(scenario)
    assert rows(audit_db, "after-close") == 0
