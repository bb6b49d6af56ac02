"""Shared by the ÖBS service tests: a database of the module's own, and a valid form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from saglik.services.refdata import import_districts
from tests.store.backends import backend_of, blank_engine


def valid_form(**changes: Any) -> dict[str, Any]:
    """A form the registry accepts at the tests' BASE_TIME (2026-06-15 09:00 UTC)."""
    form: dict[str, Any] = {
        "identity_number": "10000000146",
        "first_name": "ayşe gül",
        "last_name": "yıldırım",
        "father_name": "ismail",
        "mother_name": "Işıl",
        "birth_date": "1950-04-01",
        "birth_place": "izmir",
        "sex": 2,
        "died_at": "2026-06-14T10:00:00",
        "place_of_death_type": 1,
        "death_province": 6,
        "death_district": 1231,
        "residence_province": 6,
        "residence_district": 1231,
        "manner": 1,
        "causes": [{"kind": 1, "icd_code": "I21.9", "interval": "2 saat"}],
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not ...}


def own_store(store: Engine, factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database on ``store``'s backend, with the shared districts, for one module
    (the shared store's live feeds must not see these tests' forms)."""
    with blank_engine(backend_of(store), factory.mktemp("obs"), migrated=True) as engine:
        import_districts(engine)
        yield engine
