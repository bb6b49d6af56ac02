"""The one place that picks a dialect's INSERT for ``ON CONFLICT`` upserts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite


def dialect_insert(conn: Connection) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (both databases here do)."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
