"""Test-environment ÖBS fixtures (contract §5.6): fixed forms with fixed numbers and dates.

They are laid again only when their definition changes (a digest kept in the store), so every
worker may call this on start.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Engine

from saglik.data.tables import data_text
from saglik.domain.obs import ISTANBUL, Cause
from saglik.services.obs import DeathFormInput, ObsRegistryService
from saglik.store import obs_repo, state

TEST_ENV = "test"
DIGEST_KEY = "obs_fixtures_digest"
LAYOUT_VERSION = "2"
"""Bump when the way fixtures are stored changes, so existing stores lay them again."""


@dataclass(frozen=True)
class ObsFixture:
    category: str
    form_no: str
    referans_no: str
    form: DeathFormInput
    registered_at: datetime
    correction: dict[str, Any] | None


def _istanbul(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=ISTANBUL)


def _raw() -> str:
    return data_text("obs_fixtures.json")


@cache
def obs_fixtures() -> tuple[ObsFixture, ...]:
    return tuple(
        ObsFixture(
            category=item["category"],
            form_no=item["form_no"],
            referans_no=item["referans_no"],
            form=DeathFormInput.model_validate(item["form"]),
            registered_at=_istanbul(item["registered_at"]),
            correction=item.get("correction"),
        )
        for item in json.loads(_raw())["forms"]
    )


def apply_obs_fixtures(engine: Engine) -> None:
    digest = hashlib.sha256((LAYOUT_VERSION + _raw()).encode()).hexdigest()
    with engine.begin() as conn:
        if state.get(conn, DIGEST_KEY) == digest:
            return
        fixtures = obs_fixtures()
        obs_repo.delete_forms(conn, TEST_ENV, [fx.form_no for fx in fixtures])
        for fx in fixtures:
            record = ObsRegistryService.to_record(
                fx.form, (fx.form_no, fx.referans_no), fx.registered_at
            )
            form_id = obs_repo.insert_form(conn, TEST_ENV, record)
            if fx.correction is not None:
                causes = tuple(
                    Cause(c["kind"], c["icd_code"], c["interval"]) for c in fx.correction["causes"]
                )
                obs_repo.correct_form(
                    conn,
                    TEST_ENV,
                    form_id,
                    replace(record, causes=causes),
                    _istanbul(fx.correction["at"]),
                )
        state.put(conn, DIGEST_KEY, digest)
