"""The questions asked of the audit trail: who called what and when, and the data subject's
"who saw my data". The trail holds only keyed pseudonyms, so the subject's view recomputes them
from the clear value the asker holds; nothing clear is stored or looked up by clear value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from saglik.domain import hescode, outcomes
from saglik.domain.errors import InvalidInput
from saglik.domain.methods import ALL_METHODS, UNKNOWN_METHOD, check_env
from saglik.domain.tckn import is_valid_tckn
from saglik.services.changes import ChangeLog
from saglik.store import accounts_repo, audit_repo, changes_repo
from saglik.store.audit_repo import CallRecord
from saglik.store.changes_repo import ChangeRecord

MAX_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class OutcomeGroup:
    key: str
    outcomes: tuple[str, ...]


OUTCOME_GROUPS: tuple[OutcomeGroup, ...] = (
    OutcomeGroup("answered", outcomes.ANSWERED),
    OutcomeGroup("rejected", outcomes.REJECTED),
    OutcomeGroup("refused", outcomes.REFUSED),
)
"""Every outcome a G2G call's audit row can carry: answered (found or not), rejected for how it
was asked (after admission, or to no method), refused by the gateway (its ``Denial`` values).
The web layer writes them and is not imported here; tests/services/test_audit_queries.py holds
this list to the values it writes, so the filter offers exactly what the trail can hold."""

CALL_OUTCOMES: tuple[str, ...] = tuple(o for group in OUTCOME_GROUPS for o in group.outcomes)


@dataclass(frozen=True, slots=True)
class SubjectView:
    calls: list[CallRecord]
    """G2G calls that touched the person (or code), newest first."""
    changes: list[ChangeRecord]
    """Operator changes to the person's data, newest first (empty for a code)."""

    @property
    def institutions(self) -> list[str]:
        """The institutions that queried, in the order of their latest call."""
        seen: dict[str, None] = {}
        for call in self.calls:
            if call.institution is not None:
                seen.setdefault(call.institution)
        return list(seen)


def _check_window(since: datetime | None, until: datetime | None, limit: int) -> None:
    for moment in (since, until):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput("times need an offset (e.g. 2026-11-23T10:00:00+03:00)")
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until must be after since")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")


SUBJECT_VIEW = "subject_view"
"""The change log's entity for a read of the data subject's view."""


class AuditQueries:
    """``changes`` names who asks: a subject's view is a read of personal data, logged."""

    def __init__(self, engine: Engine, changes: ChangeLog) -> None:
        self._engine = engine
        self._changes = changes
        self._pseudonymizer = changes.pseudonymizer

    def calls(
        self,
        *,
        institution: str | None = None,
        method: str | None = None,
        env: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[CallRecord]:
        _check_window(since, until, limit)
        if outcome is not None and outcome not in CALL_OUTCOMES:
            raise InvalidInput(f"unknown outcome; known: {', '.join(CALL_OUTCOMES)}")
        if method is not None and method not in (*ALL_METHODS, UNKNOWN_METHOD):
            raise InvalidInput(f"unknown method; known: {', '.join(ALL_METHODS)}")
        check_env(env)
        with self._engine.connect() as conn:
            institution_id = (
                None
                if institution is None
                else accounts_repo.institution_id(conn, " ".join(institution.split()))
            )
            return audit_repo.list_calls(
                conn,
                institution_id=institution_id,
                method=method,
                env=env,
                outcome=outcome,
                since=since,
                until=until,
                limit=limit,
            )

    def subject(
        self,
        *,
        identity_number: str | None = None,
        code: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> SubjectView:
        """For a T.C. number: calls that touched the person, any code ever issued to them, or a
        death form of theirs, and the operator changes to (and reads of) their data. For a code:
        calls that asked for that code (including ones made before it was issued or after it
        expired). References are recomputed under every audit key, so rotating the key loses
        nothing. The view itself is logged as a read once it is computed."""
        _check_window(since, until, limit)
        if (identity_number is None) == (code is None):
            raise InvalidInput("give exactly one of an identity number and a code")
        refs_of = self._pseudonymizer.refs
        target: str | None = None
        people: list[str] = []
        with self._engine.connect() as conn:
            changes: list[ChangeRecord] = []
            if identity_number is not None:
                if not is_valid_tckn(identity_number):
                    raise InvalidInput("not a valid T.C. Kimlik No")
                person = refs_of("tckn", identity_number)
                refs = list(person)
                for held in audit_repo.codes_held(conn, identity_number):
                    refs += refs_of("hes", held)
                for form in audit_repo.forms_of(conn, identity_number):
                    refs += refs_of("form", form)
                changes = changes_repo.list_changes(
                    conn, since=since, until=until, subject_refs=person, limit=limit
                )
                people = [identity_number]
            else:
                key = hescode.lookup_key(code or "")
                if key is None:
                    raise InvalidInput("not a HES code (10 letters and digits)")
                refs = list(refs_of("hes", key))
                target = self._changes.code_target(key)
            calls = audit_repo.list_calls(
                conn, since=since, until=until, subject_refs=refs, limit=limit
            )
        self._changes.record_read(self._engine, entity=SUBJECT_VIEW, target=target, people=people)
        return SubjectView(calls=calls, changes=changes)

    def changes(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        entity: str | None = None,
        limit: int = 100,
    ) -> list[ChangeRecord]:
        _check_window(since, until, limit)
        with self._engine.connect() as conn:
            return changes_repo.list_changes(
                conn, since=since, until=until, entity=entity, limit=limit
            )
