"""The bulk import service: every kind from CSV and JSON Lines, rejects by line number that never
hold a personal value, usage errors before anything is written, streaming in bounded memory,
rejects written only after their batch committed, one change-log entry per run, and fuzzed rows
and files that produce rejects, never exceptions."""

from __future__ import annotations

import csv
import inspect
import json
import random
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from saglik.domain.clock import ManualClock
from saglik.domain.hes import NO_EXPIRY
from saglik.domain.tckn import random_tckn
from saglik.services.import_files import FORMATS, LINE_LIMIT, ImportFileError, open_source
from saglik.services.import_rows import (
    COLUMNS,
    KINDS,
    DeathParser,
    RowError,
    clean,
    parse_code,
    parse_event,
    parse_person,
)
from saglik.services.importing import ImportProgress, ImportService, ImportSummary
from saglik.store import bulk_repo
from saglik.store.schema import (
    death_causes,
    death_form_history,
    death_forms,
    hes_codes,
    infections,
    operator_changes,
    pcr_results,
    persons,
    risk_periods,
    vaccinations,
)
from tests.change_support import change_log
from tests.conftest import BASE_TIME
from tests.services.obs_support import own_store, valid_form

_rng = random.Random()
H = timedelta(hours=1)


@pytest.fixture(scope="module")
def db(store: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database of this module's own, with the districts (counts below see only its rows)."""
    yield from own_store(store, tmp_path_factory)


@pytest.fixture
def service(db: Engine, clock: ManualClock) -> ImportService:
    return ImportService(db, clock, change_log(db, clock))


Run = Callable[..., ImportSummary]


@pytest.fixture
def run(service: ImportService) -> Run:
    """``run(path, kind, env="live", **options)`` → the summary."""

    def go(path: Path, kind: str, env: str = "live", **options: Any) -> ImportSummary:
        fmt = options.pop("fmt", None)
        with open_source(path, kind, fmt) as source:
            return service.run(source, env, **options)

    return go


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def rejects_of(summary: ImportSummary) -> list[tuple[int, str]]:
    assert summary.rejects_file is not None
    with summary.rejects_file.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["line", "reason"]
    return [(int(line), reason) for line, reason in rows[1:]]


def count(db: Engine, table: Any, *where: Any) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def tckns(n: int) -> list[str]:
    return [random_tckn(_rng) for _ in range(n)]


def person_rows(numbers: list[str]) -> list[list[str]]:
    return [[n, "ayşe gül", "  yıldırım ", ""] for n in numbers]


PERSON_HEADER = ["identity_number", "first_name", "last_name", "consent_test"]


def add_persons(run: Run, tmp_path: Path, numbers: list[str], env: str = "live") -> None:
    path = write_csv(tmp_path / f"persons-{_rng.random()}.csv", PERSON_HEADER, person_rows(numbers))
    assert run(path, "persons", env).rejected == 0


# --- persons -----------------------------------------------------------------------------------


def stored_person(db: Engine, number: str, env: str = "live") -> tuple[Any, ...]:
    with db.connect() as conn:
        row = conn.execute(
            select(
                persons.c.first_name,
                persons.c.last_name,
                persons.c.consent_vaccination,
                persons.c.consent_immunity,
                persons.c.consent_test,
            ).where(persons.c.env == env, persons.c.identity_number == number)
        ).one()
    return tuple(row)


def test_persons_from_csv(run: Run, db: Engine, tmp_path: Path) -> None:
    a, b, c = tckns(3)
    path = write_csv(
        tmp_path / "persons.csv",
        ["first_name", "identity_number", "last_name", "consent_vaccination", "consent_test"],
        [
            ["ayşe gül", a, "yıldırım", "evet", "HAYIR"],
            ["  ılgaz ", b, "işık", "1", ""],
            ["Ömer", c, "Öz", "true", "yes"],
        ],
    )
    summary = run(path, "persons")
    assert (summary.rows_read, summary.written, summary.rejected) == (3, 3, 0)
    assert summary.rejects_file is None
    assert not (tmp_path / "persons.csv.rejects.csv").exists()
    assert stored_person(db, a) == ("AYŞE GÜL", "YILDIRIM", True, False, False)
    assert stored_person(db, b) == ("ILGAZ", "İŞIK", True, False, False)
    assert stored_person(db, c) == ("ÖMER", "ÖZ", True, False, True)


def test_persons_from_jsonl(run: Run, db: Engine, tmp_path: Path) -> None:
    a, b = tckns(2)
    path = write_jsonl(
        tmp_path / "persons.jsonl",
        [
            {"identity_number": a, "first_name": "fatma", "last_name": "kaya",
             "consent_immunity": True, "consent_test": "evet"},
            {"identity_number": int(b), "first_name": "can", "last_name": "koç",
             "consent_vaccination": 1},
        ],
    )  # fmt: skip
    summary = run(path, "persons", env="test")
    assert (summary.written, summary.rejected, summary.format) == (2, 0, "jsonl")
    assert stored_person(db, a, "test") == ("FATMA", "KAYA", False, True, True)
    assert stored_person(db, b, "test") == ("CAN", "KOÇ", True, False, False)


def test_rerunning_a_file_changes_nothing(run: Run, db: Engine, tmp_path: Path) -> None:
    numbers = tckns(25)
    path = write_csv(tmp_path / "p.csv", PERSON_HEADER, person_rows(numbers))
    first = run(path, "persons", batch_size=7)
    with db.connect() as conn:
        before = conn.execute(
            select(persons).where(persons.c.identity_number.in_(numbers)).order_by(persons.c.id)
        ).all()
    second = run(path, "persons", batch_size=7)
    with db.connect() as conn:
        after = conn.execute(
            select(persons).where(persons.c.identity_number.in_(numbers)).order_by(persons.c.id)
        ).all()
    assert before == after
    assert len(after) == 25
    assert (first.written, second.written, first.batches) == (25, 25, 4)


# --- codes -------------------------------------------------------------------------------------


def test_codes_from_csv_and_jsonl(run: Run, db: Engine, tmp_path: Path, clock: ManualClock) -> None:
    a, b = tckns(2)
    add_persons(run, tmp_path, [a, b])
    csv_path = write_csv(
        tmp_path / "codes.csv",
        ["code", "identity_number", "expires_at", "created_at", "cancelled_at"],
        [
            ["t4x1234567", a, "2027-01-01T00:00:00", "2026-01-01T12:00:00+03:00", ""],
            ["T4X1234568", b, "", "", "2026-05-01T10:00:00Z"],
        ],
    )
    jsonl_path = write_jsonl(
        tmp_path / "codes.ndjson",
        [{"code": "T4X1234569", "identity_number": a, "expires_at": "2026-12-31"}],
    )
    assert run(csv_path, "codes").written == 2
    assert run(jsonl_path, "codes").written == 1
    with db.connect() as conn:
        rows = {
            r.code: r
            for r in conn.execute(
                select(hes_codes).where(
                    hes_codes.c.code.in_(["T4X1234567", "T4X1234568", "T4X1234569"])
                )
            )
        }
    # no offset = Istanbul time (UTC+3)
    assert rows["T4X1234567"].expires_at == datetime(2026, 12, 31, 21, 0, tzinfo=UTC)
    assert rows["T4X1234567"].created_at == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert rows["T4X1234568"].expires_at == NO_EXPIRY
    assert rows["T4X1234568"].created_at == clock.now()
    assert rows["T4X1234568"].cancelled_at == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    assert rows["T4X1234569"].expires_at == datetime(2026, 12, 30, 21, 0, tzinfo=UTC)
    # a rerun a day later keeps the creation time the first run gave
    clock.advance(24 * H)
    run(csv_path, "codes")
    with db.connect() as conn:
        created = conn.execute(
            select(hes_codes.c.created_at).where(hes_codes.c.code == "T4X1234568")
        ).scalar_one()
    assert created == BASE_TIME


def test_code_rejects(run: Run, tmp_path: Path) -> None:
    a, b = tckns(2)
    add_persons(run, tmp_path, [a])
    path = write_csv(
        tmp_path / "codes.csv",
        ["code", "identity_number", "expires_at", "created_at"],
        [
            ["T4X2-0000-01", a, "", ""],
            ["T4X2000002", b, "", ""],
            ["T4X2000003", a, "yesterday", ""],
            ["T4X2000004", a, "2026-01-01", "2026-02-01"],
            ["T4X2000005", a, "", ""],
        ],
    )
    summary = run(path, "codes")
    assert summary.written == 1
    assert rejects_of(summary) == [
        (2, "code: must be 10 characters A-Z 0-9 (no dashes)"),
        (3, bulk_repo.UNKNOWN_PERSON),
        (4, "expires_at: not an ISO 8601 date and time (2026-01-10T14:30:00)"),
        (5, "expires_at: must be after created_at"),
    ]


# --- events ------------------------------------------------------------------------------------

EVENT_HEADER = [
    "identity_number",
    "kind",
    "at",
    "dose",
    "vaccine",
    "result",
    "risk_kind",
    "ended_at",
]


def test_events_from_csv_and_jsonl(run: Run, db: Engine, tmp_path: Path) -> None:
    a, b = tckns(2)
    add_persons(run, tmp_path, [a, b])
    csv_path = write_csv(
        tmp_path / "events.csv",
        EVENT_HEADER,
        [
            [a, "vaccination", "2026-01-10T10:00:00", "1", "", "", "", ""],
            [a, "vaccination", "2026-02-10T10:00:00", "2", "BioNTech", "", "", ""],
            [a, "infection", "2025-12-01T08:00:00", "", "", "", "", ""],
            [a, "pcr", "2026-06-14T08:00:00", "", "", "Negative", "", ""],
            [b, "risk", "2026-06-10T08:00:00", "", "", "", "contact", "2026-06-20T08:00:00"],
        ],
    )
    jsonl_path = write_jsonl(
        tmp_path / "events.jsonl",
        [
            {"identity_number": b, "kind": "risk", "at": "2026-06-14T08:00:00Z",
             "risk_kind": "case"},
            {"identity_number": b, "kind": "vaccination", "at": "2026-01-01", "dose": 1},
        ],
    )  # fmt: skip
    for _ in range(2):  # a rerun adds nothing
        assert run(csv_path, "events").written == 5
        assert run(jsonl_path, "events").written == 2
    with db.connect() as conn:
        ids = bulk_repo.person_ids(conn, "live", [a, b])
        doses = conn.execute(
            select(
                vaccinations.c.dose_number, vaccinations.c.vaccine, vaccinations.c.administered_at
            )
            .where(vaccinations.c.person_id == ids[a])
            .order_by(vaccinations.c.dose_number)
        ).all()
        risks = conn.execute(
            select(risk_periods.c.kind, risk_periods.c.started_at, risk_periods.c.ended_at)
            .where(risk_periods.c.person_id == ids[b])
            .order_by(risk_periods.c.started_at)
        ).all()
        pcr = conn.execute(
            select(pcr_results.c.result).where(pcr_results.c.person_id == ids[a])
        ).scalar_one()
    assert [tuple(d) for d in doses] == [
        (1, "CoronaVac", datetime(2026, 1, 10, 7, 0, tzinfo=UTC)),
        (2, "BioNTech", datetime(2026, 2, 10, 7, 0, tzinfo=UTC)),
    ]
    assert [tuple(r) for r in risks] == [
        (
            "contact",
            datetime(2026, 6, 10, 5, 0, tzinfo=UTC),
            datetime(2026, 6, 20, 5, 0, tzinfo=UTC),
        ),
        ("case", datetime(2026, 6, 14, 8, 0, tzinfo=UTC), None),
    ]
    assert pcr == "NEGATIVE"
    assert count(db, infections, infections.c.person_id == ids[a]) == 1
    assert count(db, vaccinations, vaccinations.c.person_id == ids[b]) == 1


def test_event_rejects(run: Run, tmp_path: Path) -> None:
    [a] = tckns(1)
    add_persons(run, tmp_path, [a])
    path = write_csv(
        tmp_path / "events.csv",
        EVENT_HEADER,
        [
            [a, "vaccination", "2026-01-10T10:00:00", "0", "", "", "", ""],
            [a, "vaccination", "2026-01-10T10:00:00", "", "", "", "", ""],
            [a, "surgery", "2026-01-10T10:00:00", "", "", "", "", ""],
            [a, "pcr", "2026-01-10T10:00:00", "", "", "unclear", "", ""],
            [a, "pcr", "2026-01-10T10:00:00", "2", "", "negative", "", ""],
            [a, "risk", "2026-01-10T10:00:00", "", "", "", "suspect", ""],
            [a, "risk", "2026-01-10T10:00:00", "", "", "", "case", "2026-01-09T10:00:00"],
            [a, "infection", "", "", "", "", "", ""],
            [a, "infection", "2026-01-10T10:00:00", "", "", "", "", ""],
        ],
    )
    summary = run(path, "events")
    assert summary.written == 1
    assert rejects_of(summary) == [
        (2, "dose: must be a whole number from 1 to 32767"),
        (3, "dose: required for a vaccination"),
        (4, "kind: must be one of vaccination, infection, pcr, risk"),
        (5, "result: must be negative or positive"),
        (6, "dose: does not apply to a pcr event"),
        (7, "risk_kind: must be case or contact"),
        (8, "ended_at: must not be before at"),
        (9, "at: required"),
    ]


# --- deaths ------------------------------------------------------------------------------------

_forms = iter(range(_rng.randrange(10**9, 5 * 10**9), 10**10))


def death_json(**changes: Any) -> dict[str, Any]:
    return {"form_no": str(next(_forms)), "referans_no": "abcd2345", **valid_form(**changes)}


def death_csv_row(form: dict[str, Any]) -> dict[str, str]:
    flat = {k: "" if v is None else str(v) for k, v in form.items() if k != "causes"}
    flat["causes"] = ";".join(
        f"{c['kind']}:{c['icd_code']}" + (f":{c['interval']}" if c.get("interval") else "")
        for c in form["causes"]
    )
    return flat


def write_death_csv(path: Path, forms: list[dict[str, Any]]) -> Path:
    header = sorted({k for f in forms for k in death_csv_row(f)})
    return write_csv(path, header, [[death_csv_row(f).get(k, "") for k in header] for f in forms])


def stored_forms(db: Engine, form_nos: list[str]) -> dict[str, Any]:
    with db.connect() as conn:
        return {
            r.form_no: r
            for r in conn.execute(select(death_forms).where(death_forms.c.form_no.in_(form_nos)))
        }


def causes_of(db: Engine, form_id: int) -> list[tuple[Any, ...]]:
    with db.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(death_causes.c.kind, death_causes.c.icd_code, death_causes.c.interval)
                .where(death_causes.c.form_id == form_id)
                .order_by(death_causes.c.seq)
            )
        ]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_deaths(run: Run, db: Engine, tmp_path: Path, fmt: str, clock: ManualClock) -> None:
    forms = [
        death_json(),
        death_json(
            identity_number=None,
            passport_no="c01 x00t47",
            nationality="DE",
            first_name="Anna Maria",
            last_name="Schmidt",
            sex=2,
            autopsy=True,
            registered_at="2026-06-14T12:00:00",
            causes=[
                {"kind": 1, "icd_code": "j189", "interval": "3 gün: yoğun bakım"},
                {"kind": 4, "icd_code": "I25.1", "interval": None},
            ],
        ),
    ]
    path = tmp_path / f"deaths.{fmt}"
    if fmt == "csv":
        write_death_csv(path, forms)
    else:
        write_jsonl(path, forms)
    summary = run(path, "deaths")
    assert (summary.written, summary.rejected) == (2, 0)
    stored = stored_forms(db, [f["form_no"] for f in forms])
    citizen, foreigner = (stored[f["form_no"]] for f in forms)
    assert (citizen.referans_no, citizen.first_name, citizen.status) == (
        "ABCD2345",
        "AYŞE GÜL",
        "registered",
    )
    assert citizen.died_at == datetime(2026, 6, 14, 7, 0, tzinfo=UTC)
    assert citizen.registered_at == clock.now()
    assert (foreigner.passport_no, foreigner.first_name, foreigner.autopsy) == (
        "C01X00T47",
        "ANNA MARIA",
        True,
    )
    assert foreigner.registered_at == datetime(2026, 6, 14, 9, 0, tzinfo=UTC)
    assert causes_of(db, foreigner.id) == [(1, "J18.9", "3 gün: yoğun bakım"), (4, "I25.1", None)]
    # A rerun registers nothing again; a changed form is corrected with one history entry.
    clock.advance(H)
    run(path, "deaths")
    forms[0] = {**forms[0], "manner": 2}
    if fmt == "csv":
        write_death_csv(path, forms)
    else:
        write_jsonl(path, forms)
    clock.advance(H)
    assert run(path, "deaths").written == 2
    with db.connect() as conn:
        history = conn.execute(
            select(death_form_history.c.form_id, death_form_history.c.action)
            .where(death_form_history.c.form_id.in_([citizen.id, foreigner.id]))
            .order_by(death_form_history.c.id)
        ).all()
    assert [tuple(h) for h in history] == [
        (citizen.id, "registered"),
        (foreigner.id, "registered"),
        (citizen.id, "corrected"),
    ]
    assert stored_forms(db, [forms[0]["form_no"]])[forms[0]["form_no"]].updated_at == clock.now()


