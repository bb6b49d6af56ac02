"""``saglik hes check`` against a real server on a loopback socket: what it prints is what the
service answered, a roster file with bad lines still checks the good ones, and the exit status
tells a script what happened (0 all found, 1 some not, 2 usage/credentials, 3 refused,
4 unavailable)."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from saglik.domain.tckn import random_tckn
from saglik.services.fixtures import apply_hes_fixtures
from tests.cli.conftest import assert_error, run_saglik
from tests.cli.query_support import (  # noqa: F401 (fixtures)
    Query,
    clear_client_env,
    query_fixture,
    raw,
    sandbox_user_fixture,
    use,
)
from tests.conftest import Credential, Holder, LiveServer

RESULT_FIELDS = [
    "expiration_date",
    "current_health_status",
    "masked_identity_number",
    "masked_firstname",
    "masked_lastname",
]
PLUS_FIELDS = ["is_vaccinated", "is_immune", "is_test_data_shared", "last_negative_test_date"]
UNKNOWN = "Z9Z99999Z9"

_rng = random.Random()


@pytest.fixture(autouse=True)
def _fixtures_now(server: LiveServer) -> None:
    """The sandbox fixtures laid relative to the (reset) clock, whatever an earlier test did."""
    apply_hes_fixtures(server.engine, server.clock)


@pytest.fixture
def codes(query: Query) -> dict[str, str]:
    """The test environment's fixture codes by category, as ``saglik hes test-codes`` lists them."""
    listed = query("hes", "test-codes", "--json")
    assert listed.exit_code == 0, listed.output
    return {row["category"]: row["hes_code"] for row in json.loads(listed.stdout)}


def _ok(result: Any, code: int = 0) -> Any:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result


def _bulk(server: LiveServer, user: Credential, codes: list[str], plus: bool) -> Any:
    method = "check-hes-codes-plus" if plus else "check-hes-codes"
    return raw(server, user, "POST", f"hes/{method}", json=[{"hes_code": c} for c in codes])


# --- output formats --------------------------------------------------------------------------


def test_codes_as_arguments_print_a_table(
    query: Query, sandbox_user: Credential, codes: dict[str, str]
) -> None:
    riskless, risky = codes["Risksiz"], codes["Riskli"]
    dashed = f"{riskless[:4]}-{riskless[4:8]}-{riskless[8:]}".lower()
    result = _ok(query("hes", "check", dashed, risky))
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("#"))
    assert header.split()[:6] == ["#", "code", "status", "expires", "(UTC)", "health"]
    row = next(line for line in lines if riskless in line)
    assert "found" in row
    assert "RISKLESS" in row
    assert "RISKY" in next(line for line in lines if risky in line)
    assert dashed not in result.stdout, "codes are shown as sent: normalised"
    assert result.stderr.strip() == "2 codes: 2 found"


@pytest.mark.parametrize("lines_in_file", [0, 9, 999])
def test_the_table_fits_80_columns_with_every_value_whole(
    query: Query,
    sandbox_user: Credential,
    codes: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    lines_in_file: int,
) -> None:
    """Arguments, or a file whose line numbers take one to three digits."""
    monkeypatch.setenv("COLUMNS", "80")
    wanted = [codes["Aşı & Bağışıklık & PCR Test Sonucu"], codes["Riskli"], UNKNOWN]
    if lines_in_file:
        roster = tmp_path / "roster.txt"
        roster.write_text("\n" * (lines_in_file - len(wanted)) + "\n".join(wanted) + "\n")
        result = _ok(query("hes", "check", "--file", str(roster)), code=1)
    else:
        result = _ok(query("hes", "check", *wanted), code=1)
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)
    assert any(line.split()[:3] == ["#", "code", "status"] for line in lines)
    found = next(line for line in lines if wanted[0] in line).split()
    assert found[2:4] == ["found", _expiry_of(result.stdout)]
    assert found[4] == "RISKLESS"
    assert any(re.fullmatch(r"\*{8}\d{3}", word) for word in found[5:])
    assert next(line for line in lines if UNKNOWN in line).split()[2:] == ["not", "found"]


def _expiry_of(text: str) -> str:
    match = re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", text)
    assert match is not None, text
    return match.group(0)


