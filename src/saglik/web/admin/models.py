"""What the operator API accepts: one pydantic model per request body or query string.

Bodies are validated strictly (no ``"1"`` for ``1``, no unknown fields), so the OpenAPI document
and the server agree on what is valid; the services then apply the rules that need the store.
Identity numbers and HES codes arrive here, in bodies and query strings, never in a path (the
access log writes paths)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from saglik.services.accounts import USERNAME_RULE, valid_username
from saglik.services.obs import DeathFormInput

Env = Literal["live", "test"]

FIRST_YEAR, LAST_YEAR = 1900, 2999
"""Times outside these years are typing mistakes, and near the ends of ``datetime``'s range a
conversion to UTC would overflow."""

_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
"""ISO 8601 as the document states it (``pattern`` of ``InstantIn`` in admin.yaml): pydantic's own
parser also takes Unix timestamps and dates, which the contract does not promise."""


def _no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL: refuse it here, on every backend alike."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _username(value: str) -> str:
    """The services' one username rule, checked with the body's other fields."""
    if not valid_username(value):
        raise ValueError(USERNAME_RULE)
    return value


def parse_instant(value: Any, naive: tzinfo | None = UTC) -> datetime:
    """An ISO 8601 date and time; without an offset it is in ``naive`` (UTC unless a field says
    otherwise). Returned aware; never outside FIRST_YEAR..LAST_YEAR."""
    if not isinstance(value, str) or _INSTANT.fullmatch(value) is None:
        raise ValueError(
            "must be an ISO 8601 date and time like 2026-01-10T10:00:00+03:00 "
            "(YYYY-MM-DDTHH:MM:SS, optional fraction, optional Z or ±HH:MM offset)"
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a valid date and time") from None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise ValueError(f"must be between the years {FIRST_YEAR} and {LAST_YEAR}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=naive)


def _utc_instant(value: Any) -> datetime:
    return parse_instant(value).astimezone(UTC)


Text = Annotated[str, AfterValidator(_no_nul)]
Instant = Annotated[datetime, BeforeValidator(_utc_instant)]
"""A point in time: ISO 8601, UTC when it has no offset."""
IdentityNumber = Annotated[str, Field(max_length=11, pattern=r"^[1-9][0-9]{10}$")]
"""Eleven digits; the check digits are the service's to verify when a person is added (a lookup
with a wrong one simply finds nobody)."""
HesCode = Annotated[str, Field(max_length=10, pattern=r"^[A-Za-z0-9]{10}$")]
MethodName = Annotated[str, Field(min_length=1, max_length=64)]
Network = Annotated[Text, Field(min_length=1, max_length=50)]
RateLimit = Annotated[Text, Field(min_length=1, max_length=40)]
ProvinceCode = Annotated[int, Field(ge=1, le=81)]
DistrictCode = Annotated[int, Field(ge=1, le=999_999)]
PersonName = Annotated[Text, Field(min_length=1, max_length=100)]
ReferansNo = Annotated[str, Field(max_length=20, pattern=r"^[A-Za-z0-9]{1,20}$")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query strings are text: numbers are read from digits (lax), unknown parameters ignored."""

    model_config = ConfigDict(extra="ignore")


# --- institutions and users ---------------------------------------------------------------------


class InstitutionIn(Body):
    name: Annotated[Text, Field(min_length=1, max_length=200)]


class UserIn(Body):
    username: Annotated[str, AfterValidator(_username)]
    """``valid_username``: among the rest, no ``/`` (the user is addressed as
    ``/users/{env}/{username}``)."""
    institution: Annotated[Text, Field(min_length=1, max_length=200)]
    env: Env
    methods: list[MethodName] | None = Field(default=None, max_length=100)
    all_methods: bool = False
    province_code: ProvinceCode | None = None
    district_code: DistrictCode | None = None
    ip_allowlist: list[Network] = Field(default_factory=list, max_length=100)
    rate_limit: RateLimit | None = None

    @model_validator(mode="after")
    def _one_way_to_grant(self) -> UserIn:
        if (self.methods is not None) == self.all_methods:
            raise ValueError("give either methods (a list) or all_methods: true")
        return self


