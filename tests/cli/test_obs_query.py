"""``saglik obs deaths | lookup | death-date`` against a real server on a loopback socket, on the
test environment's fixture death forms: what is printed is the service's answer with its own
names and time format, and the exit status tells found (0), not found or refused parameters (1),
usage or credentials (2), and the service refusing us (3) apart."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from saglik.domain.tckn import random_tckn
from saglik.services.obs_fixtures import apply_obs_fixtures
from tests.cli.conftest import assert_error
from tests.cli.query_support import (  # noqa: F401 (fixtures)
    Query,
    query_fixture,
    raw,
    sandbox_user_fixture,
    use,
)
from tests.conftest import Credential, LiveServer

REGISTERED = "2025-03-14"
CORRECTED = "2025-03-16"
_rng = random.Random()


@pytest.fixture(autouse=True)
def _fixtures(server: LiveServer) -> None:
    apply_obs_fixtures(server.engine)


@pytest.fixture
def records(query: Query) -> dict[str, dict[str, Any]]:
    """The fixture forms by category, as ``saglik obs test-records --json`` lists them."""
    listed = query("obs", "test-records", "--json")
    assert listed.exit_code == 0, listed.output
    return {row["category"]: row for row in json.loads(listed.stdout)}


CITIZEN = "T.C. vatandaşı"
FOREIGNER = "Yabancı uyruklu (pasaport)"
FORENSIC = "Adli vaka"
CORRECTED_FORM = "Düzeltilmiş form"
CITIZEN_QUERY = {
    "TcKimlikNo": "76883560160",
    "Adi": "Mehmet Emin",
    "Soyadi": "Yıldız",
    "DogumTarihi": "1941-05-02",
}
CITIZEN_ARGS = (
    "--tc",
    "76883560160",
    "--first-name",
    "mehmet emin",
    "--last-name",
    "YILDIZ",
    "--birth-date",
    "1941-05-02",
)


def _ok(result: Any, code: int = 0) -> Any:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result


def _forms(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The (FormNo, ReferansNo) pairs of the service's answer."""
    return [(row["FormNo"], row["ReferansNo"]) for row in rows]