def test_a_terminal_too_narrow_for_the_table_gets_one_block_per_code(
    query: Query, sandbox_user: Credential, codes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    pcr = codes["PCR Test Sonucu"]
    result = _ok(query("hes", "check", "--plus", pcr, UNKNOWN), code=1)
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0].split() == ["line", "1", pcr, "found"]
    assert any(line.split()[:3] == ["negative", "test", "(UTC)"] for line in lines)
    assert lines[-1].split() == ["line", "2", UNKNOWN, "not", "found"]
    assert all(len(line) <= 80 for line in lines)


def test_json_is_what_the_service_answered(
    server: LiveServer, query: Query, sandbox_user: Credential, codes: dict[str, str]
) -> None:
    valid = [code for category, code in codes.items() if category != "Süresi dolmuş"]
    result = _ok(query("hes", "check", "--plus", "--output", "json", *valid))
    printed = json.loads(result.stdout)
    answered = _bulk(server, sandbox_user, valid, plus=True)["success_map"]
    assert [item["code"] for item in printed] == valid
    assert [item["line"] for item in printed] == list(range(1, len(valid) + 1))
    for item in printed:
        assert item["status"] == "found"
        assert item["result"] == answered[item["code"]]
        assert list(item["result"]) == RESULT_FIELDS + PLUS_FIELDS


def test_csv_has_one_row_per_code_in_input_order(
    server: LiveServer, query: Query, sandbox_user: Credential, codes: dict[str, str]
) -> None:
    asked = [codes["Aşı & Bağışıklık & PCR Test Sonucu"], UNKNOWN, codes["Süresi dolmuş"]]
    result = _ok(query("hes", "check", "-o", "csv", *asked), code=1)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["line", "code", "status", "error", *RESULT_FIELDS]
    assert [(r["line"], r["code"], r["status"], r["error"]) for r in rows] == [
        ("1", asked[0], "found", ""),
        ("2", UNKNOWN, "not_found", "hescodenotfound"),
        ("3", asked[2], "expired", "hescodehasbeenexpired"),
    ]
    answered = _bulk(server, sandbox_user, asked[:1], plus=False)["success_map"][asked[0]]
    assert {k: rows[0][k] for k in RESULT_FIELDS} == answered
    assert all(rows[i][k] == "" for i in (1, 2) for k in RESULT_FIELDS)
    assert result.stderr.strip() == "3 codes: 1 found, 1 not found, 1 expired"


def test_plus_csv_writes_null_as_empty_and_booleans_as_json_does(
    query: Query, sandbox_user: Credential, codes: dict[str, str]
) -> None:
    asked = [codes["Aşı"], codes["İzin verilmemiş"]]
    result = _ok(query("hes", "check", "--plus", "-o", "csv", *asked))
    vaccinated, not_shared = csv.DictReader(io.StringIO(result.stdout))
    assert (vaccinated["is_vaccinated"], vaccinated["is_immune"]) == ("true", "false")
    assert vaccinated["last_negative_test_date"] == ""
    assert (not_shared["is_vaccinated"], not_shared["is_test_data_shared"]) == ("", "false")


