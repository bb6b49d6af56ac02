"""The districts table as pickers read it (the loaded table, which ``saglik refdata import`` may
have replaced, not the shipped file)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from saglik.store.schema import districts


def of_province(conn: Connection, plate: int) -> list[tuple[int, str]]:
    """(district code, name) of one province, by name."""
    rows = conn.execute(
        select(districts.c.code, districts.c.name)
        .where(districts.c.plate == plate)
        .order_by(districts.c.name)
    )
    return [(int(code), str(name)) for code, name in rows]
