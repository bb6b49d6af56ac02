"""``saglik refdata`` and ``saglik obs``: loading districts, the test records table, registering,
correcting, approving and returning death forms; ÖBS scope on ``saglik user``; refusing to serve
a store whose schema is behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from saglik.services.obs_fixtures import obs_fixtures
from saglik.store import accounts_repo, migrate, obs_repo
from saglik.store.schema import death_form_history, death_forms, districts
from tests.cli.conftest import Invoke, Store, assert_error, run_saglik
from tests.ports import free_port
from tests.services.obs_support import valid_form
from tests.store.readers import reading

PAST = "2025-01-10T08:30:00"  # the CLI runs on the system clock: a death safely in the past


def form_file(tmp_path: Path, name: str = "form.json", **changes: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(valid_form(died_at=PAST, **changes), ensure_ascii=False), "utf-8")
    return str(path)


def count(db: Engine, table=death_forms) -> int:  # type: ignore[no-untyped-def]
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture
def with_districts(cli: Invoke) -> None:
    result = cli("refdata", "import")
    assert result.exit_code == 0, result.output


def register(cli: Invoke, path: str, *options: str) -> tuple[str, str]:
    result = cli("obs", "register", path, *options)
    assert result.exit_code == 0, result.output
    words = result.stdout.split()
    assert (words[0], words[2]) == ("FormNo", "ReferansNo"), result.stdout
    return words[1], words[3]


# --- help --------------------------------------------------------------------------------------

HELP: dict[tuple[str, ...], str] = {
    ("obs",): "death forms",
    ("obs", "test-records"): "fixture",
    ("obs", "register"): "ReferansNo",
    ("obs", "correct"): "GetGuncellenenOlumlerByDate",
    ("obs", "approve"): "Approve",
    ("obs", "return"): "Return",
    ("refdata",): "districts",
    ("refdata", "import"): "district_code,plate,province,name",
    ("user", "add"): "--ilce",
}


@pytest.mark.parametrize("path", list(HELP), ids=" ".join)
def test_help_of_the_obs_commands(cli: Invoke, store_file: Store, path: tuple[str, ...]) -> None:
    result = cli(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout
    assert HELP[path] in result.stdout
    assert not store_file.path.exists(), "--help must not touch the store"


def test_user_add_help_explains_the_scope_options(cli: Invoke) -> None:
    out = cli("user", "add", "--help").stdout
    assert "--il" in out
    assert "plate code" in out


# --- refdata -----------------------------------------------------------------------------------


def test_refdata_import_without_a_path_loads_the_shipped_districts(cli: Invoke, db: Engine) -> None:
    result = cli("refdata", "import")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "973 districts loaded"
    assert count(db, districts) == 973
    again = cli("refdata", "import")
    assert again.stdout.strip() == "973 districts loaded"
    assert count(db, districts) == 973


def test_refdata_import_with_a_path_loads_that_table(
    cli: Invoke, db: Engine, tmp_path: Path
) -> None:
    other = tmp_path / "districts-2027.csv"
    other.write_text(
        "district_code,plate,province,name\n1231,6,Ankara,Çankaya Merkez\n99001,6,Ankara,Yeni\n",
        "utf-8",
    )
    result = cli("refdata", "import", str(other))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2 districts loaded"
    with db.connect() as conn:
        named = dict(conn.execute(select(districts.c.code, districts.c.name)).all())
    assert (named[1231], named[99001], len(named)) == ("Çankaya Merkez", "Yeni", 974)


def test_a_new_store_has_the_districts_without_a_step_of_its_own(cli: Invoke, db: Engine) -> None:
    assert cli("db", "upgrade").exit_code == 0
    assert count(db, districts) == 973


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("code,plate,name\n1,6,X\n", "the header must be district_code,plate,province,name"),
        (
            "district_code,plate,province,name\n90001,6,Ankara,X\n90002,99,Yok,Y\n",
            "bad.csv:3: plate 99 is not one of the 81 provinces",
        ),
        ("district_code,plate,province,name\n90001,6\n", "bad.csv:2:"),
    ],
)
def test_refdata_import_of_a_bad_file_is_one_red_line_and_writes_nothing(
    cli: Invoke, db: Engine, tmp_path: Path, text: str, fragment: str
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(text, "utf-8")
    assert_error(cli("refdata", "import", str(bad)), fragment)
    assert count(db, districts) == 973  # the shipped table the new store got, and nothing else


def test_refdata_import_of_a_file_that_is_not_utf8_is_one_red_line(
    cli: Invoke, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes("district_code,plate,province,name\n1,6,Ankara,Çankaya\n".encode("cp1254"))
    assert_error(cli("refdata", "import", str(bad)), "not UTF-8")


# --- test records ------------------------------------------------------------------------------


def test_test_records_table_lists_every_fixture_with_what_its_lookup_takes(
    cli: Invoke, store_file: Store
) -> None:
    result = cli("obs", "test-records")
    assert result.exit_code == 0, result.output
    flat = " ".join(result.stdout.split())
    for fx in obs_fixtures():
        row = next(line for line in result.stdout.splitlines() if fx.form_no in line)
        assert fx.referans_no in row
        assert (fx.form.identity_number or fx.form.passport_no) in row
        assert f"│ {fx.form.first_name} " in row
        assert f"│ {fx.form.last_name} " in row
        assert fx.form.birth_date is not None
        assert fx.form.birth_date.isoformat() in row
    for heading in ("first name", "last name", "born"):
        assert heading in result.stdout
    for word in ("T.C.", "vatandaşı", "pasaport", "Adli", "Anne", "İkamet", "Düzeltilmiş"):
        assert word in flat, word
    assert not store_file.path.exists(), "the table needs no store"


def test_test_records_json_has_the_six_categories(cli: Invoke) -> None:
    result = cli("obs", "test-records", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["category"] for r in rows] == [
        "T.C. vatandaşı",
        "Yabancı uyruklu (pasaport)",
        "Adli vaka",
        "Anne ölümü",
        "İkamet ili dışında ölüm",
        "Düzeltilmiş form",
    ]
    assert all(
        list(row)
        == [
            "category",
            "form_no",
            "referans_no",
            "identity_number",
            "passport_no",
            "first_name",
            "last_name",
            "birth_date",
        ]
        for row in rows
    )
    citizen, foreigner = rows[0], rows[1]
    assert (citizen["identity_number"], citizen["passport_no"]) == ("76883560160", None)
    assert (citizen["first_name"], citizen["last_name"]) == ("Mehmet Emin", "Yıldız")
    assert citizen["birth_date"] == "1941-05-02"
    assert (foreigner["identity_number"], foreigner["passport_no"]) == (None, "C01X00T47")
    assert (foreigner["first_name"], foreigner["last_name"]) == ("Anna Maria", "Schmidt")
    assert {(r["form_no"], r["referans_no"]) for r in rows} == {
        (fx.form_no, fx.referans_no) for fx in obs_fixtures()
    }


# --- register / correct / approve / return -----------------------------------------------------


@pytest.mark.usefixtures("with_districts")
def test_register_prints_the_numbers_and_stores_the_form(
    cli: Invoke, db: Engine, tmp_path: Path
) -> None:
    form_no, referans_no = register(cli, form_file(tmp_path))
    assert len(form_no) == 10
    assert form_no.isdigit()
    assert len(referans_no) == 8
    with reading(db) as readers:
        (record,) = obs_repo.by_form(readers, "live", form_no, referans_no, with_causes=True)
    assert (record.first_name, record.last_name) == ("AYŞE GÜL", "YILDIRIM")
    assert "10000000146" not in form_no + referans_no


@pytest.mark.usefixtures("with_districts")
def test_register_in_the_test_environment(cli: Invoke, db: Engine, tmp_path: Path) -> None:
    form_no, referans_no = register(cli, form_file(tmp_path), "--env", "test")
    with db.connect() as conn:
        assert obs_repo.form_id(conn, "test", form_no, referans_no) is not None
        assert obs_repo.form_id(conn, "live", form_no, referans_no) is None


@pytest.mark.usefixtures("with_districts")
@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("{not json", ("form.json:", "Invalid JSON")),
        ("", ("form.json:",)),
        (json.dumps(valid_form(died_at=PAST, sex=7)), ("form.json:", "sex:", "Cinsiyet")),
        (
            json.dumps(valid_form(died_at=PAST, identity_number="10000000147")),
            ("not a valid T.C. Kimlik No",),
        ),
        (json.dumps(valid_form(died_at=PAST, death_province=34)), ("not in province 34",)),
        (json.dumps(valid_form(died_at="2099-01-01T00:00:00")), ("died_at is in the future",)),
    ],
    ids=["broken", "empty", "code", "tckn", "district", "future"],
)
def test_an_invalid_form_is_one_clear_line_and_nothing_is_written(
    cli: Invoke, db: Engine, tmp_path: Path, content: str, fragments: tuple[str, ...]
) -> None:
    path = tmp_path / "form.json"
    path.write_text(content, "utf-8")
    line = assert_error(cli("obs", "register", str(path)), *fragments)
    for personal in ("10000000146", "10000000147", "AYŞE", "ayşe", "yıldırım", "1950-04-01"):
        assert personal not in line
    assert count(db) == 0


def test_register_of_a_missing_file_is_a_usage_error(cli: Invoke, tmp_path: Path) -> None:
    result = cli("obs", "register", str(tmp_path / "nope.json"))
    assert result.exit_code == 2
    assert result.stdout == ""


@pytest.mark.usefixtures("with_districts")
def test_correct_then_approve_then_return(cli: Invoke, db: Engine, tmp_path: Path) -> None:
    form_no, referans_no = register(cli, form_file(tmp_path))
    fixed = form_file(tmp_path, "fixed.json", manner=3, causes=[{"kind": 1, "icd_code": "S069"}])
    result = cli("obs", "correct", form_no, "--referans", referans_no, fixed)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "corrected: causes, manner"

    same = cli("obs", "correct", form_no, "--referans", referans_no.lower(), fixed)
    assert same.stdout.strip() == "corrected: no field changed"

    approved = cli("obs", "approve", form_no, "--referans", referans_no)
    assert (approved.exit_code, approved.stdout.strip()) == (0, "approved")
    returned = cli("obs", "return", form_no, "--referans", referans_no)
    assert (returned.exit_code, returned.stdout.strip()) == (0, "returned")

    with db.connect() as conn:
        actions = (
            conn.execute(select(death_form_history.c.action).order_by(death_form_history.c.id))
            .scalars()
            .all()
        )
    with reading(db) as readers:
        (record,) = obs_repo.by_form(readers, "live", form_no, referans_no, with_causes=True)
    assert actions == ["registered", "corrected", "corrected", "approved", "returned"]
    assert record.manner == 3
    assert [c.icd_code for c in record.causes] == ["S06.9"]
    assert record.updated_at is not None


@pytest.mark.usefixtures("with_districts")
@pytest.mark.parametrize("command", ["correct", "approve", "return"])
def test_a_wrong_reference_is_one_red_line(
    cli: Invoke, db: Engine, tmp_path: Path, command: str
) -> None:
    path = form_file(tmp_path)
    form_no, referans_no = register(cli, path)
    wrong = "ZZZZZZZZ" if referans_no != "ZZZZZZZZ" else "YYYYYYYY"
    extra = (path,) if command == "correct" else ()
    assert_error(
        cli("obs", command, form_no, "--referans", wrong, *extra),
        "no form with that FormNo and ReferansNo",
    )
    assert_error(
        cli("obs", command, form_no, "--referans", referans_no, "--env", "test", *extra),
        "no form with that FormNo and ReferansNo",
    )
    assert count(db, death_form_history) == 1


@pytest.mark.usefixtures("with_districts")
def test_an_invalid_correction_changes_nothing(cli: Invoke, db: Engine, tmp_path: Path) -> None:
    form_no, referans_no = register(cli, form_file(tmp_path))
    bad = form_file(tmp_path, "bad.json", sex=1, maternal_status=3)
    assert_error(
        cli("obs", "correct", form_no, "--referans", referans_no, bad),
        "bad.json:",
        "maternal_status applies to women only",
    )
    assert count(db, death_form_history) == 1


def test_an_unknown_environment_is_refused(cli: Invoke, tmp_path: Path) -> None:
    result = cli("obs", "approve", "1234567890", "--referans", "ABCDEFGH", "--env", "prod")
    assert result.exit_code == 2
    assert "live" in result.stderr
    assert "test" in result.stderr


# --- user scope --------------------------------------------------------------------------------


@pytest.fixture
def institution(cli: Invoke) -> str:
    assert cli("institution", "add", "İl Sağlık Müdürlüğü").exit_code == 0
    return "İl Sağlık Müdürlüğü"


def add_user(cli: Invoke, username: str, *options: str):  # type: ignore[no-untyped-def]
    return cli(
        "user",
        "add",
        username,
        "--institution",
        "İl Sağlık Müdürlüğü",
        "--env",
        "test",
        "--all-methods",
        *options,
    )


@pytest.mark.usefixtures("with_districts", "institution")
def test_user_add_with_a_province_and_district_scope(cli: Invoke, db: Engine) -> None:
    assert add_user(cli, "cankaya", "--il", "6", "--ilce", "1231").exit_code == 0
    assert add_user(cli, "ankara", "--il", "6").exit_code == 0
    assert add_user(cli, "ulke").exit_code == 0
    with db.connect() as conn:
        for username, scope in (
            ("cankaya", (6, 1231)),
            ("ankara", (6, None)),
            ("ulke", (None, None)),
        ):
            user = accounts_repo.find_user(conn, "test", username)
            assert user is not None
            assert (user.province_code, user.district_code) == scope

    out = cli("user", "list").stdout
    header = next(line for line in out.splitlines() if "username" in line)
    assert header.split("┃")[-2].strip() == "scope"

    def scope_cell(username: str) -> str:
        row = next(line for line in out.splitlines() if f" {username} " in line)
        return row.split("│")[-2].strip()

    assert scope_cell("cankaya") == "il 6, ilçe 1231"
    assert scope_cell("ankara") == "il 6"
    assert scope_cell("ulke") == "country"


@pytest.mark.usefixtures("with_districts", "institution")
@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (("--il", "34", "--ilce", "1231"), "district 1231 is not in province 34"),
        (("--il", "6", "--ilce", "999999"), "unknown district code"),
        (("--ilce", "1231"), "a district scope needs its province (--il)"),
        (("--il", "82"), "province must be a plate code from 1 to 81"),
        (("--il", "0"), "province must be a plate code from 1 to 81"),
    ],
)
def test_user_add_with_a_bad_scope_is_one_red_line(
    cli: Invoke, db: Engine, options: tuple[str, ...], fragment: str
) -> None:
    assert_error(add_user(cli, "kotu", *options), fragment)
    with db.connect() as conn:
        assert accounts_repo.find_user(conn, "test", "kotu") is None


@pytest.mark.usefixtures("institution")
def test_a_district_not_in_the_table_names_the_import(cli: Invoke) -> None:
    assert_error(add_user(cli, "erken", "--il", "6", "--ilce", "99999"), "saglik refdata import")


# --- a store behind this version ---------------------------------------------------------------


def test_serve_refuses_a_store_at_0001_and_names_db_upgrade(
    store_file: Store, tmp_path: Path
) -> None:
    engine = store_file.engine()
    try:
        migrate.upgrade(engine, "0001")
    finally:
        engine.dispose()

    done = run_saglik(
        ["serve", "--port", str(free_port())], env_url=store_file.url, cwd=tmp_path, timeout=30
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "saglik db upgrade" in done.stderr
    assert "0001" in done.stderr
    assert "listening" not in done.stdout
    assert "password" not in done.stdout
    engine = store_file.engine()
    try:
        assert migrate.current_revision(engine) == "0001", "the store is left as it was"
    finally:
        engine.dispose()


def test_obs_commands_on_a_store_behind_name_db_upgrade(
    cli: Invoke, store_file: Store, tmp_path: Path
) -> None:
    engine = store_file.engine()
    try:
        migrate.upgrade(engine, "0001")
    finally:
        engine.dispose()
    assert_error(cli("obs", "register", form_file(tmp_path)), "saglik db upgrade")
    assert_error(cli("refdata", "import"), "saglik db upgrade")
    assert cli("db", "upgrade").exit_code == 0
    assert cli("refdata", "import").exit_code == 0