def test_death_rejects(run: Run, tmp_path: Path) -> None:
    taken = death_json()
    write_jsonl(tmp_path / "first.jsonl", [taken])
    run(tmp_path / "first.jsonl", "deaths")
    path = write_jsonl(
        tmp_path / "deaths.jsonl",
        [
            death_json(identity_number="10000000145"),
            death_json(died_at="2026-07-01T10:00:00"),
            death_json(death_district=1421),
            death_json(death_district=99999),
            {**death_json(), "referans_no": None},
            {**taken, "referans_no": "OTHER234"},
            death_json(causes=[{"kind": 1, "icd_code": "XYZ"}], sex=7),
            death_json(registered_at="2026-06-13T10:00:00"),
            death_json(unknown_field=1),
            death_json(),
        ],
    )
    summary = run(path, "deaths")
    assert summary.written == 1
    assert rejects_of(summary) == [
        (1, "form: Value error, identity_number is not a valid T.C. Kimlik No"),
        (2, "died_at is in the future"),
        (3, "death_district: the district is not in province 6"),
        (
            4,
            "death_district: unknown district code (not in the district table; "
            "`saglik refdata import PATH` loads a newer one)",
        ),
        (5, "referans_no: required"),
        (6, bulk_repo.FORM_NO_TAKEN),
        (
            7,
            "sex: Value error, not a Cinsiyet code (known: 1, 2, 3); causes.0.icd_code: "
            "Value error, not a WHO ICD-10 category or subcategory code",
        ),
        (8, "registered_at: is before died_at"),
        (9, f"unknown field unknown_field (allowed: {', '.join(COLUMNS['deaths'].all)})"),
    ]


