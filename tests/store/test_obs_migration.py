"""Migration 0002 (the ÖBS death registry) on both backends: down to 0001 removes exactly its
tables, up again gives exactly the declared schema."""

from __future__ import annotations

from sqlalchemy import Engine

from saglik.store import migrate
from saglik.store.schema import metadata
from tests.store.test_migrations import app_tables, schema_diff

OBS_TABLES = {"death_forms", "death_causes", "death_form_history", "districts"}
LATER_TABLES = {
    "operator_tokens",
    "operator_changes",
    "auth_failures",
    "job_leases",
    "console_sessions",
}  # 0004–0007


def test_0002_follows_0001() -> None:
    assert migrate.is_known("0001")
    assert migrate.is_known("0002")


def test_upgrade_to_0001_has_no_obs_table(blank_db: Engine) -> None:
    migrate.upgrade(blank_db, "0001")
    assert migrate.current_revision(blank_db) == "0001"
    assert app_tables(blank_db) == set(metadata.tables) - OBS_TABLES - LATER_TABLES


def test_downgrade_to_0001_removes_exactly_the_obs_tables(blank_db: Engine) -> None:
    migrate.upgrade(blank_db)
    assert app_tables(blank_db) >= OBS_TABLES
    migrate.downgrade(blank_db, "0001")
    assert migrate.current_revision(blank_db) == "0001"
    assert app_tables(blank_db) == set(metadata.tables) - OBS_TABLES - LATER_TABLES


def test_upgrade_from_0001_gives_the_declared_schema(blank_db: Engine) -> None:
    migrate.upgrade(blank_db, "0001")
    migrate.upgrade(blank_db)
    assert migrate.current_revision(blank_db) == migrate.head_revision()
    assert schema_diff(blank_db) == []


def test_up_down_up_gives_the_declared_schema_again(blank_db: Engine) -> None:
    migrate.upgrade(blank_db)
    assert schema_diff(blank_db) == []
    migrate.downgrade(blank_db, "0001")
    migrate.upgrade(blank_db)
    assert migrate.current_revision(blank_db) == migrate.head_revision()
    assert app_tables(blank_db) == set(metadata.tables)
    assert schema_diff(blank_db) == []


def test_the_schema_comparison_notices_a_missing_obs_index(blank_db: Engine) -> None:
    """Guards the tests above for the new tables: an empty diff means they were compared."""
    migrate.upgrade(blank_db)
    with blank_db.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_death_forms_registered")
    diff = schema_diff(blank_db)
    assert [(d[0], d[1].name) for d in diff] == [("add_index", "ix_death_forms_registered")]
