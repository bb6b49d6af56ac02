"""The rows of the HES data as every writer hands them to the store: imports, the demo
population, data entry and the test fixtures build these, and ``store.bulk_repo`` upserts them by
their natural keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PersonRow:
    """Names already NFC, Turkish upper case."""

    identity_number: str
    first_name: str
    last_name: str
    consent_vaccination: bool | None = False
    consent_immunity: bool | None = False
    consent_test: bool | None = False
    """None: keep the stored choice (False for a new person)."""


@dataclass(frozen=True, slots=True)
class CodeRow:
    """``created_at`` None: the batch's ``now`` for a new code, and a known code keeps its own
    (so importing the same file again tomorrow changes nothing)."""

    code: str
    identity_number: str
    created_at: datetime | None
    expires_at: datetime
    cancelled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventRow:
    """One health event; which optional fields apply depends on ``kind``:
    vaccination → ``dose``, ``vaccine``; pcr → ``negative``; risk → ``risk_kind``, ``ended_at``."""

    identity_number: str
    kind: str
    at: datetime
    dose: int | None = None
    vaccine: str | None = None
    negative: bool | None = None
    risk_kind: str | None = None
    ended_at: datetime | None = None
