"""Provinces and their districts, for the pickers of scopes and death forms: the 81 provinces
are built in; districts come from the store's table."""

from __future__ import annotations

from sqlalchemy import Engine

from saglik.data.tables import provinces as province_names
from saglik.store import districts_repo


class Places:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @staticmethod
    def provinces() -> list[tuple[int, str]]:
        """(plate, name), by plate."""
        return sorted(province_names().items())

    def districts(self, plate: int) -> list[tuple[int, str]]:
        """(code, name) of the province's districts; none for a plate that names no province."""
        if plate not in province_names():
            return []
        with self._engine.connect() as conn:
            return districts_repo.of_province(conn, plate)