def _listed(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The (FormNo, ReferansNo) pairs of ``saglik obs test-records --json``."""
    return [(row["form_no"], row["referans_no"]) for row in rows]


# --- deaths ----------------------------------------------------------------------------------


def test_deaths_of_a_day_as_json_csv_and_table(
    server: LiveServer,
    query: Query,
    sandbox_user: Credential,
    records: dict[str, dict[str, Any]],
) -> None:
    answered = raw(
        server, sandbox_user, "GET", "OBS/GetTumOlumlerByDate", params={"Tarih": REGISTERED}
    )["Result"]
    assert sorted(_forms(answered)) == sorted(_listed(list(records.values())))

    as_json = _ok(query("obs", "deaths", "--date", REGISTERED, "-o", "json"))
    assert json.loads(as_json.stdout) == answered
    assert as_json.stderr == f"{len(answered)} forms\n"

    as_csv = _ok(query("obs", "deaths", "--date", REGISTERED, "--output", "csv"))
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["FormNo", "ReferansNo"],
        *[[row["FormNo"], row["ReferansNo"]] for row in answered],
    ]

    table = _ok(query("obs", "deaths", "--date", REGISTERED)).stdout
    assert "FormNo" in table
    for form_no, referans_no in _forms(answered):
        assert any(form_no in line and referans_no in line for line in table.splitlines())


def test_deaths_of_one_province(
    query: Query, sandbox_user: Credential, records: dict[str, dict[str, Any]]
) -> None:
    result = _ok(query("obs", "deaths", "--date", REGISTERED, "--il", "61", "-o", "json"))
    assert _forms(json.loads(result.stdout)) == _listed([records[FORENSIC]])
    assert result.stderr == "1 form\n"


def test_forensic_and_updated_lists(
    query: Query, sandbox_user: Credential, records: dict[str, dict[str, Any]]
) -> None:
    forensic = _ok(query("obs", "deaths", "--date", REGISTERED, "--forensic", "-o", "json"))
    assert _forms(json.loads(forensic.stdout)) == _listed([records[FORENSIC]])
    updated = _ok(query("obs", "deaths", "--date", CORRECTED, "--updated", "-o", "json"))
    assert _forms(json.loads(updated.stdout)) == _listed([records[CORRECTED_FORM]])
    assert updated.stderr == "1 updated form\n"


def test_a_day_without_deaths_is_an_empty_answer_not_an_error(
    query: Query, sandbox_user: Credential
) -> None:
    result = _ok(query("obs", "deaths", "--date", "2025-03-20", "-o", "json"))
    assert json.loads(result.stdout) == []
    assert result.stderr == "0 forms\n"


def test_a_scoped_user_sees_its_province_only(
    server: LiveServer,
    query: Query,
    make_user: Callable[..., Credential],
    records: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = make_user(env="test", province_code=61)
    use(monkeypatch, server, user)
    query.secrets.append(user.password)
    result = _ok(query("obs", "deaths", "--date", REGISTERED, "-o", "json"))
    assert _forms(json.loads(result.stdout)) == _listed([records[FORENSIC]])
    assert_error(query("obs", "lookup", *CITIZEN_ARGS), "not found", code=1)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--date", "14.03.2025"), "--date must be a date written YYYY-MM-DD"),
        (("--date", "2025-02-30"), "YYYY-MM-DD"),
        (("--date", REGISTERED, "--forensic", "--updated"), "give one"),
    ],
    ids=["format", "no-such-day", "two-lists"],
)
def test_deaths_usage_errors(
    query: Query, sandbox_user: Credential, args: tuple[str, ...], fragment: str
) -> None:
    assert_error(query("obs", "deaths", *args), fragment)


def test_a_province_outside_1_to_81_is_a_usage_error(
    query: Query, sandbox_user: Credential
) -> None:
    result = query("obs", "deaths", "--date", REGISTERED, "--il", "82")
    assert result.exit_code == 2
    assert result.stdout == ""


# --- lookup ----------------------------------------------------------------------------------


@pytest.mark.parametrize("full", [False, True], ids=["basic", "full"])
def test_lookup_by_tc_prints_the_record_as_the_service_answered(
    server: LiveServer, query: Query, sandbox_user: Credential, full: bool
) -> None:
    method = "GetOlumByTcKimlikNoFull" if full else "GetOlumByTcKimlikNoBasic"
    answered = raw(server, sandbox_user, "GET", f"OBS/{method}", params=CITIZEN_QUERY)["Result"]
    args = (*CITIZEN_ARGS, "--full") if full else CITIZEN_ARGS
    printed = json.loads(_ok(query("obs", "lookup", *args, "-o", "json")).stdout)
    assert printed == answered
    assert list(printed) == list(answered), "the service's field order"
    assert printed["OlumTarihi"] == "2025-03-13T06:40:00"
    assert ("OlumNedenleri" in printed) is full


def test_lookup_table_shows_fields_and_the_cause_chain(
    query: Query, sandbox_user: Credential
) -> None:
    table = _ok(query("obs", "lookup", *CITIZEN_ARGS, "--full")).stdout
    rows = {line.split()[1]: line for line in table.splitlines() if line.startswith("│")}
    assert "76883560160" in rows["TcKimlikNo"]
    assert "MEHMET EMİN" in rows["Adi"]
    assert "2025-03-13T06:40:00" in rows["OlumTarihi"]
    assert "OlumNedenleri" in table
    assert "I21.9" in table


def test_lookup_by_form_and_by_passport(
    server: LiveServer,
    query: Query,
    sandbox_user: Credential,
    records: dict[str, dict[str, Any]],
) -> None:
    forensic = records[FORENSIC]
    by_form = json.loads(
        _ok(
            query(
                "obs",
                "lookup",
                "--form",
                forensic["form_no"],
                "--referans",
                forensic["referans_no"],
                "--full",
                "-o",
                "json",
            )
        ).stdout
    )
    assert (
        by_form
        == raw(
            server,
            sandbox_user,
            "GET",
            "OBS/GetOlumByFormNoFull",
            params={"FormNo": forensic["form_no"], "ReferansNo": forensic["referans_no"]},
        )["Result"]
    )
    assert by_form["OtopsiYapildiMi"] is True

    foreigner = records[FOREIGNER]
    passport = json.loads(
        _ok(
            query(
                "obs",
                "lookup",
                "--passport",
                foreigner["passport_no"],
                "--first-name",
                "Anna Maria",
                "--last-name",
                "Schmidt",
                "-o",
                "json",
            )
        ).stdout
    )
    assert passport["FormNo"] == foreigner["form_no"]
    assert passport["TcKimlikNo"] is None


def test_lookup_not_found_is_exit_1(query: Query, sandbox_user: Credential) -> None:
    args = list(CITIZEN_ARGS)
    args[3] = "Mehmet"  # the record's first name is Mehmet Emin: every field must match
    assert_error(
        query("obs", "lookup", *args), "not found", "Arama kriterlerine uygun kayıt", code=1
    )


def test_lookup_refused_parameters_are_exit_1_with_the_service_message(
    query: Query, sandbox_user: Credential
) -> None:
    args = list(CITIZEN_ARGS)
    args[1] = "76883560161"  # check digits wrong
    assert_error(query("obs", "lookup", *args), "TcKimlikNo geçerli", code=1)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((), "give one of --tc, --form or --passport"),
        (("--tc", "76883560160", "--form", "9000000011"), "give one of"),
        (("--tc", "76883560160", "--first-name", "A"), "--tc needs --last-name, --birth-date"),
        (("--form", "9000000011"), "--form needs --referans"),
        (("--form", "9000000011", "--referans", "X", "--first-name", "A"), "does not apply"),
        (
            ("--passport", "P1", "--first-name", "A", "--last-name", "B", "--referans", "X"),
            "--referans",
        ),
        ((*CITIZEN_ARGS[:-1], "02.05.1941"), "--birth-date must be a date"),
    ],
    ids=["none", "two", "tc-missing", "form-missing", "form-extra", "passport-extra", "birth"],
)
def test_lookup_usage_errors(
    query: Query, sandbox_user: Credential, args: tuple[str, ...], fragment: str
) -> None:
    assert_error(query("obs", "lookup", *args), fragment)


# --- death-date ------------------------------------------------------------------------------


def test_death_date(server: LiveServer, query: Query, sandbox_user: Credential) -> None:
    answered = raw(
        server,
        sandbox_user,
        "GET",
        "OBS/GetOlumTarihiByTcKimlikNo",
        params={"TcKimlikNo": CITIZEN_QUERY["TcKimlikNo"]},
    )["Result"]
    result = _ok(query("obs", "death-date", "--tc", CITIZEN_QUERY["TcKimlikNo"]))
    assert result.stdout == f"{answered}\n"
    assert answered == "2025-03-13T06:40:00"
    assert result.stderr == ""


def test_death_date_not_found_and_invalid(query: Query, sandbox_user: Credential) -> None:
    assert_error(query("obs", "death-date", "--tc", random_tckn(_rng)), "not found", code=1)
    assert_error(query("obs", "death-date", "--tc", "12345"), "TcKimlikNo", code=1)


# --- credentials -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("deaths", "--date", REGISTERED),
        ("lookup", *CITIZEN_ARGS),
        ("death-date", "--tc", "76883560160"),
    ],
    ids=lambda c: c[0],
)
def test_wrong_password_is_exit_3_and_never_printed(
    query: Query,
    sandbox_user: Credential,
    monkeypatch: pytest.MonkeyPatch,
    command: tuple[str, ...],
) -> None:
    wrong = "Wr0ng-" + sandbox_user.password
    monkeypatch.setenv("SAGLIK_CLIENT_PASSWORD", wrong)
    query.secrets.append(wrong)
    assert_error(query("obs", *command), "refused", "HTTP 500", code=3)


def test_a_method_not_granted_reads_like_a_wrong_password(
    server: LiveServer,
    query: Query,
    make_user: Callable[..., Credential],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = make_user(env="test", methods=("GetTumOlumlerByDate",))
    use(monkeypatch, server, user)
    query.secrets.append(user.password)
    _ok(query("obs", "deaths", "--date", REGISTERED, "-o", "json"))
    assert_error(query("obs", "death-date", "--tc", "76883560160"), "HTTP 500", code=3)


@pytest.mark.parametrize(
    "command",
    [("deaths", "--date", REGISTERED), ("death-date", "--tc", "76883560160")],
    ids=lambda c: c[0],
)
def test_no_credentials_is_exit_2_naming_the_variables(
    query: Query, command: tuple[str, ...]
) -> None:
    assert_error(query("obs", *command), "SAGLIK_CLIENT_USERNAME", "SAGLIK_CLIENT_PASSWORD")


@pytest.mark.parametrize("command", ["deaths", "lookup", "death-date"])
def test_help_says_where_credentials_come_from_and_what_exit_codes_mean(
    query: Query, command: str
) -> None:
    result = _ok(query("obs", command, "--help"))
    text = " ".join(result.stdout.replace("│", " ").split())
    for words in ("SAGLIK_CLIENT_PASSWORD", "SAGLIK_CLIENT_CONFIG", "0600", "Exit status"):
        assert words in text
    assert "--password" not in text
