"""The HES query operations (contract §4): single, bulk, plus, and the data entry behind them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from saglik.domain import hescode
from saglik.domain.clock import Clock
from saglik.domain.errors import Conflict, InvalidInput, NotFound
from saglik.domain.hes import (
    NO_EXPIRY,
    CodeFacts,
    HealthStatus,
    HesError,
    HesResult,
    evaluate,
)
from saglik.domain.pseudonym import Pseudonymizer
from saglik.domain.records import EventRow
from saglik.domain.tckn import is_valid_tckn
from saglik.domain.turkish import normalize_name
from saglik.services.changes import ChangeLog, redacted
from saglik.services.moi_outbox import risky_visit_report
from saglik.store import bulk_repo, hes_repo
from saglik.store.prepared import ThreadConnections

BULK_MAX = 500
DEFAULT_VALIDITY = timedelta(days=365)
RISK_KINDS = ("case", "contact")
NAMES = ("first_name", "last_name")
PCR_NEGATIVE = hes_repo.NEGATIVE
"""The ``result`` of a negative PCR in a person view's events."""


@dataclass(frozen=True, slots=True)
class SingleOutcome:
    """Exactly one of ``result`` and ``error`` is set; refs are recorded either way."""

    result: HesResult | None
    error: HesError | None
    subject_refs: tuple[str, ...]
    outbox_payload: str | None = None
    """The report owed to the Ministry of Interior, committed with the audit record (§4.5)."""


@dataclass(slots=True)
class BulkOutcome:
    success: dict[str, HesResult] = field(default_factory=dict)
    """Keyed by each code exactly as sent."""
    failure: dict[str, str] = field(default_factory=dict)
    """Code as sent → errorKey."""
    subject_refs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Visit:
    """Where a visitor check happened (the document: the querying location, not the person's)."""

    institution_id: int
    city: str
    district: str
    explicit_address: str
    latitude: float | None = None
    longitude: float | None = None


class HesDataError(InvalidInput):
    """Operator input that cannot be stored (bad identity number, unknown kind, …)."""


class HesQueryService:
    def __init__(self, engine: Engine, clock: Clock, pseudonymizer: Pseudonymizer) -> None:
        self._readers = ThreadConnections(engine)
        self._clock = clock
        self._pseudonymizer = pseudonymizer

    def close(self) -> None:
        self._readers.close()

    def _refs(self, facts: CodeFacts | None, key: str | None) -> tuple[str, ...]:
        refs = []
        if key is not None:
            refs.append(self._pseudonymizer.code(key))
        if facts is not None:
            refs.append(self._pseudonymizer.person(facts.identity_number))
        return tuple(refs)

    def check(self, env: str, sent_code: str, *, plus: bool) -> SingleOutcome:
        now = self._clock.now()
        key = hescode.lookup_key(sent_code)
        facts = None
        if key is not None:
            facts = hes_repo.find_facts(self._readers, env, [key], now, plus=plus).get(key)
        refs = self._refs(facts, key)
        try:
            return SingleOutcome(evaluate(facts, now, plus=plus), None, refs)
        except HesError as error:
            return SingleOutcome(None, error, refs)

    def check_visitor(self, env: str, sent_code: str, visit: Visit) -> SingleOutcome:
        """The visitor check, carrying, when it answers RISKY, the report owed to the Ministry
        of Interior (the caller commits it with the audit record, contract §4.5)."""
        outcome = self.check(env, sent_code, plus=False)
        result = outcome.result
        if result is None or result.current_health_status is not HealthStatus.RISKY:
            return outcome
        report = risky_visit_report(
            at=self._clock.now(),
            env=env,
            code=sent_code.upper(),
            person_ref=outcome.subject_refs[-1],
            visit=visit,
        )
        return replace(outcome, outbox_payload=report)

    def check_many(self, env: str, sent_codes: Sequence[str], *, plus: bool) -> BulkOutcome:
        if len(sent_codes) > BULK_MAX:
            raise ValueError(f"at most {BULK_MAX} codes per call")
        now = self._clock.now()
        keys = {sent: hescode.lookup_key(sent) for sent in sent_codes}
        found = hes_repo.find_facts(
            self._readers, env, [k for k in keys.values() if k is not None], now, plus=plus
        )
        outcome = BulkOutcome()
        refs: list[str] = []
        for sent, key in keys.items():
            facts = found.get(key) if key is not None else None
            refs.extend(self._refs(facts, key))
            try:
                outcome.success[sent] = evaluate(facts, now, plus=plus)
            except HesError as error:
                outcome.failure[sent] = error.error_key
        outcome.subject_refs = tuple(dict.fromkeys(refs))
        return outcome


@dataclass(frozen=True, slots=True)
class CodeView:
    code: str
    created_at: datetime
    expires_at: datetime | None
    """None: the code never expires."""
    cancelled_at: datetime | None
    status: str
    """active, expired or cancelled, as of the injected clock's now."""


