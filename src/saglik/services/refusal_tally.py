"""Refusals folded into one audit row per client address, method, outcome and minute.

A client with no valid credentials can send thousands of requests a second; one committed row
each would let it fill the audit store and queue every real caller's audit write behind its own
(a probe wrote 10,228 rows in 5 s). A refusal touches no subject, so nothing is lost by counting
it. The first refusal of its kind in a minute is written at once, like any call; the ones that
follow are counted and written as one more row (``repeats`` = their number, the time = the
minute) once the minute is over: at most two rows per address, method, outcome and minute.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from saglik.store.audit_writer import AuditRecord

MAX_KEYS = 10_000
"""Distinct rows held per minute; past it (a spread of addresses), refusals fold into rows
without an address rather than grow memory."""


@dataclass(frozen=True, slots=True)
class _Key:
    minute: datetime
    env: str
    service: str
    method: str
    status: int
    outcome: str
    client_ip: str | None
    institution_id: int | None
    user_id: int | None


class RefusalTally:
    def __init__(self) -> None:
        self._rows: dict[_Key, AuditRecord] = {}

    def add(self, record: AuditRecord) -> bool:
        """True if the record is the first of its kind this minute: the caller writes it now."""
        minute = record.occurred_at.replace(second=0, microsecond=0)
        key = _Key(
            minute,
            record.env,
            record.service,
            record.method,
            record.status,
            record.outcome,
            record.client_ip,
            record.institution_id,
            record.user_id,
        )
        if key not in self._rows and len(self._rows) >= MAX_KEYS:
            key = replace(key, client_ip=None)
            record = replace(record, client_ip=None)
        held = self._rows.get(key)
        if held is None:
            self._rows[key] = replace(record, occurred_at=minute, repeats=0, latency_ms=0.0)
            return True
        held.repeats += 1  # latency: the mean over the folded refusals
        held.latency_ms += (record.latency_ms - held.latency_ms) / held.repeats
        return False

    def drain(self, before: datetime | None = None) -> list[AuditRecord]:
        """The folded rows of the minutes that began before ``before`` (every minute if None);
        those minutes are forgotten."""
        taken = [k for k in self._rows if before is None or k.minute < before]
        return [row for k in taken if (row := self._rows.pop(k)).repeats]
