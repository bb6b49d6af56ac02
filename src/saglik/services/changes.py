"""Who changed what: every operator change is written to the change log in the same
transaction as the change itself, so a change without its log row cannot exist."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from saglik.config import Settings
from saglik.domain.clock import Clock
from saglik.domain.pseudonym import Pseudonymizer
from saglik.services import audit_key
from saglik.store import changes_repo


@dataclass(frozen=True, slots=True)
class Actor:
    """``token:NAME`` for the operator API, ``cli:USER`` for the command line, ``system`` for
    what the service does by itself (the sandbox user on first start)."""

    name: str


SYSTEM = Actor("system")


def store_pseudonymizer(engine: Engine, settings: Settings | None = None) -> Pseudonymizer:
    """The store's audit pseudonymizer, on the key ring the settings (by default the
    environment's) name: raises ``AuditKeyError`` for a ring the store was not used with."""
    return Pseudonymizer(audit_key.open_ring(engine, settings or Settings.from_env()))


READ = "read"
"""The action of an operator read of personal data (a person's record, a death form, a data
subject's view): logged like a change, so that who looked at whom leaves a trace."""

PERSONAL = "(personal)"
"""Stands in the change log for a personal value (a name, an identity number, birth data): the
log says that it changed, never what it was or became."""


def redacted(values: dict[str, Any] | None, personal: Iterable[str]) -> dict[str, Any] | None:
    """``values`` with each personal field that holds something replaced by ``PERSONAL``."""
    if values is None:
        return None
    hidden = frozenset(personal)
    return {k: PERSONAL if k in hidden and v is not None else v for k, v in values.items()}


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


class ChangeLog:
    def __init__(self, actor: Actor, clock: Clock, pseudonymizer: Pseudonymizer) -> None:
        self.actor = actor
        self._clock = clock
        self.pseudonymizer = pseudonymizer

    def record(
        self,
        conn: Connection,
        *,
        entity: str,
        action: str,
        env: str | None = None,
        target: str | None = None,
        person: str | None = None,
        before: Any = None,
        after: Any = None,
    ) -> None:
        """``person`` is the clear identity number of the person concerned: only its pseudonym
        is stored, so the data subject's view finds the change and nobody else can read it.
        ``target`` must hold no personal data (an institution, a username, a FormNo), and
        ``before``/``after`` carry personal values only through ``redacted``."""
        changes_repo.add_change(
            conn,
            occurred_at=self._clock.now(),
            actor=self.actor.name,
            env=env,
            entity=entity,
            action=action,
            target=target,
            subject_ref=self.pseudonymizer.person(person) if person else None,
            before=_json(before),
            after=_json(after),
        )

    def record_read(
        self,
        engine: Engine,
        *,
        entity: str,
        env: str | None = None,
        target: str | None = None,
        people: Iterable[str] = (),
    ) -> None:
        """One row for each person whose data the answer shows (``people``, clear identity
        numbers; one row without a person if there are none). Called once the data is read and
        before it is shown, in a transaction of its own: an answer never leaves without its
        trace, and the read holds no write lock while it reads."""
        persons: list[str | None] = [*dict.fromkeys(people)] or [None]
        with engine.begin() as conn:
            for person in persons:
                self.record(conn, entity=entity, action=READ, env=env, target=target, person=person)

    def code_target(self, code: str) -> str:
        """A HES code named in the log by its pseudonym, never in clear."""
        return f"hes:{self.pseudonymizer.code(code)}"
