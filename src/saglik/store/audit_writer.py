"""Group commit for audit records (and the outbox rows that must commit with them).

A request's answer may leave only after its audit record is committed. One transaction per request
would make SQLite's single writer the bottleneck, so concurrent requests hand their records to one
writer that commits whatever has gathered in a single transaction and then releases them all.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect

from saglik import telemetry
from saglik.store.prepared import PreparedStatement
from saglik.store.schema import audit_events, audit_subjects, moi_outbox

log = logging.getLogger("saglik.audit")


@dataclass(slots=True)
class AuditRecord:
    occurred_at: datetime
    env: str
    service: str
    method: str
    status: int
    outcome: str
    latency_ms: float
    client_ip: str | None
    institution_id: int | None = None
    user_id: int | None = None
    subject_refs: tuple[str, ...] = ()
    outbox_payload: str | None = None
    """A Ministry of Interior report to enqueue in the same transaction, if any."""
    repeats: int = 1
    """How many refusals this row stands for (``services/refusal_tally.py``)."""


@dataclass(slots=True)
class _Pending:
    record: AuditRecord
    done: asyncio.Future[None] = field(repr=False)


class AuditUnavailableError(Exception):
    """The audit store could not commit; the call must not be answered as a success."""


_EVENT_COLUMNS = (
    "occurred_at",
    "env",
    "service",
    "method",
    "institution_id",
    "user_id",
    "status",
    "outcome",
    "latency_ms",
    "client_ip",
    "repeats",
)
_OUTBOX_COLUMNS = ("created_at", "environment", "payload", "attempts", "next_attempt_at")


@dataclass(frozen=True, slots=True)
class _Statements:
    event: PreparedStatement
    event_returning_id: PreparedStatement
    subject: PreparedStatement
    outbox: PreparedStatement


@functools.lru_cache(maxsize=16)
def _statements(dialect: Dialect) -> _Statements:
    return _Statements(
        event=PreparedStatement(audit_events.insert(), dialect, _EVENT_COLUMNS),
        event_returning_id=PreparedStatement(
            audit_events.insert().returning(audit_events.c.id), dialect, _EVENT_COLUMNS
        ),
        subject=PreparedStatement(audit_subjects.insert(), dialect, ("event_id", "subject_ref")),
        outbox=PreparedStatement(moi_outbox.insert(), dialect, _OUTBOX_COLUMNS),
    )


def _event_ids(
    cursor: Any, dialect: Dialect, statements: _Statements, rows: list[Any]
) -> list[int]:
    """Inserts the events; their ids in record order."""
    if dialect.name == "postgresql":  # one pipelined round trip, every id back (psycopg 3)
        cursor.executemany(statements.event_returning_id.sql, rows, returning=True)
        ids = [cursor.fetchone()[0]]
        while cursor.nextset():
            ids.append(cursor.fetchone()[0])
        return ids
    ids = []
    for row in rows:  # SQLite: in process, one C call each; lastrowid is the id
        cursor.execute(statements.event.sql, row)
        ids.append(cursor.lastrowid)
    return ids


def write_batch(engine: Engine, records: list[AuditRecord]) -> None:
    """The whole batch in one transaction. The rows go straight to the driver (statements
    compiled once by SQLAlchemy): the writer thread holds the GIL against the event loop while it
    builds them, and with Core's per-statement machinery the audit write was half of a HES
    lookup's CPU (benchmarks/README.md)."""
    if not records:
        return
    dialect = engine.dialect
    statements = _statements(dialect)
    event_rows = [
        statements.event.bound(
            {
                "occurred_at": record.occurred_at,
                "env": record.env,
                "service": record.service,
                "method": record.method,
                "institution_id": record.institution_id,
                "user_id": record.user_id,
                "status": record.status,
                "outcome": record.outcome,
                "latency_ms": record.latency_ms,
                "client_ip": record.client_ip,
                "repeats": record.repeats,
            }
        )[1]
        for record in records
    ]
    with engine.begin() as conn:
        cursor = conn.connection.cursor()
        try:
            event_ids = _event_ids(cursor, dialect, statements, event_rows)
            subjects = [
                statements.subject.bound({"event_id": event_id, "subject_ref": ref})[1]
                for event_id, record in zip(event_ids, records, strict=True)
                for ref in dict.fromkeys(record.subject_refs)
            ]
            if subjects:
                cursor.executemany(statements.subject.sql, subjects)
            outbox = [
                statements.outbox.bound(
                    {
                        "created_at": record.occurred_at,
                        "environment": record.env,  # each goes to its own receiver only
                        "payload": record.outbox_payload,
                        "attempts": 0,
                        "next_attempt_at": record.occurred_at,
                    }
                )[1]
                for record in records
                if record.outbox_payload is not None
            ]
            if outbox:
                cursor.executemany(statements.outbox.sql, outbox)
        finally:
            cursor.close()


class GroupCommitter:
    """One writer thread; ``submit`` returns once the record is durable in the store."""

    def __init__(self, engine: Engine, max_batch: int = 512) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-writer")

    def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")

    async def submit(self, record: AuditRecord) -> None:
        assert self._wakeup is not None, "GroupCommitter.start() was not called"
        if self._stopping:
            raise AuditUnavailableError  # no writer is left to commit it
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(record, done))
        self._wakeup.set()
        await done

    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                # the depth is sampled once a batch, not once a record: it costs no call anything
                telemetry.AUDIT_QUEUE_DEPTH.set(len(self._queue))
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                started = time.perf_counter()
                try:
                    await loop.run_in_executor(
                        self._executor, write_batch, self._engine, [p.record for p in batch]
                    )
                except Exception as exc:  # the store failed: every waiter learns it, none hangs
                    log.error("audit batch of %d failed: %s", len(batch), type(exc).__name__)
                    for pending in batch:
                        if not pending.done.done():
                            pending.done.set_exception(AuditUnavailableError())
                else:
                    telemetry.AUDIT_COMMIT_SECONDS.observe(time.perf_counter() - started)
                    for pending in batch:
                        if not pending.done.done():
                            pending.done.set_result(None)
            telemetry.AUDIT_QUEUE_DEPTH.set(0)
            if self._stopping:
                return

    async def close(self) -> None:
        """Drain what is queued, then stop (graceful shutdown loses no audit record)."""
        if self._task is None:
            return
        assert self._wakeup is not None
        self._stopping = True
        self._wakeup.set()
        await self._task
        self._executor.shutdown(wait=True)
        self._task = None
