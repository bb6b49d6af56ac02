"""Bulk import of persons, HES codes, health events and death forms from CSV or JSON Lines.

An import must lose nothing and must be safe to repeat. So the file is streamed (one bounded line
at a time: a file of any size costs the same memory), every row is validated on its own (a bad
row is set aside with its line number, never a reason to stop), each batch is written in one
transaction by natural key (``store/bulk_repo.py``), and a batch's rejects are appended to the
rejects file only after that batch committed. Killing the process at any instant leaves whole
batches; running the same file again writes what is missing and changes nothing else.

Times without a UTC offset are Europe/Istanbul local time: the operators who prepare these files
work in Türkiye, and death forms (``saglik obs register``) already read them that way.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine

from saglik.domain import hescode
from saglik.domain.clock import Clock
from saglik.domain.hes import NO_EXPIRY
from saglik.domain.obs import ISTANBUL, DeathRecord
from saglik.domain.records import CodeRow, EventRow, PersonRow
from saglik.domain.tckn import is_valid_tckn
from saglik.domain.turkish import normalize_name, tr_lower
from saglik.services.changes import ChangeLog
from saglik.services.obs import (
    CauseInput,
    DeathFormInput,
    ObsDataError,
    ObsRegistryService,
    check_places_and_time,
    describe_errors,
)
from saglik.store import bulk_repo

KINDS = ("persons", "codes", "events", "deaths")
FORMATS = ("csv", "jsonl")
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
DEFAULT_BATCH = 1000
LINE_LIMIT = 1 << 20
"""Characters per physical line; a longer line is rejected, never held in memory whole."""
DEFAULT_VACCINE = "CoronaVac"
MAX_DOSE = 32767
"""The dose column is a SMALLINT."""
REJECTS_HEADER = ("line", "reason")


class ImportFileError(ValueError):
    """The file cannot be imported at all (unreadable, unknown format, wrong header): a usage
    error, reported before anything is written."""


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

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_BAD_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
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


def _clean(value: Any) -> Any:
    """A row as read, checked for text the store cannot take: NUL (PostgreSQL refuses it) and
    undecodable bytes (kept as surrogates by the reader, so that decoding never stops the
    import). Iterative: a deeply nested JSON value must not exhaust the stack."""
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            if _BAD_TEXT.search(item):
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


def _known_keys(raw: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
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
        consent_vaccination=bool(_flag(raw, "consent_vaccination")),
        consent_immunity=bool(_flag(raw, "consent_immunity")),
        consent_test=bool(_flag(raw, "consent_test")),
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
    _known_keys(raw, COLUMNS["deaths"].all, "")
    form = {k: v for k, v in raw.items() if k not in ("form_no", "referans_no", "registered_at")}
    if not flat:
        causes = form.get("causes")
        for i, cause in enumerate(causes if isinstance(causes, list) else []):
            if isinstance(cause, dict):
                _known_keys(cause, _CAUSE_KEYS, f"causes.{i}: ")
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


# --- reading ---------------------------------------------------------------------------------

Raw = Mapping[str, Any]
"""One row as read: CSV cells (text) or a JSON object."""


class _LineTooLong(Exception):
    pass


class _Lines:
    """Physical lines of at most LINE_LIMIT characters. A longer line is skipped to its end and
    reported by raising _LineTooLong from ``__next__``; being a plain iterator (not a generator,
    which an exception would end), it goes on with the next line afterwards, and so does the
    csv reader reading from it."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self.number = 0
        """Physical lines read so far, the skipped ones included."""

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._text.readline(LINE_LIMIT)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) == LINE_LIMIT and not line.endswith(("\n", "\r")):
            while (rest := self._text.readline(LINE_LIMIT)) and not rest.endswith(("\n", "\r")):
                pass
            raise _LineTooLong
        return line


