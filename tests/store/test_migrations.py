"""Alembic migrations (contract §2): upgrade gives exactly schema.py on both backends, downgrade to
base removes everything, and upgrading again gives the same schema."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from saglik.store import migrate
from saglik.store.schema import metadata


def schema_diff(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def app_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_a_blank_store_has_no_revision(blank_db: Engine) -> None:
    assert migrate.current_revision(blank_db) is None
    assert app_tables(blank_db) == set()


def test_upgrade_to_head_gives_exactly_the_declared_schema(blank_db: Engine) -> None:
    migrate.upgrade(blank_db)
    assert migrate.current_revision(blank_db) == migrate.head_revision()
    assert app_tables(blank_db) == set(metadata.tables)
    assert schema_diff(blank_db) == []


def test_downgrade_to_base_removes_every_table(blank_db: Engine) -> None:
    migrate.upgrade(blank_db)
    migrate.downgrade(blank_db, "base")
    assert migrate.current_revision(blank_db) is None
    assert app_tables(blank_db) == set()


def test_upgrade_after_downgrade_to_base_gives_the_declared_schema_again(blank_db: Engine) -> None:
    migrate.upgrade(blank_db)
    migrate.downgrade(blank_db, "base")
    migrate.upgrade(blank_db)
    assert migrate.current_revision(blank_db) == migrate.head_revision()
    assert schema_diff(blank_db) == []


def test_upgrade_is_a_no_op_on_a_store_at_head(blank_db: Engine) -> None:
    migrate.upgrade(blank_db)
    migrate.upgrade(blank_db)
    assert schema_diff(blank_db) == []


def test_the_shared_test_store_is_at_head(store: Engine) -> None:
    assert migrate.current_revision(store) == migrate.head_revision()
    assert schema_diff(store) == []


def test_the_schema_comparison_notices_a_missing_index(blank_db: Engine) -> None:
    """Guards the tests above: an empty diff means equal, not that nothing was compared."""
    migrate.upgrade(blank_db)
    with blank_db.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_audit_events_time")
    diff = schema_diff(blank_db)
    assert [(d[0], d[1].name) for d in diff] == [("add_index", "ix_audit_events_time")]


def test_only_revisions_of_this_version_are_known() -> None:
    assert migrate.is_known(migrate.head_revision())
    assert not migrate.is_known("ffffffffffff")
