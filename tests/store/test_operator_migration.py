"""Migration 0004: health events get unique natural keys (rows that repeat one are merged,
keeping the latest written), and the operator tables come and go with it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from saglik.store import migrate
from saglik.store.schema import infections, persons, vaccinations
from tests.store.test_migrations import app_tables

AT = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)


def _person(conn: object) -> int:
    result = conn.execute(  # type: ignore[attr-defined]
        insert(persons).values(
            env="live",
            identity_number="10000000146",
            first_name="ALİ",
            last_name="VELİ",
            consent_vaccination=False,
            consent_immunity=False,
            consent_test=False,
            created_at=AT,
        )
    )
    return int(result.inserted_primary_key[0])


def test_upgrade_merges_repeated_events_keeping_the_latest(blank_db: Engine) -> None:
    migrate.upgrade(blank_db, "0003")
    with blank_db.begin() as conn:
        person = _person(conn)
        for vaccine in ("CoronaVac", "BioNTech"):
            conn.execute(
                insert(vaccinations).values(
                    person_id=person, dose_number=1, vaccine=vaccine, administered_at=AT
                )
            )
        conn.execute(insert(infections), [{"person_id": person, "diagnosed_at": AT}] * 2)
    migrate.upgrade(blank_db, "0004")
    with blank_db.connect() as conn:
        doses = conn.execute(select(vaccinations.c.vaccine)).scalars().all()
        assert doses == ["BioNTech"]
        assert len(conn.execute(select(infections)).all()) == 1
    with pytest.raises(IntegrityError), blank_db.begin() as conn:
        conn.execute(insert(infections).values(person_id=person, diagnosed_at=AT))


def test_downgrade_to_0003_drops_the_operator_tables_and_the_keys(blank_db: Engine) -> None:
    migrate.upgrade(blank_db)
    migrate.downgrade(blank_db, "0003")
    assert not {"operator_tokens", "operator_changes"} & app_tables(blank_db)
    with blank_db.begin() as conn:
        person = _person(conn)
        conn.execute(insert(infections), [{"person_id": person, "diagnosed_at": AT}] * 2)