class ImportSource(contextlib.AbstractContextManager["ImportSource"]):
    """An open import file: the header already checked, rows read on demand.

    Use :func:`open_source`. ``rows()`` yields ``(line, row or RowError)`` one row at a time;
    ``line`` is the physical line where the row starts (1 = the CSV header line)."""

    def __init__(self, path: Path, kind: str, fmt: str, binary: IO[bytes]) -> None:
        self.path, self.kind, self.format = path, kind, fmt
        self._binary = binary
        self.total_bytes = os.fstat(binary.fileno()).st_size
        # surrogateescape: an undecodable byte becomes a rejected row, not a stopped import.
        self._text = io.TextIOWrapper(
            binary, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        self.columns = COLUMNS[kind]
        self._header: list[str] = []
        self._csv: Any = None
        self._lines = _Lines(self._text)
        if fmt == "csv":
            self._open_csv()

    @property
    def bytes_read(self) -> int:
        """How far into the file reading has got (by the byte; for progress)."""
        return self._binary.tell()

    def __exit__(self, *exc: object) -> None:
        self._text.close()

    def _open_csv(self) -> None:
        self._csv = csv.reader(self._lines, strict=True)
        try:
            header = next(self._csv)
        except StopIteration:
            raise ImportFileError(
                f"{self.path.name} is empty (a CSV file starts with its header)"
            ) from None
        except (csv.Error, _LineTooLong):
            raise ImportFileError(f"{self.path.name}: the header line is not valid CSV") from None
        self._header = [name.strip() for name in header]
        self._check_header()

    def _check_header(self) -> None:
        """Columns are named in messages by position only: a file without its header line
        would otherwise have its first row's values (personal data) echoed."""
        known = set(self.columns.all)
        expected = f"a {self.kind} file has the columns {', '.join(self.columns.all)}"
        seen: dict[str, int] = {}
        for position, name in enumerate(self._header, start=1):
            if name in seen:
                raise ImportFileError(
                    f"{self.path.name}: header column {position} repeats column {seen[name]}"
                )
            seen[name] = position
        unknown = [str(p) for p, name in enumerate(self._header, start=1) if name not in known]
        if unknown:
            raise ImportFileError(
                f"{self.path.name}: unknown column{'s' if len(unknown) > 1 else ''} at header "
                f"position {', '.join(unknown)} ({expected}; does the file start with its "
                "header line?)"
            )
        missing = [name for name in self.columns.required if name not in seen]
        if missing:
            raise ImportFileError(
                f"{self.path.name}: missing required column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} ({expected})"
            )

    def rows(self) -> Iterator[tuple[int, Raw | RowError]]:
        return self._csv_rows() if self.format == "csv" else self._json_rows()

    def _csv_rows(self) -> Iterator[tuple[int, Raw | RowError]]:
        reader, width = self._csv, len(self._header)
        while True:
            start = self._lines.number + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                end = self._lines.number
                span = f" (lines {start}-{end} read as one record)" if end > start else ""
                yield start, RowError(f"not valid CSV: {exc}{span}")
                continue
            except _LineTooLong:
                yield start, RowError(f"a line is longer than {LINE_LIMIT} characters")
                continue
            if not values:
                continue  # a blank line
            if len(values) != width:
                yield start, RowError(f"has {len(values)} values, the header has {width}")
                continue
            row = dict(zip(self._header, values, strict=True))
            if _BAD_TEXT.search("\x1f".join(values)) is None:  # the common case, in one pass
                yield start, row
                continue
            try:
                yield start, _clean(row)
            except RowError as exc:
                yield start, exc

    def _json_rows(self) -> Iterator[tuple[int, Raw | RowError]]:
        lines = self._lines
        while True:
            number = lines.number + 1
            try:
                line = next(lines)
            except StopIteration:
                return
            except _LineTooLong:
                yield number, RowError(f"the line is longer than {LINE_LIMIT} characters")
                continue
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except (ValueError, RecursionError) as exc:
                yield number, RowError(f"not valid JSON: {str(exc)[:120]}")
                continue
            try:
                yield number, self._json_row(value, line)
            except RowError as exc:
                yield number, exc

    def _json_row(self, value: Any, line: str) -> Raw:
        if not isinstance(value, dict):
            raise RowError("not a JSON object")
        if _BAD_ESCAPE.search(line) or _BAD_TEXT.search(line):
            _clean(value)
        _known_keys(value, self.columns.all, "")
        return value


def format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise ImportFileError(f"unknown format {fmt!r} (csv or jsonl)")
        return fmt
    found = EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise ImportFileError(
            f"cannot tell the format of {path.name} from its extension: give --format csv|jsonl"
        )
    return found


def open_source(path: Path, kind: str, fmt: str | None = None) -> ImportSource:
    """Opens ``path`` and checks what can be checked before any row is written."""
    if kind not in KINDS:
        raise ImportFileError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
    chosen = format_of(path, fmt)
    try:
        binary = path.open("rb")
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return ImportSource(path, kind, chosen, binary)
    except BaseException:
        binary.close()
        raise


def default_rejects(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.csv")


# --- running ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportProgress:
    bytes_read: int
    total_bytes: int
    rows_read: int
    written: int
    rejected: int
    seconds: float


@dataclass(frozen=True, slots=True)
class ImportSummary:
    kind: str
    env: str
    file: str
    format: str
    rows_read: int
    written: int
    rejected: int
    batches: int
    seconds: float
    rejects_file: Path | None
    """None when no row was rejected (no rejects file is left behind)."""

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0

    def as_log(self) -> dict[str, Any]:
        """What the change log keeps of a run: counts only."""
        return {
            "file": self.file,
            "format": self.format,
            "rows_read": self.rows_read,
            "written": self.written,
            "rejected": self.rejected,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
        }


ProgressCallback = Callable[[ImportProgress], None]


class _Rejects:
    """The rejects file: ``line,reason``, appended after each batch commits and flushed, so
    after a crash it lists exactly the rejects of the batches that were written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._file = path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise ImportFileError(
                f"cannot write the rejects file {path}: {exc.strerror or exc}"
            ) from None
        self._writer = csv.writer(self._file)
        self._writer.writerow(REJECTS_HEADER)
        self.count = 0

    def add(self, rejects: Sequence[tuple[int, str]]) -> None:
        if rejects:
            self._writer.writerows(sorted(rejects))
            self.count += len(rejects)
        self._file.flush()

    def close(self) -> Path | None:
        self._file.close()
        if self.count == 0:
            self.path.unlink(missing_ok=True)
            return None
        return self.path


_Batch = list[tuple[int, Raw | RowError]]


def _batches(rows: Iterator[tuple[int, Raw | RowError]], size: int) -> Iterator[_Batch]:
    """Batches of ``size`` rows read (rejected ones included, so memory stays bounded even
    when most rows are bad)."""
    batch: _Batch = []
    for item in rows:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


Parse = Callable[[Raw, datetime], Any]
Write = Callable[[Connection, str, list[Any], datetime], dict[int, str]]


class ImportService:
    def __init__(self, engine: Engine, clock: Clock, changes: ChangeLog) -> None:
        self._engine = engine
        self._clock = clock
        self._changes = changes

    def _plan(self, kind: str, flat: bool) -> tuple[Parse, Write]:
        """How one kind's rows are parsed (with the batch's "now") and written."""
        if kind == "persons":
            return (lambda raw, _now: parse_person(raw)), bulk_repo.upsert_persons
        if kind == "codes":
            return (lambda raw, _now: parse_code(raw)), bulk_repo.upsert_codes
        if kind == "events":
            return (lambda raw, _now: parse_event(raw)), (
                lambda conn, env, rows, _now: bulk_repo.upsert_events(conn, env, rows)
            )
        with self._engine.connect() as conn:
            deaths = DeathParser(bulk_repo.district_plates(conn))
        return (lambda raw, now: deaths(raw, now, flat=flat)), bulk_repo.upsert_deaths

    def run(
        self,
        source: ImportSource,
        env: str,
        *,
        batch_size: int = DEFAULT_BATCH,
        rejects: Path | None = None,
        progress: ProgressCallback | None = None,
    ) -> ImportSummary:
        """Imports every row of ``source`` into ``env``; see the module docstring for what is
        guaranteed when the run is interrupted. Raises ImportFileError before writing anything
        if the run cannot start."""
        if batch_size < 1:
            raise ImportFileError("the batch size must be at least 1")
        rejects_path = rejects or default_rejects(source.path)
        if rejects_path.resolve() == source.path.resolve():
            raise ImportFileError("the rejects file must not be the input file")
        parse, write = self._plan(source.kind, source.format == "csv")
        started = time.monotonic()
        rows_read = written = batches = 0
        sink = _Rejects(rejects_path)
        try:
            for batch in _batches(source.rows(), batch_size):
                now = self._clock.now()
                parsed: list[Any] = []
                lines: list[int] = []
                refused: list[tuple[int, str]] = []
                for line, raw in batch:
                    try:
                        if isinstance(raw, RowError):
                            raise raw
                        parsed.append(parse(raw, now))
                        lines.append(line)
                    except RowError as exc:
                        refused.append((line, str(exc)))
                if parsed:
                    with self._engine.begin() as conn:
                        by_index = write(conn, env, parsed, now)
                    refused.extend((lines[i], reason) for i, reason in by_index.items())
                    written += len(parsed) - len(by_index)
                sink.add(refused)
                rows_read += len(batch)
                batches += 1
                if progress is not None:
                    progress(
                        ImportProgress(
                            source.bytes_read,
                            source.total_bytes,
                            rows_read,
                            written,
                            sink.count,
                            time.monotonic() - started,
                        )
                    )
        finally:
            kept = sink.close()
        summary = ImportSummary(
            kind=source.kind,
            env=env,
            file=source.path.name,
            format=source.format,
            rows_read=rows_read,
            written=written,
            rejected=sink.count,
            batches=batches,
            seconds=time.monotonic() - started,
            rejects_file=kept,
        )
        with self._engine.begin() as conn:
            self._changes.record(
                conn,
                entity="import",
                action=source.kind,
                env=env,
                target=source.path.name[:200],
                after=summary.as_log(),
            )
        return summary
