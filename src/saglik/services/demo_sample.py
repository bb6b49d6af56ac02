"""Things to query in a demo population (``saglik demo sample``): codes by what they answer now,
death forms with the numbers and names their lookups take.

The population is regenerated from the change log's record of the last demo run (the same seed
and anchor give the same persons), so only demo persons are ever listed, never a real person
imported beside them; each code is then asked of the store as a G2G call would ask it, so the
listed answer is the one a client gets now.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine

from saglik.domain.clock import Clock
from saglik.domain.obs import FORENSIC_MANNERS, ISTANBUL
from saglik.domain.population import DemoPerson, generate_population
from saglik.services.changes import store_pseudonymizer
from saglik.services.demo import (
    DEMO_ENTITY,
    DemoError,
    load_districts,
    reserved_identity_numbers,
    tables,
)
from saglik.services.hes import HesQueryService
from saglik.store import changes_repo, obs_repo

SCAN = 20_000
"""Persons regenerated at most: enough for a few forensic deaths (~1 in 1,000 persons over five
years), at some tens of thousands of persons a second."""

ANSWERS = ("RISKLESS", "RISKY", "hescodehasbeenexpired", "hescodenotfound")
"""What a code answers, in the order the sample lists them."""


@dataclass(frozen=True, slots=True)
class CodeSample:
    hes_code: str
    answer: str
    """``RISKLESS`` or ``RISKY`` (200), or the 400's errorKey."""


@dataclass(frozen=True, slots=True)
class DeathSample:
    form_no: str
    referans_no: str
    identity_number: str | None
    first_name: str
    last_name: str
    birth_date: date | None
    died_at: datetime
    """Europe/Istanbul."""
    registered_on: date
    """The Istanbul day whose ``Tarih`` lists the form."""
    death_province: int
    forensic: bool


@dataclass
class DemoSample:
    env: str
    seed: int
    codes: list[CodeSample] = field(default_factory=list)
    deaths: list[DeathSample] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Run:
    seed: int
    persons: int
    years: int
    anchor: datetime


def _last_run(engine: Engine, env: str) -> _Run:
    with engine.connect() as conn:
        change = changes_repo.latest_change(conn, entity=DEMO_ENTITY, env=env)
    if change is None or change.after is None:
        raise DemoError(
            f"no demo population in {env}: create one with `saglik demo generate --env {env}`"
            + (" or `saglik serve --demo`" if env == "live" else "")
        )
    after = json.loads(change.after)
    return _Run(
        seed=int(after["seed"]),
        persons=int(after["persons"]),
        years=int(after["years"]),
        anchor=datetime.fromisoformat(after["anchor"]),
    )


def _death(person: DemoPerson) -> DeathSample | None:
    record = person.death
    if record is None:
        return None
    return DeathSample(
        form_no=record.form_no,
        referans_no=record.referans_no,
        identity_number=record.identity_number,
        first_name=record.first_name,
        last_name=record.last_name,
        birth_date=record.birth_date,
        died_at=record.died_at.astimezone(ISTANBUL),
        registered_on=record.registered_at.astimezone(ISTANBUL).date(),
        death_province=record.death_place.province,
        forensic=record.manner in FORENSIC_MANNERS,
    )


def sample(engine: Engine, clock: Clock, *, env: str = "live", count: int = 3) -> DemoSample:
    """Up to ``count`` codes of each answer and ``count`` death forms (plus up to ``count``
    forensic ones) of the last demo run in ``env``."""
    if count < 1:
        raise DemoError("count must be at least 1")
    run = _last_run(engine, env)
    population = generate_population(
        tables(),
        seed=run.seed,
        count=min(run.persons, SCAN),
        years=run.years,
        anchor=run.anchor,
        districts=load_districts(engine),
        exclude_identity_numbers=reserved_identity_numbers(),
    )
    result = DemoSample(env=env, seed=run.seed)
    by_answer: dict[str, list[CodeSample]] = {answer: [] for answer in ANSWERS}
    by_kind: dict[bool, list[DeathSample]] = {False: [], True: []}  # forensic or not
    queries = HesQueryService(engine, clock, store_pseudonymizer(engine))
    try:
        with engine.connect() as conn:
            for person in population:
                outcome = queries.check(env, person.code.code, plus=False)
                if outcome.result is not None:
                    answer = outcome.result.current_health_status.value
                else:
                    assert outcome.error is not None
                    answer = outcome.error.error_key
                codes = by_answer.get(answer)
                if codes is not None and len(codes) < count:
                    codes.append(CodeSample(person.code.code, answer))
                death = _death(person)
                if (
                    death is not None
                    and len(by_kind[death.forensic]) < count
                    and obs_repo.form_exists(conn, env, death.form_no)
                ):
                    by_kind[death.forensic].append(death)
                codes_done = all(len(found) == count for found in by_answer.values())
                if codes_done and all(len(found) == count for found in by_kind.values()):
                    break
    finally:
        queries.close()
    result.codes = [code for answer in ANSWERS for code in by_answer[answer]]
    result.deaths = by_kind[False] + by_kind[True]
    return result