def test_death_csv_causes_column(run: Run, tmp_path: Path) -> None:
    form = death_csv_row(death_json())
    rows = [
        {**form, "causes": "1"},
        {**form, "causes": ""},
        {**form, "form_no": str(next(_forms)), "causes": "1:I21.9;;4:I25.1:10 yıl;"},
    ]
    header = sorted(form)
    path = write_csv(tmp_path / "d.csv", header, [[r[k] for k in header] for r in rows])
    summary = run(path, "deaths")
    assert summary.written == 1
    assert rejects_of(summary) == [
        (2, "causes: each item is KIND:ICD[:INTERVAL], items separated by ';'"),
        (3, "causes: Field required"),
    ]


# --- rejects -----------------------------------------------------------------------------------

PERSONAL_VALUES = ("ayşe", "AYŞE", "yıldırım", "YILDIRIM")


def test_csv_rejects_name_the_line_where_the_row_starts(run: Run, tmp_path: Path) -> None:
    good = tckns(4)
    bad_checksum = good[0][:-1] + str((int(good[0][-1]) + 1) % 10)
    path = tmp_path / "p.csv"
    lines = [
        "identity_number,first_name,last_name",  # 1
        f"{good[0]},ayşe,yıldırım",  # 2
        f'{good[1]},"ayşe\nmultiline",yıldırım',  # 3-4: one record over two lines
        f"{bad_checksum},ayşe,yıldırım",  # 5
        "",  # 6: blank, skipped
        f"{good[2]},   ,yıldırım",  # 7
        f'{good[3]},"ayşe"x,yıldırım',  # 8: bad quoting
        f"{good[3]},ayşe",  # 9: too few values
        f"{good[3]},ayşe\x00,yıldırım",  # 10: NUL
        f"{good[3]},ay\udcffşe,yıldırım",  # 11: an undecodable byte (0xff)
        f"{good[3]},ayşe,yıldırım",  # 12
    ]
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")
    summary = run(path, "persons", batch_size=3)
    assert (summary.rows_read, summary.written, summary.rejected) == (9, 3, 6)
    assert rejects_of(summary) == [
        (5, "identity_number: not a valid T.C. Kimlik No (11 digits, check digits)"),
        (7, "first_name and last_name: required, not blank"),
        (8, "not valid CSV: ',' expected after '\"'"),
        (9, "has 2 values, the header has 3"),
        (10, "first_name: not valid UTF-8 text, or holds a NUL character"),
        (11, "first_name: not valid UTF-8 text, or holds a NUL character"),
    ]
    text = summary.rejects_file.read_text("utf-8") if summary.rejects_file else ""
    for value in (*PERSONAL_VALUES, *good, bad_checksum):
        assert value not in text