def test_live_environment_with_a_live_user(
    server: LiveServer,
    query: Query,
    make_user: Callable[..., Credential],
    make_holder: Callable[..., Holder],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    holder = make_holder(env="live", first_name="Gökçe", last_name="Işık")
    user = make_user(env="live")
    use(monkeypatch, server, user)
    query.secrets.append(user.password)
    result = _ok(query("hes", "check", "-o", "json", holder.code))
    (item,) = json.loads(result.stdout)
    assert item["status"] == "found"
    assert item["result"]["masked_firstname"] == "GÖ****"
    assert item["result"]["masked_lastname"] == "IŞ****"
    assert item["result"]["masked_identity_number"] == "********" + holder.identity_number[-3:]


# --- files -----------------------------------------------------------------------------------


def _mixed_file(tmp_path: Path, codes: dict[str, str]) -> tuple[Path, str]:
    bad_payload = f"{random_tckn(_rng)}|{codes['Aşı']}|X"
    vaccinated = codes["Aşı"]
    lines = [
        vaccinated,  # 1
        "",  # 2 blank: skipped
        f"{codes['Riskli'][:4]}-{codes['Riskli'][4:8]}-{codes['Riskli'][8:]}",  # 3 dashed
        f"{random_tckn(_rng)}|{codes['Risksiz']}",  # 4 a scanned QR payload
        codes["Süresi dolmuş"],  # 5 expired
        UNKNOWN,  # 6 unknown
        "not a code",  # 7 invalid
        bad_payload,  # 8 invalid (a QR payload with a T.C. Kimlik No in it)
        vaccinated.lower(),  # 9 the same code again
    ]
    path = tmp_path / "codes.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, bad_payload


def test_a_file_with_found_expired_unknown_and_invalid_lines(
    tmp_path: Path, query: Query, sandbox_user: Credential, codes: dict[str, str]
) -> None:
    path, bad_payload = _mixed_file(tmp_path, codes)
    result = _ok(query("hes", "check", "--file", str(path), "-o", "json"), code=1)
    printed = json.loads(result.stdout)
    assert [(i["line"], i["code"], i["status"]) for i in printed] == [
        (1, codes["Aşı"], "found"),
        (3, codes["Riskli"], "found"),
        (4, codes["Risksiz"], "found"),
        (5, codes["Süresi dolmuş"], "expired"),
        (6, UNKNOWN, "not_found"),
        (7, None, "invalid"),
        (8, None, "invalid"),
        (9, codes["Aşı"], "found"),
    ]
    assert printed[0]["result"] == printed[-1]["result"]
    assert printed[5]["error"] == "invalid"
    assert "not a HES code" in printed[5]["reason"]
    stderr = result.stderr.splitlines()
    assert stderr[0].startswith("line 7: not a HES code")
    assert stderr[1].startswith("line 8: not a HES QR payload")
    assert stderr[-1] == "8 lines: 4 found, 1 not found, 1 expired, 2 invalid"
    tckn = bad_payload.split("|")[0]
    assert tckn not in result.stdout
    assert tckn not in result.stderr, "a bad line is reported by number, never by content"


def test_a_csv_roster_with_a_hes_code_column(
    tmp_path: Path, query: Query, sandbox_user: Credential, codes: dict[str, str]
) -> None:
    path = tmp_path / "staff.csv"
    path.write_text(
        "\ufeffname,HES_Code,unit\n"
        f'"Yılmaz, Ayşe",{codes["Aşı"]},A\n'
        "Kaya Ali,,B\n"
        f"Demir Can,{UNKNOWN},C\n",
        encoding="utf-8",
    )
    result = _ok(query("hes", "check", "-f", str(path), "-o", "csv"), code=1)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["line"], r["code"], r["status"]) for r in rows] == [
        ("2", codes["Aşı"], "found"),
        ("3", "", "invalid"),
        ("4", UNKNOWN, "not_found"),
    ]
    assert "line 3: no value in column hes_code" in result.stderr


def test_column_names_the_code_column_and_semicolons_delimit(
    tmp_path: Path, query: Query, sandbox_user: Credential, codes: dict[str, str]
) -> None:
    path = tmp_path / "visitors.csv"
    path.write_text(f"ziyaretci;kod\nA;{codes['Riskli']}\nB;{codes['Risksiz']}\n", "utf-8")
    result = _ok(query("hes", "check", "-f", str(path), "--column", "KOD", "-o", "json"))
    assert [(i["line"], i["status"]) for i in json.loads(result.stdout)] == [
        (2, "found"),
        (3, "found"),
    ]


def test_codes_from_standard_input(
    query: Query, sandbox_user: Credential, codes: dict[str, str]
) -> None:
    result = _ok(query("hes", "check", "-f", "-", "-o", "csv", input=f"{codes['Aşı']}\n"))
    assert result.stdout.splitlines()[1].startswith(f"1,{codes['Aşı']},found,")