class UserPatch(Body):
    """Absent = keep, null = clear (``methods``/``ip_allowlist`` null = none at all)."""

    methods: list[MethodName] | None = Field(default=None, max_length=100)
    province_code: ProvinceCode | None = None
    district_code: DistrictCode | None = None
    ip_allowlist: list[Network] | None = Field(default=None, max_length=100)
    rate_limit: RateLimit | None = None
    active: bool = True


class UsersQuery(Query):
    env: Env | None = None


# --- HES data -----------------------------------------------------------------------------------


class PersonKey(Body):
    env: Env
    identity_number: IdentityNumber


class PersonIn(PersonKey):
    first_name: PersonName
    last_name: PersonName


class ConsentIn(PersonKey):
    vaccination: bool
    immunity: bool
    test: bool


class CodeIn(PersonKey):
    valid_days: int | None = Field(default=None, ge=1, le=36_500)
    no_expiry: bool = False

    @model_validator(mode="after")
    def _one_validity(self) -> CodeIn:
        if self.no_expiry and self.valid_days is not None:
            raise ValueError("give valid_days or no_expiry: true, not both")
        return self


class CancelIn(Body):
    env: Env
    code: HesCode


class RiskOpenIn(PersonKey):
    kind: Literal["case", "contact"]
    at: Instant | None = None


class AtIn(PersonKey):
    """Risk close and infection: who, and when (default now)."""

    at: Instant | None = None


class VaccinationIn(PersonKey):
    dose: int = Field(ge=1, le=99)
    vaccine: Annotated[Text, Field(min_length=1, max_length=100)] = "CoronaVac"
    at: Instant | None = None


class PcrIn(PersonKey):
    negative: bool
    at: Instant | None = None


class PersonQuery(Query):
    env: Env
    identity_number: IdentityNumber


# --- death forms --------------------------------------------------------------------------------


class EnvQuery(Query):
    env: Env


class FormQuery(Query):
    env: Env
    referans_no: ReferansNo


class DeathFormBody(DeathFormInput):
    """The service's death form, read strictly from JSON and with times as the document states
    them (no Unix timestamps); without an offset a time is Istanbul time, as for the CLI."""

    identity_number: IdentityNumber | None = None
    """Bounded and shaped before the form's own check digits are verified, like every identity
    number the operator API reads."""

    @field_validator("died_at", "injured_at", mode="before")
    @classmethod
    def _iso_local(cls, value: Any) -> Any:
        if value is None:
            return None
        return parse_instant(value, naive=None)

    @field_validator("death_district", "residence_district")
    @classmethod
    def _district_range(cls, value: int | None) -> int | None:
        """District codes are small; an unbounded integer cannot even be looked up in SQLite."""
        if value is not None and not 1 <= value <= 999_999:
            raise ValueError("must be a district code from 1 to 999999")
        return value


# --- audit (read-only) --------------------------------------------------------------------------


class Window(Query):
    since: Instant | None = None
    until: Instant | None = None


class CallsQuery(Window):
    institution: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    method: Annotated[Text, Field(min_length=1, max_length=64)] | None = None
    env: Env | None = None
    limit: int = Field(default=100, ge=1, le=10_000)


class SubjectQuery(Window):
    identity_number: IdentityNumber | None = None
    code: HesCode | None = None
    limit: int = Field(default=1000, ge=1, le=10_000)

    @model_validator(mode="after")
    def _one_subject(self) -> SubjectQuery:
        if (self.identity_number is None) == (self.code is None):
            raise ValueError("give exactly one of identity_number and code")
        return self


class ChangesQuery(Window):
    entity: Annotated[Text, Field(min_length=1, max_length=32)] | None = None
    limit: int = Field(default=100, ge=1, le=10_000)
