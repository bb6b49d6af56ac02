"""Validating one import row into the rows the store writes (``domain/records.py``, or a
death record). A row is judged on its own: a bad one becomes a ``RowError`` whose message names
fields, never their values, and never stops the import.

Times without a UTC offset are Europe/Istanbul local time: the operators who prepare these files
work in Türkiye, and death forms (``saglik obs register``) already read them that way.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from saglik.domain import hescode
from saglik.domain.hes import NO_EXPIRY
from saglik.domain.obs import ISTANBUL, DeathRecord
from saglik.domain.records import CodeRow, EventRow, PersonRow
from saglik.domain.tckn import is_valid_tckn
from saglik.domain.turkish import normalize_name, tr_lower
from saglik.services.obs import (
    CauseInput,
    DeathFormInput,
    ObsDataError,
    ObsRegistryService,
    check_places_and_time,
    describe_errors,
)

KINDS = ("persons", "codes", "events", "deaths")
DEFAULT_VACCINE = "CoronaVac"
MAX_DOSE = 32767
"""The dose column is a SMALLINT."""


class RowError(ValueError):
    """One row refused; the message is the reason written to the rejects file. It names fields,
    never their values (they are personal data)."""


# --- columns ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Columns:
    required: tuple[str, ...]
    optional: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return self.required + self.optional


_DEATH_FIELDS = DeathFormInput.model_fields
COLUMNS: dict[str, Columns] = {
    "persons": Columns(
        ("identity_number", "first_name", "last_name"),
        ("consent_vaccination", "consent_immunity", "consent_test"),
    ),
    "codes": Columns(("code", "identity_number"), ("expires_at", "created_at", "cancelled_at")),
    "events": Columns(
        ("identity_number", "kind", "at"), ("dose", "vaccine", "result", "risk_kind", "ended_at")
    ),
    "deaths": Columns(
        ("form_no", "referans_no", *(n for n, f in _DEATH_FIELDS.items() if f.is_required())),
        (*(n for n, f in _DEATH_FIELDS.items() if not f.is_required()), "registered_at"),
    ),
}
"""Per kind: the columns (CSV) or keys (JSON Lines) a row has; order in the file is free."""


# --- field parsers ---------------------------------------------------------------------------

BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
BAD_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
"""A JSON escape that decodes to NUL or a surrogate. JSON allows no raw control character in
a string, so a line without these escapes and without bad characters decodes to clean text."""
_DIGITS = re.compile(r"[0-9]+")
_TRUE = frozenset({"true", "1", "yes", "evet", "e", "y"})
_FALSE = frozenset({"false", "0", "no", "hayır", "hayir", "h", "n"})
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


def _describe_key(key: str) -> str:
    """A key from the file as a message may show it: a field name, or nothing of what it says
    (a file's keys are not expected to hold personal data, but need not be trusted)."""
    return key if _KEY.fullmatch(key) else "a field"


def clean(value: Any) -> Any:
    """A row as read, checked for text the store cannot take: NUL (PostgreSQL refuses it) and
    undecodable bytes (kept as surrogates by the reader, so that decoding never stops the
    import). Iterative: a deeply nested JSON value must not exhaust the stack."""
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            if BAD_TEXT.search(item):
                raise RowError(
                    f"{where or 'a field name'}: not valid UTF-8 text, or holds a NUL character"
                )
        elif isinstance(item, dict):
            for key, inner in item.items():
                pending.append((key, ""))
                pending.append((inner, where or _describe_key(str(key))))
        elif isinstance(item, list):
            pending.extend((inner, where) for inner in item)
    return value


def _text(raw: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    """A text field; JSON whole numbers are accepted as their digits (a T.C. number, a FormNo)."""
    value = raw.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is not None and not isinstance(value, str):
        raise RowError(f"{name}: must be text")
    value = value.strip() if value is not None else None
    if not value:
        if required:
            raise RowError(f"{name}: required")
        return None
    return value


def _identity(raw: Mapping[str, Any]) -> str:
    value = _text(raw, "identity_number", required=True)
    assert value is not None
    if not is_valid_tckn(value):
        raise RowError("identity_number: not a valid T.C. Kimlik No (11 digits, check digits)")
    return value


def _flag(raw: Mapping[str, Any], name: str) -> bool | None:
    value = raw.get(name)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = tr_lower(value.strip())
        if not word:
            return None
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise RowError(f"{name}: must be true/false, 1/0, yes/no or evet/hayır")


def _time(raw: Mapping[str, Any], name: str, *, required: bool = False) -> datetime | None:
    """ISO 8601; without an offset it is Istanbul time. Returned in UTC, so a time that cannot
    be stored (year 1 with a positive offset, …) is refused here rather than by the database."""
    value = _text(raw, name, required=required)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ISTANBUL)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise RowError(f"{name}: not an ISO 8601 date and time (2026-01-10T14:30:00)") from None


def _whole(raw: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = raw.get(name)
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()) and len(value.strip()) < 10:
        value = int(value.strip())
    elif isinstance(value, str) and not value.strip():
        value = None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RowError(f"{name}: must be a whole number from {low} to {high}")
    return value


@functools.cache
def _key_set(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(names)


def known_keys(raw: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    """Keys of a JSON object are checked here, not left to a model's message, which would
    quote them: a key from the file is shown only if it looks like a field name."""
    if _key_set(tuple(allowed)).issuperset(raw):
        return
    unknown = {_describe_key(k) for k in raw if k not in allowed}
    if unknown:
        names = ", ".join(sorted(unknown))
        raise RowError(f"{where}unknown field {names} (allowed: {', '.join(allowed)})")


def _only(raw: Mapping[str, Any], names: Sequence[str], kind: str) -> None:
    for name in names:
        value = raw.get(name)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            raise RowError(f"{name}: does not apply to a {kind} event")


# --- row parsers -----------------------------------------------------------------------------


def parse_person(raw: Mapping[str, Any]) -> PersonRow:
    identity = _identity(raw)
    first = normalize_name(_text(raw, "first_name") or "")
    last = normalize_name(_text(raw, "last_name") or "")
    if not first or not last:
        raise RowError("first_name and last_name: required, not blank")
    return PersonRow(
        identity,
        first,
        last,
        consent_vaccination=_flag(raw, "consent_vaccination"),
        consent_immunity=_flag(raw, "consent_immunity"),
        consent_test=_flag(raw, "consent_test"),
    )


def parse_code(raw: Mapping[str, Any]) -> CodeRow:
    """``created_at`` left empty is "now" for a new code, and kept for a known one."""
    sent = _text(raw, "code", required=True)
    assert sent is not None
    code = hescode.lookup_key(sent)
    if code is None:
        raise RowError("code: must be 10 characters A-Z 0-9 (no dashes)")
    identity = _identity(raw)
    created = _time(raw, "created_at")
    expires = _time(raw, "expires_at") or NO_EXPIRY
    if created is not None and expires <= created:
        raise RowError("expires_at: must be after created_at")
    return CodeRow(code, identity, created, expires, _time(raw, "cancelled_at"))


_EVENT_FIELDS = {
    "vaccination": ("dose", "vaccine"),
    "infection": (),
    "pcr": ("result",),
    "risk": ("risk_kind", "ended_at"),
}


def parse_event(raw: Mapping[str, Any]) -> EventRow:
    identity = _identity(raw)
    kind = (_text(raw, "kind", required=True) or "").lower()
    if kind not in _EVENT_FIELDS:
        raise RowError(f"kind: must be one of {', '.join(_EVENT_FIELDS)}")
    _only(raw, [n for k, f in _EVENT_FIELDS.items() if k != kind for n in f], kind)
    at = _time(raw, "at", required=True)
    assert at is not None
    if kind == "vaccination":
        dose = _whole(raw, "dose", 1, MAX_DOSE)
        if dose is None:
            raise RowError("dose: required for a vaccination")
        vaccine = _text(raw, "vaccine") or DEFAULT_VACCINE
        return EventRow(identity, kind, at, dose=dose, vaccine=vaccine)
    if kind == "pcr":
        result = (_text(raw, "result") or "").lower()
        if result not in ("negative", "positive"):
            raise RowError("result: must be negative or positive")
        return EventRow(identity, kind, at, negative=result == "negative")
    if kind == "risk":
        risk_kind = (_text(raw, "risk_kind") or "").lower()
        if risk_kind not in ("case", "contact"):
            raise RowError("risk_kind: must be case or contact")
        ended = _time(raw, "ended_at")
        if ended is not None and ended < at:
            raise RowError("ended_at: must not be before at")
        return EventRow(identity, kind, at, risk_kind=risk_kind, ended_at=ended)
    return EventRow(identity, kind, at)


def _number(raw: Mapping[str, Any], name: str) -> str:
    value = _text(raw, name, required=True)
    assert value is not None
    if len(value) > 20 or any(c.isspace() for c in value):
        raise RowError(f"{name}: at most 20 characters, no spaces")
    return value


def _causes_from_text(text: str) -> list[dict[str, Any]]:
    """``KIND:ICD[:INTERVAL]`` items separated by ``;`` (the interval may hold ``:``)."""
    causes: list[dict[str, Any]] = []
    for item in text.split(";"):
        if not item.strip():
            continue
        parts = [p.strip() for p in item.split(":", 2)]
        if len(parts) < 2:
            raise RowError("causes: each item is KIND:ICD[:INTERVAL], items separated by ';'")
        interval = parts[2] if len(parts) == 3 and parts[2] else None
        causes.append({"kind": parts[0], "icd_code": parts[1], "interval": interval})
    return causes


_CAUSE_KEYS = tuple(CauseInput.model_fields)


def _death_form(raw: Mapping[str, Any], flat: bool) -> dict[str, Any]:
    """The death-form JSON of a row. CSV cells are all text: empty means absent, the causes
    are one cell, and ``autopsy`` reads like the other yes/no columns."""
    known_keys(raw, COLUMNS["deaths"].all, "")
    form = {k: v for k, v in raw.items() if k not in ("form_no", "referans_no", "registered_at")}
    if not flat:
        causes = form.get("causes")
        for i, cause in enumerate(causes if isinstance(causes, list) else []):
            if isinstance(cause, dict):
                known_keys(cause, _CAUSE_KEYS, f"causes.{i}: ")
        return form
    form = {k: v.strip() for k, v in form.items() if isinstance(v, str) and v.strip()}
    if "causes" in form:
        form["causes"] = _causes_from_text(form["causes"])
    if "autopsy" in form:
        form["autopsy"] = _flag(form, "autopsy")
    return form


class DeathParser:
    """Death forms validated exactly as ``saglik obs register`` validates one, against the
    districts read once for the whole import."""

    def __init__(self, plates: Mapping[int, int]) -> None:
        self._plates = plates

    def __call__(self, raw: Mapping[str, Any], now: datetime, *, flat: bool) -> DeathRecord:
        form_no = _number(raw, "form_no")
        referans_no = _number(raw, "referans_no").upper()
        registered = _time(raw, "registered_at") or now
        try:
            form = DeathFormInput.model_validate(_death_form(raw, flat))
            check_places_and_time(form, now, self._plates.get)
            record = ObsRegistryService.to_record(form, (form_no, referans_no), registered)
            for moment in (record.died_at, record.injured_at):
                if moment is not None:
                    moment.astimezone(UTC)  # storable (the store keeps UTC)
        except ValidationError as exc:
            raise RowError(describe_errors(exc)) from None
        except ObsDataError as exc:
            raise RowError(str(exc)) from None
        except OverflowError:
            raise RowError("a date or time is out of range") from None
        if registered > now:
            raise RowError("registered_at: is in the future")
        if registered < record.died_at:
            raise RowError("registered_at: is before died_at")
        return record
