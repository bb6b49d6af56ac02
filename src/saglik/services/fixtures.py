"""Test-environment fixtures (contract §4.6): one code per category of the document's table.

Their health events are stored as offsets from "now" and re-applied on start and on an interval,
so a PCR fixture's negative test is always inside 72 hours however long the server has run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from saglik.data.tables import data_text
from saglik.domain.clock import Clock
from saglik.domain.records import EventRow
from saglik.domain.turkish import normalize_name
from saglik.store import bulk_repo, hes_repo

TEST_ENV = "test"
REFRESH_INTERVAL = timedelta(minutes=10)


@dataclass(frozen=True)
class HesFixture:
    code: str
    category: str
    identity_number: str
    first_name: str
    last_name: str
    spec: dict[str, Any]


@cache
def hes_fixtures() -> tuple[HesFixture, ...]:
    raw = json.loads(data_text("hes_fixtures.json"))
    return tuple(
        HesFixture(
            code=item["code"],
            category=item["category"],
            identity_number=item["identity_number"],
            first_name=normalize_name(item["first_name"]),
            last_name=normalize_name(item["last_name"]),
            spec=item,
        )
        for item in raw["fixtures"]
    )


def apply_hes_fixtures(engine: Engine, clock: Clock) -> None:
    """Idempotent: safe on every start and from every worker at once.

    Workers starting together on an empty store all find no fixture rows and all insert them;
    the losers' unique-key conflicts (or lock timeouts) roll back, and a retry finds the rows."""
    for attempt in range(_ATTEMPTS):
        try:
            _apply(engine, clock)
            return
        except (IntegrityError, OperationalError):
            if attempt == _ATTEMPTS - 1:
                raise


_ATTEMPTS = 3


def _apply(engine: Engine, clock: Clock) -> None:
    now = clock.now()
    days, hours = timedelta(days=1), timedelta(hours=1)
    with engine.begin() as conn:
        events: list[EventRow] = []
        for fx in hes_fixtures():
            spec = fx.spec
            person = hes_repo.upsert_person(
                conn,
                env=TEST_ENV,
                identity_number=fx.identity_number,
                first_name=fx.first_name,
                last_name=fx.last_name,
                now=now,
            )
            consent = spec["consent"]
            hes_repo.set_consent(
                conn,
                person,
                vaccination=consent["vaccination"],
                immunity=consent["immunity"],
                test=consent["test"],
            )
            hes_repo.clear_events(conn, person)
            events += [
                EventRow(fx.identity_number, "vaccination", now - ago * days, dose, "CoronaVac")
                for dose, ago in enumerate(spec.get("vaccinations_days_ago", []), start=1)
            ]
            events += [
                EventRow(fx.identity_number, "infection", now - ago * days)
                for ago in spec.get("infections_days_ago", [])
            ]
            events += [
                EventRow(fx.identity_number, "pcr", now - ago * hours, negative=True)
                for ago in spec.get("negative_tests_hours_ago", [])
            ]
            if "risk_days_ago" in spec:
                events.append(
                    EventRow(
                        fx.identity_number,
                        "risk",
                        now - spec["risk_days_ago"] * days,
                        risk_kind="case",
                    )
                )
            expired = spec.get("expired", False)
            hes_repo.upsert_code(
                conn,
                env=TEST_ENV,
                code=fx.code,
                person=person,
                created_at=now - (400 if expired else 30) * days,
                expires_at=now - days if expired else now + 365 * days,
            )
        # one statement for every fixture's events, after their old events were cleared
        bulk_repo.upsert_events(conn, TEST_ENV, events)