def test_a_roster_larger_than_one_request_shows_progress_on_a_terminal(
    tmp_path: Path,
    query: Query,
    sandbox_user: Credential,
    codes: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unknown = sorted({f"Q{_rng.randrange(10**9):09d}" for _ in range(1200)})
    path = tmp_path / "roster.txt"
    path.write_text("\n".join([codes["Aşı"], *unknown, codes["Riskli"]]) + "\n", "utf-8")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # what Rich reads to treat stderr as a terminal
    result = _ok(query("hes", "check", "-f", str(path), "-o", "csv", "--concurrency", "3"), code=1)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(unknown) + 2
    assert [r["status"] for r in (rows[0], rows[-1])] == ["found", "found"]
    assert {r["status"] for r in rows[1:-1]} == {"not_found"}
    total = len(unknown) + 2
    assert "checking" in result.stderr
    assert f"{total}/{total}" in result.stderr
    assert f"{total} lines: 2 found, {len(unknown)} not found" in result.stderr


def test_no_progress_bar_when_standard_error_is_not_a_terminal(
    tmp_path: Path, query: Query, sandbox_user: Credential, codes: dict[str, str]
) -> None:
    path = tmp_path / "codes.txt"
    path.write_text(codes["Aşı"] + "\n", "utf-8")
    result = _ok(query("hes", "check", "-f", str(path), "-o", "csv"))
    assert result.stderr == "1 line: 1 found\n"


def test_the_installed_command_in_its_own_process(
    tmp_path: Path,
    server: LiveServer,
    query: Query,
    sandbox_user: Credential,
    codes: dict[str, str],
) -> None:
    path = tmp_path / "codes.txt"
    path.write_text(f"{codes['Aşı']}\n{UNKNOWN}\n", "utf-8")
    env = {k: v for k, v in os.environ.items() if k.startswith("SAGLIK_CLIENT_")}
    done = run_saglik(
        ["hes", "check", "-f", str(path), "-o", "json"],
        env_url=f"sqlite:///{tmp_path}/unused.db",
        cwd=tmp_path,
        extra_env=env,
    )
    assert done.returncode == 1, done.stderr
    assert [i["status"] for i in json.loads(done.stdout)] == ["found", "not_found"]
    assert done.stderr == "2 lines: 1 found, 1 not found\n"
    assert sandbox_user.password not in done.stdout + done.stderr
    assert not (tmp_path / "unused.db").exists()


# --- usage errors (exit 2) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((), "no codes"),
        (("A1S10001S1", "--file", "x.txt"), "not both"),
        (("A1S10001S1", "--column", "code"), "--column applies"),
        (("--file", "/no/such/file.txt"), "cannot read /no/such/file.txt"),
    ],
    ids=["nothing", "both", "column-without-file", "unreadable"],
)
def test_usage_errors_are_one_red_line(
    query: Query, sandbox_user: Credential, args: tuple[str, ...], fragment: str
) -> None:
    assert_error(query("hes", "check", *args), fragment)


def test_a_csv_without_a_code_column_is_refused(
    tmp_path: Path, query: Query, sandbox_user: Credential
) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("name,number\nAli,A1S10001S1\n", "utf-8")
    assert_error(query("hes", "check", "-f", str(path)), "no hes_code or code column", "--column")
    assert_error(query("hes", "check", "-f", str(path), "--column", "kod"), "no column 'kod'")


def test_an_empty_file_is_refused(tmp_path: Path, query: Query, sandbox_user: Credential) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("\n\n", "utf-8")
    assert_error(query("hes", "check", "-f", str(path)), "no codes in it")


def test_a_file_that_is_not_utf8_is_refused(
    tmp_path: Path, query: Query, sandbox_user: Credential
) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("kod\nİ\n".encode("cp1254"))
    assert_error(query("hes", "check", "-f", str(path)), "not UTF-8")


# --- credentials -----------------------------------------------------------------------------


def test_no_credentials_is_exit_2_naming_the_variables(query: Query) -> None:
    line = assert_error(query("hes", "check", "A1S10001S1"), "SAGLIK_CLIENT_USERNAME")
    assert "SAGLIK_CLIENT_PASSWORD" in line