def test_an_excel_csv_with_bom_and_crlf_is_read(run: Run, db: Engine, tmp_path: Path) -> None:
    a, b = tckns(2)
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "\ufeffidentity_number,first_name,last_name\r\n".encode()
        + f"{a},Şule,Öztürk\r\n12,x,y\r\n{b},İlker,Işık\r\n".encode()
    )
    summary = run(path, "persons")
    assert (summary.written, rejects_of(summary)[0][0]) == (2, 3)
    assert stored_person(db, b)[:2] == ("İLKER", "IŞIK")


def test_jsonl_with_escaped_non_ascii_and_crlf(run: Run, db: Engine, tmp_path: Path) -> None:
    [a] = tckns(1)
    line = json.dumps({"identity_number": a, "first_name": "Şule", "last_name": "Işık"})
    assert "\\u015e" in line  # ensure_ascii: the escapes json.dumps writes by default
    (tmp_path / "p.jsonl").write_bytes(f"{line}\r\n\r\n".encode())
    assert run(tmp_path / "p.jsonl", "persons").written == 1
    assert stored_person(db, a)[:2] == ("ŞULE", "IŞIK")


def test_jsonl_rejects(run: Run, tmp_path: Path) -> None:
    [good] = tckns(1)
    person = {"identity_number": good, "first_name": "ayşe", "last_name": "yıldırım"}
    lines = [
        json.dumps(person),  # 1
        "{not json",  # 2
        "",  # 3
        "[1, 2]",  # 4
        json.dumps({**person, "middle_name": "x", "Ayşe Yıldırım": 1}),  # 5
        json.dumps({**person, "first_name": ["a"]}),  # 6
        json.dumps({**person, "consent_test": "maybe"}),  # 7
        "[" * 100_000,  # 8: deeper than the parser's recursion
        '{"identity_number": "' + "1" * LINE_LIMIT + '"}',  # 9: over the line limit
        json.dumps({**person, "last_name": "a\u0000b"}),  # 10
        json.dumps(person),  # 11
    ]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = run(path, "persons")
    assert summary.written == 2
    rejects = dict(rejects_of(summary))
    assert sorted(rejects) == [2, 4, 5, 6, 7, 8, 9, 10]
    assert rejects[2].startswith("not valid JSON: ")
    assert rejects[4] == "not a JSON object"
    assert rejects[5].startswith("unknown field a field, middle_name (allowed: identity_number")
    assert rejects[6] == "first_name: must be text"
    assert rejects[7] == "consent_test: must be true/false, 1/0, yes/no or evet/hayır"
    assert rejects[8].startswith("not valid JSON")
    assert rejects[9] == f"the line is longer than {LINE_LIMIT} characters"
    assert rejects[10] == "last_name: not valid UTF-8 text, or holds a NUL character"
    text = summary.rejects_file.read_text("utf-8") if summary.rejects_file else ""
    for value in (*PERSONAL_VALUES, good, "Ayşe Yıldırım"):
        assert value not in text


