"""What the operator API answers: the services' results as JSON, snake_case, every time ISO 8601
with its offset (UTC, except a death form's own times, which are Istanbul time as entered).
Nothing here can carry a password hash: user views are built field by field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, PlainSerializer
from starlette.responses import Response

from saglik.services.hes import PCR_NEGATIVE, CodeView, PersonView
from saglik.services.obs import StoredForm, submitted_form
from saglik.store.accounts_repo import UserRecord


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


Moment = Annotated[datetime, PlainSerializer(iso, return_type=str)]


def plain(value: Any) -> Any:
    """Change-log style values (datetimes, dates, tuples) as JSON values."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def ok(payload: BaseModel, status: int = 200) -> Response:
    return Response(payload.model_dump_json(), status_code=status, media_type="application/json")


# --- institutions and users ---------------------------------------------------------------------


class InstitutionOut(BaseModel):
    name: str
    created_at: Moment
    users: int


class InstitutionList(BaseModel):
    institutions: list[InstitutionOut]


class UserOut(BaseModel):
    username: str
    env: str
    institution: str
    methods: list[str]
    province_code: int | None
    district_code: int | None
    ip_allowlist: list[str]
    rate_limit: str | None
    active: bool

    @classmethod
    def of(cls, user: UserRecord) -> UserOut:
        return cls(
            username=user.username,
            env=user.env,
            institution=user.institution_name,
            methods=sorted(user.methods),
            province_code=user.province_code,
            district_code=user.district_code,
            ip_allowlist=list(user.ip_allowlist),
            rate_limit=user.rate_limit,
            active=user.active,
        )


class UserList(BaseModel):
    users: list[UserOut]


class IssuedUser(UserOut):
    password: str
    """Shown this once; only its hash is kept."""


class PasswordOut(BaseModel):
    username: str
    env: str
    password: str


# --- HES data -----------------------------------------------------------------------------------


class CodeOut(BaseModel):
    code: str
    created_at: Moment
    expires_at: Moment | None
    cancelled_at: Moment | None
    status: str

    @classmethod
    def of(cls, view: CodeView) -> CodeOut:
        return cls.model_validate(view, from_attributes=True)


class CodeList(BaseModel):
    codes: list[CodeOut]


class IssuedCode(BaseModel):
    code: str
    expires_at: Moment | None


class CancelledCode(BaseModel):
    code: str
    status: str


class Consent(BaseModel):
    vaccination: bool
    immunity: bool
    test: bool


class VaccinationOut(BaseModel):
    dose: int
    vaccine: str
    administered_at: Moment


class InfectionOut(BaseModel):
    diagnosed_at: Moment


class PcrOut(BaseModel):
    negative: bool
    sampled_at: Moment


class RiskPeriodOut(BaseModel):
    kind: str
    started_at: Moment
    ended_at: Moment | None


class RiskClosed(BaseModel):
    closed: int
    ended_at: Moment


class Events(BaseModel):
    vaccinations: list[VaccinationOut]
    infections: list[InfectionOut]
    pcr_results: list[PcrOut]
    risk_periods: list[RiskPeriodOut]

    @classmethod
    def of(cls, events: dict[str, list[dict[str, Any]]]) -> Events:
        return cls(
            vaccinations=[
                VaccinationOut(
                    dose=e["dose_number"],
                    vaccine=e["vaccine"],
                    administered_at=e["administered_at"],
                )
                for e in events["vaccinations"]
            ],
            infections=[InfectionOut(diagnosed_at=e["diagnosed_at"]) for e in events["infections"]],
            pcr_results=[
                PcrOut(negative=e["result"] == PCR_NEGATIVE, sampled_at=e["sampled_at"])
                for e in events["pcr_results"]
            ],
            risk_periods=[
                RiskPeriodOut(kind=e["kind"], started_at=e["started_at"], ended_at=e["ended_at"])
                for e in events["risk_periods"]
            ],
        )


class PersonOut(BaseModel):
    env: str
    identity_number: str
    first_name: str
    last_name: str
    created_at: Moment
    consent: Consent
    codes: list[CodeOut]
    events: Events

    @classmethod
    def of(cls, env: str, person: PersonView) -> PersonOut:
        return cls(
            env=env,
            identity_number=person.identity_number,
            first_name=person.first_name,
            last_name=person.last_name,
            created_at=person.created_at,
            consent=Consent(**person.consent),
            codes=[CodeOut.of(c) for c in person.codes],
            events=Events.of(person.events),
        )


# --- death forms --------------------------------------------------------------------------------


class FormNumbers(BaseModel):
    form_no: str
    referans_no: str


class HistoryEntry(BaseModel):
    at: Moment
    action: str
    changes: dict[str, Any] | None


class StoredFormOut(BaseModel):
    env: str
    form_no: str
    referans_no: str
    status: str
    registered_at: Moment
    updated_at: Moment | None
    form: dict[str, Any]
    history: list[HistoryEntry]

    @classmethod
    def of(cls, env: str, stored: StoredForm) -> StoredFormOut:
        record = stored.record
        return cls(
            env=env,
            form_no=record.form_no,
            referans_no=record.referans_no,
            status=stored.status,
            registered_at=record.registered_at,
            updated_at=record.updated_at,
            form=submitted_form(record),
            history=[
                HistoryEntry(at=h["at"], action=h["action"], changes=h["changes"])
                for h in stored.history
            ],
        )


class Correction(BaseModel):
    changes: dict[str, Any]
    """{field: [before, after]} for every field the correction changed."""


class FormStatus(BaseModel):
    form_no: str
    status: str