@dataclass(frozen=True, slots=True)
class PersonView:
    identity_number: str
    first_name: str
    last_name: str
    consent: dict[str, bool]
    created_at: datetime
    codes: list[CodeView]
    events: dict[str, list[dict[str, Any]]]


class HesDataService:
    """The operator's side of the HES data: one implementation of each rule, called by the CLI,
    the operator API and nothing else. Every change is written to the change log in the same
    transaction."""

    def __init__(self, engine: Engine, clock: Clock, changes: ChangeLog) -> None:
        self._engine = engine
        self._clock = clock
        self._changes = changes

    def _person(self, conn: Connection, env: str, identity_number: str) -> int:
        return hes_repo.person_id(conn, env, identity_number)

    def add_person(self, env: str, identity_number: str, first_name: str, last_name: str) -> bool:
        """Adds the person, or corrects their names; True when the person is new."""
        if not is_valid_tckn(identity_number):
            raise HesDataError("not a valid T.C. Kimlik No (11 digits with check digits)")
        first, last = normalize_name(first_name), normalize_name(last_name)
        if not first or not last:
            raise HesDataError("first and last name must not be blank")
        with self._engine.begin() as conn:
            try:
                old = hes_repo.person_row(conn, env, identity_number)
                before: dict[str, str] | None = {
                    "first_name": old["first_name"],
                    "last_name": old["last_name"],
                }
            except hes_repo.UnknownPersonError:
                before = None
            after = {"first_name": first, "last_name": last}
            hes_repo.upsert_person(
                conn,
                env=env,
                identity_number=identity_number,
                first_name=first,
                last_name=last,
                now=self._clock.now(),
            )
            if before != after:
                changed = [k for k in after if before is None or before[k] != after[k]]
                self._changes.record(
                    conn,
                    entity="person",
                    action="add" if before is None else "correct",
                    env=env,
                    person=identity_number,
                    before=None
                    if before is None
                    else redacted({k: before[k] for k in changed}, NAMES),
                    after=redacted({k: after[k] for k in changed}, NAMES),
                )
        return before is None

    def person(self, env: str, identity_number: str) -> PersonView:
        """The person's whole record, for an operator to see: logged as a read."""
        with self._engine.connect() as conn:
            row = hes_repo.person_row(conn, env, identity_number)
            view = PersonView(
                identity_number=identity_number,
                first_name=row["first_name"],
                last_name=row["last_name"],
                consent={
                    "vaccination": bool(row["consent_vaccination"]),
                    "immunity": bool(row["consent_immunity"]),
                    "test": bool(row["consent_test"]),
                },
                created_at=row["created_at"],
                codes=self._code_views(conn, row["id"]),
                events=hes_repo.events_of(conn, row["id"]),
            )
        self._changes.record_read(self._engine, entity="person", env=env, people=[identity_number])
        return view

    def codes(self, env: str, identity_number: str) -> list[CodeView]:
        """The person's codes, for an operator to see: logged as a read."""
        with self._engine.connect() as conn:
            views = self._code_views(conn, self._person(conn, env, identity_number))
        self._changes.record_read(
            self._engine, entity="hes_code", env=env, people=[identity_number]
        )
        return views

    def _code_views(self, conn: Connection, person: int) -> list[CodeView]:
        now = self._clock.now()
        views = []
        for c in hes_repo.codes_of(conn, person):
            if c["cancelled_at"] is not None:
                status = "cancelled"
            elif c["expires_at"] <= now:
                status = "expired"
            else:
                status = "active"
            views.append(
                CodeView(
                    code=c["code"],
                    created_at=c["created_at"],
                    expires_at=None if c["expires_at"] >= NO_EXPIRY else c["expires_at"],
                    cancelled_at=c["cancelled_at"],
                    status=status,
                )
            )
        return views

    def issue_code(
        self,
        env: str,
        identity_number: str,
        *,
        valid_for: timedelta | None = DEFAULT_VALIDITY,
        code: str | None = None,
    ) -> tuple[str, datetime]:
        """Issues a fresh unguessable code (or the given one); ``valid_for=None`` = no expiry."""
        now = self._clock.now()
        if valid_for is not None and valid_for <= timedelta(0):
            raise HesDataError("validity must be positive")
        if valid_for is not None and valid_for >= NO_EXPIRY - now:
            # compared as spans: ``now + valid_for`` past the year 9999 would overflow
            raise HesDataError("validity reaches the no-expiry date: issue it with no expiry")
        expires = NO_EXPIRY if valid_for is None else now + valid_for
        with self._engine.begin() as conn:
            person = self._person(conn, env, identity_number)
            chosen = code
            if chosen is None:
                chosen = hescode.generate_code()
                while hes_repo.code_exists(conn, env, chosen):
                    chosen = hescode.generate_code()
            elif hescode.lookup_key(chosen) != chosen:
                raise HesDataError("a code is 10 characters A-Z 0-9")
            elif hes_repo.code_exists(conn, env, chosen):
                raise HesCodeConflict("that code exists already")
            hes_repo.insert_code(
                conn, env=env, code=chosen, person=person, created_at=now, expires_at=expires
            )
            self._changes.record(
                conn,
                entity="hes_code",
                action="issue",
                env=env,
                target=self._changes.code_target(chosen),
                person=identity_number,
                after={"expires_at": None if valid_for is None else expires},
            )
        return chosen, expires

    def cancel_code(self, env: str, code: str) -> None:
        """A cancelled code answers ``hescodenotfound`` from now on (contract §4.4)."""
        key = hescode.lookup_key(code)
        if key is None:
            raise HesDataError("a code is 10 characters A-Z 0-9")
        with self._engine.begin() as conn:
            found = hes_repo.code_holder(conn, env, key)
            if found is None:
                raise UnknownCodeError("no such HES code in this environment")
            code_id, holder, cancelled_at = found
            if cancelled_at is not None:
                raise HesCodeConflict("the code is cancelled already")
            now = self._clock.now()
            if not hes_repo.cancel_code(conn, code_id, now):
                raise HesCodeConflict("the code is cancelled already")
            self._changes.record(
                conn,
                entity="hes_code",
                action="cancel",
                env=env,
                target=self._changes.code_target(key),
                person=holder,
                before={"cancelled_at": None},
                after={"cancelled_at": now},
            )

    def set_consent(
        self, env: str, identity_number: str, *, vaccination: bool, immunity: bool, test: bool
    ) -> None:
        with self._engine.begin() as conn:
            row = hes_repo.person_row(conn, env, identity_number)
            before = {
                "vaccination": bool(row["consent_vaccination"]),
                "immunity": bool(row["consent_immunity"]),
                "test": bool(row["consent_test"]),
            }
            after = {"vaccination": vaccination, "immunity": immunity, "test": test}
            hes_repo.set_consent(
                conn, row["id"], vaccination=vaccination, immunity=immunity, test=test
            )
            self._changes.record(
                conn,
                entity="consent",
                action="set",
                env=env,
                person=identity_number,
                before=before,
                after=after,
            )

    def open_risk(
        self, env: str, identity_number: str, kind: str, at: datetime | None = None
    ) -> None:
        if kind not in RISK_KINDS:
            raise HesDataError(f"risk kind must be one of {', '.join(RISK_KINDS)}")
        self._event(env, EventRow(identity_number, "risk", at or self._clock.now(), risk_kind=kind))

    def close_risk(self, env: str, identity_number: str, at: datetime | None = None) -> int:
        ended = at or self._clock.now()
        with self._engine.begin() as conn:
            closed = hes_repo.close_risks(conn, self._person(conn, env, identity_number), ended)
            if closed:
                self._changes.record(
                    conn,
                    entity="risk",
                    action="close",
                    env=env,
                    person=identity_number,
                    after={"ended_at": ended, "closed": closed},
                )
            return closed

    def vaccinate(
        self, env: str, identity_number: str, dose: int, vaccine: str, at: datetime | None = None
    ) -> None:
        if dose < 1:
            raise HesDataError("dose number starts at 1")
        vaccine = " ".join(vaccine.split())
        if not vaccine or len(vaccine) > 100:
            raise HesDataError("vaccine name must be 1-100 characters")
        self._event(
            env,
            EventRow(identity_number, "vaccination", at or self._clock.now(), dose, vaccine),
        )

    def record_infection(self, env: str, identity_number: str, at: datetime | None = None) -> None:
        self._event(env, EventRow(identity_number, "infection", at or self._clock.now()))

    def record_pcr(
        self, env: str, identity_number: str, negative: bool, at: datetime | None = None
    ) -> None:
        self._event(
            env, EventRow(identity_number, "pcr", at or self._clock.now(), negative=negative)
        )

    def _event(self, env: str, event: EventRow) -> None:
        """Events are written by natural key: recording the same event twice stores it once."""
        with self._engine.begin() as conn:
            if bulk_repo.upsert_events(conn, env, [event]):
                raise hes_repo.UnknownPersonError(
                    "no person with that identity number in this environment"
                )
            details = {
                k: v
                for k, v in (
                    ("at", event.at),
                    ("dose", event.dose),
                    ("vaccine", event.vaccine),
                    ("negative", event.negative),
                    ("risk_kind", event.risk_kind),
                )
                if v is not None
            }
            self._changes.record(
                conn,
                entity=event.kind,
                action="record" if event.kind != "risk" else "open",
                env=env,
                person=event.identity_number,
                after=details,
            )


class UnknownCodeError(NotFound):
    pass


class HesCodeConflict(Conflict):
    pass