def test_wrong_password_is_exit_3_and_never_printed(
    server: LiveServer, query: Query, sandbox_user: Credential, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "Wr0ng-" + sandbox_user.password
    monkeypatch.setenv("SAGLIK_CLIENT_PASSWORD", wrong)
    query.secrets.append(wrong)
    assert_error(query("hes", "check", "A1S10001S1"), "refused", "HTTP 401", code=3)


def test_a_test_credential_on_the_live_service_is_exit_3(
    server: LiveServer, query: Query, sandbox_user: Credential, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAGLIK_CLIENT_BASE_URL", server.base_url + "/services/g2g/saglik")
    assert_error(query("hes", "check", "A1S10001S1"), "HTTP 403", code=3)


def test_a_method_not_granted_is_exit_3(
    server: LiveServer,
    query: Query,
    make_user: Callable[..., Credential],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = make_user(env="test", methods=("check-employee-hes-code",))
    use(monkeypatch, server, user)
    query.secrets.append(user.password)
    assert_error(query("hes", "check", "A1S10001S1"), "check-hes-codes", "HTTP 403", code=3)


@pytest.mark.parametrize(
    ("method", "plus"),
    [
        ("check-hes-code", False),
        ("check-employee-hes-code", False),
        ("check-hes-code-plus", True),
    ],
)
def test_a_user_granted_only_a_single_code_method_names_it_with_method(
    server: LiveServer,
    query: Query,
    make_user: Callable[..., Credential],
    monkeypatch: pytest.MonkeyPatch,
    codes: dict[str, str],
    method: str,
    plus: bool,
) -> None:
    user = make_user(env="test", methods=(method,))
    use(monkeypatch, server, user)
    query.secrets.append(user.password)
    asked = [codes["Aşı"], codes["Riskli"], UNKNOWN, codes["Süresi dolmuş"], codes["Aşı"]]
    assert_error(query("hes", "check", *asked), "HTTP 403", code=3)  # the bulk default
    result = _ok(query("hes", "check", "--method", method, "-o", "json", *asked), code=1)
    printed = json.loads(result.stdout)
    assert [(i["code"], i["status"]) for i in printed] == [
        (asked[0], "found"),
        (asked[1], "found"),
        (UNKNOWN, "not_found"),
        (asked[3], "expired"),
        (asked[0], "found"),
    ]
    for item in (printed[0], printed[1]):
        assert item["result"] == raw(
            server, user, "POST", f"hes/{method}", json={"hes_code": item["code"]}
        )
        assert list(item["result"]) == (RESULT_FIELDS + PLUS_FIELDS if plus else RESULT_FIELDS)
    assert result.stderr.strip() == "5 codes: 3 found, 1 not found, 1 expired"


def test_plus_with_a_method_that_is_not_a_plus_method_is_a_usage_error(
    query: Query, sandbox_user: Credential
) -> None:
    assert_error(
        query("hes", "check", "--plus", "--method", "check-hes-code", "A1S10001S1"),
        "--plus asks a plus method",
        code=2,
    )


def test_an_unreachable_service_is_exit_4(
    query: Query, sandbox_user: Credential, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAGLIK_CLIENT_BASE_URL", "http://127.0.0.1:9/services/g2g/test/saglik")
    assert_error(query("hes", "check", "A1S10001S1"), "could not connect", code=4)


def _config(path: Path, server: LiveServer, user: Credential, mode: int) -> Path:
    path.write_text(
        f'base_url = "{server.base_url}/services/g2g/test/saglik"\n'
        f'username = "{user.username}"\n'
        f'password = "{user.password}"\n',
        encoding="utf-8",
    )
    path.chmod(mode)
    return path


def test_credentials_from_a_0600_config_file(
    tmp_path: Path,
    server: LiveServer,
    query: Query,
    sandbox_user: Credential,
    codes: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clear_client_env(monkeypatch, str(_config(tmp_path / "c.toml", server, sandbox_user, 0o600)))
    result = _ok(query("hes", "check", "-o", "csv", codes["Aşı"]))
    assert ",found," in result.stdout


def test_a_config_file_others_can_read_is_refused(
    tmp_path: Path,
    server: LiveServer,
    query: Query,
    sandbox_user: Credential,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = _config(tmp_path / "c.toml", server, sandbox_user, 0o644)
    clear_client_env(monkeypatch, str(path))
    line = assert_error(query("hes", "check", "A1S10001S1"), "0644", "chmod 600")
    assert "SAGLIK_CLIENT_USERNAME" in line


def test_help_says_where_credentials_come_from_and_what_exit_codes_mean(query: Query) -> None:
    result = _ok(query("hes", "check", "--help"))
    text = " ".join(result.stdout.replace("│", " ").split())
    for words in ("SAGLIK_CLIENT_PASSWORD", "SAGLIK_CLIENT_CONFIG", "0600", "Exit status", "QR"):
        assert words in text
    assert "--password" not in text
    assert "--username" not in text