def test_a_rerun_replaces_the_rejects_file_and_a_clean_run_removes_it(
    run: Run, tmp_path: Path
) -> None:
    [a] = tckns(1)
    path = write_csv(tmp_path / "p.csv", PERSON_HEADER, [[a, "x", "", ""]])
    assert run(path, "persons").rejected == 1
    rejects = tmp_path / "p.csv.rejects.csv"
    assert rejects.exists()
    write_csv(path, PERSON_HEADER, [[a, "x", "y", ""]])
    assert run(path, "persons").rejects_file is None
    assert not rejects.exists()


def test_rejects_go_where_asked(run: Run, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", PERSON_HEADER, [["1", "x", "y", ""]])
    target = tmp_path / "out" / "bad.csv"
    target.parent.mkdir()
    summary = run(path, "persons", rejects=target)
    assert summary.rejects_file == target
    assert rejects_of(summary)[0][0] == 2


def test_rejects_are_written_only_after_their_batch_committed(
    run: Run, db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash in batch 2 leaves batch 1 and its rejects, and nothing of batch 2."""
    numbers = tckns(4)
    identities = [numbers[0], "1", numbers[1], "2", numbers[2], numbers[3]]
    rows = [[n, "a", "b", ""] for n in identities]
    path = write_csv(tmp_path / "p.csv", PERSON_HEADER, rows)
    real = bulk_repo.upsert_persons
    calls = 0

    def crash_on_second(*args: Any) -> dict[int, str]:
        nonlocal calls
        calls += 1
        if calls == 2:
            real(*args)  # written inside the transaction, then lost with it
            raise RuntimeError("power cut")
        return real(*args)

    monkeypatch.setattr(bulk_repo, "upsert_persons", crash_on_second)
    with pytest.raises(RuntimeError, match="power cut"):
        run(path, "persons", batch_size=3)
    assert count(db, persons, persons.c.identity_number.in_(numbers)) == 2
    with (tmp_path / "p.csv.rejects.csv").open(encoding="utf-8", newline="") as f:
        assert list(csv.reader(f)) == [
            ["line", "reason"],
            ["3", "identity_number: not a valid T.C. Kimlik No (11 digits, check digits)"],
        ]
    # the rerun completes it
    monkeypatch.setattr(bulk_repo, "upsert_persons", real)
    summary = run(path, "persons", batch_size=3)
    assert (summary.written, summary.rejected) == (4, 2)
    assert count(db, persons, persons.c.identity_number.in_(numbers)) == 4


# --- usage errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "kind", "message"),
    [
        ("p.csv", "identity_number,first_name\n", "persons", "missing required column last_name"),
        ("p.csv", "identity_number,first_name,last_name,age\n", "persons",
         "unknown column at header position 4"),
        ("p.csv", "12345678901,Ayşe,Yılmaz\n", "persons",
         "unknown columns at header position 1, 2, 3"),
        ("p.csv", "identity_number,first_name,last_name,first_name\n", "persons",
         "header column 4 repeats column 2"),
        ("p.csv", "", "persons", "is empty"),
        ("p.txt", "x", "persons", "cannot tell the format of p.txt"),
        ("d.csv", "form_no,referans_no\n", "deaths", "missing required columns first_name"),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_imported_is_refused_before_anything_is_written(
    tmp_path: Path, name: str, content: str, kind: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportFileError, match=message) as caught:
        open_source(path, kind)
    for value in ("12345678901", "Ayşe", "Yılmaz"):
        assert value not in str(caught.value)


def test_an_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match=r"cannot read .*No such file"):
        open_source(tmp_path / "missing.csv", "persons")
    with pytest.raises(ImportFileError, match="cannot read"):
        open_source(tmp_path, "persons", "csv")


def test_the_rejects_file_must_be_writable_and_not_the_input(
    service: ImportService, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "p.csv", PERSON_HEADER, [])
    with open_source(path, "persons") as source, pytest.raises(ImportFileError, match="input"):
        service.run(source, "live", rejects=path)
    with (
        open_source(path, "persons") as source,
        pytest.raises(ImportFileError, match="cannot write the rejects file"),
    ):
        service.run(source, "live", rejects=tmp_path / "no" / "such" / "dir.csv")


# --- streaming ---------------------------------------------------------------------------------


def big_persons_file(path: Path, rows: int) -> Path:
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as f:
        f.write("identity_number,first_name,last_name\n")
        for _ in range(rows):
            f.write(f"{random_tckn(rng)},Ayşe Gül Nur,Yıldırımoğlu\n")
    return path


def test_rows_are_streamed_from_a_generator(tmp_path: Path) -> None:
    path = big_persons_file(tmp_path / "big.csv", 100_000)  # ~4 MB
    with open_source(path, "persons") as source:
        rows = source.rows()
        assert inspect.isgenerator(rows)
        next(rows)
        assert source.bytes_read <= 64 * 1024 < source.total_bytes
        tracemalloc.start()
        try:
            read = 1 + sum(1 for _ in rows)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert source.bytes_read == source.total_bytes
    assert read == 100_000
    assert peak < 256 * 1024, peak  # the file is 4 MB; only a row or a buffer is held


def test_an_import_holds_one_batch_at_a_time(service: ImportService, tmp_path: Path) -> None:
    """Peak memory of the whole run does not grow with the file: 4× the rows, same peak."""
    peaks = []
    for rows in (4_000, 16_000):
        path = big_persons_file(tmp_path / f"p{rows}.csv", rows)
        with open_source(path, "persons") as source:
            service.run(source, "test", batch_size=500)  # warm: statement caches filled
        with open_source(path, "persons") as source:
            tracemalloc.start()
            try:
                service.run(source, "test", batch_size=500)
                peaks.append(tracemalloc.get_traced_memory()[1])
            finally:
                tracemalloc.stop()
    assert peaks[1] < peaks[0] * 1.5 + 256 * 1024, peaks


def test_progress_is_reported_after_each_batch(service: ImportService, tmp_path: Path) -> None:
    path = big_persons_file(tmp_path / "p.csv", 2_500)
    seen: list[ImportProgress] = []
    with open_source(path, "persons") as source:
        summary = service.run(source, "test", batch_size=1_000, progress=seen.append)
    assert [p.rows_read for p in seen] == [1_000, 2_000, 2_500]
    assert seen[-1].bytes_read == seen[-1].total_bytes == path.stat().st_size
    assert seen[0].bytes_read < seen[1].bytes_read
    assert summary.rows_per_second > 0


# --- change log --------------------------------------------------------------------------------


def test_each_run_writes_one_change_log_entry_with_counts_only(
    run: Run, db: Engine, tmp_path: Path
) -> None:
    numbers = tckns(3)
    path = write_csv(
        tmp_path / "people-2026.csv",
        PERSON_HEADER,
        [*person_rows(numbers), ["12345678901", "x", "y", ""]],
    )
    with db.connect() as conn:
        before = conn.execute(select(func.max(operator_changes.c.id))).scalar() or 0
    run(path, "persons", env="test")
    with db.connect() as conn:
        entries = conn.execute(select(operator_changes).where(operator_changes.c.id > before)).all()
    assert len(entries) == 1
    [entry] = entries
    assert (entry.entity, entry.action, entry.env, entry.target, entry.actor) == (
        "import",
        "persons",
        "test",
        "people-2026.csv",
        "cli:test",
    )
    after = json.loads(entry.after)
    assert {k: after[k] for k in ("rows_read", "written", "rejected", "batches")} == {
        "rows_read": 4,
        "written": 3,
        "rejected": 1,
        "batches": 1,
    }
    assert after["format"] == "csv"
    assert after["rows_per_second"] >= 0
    assert entry.subject_ref is None
    for value in (*numbers, "12345678901", "AYŞE"):
        assert value not in entry.after


# --- fuzz --------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
INTERESTING = [
    random_tckn(random.Random(1)),
    "10000000146",
    "2026-06-14T10:00:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "T4X1234567",
    "vaccination", "infection", "pcr", "risk", "case", "contact", "negative", "1", "0", "evet",
    "1:I21.9:2 saat;4:I25.1", "I21.9", "6", "1231", "99999999999999999999", "\x00", "\udcff",
]  # fmt: skip
field_values = json_values | st.sampled_from(INTERESTING)


def rows_of(kind: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    names = st.sampled_from(COLUMNS[kind].all) | st.text(max_size=12)
    return st.dictionaries(names, values, max_size=len(COLUMNS[kind].all) + 2)


def accepted_or_rejected(parse: Callable[[], Any]) -> None:
    try:
        parse()
    except RowError as exc:
        message = str(exc)
    else:
        return
    assert message
    assert "\n" not in message


NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
PLATES = {1231: 6, 1421: 34}


@settings(max_examples=300, deadline=None)
@given(rows_of("persons", field_values))
def test_fuzz_person_rows_are_parsed_or_rejected(raw: dict[str, Any]) -> None:
    accepted_or_rejected(lambda: parse_person(clean(raw)))


@settings(max_examples=300, deadline=None)
@given(rows_of("codes", field_values))
def test_fuzz_code_rows_are_parsed_or_rejected(raw: dict[str, Any]) -> None:
    accepted_or_rejected(lambda: parse_code(clean(raw)))


@settings(max_examples=300, deadline=None)
@given(rows_of("events", field_values))
def test_fuzz_event_rows_are_parsed_or_rejected(raw: dict[str, Any]) -> None:
    accepted_or_rejected(lambda: parse_event(clean(raw)))


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from([{}, death_json()]),
    raw=rows_of("deaths", field_values),
    flat=st.booleans(),
)
def test_fuzz_death_rows_are_parsed_or_rejected(
    base: dict[str, Any], raw: dict[str, Any], flat: bool
) -> None:
    row = {**base, **raw}
    if flat:
        row = {k: v if isinstance(v, str) else json.dumps(v) for k, v in row.items()}
    parser = DeathParser(PLATES)
    accepted_or_rejected(lambda: parser(clean(row), NOW, flat=flat))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=st.binary(max_size=300)
    | st.lists(st.sampled_from([b"10000000146", b",", b'"', b"\n", b"\r", b"x", b"\xff", b"\x00",
                                b"{", b"}", b"[", b'"identity_number":', b"\xef\xbb\xbf"]),
               max_size=40).map(b"".join),
    kind=st.sampled_from(KINDS),
    fmt=st.sampled_from(FORMATS),
)  # fmt: skip
def test_fuzz_any_file_is_read_as_rows_or_rejects(
    tmp_path_factory: pytest.TempPathFactory, content: bytes, kind: str, fmt: str
) -> None:
    header = ",".join(COLUMNS[kind].all).encode() + b"\n" if fmt == "csv" else b""
    path = tmp_path_factory.mktemp("fuzz") / f"f.{fmt}"
    path.write_bytes(header + content)
    parsers: dict[str, Callable[[Any], Any]] = {
        "persons": parse_person,
        "codes": parse_code,
        "events": parse_event,
        "deaths": lambda raw: DeathParser(PLATES)(raw, NOW, flat=fmt == "csv"),
    }
    with open_source(path, kind) as source:
        lines = []
        for line, raw in source.rows():
            lines.append(line)
            if not isinstance(raw, RowError):
                accepted_or_rejected(lambda raw=raw: parsers[kind](raw))
    assert lines == sorted(set(lines))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(rows_of("persons", field_values), min_size=1, max_size=8))
def test_fuzz_rows_reach_the_store_or_the_rejects_file(
    service: ImportService, db: Engine, tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    """End to end on both backends: whatever the rows hold, the database never refuses a batch
    (PostgreSQL would abort it on a NUL or an over-long value)."""
    lines = []
    for row in rows:
        try:
            lines.append(json.dumps(row))
        except ValueError:
            lines.append("{}")
    path = tmp_path / "fuzz.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    with open_source(path, "persons") as source:
        summary = service.run(source, "test", batch_size=3)
    assert summary.written + summary.rejected == summary.rows_read == len(rows)
