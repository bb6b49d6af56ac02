"""``saglik hes``: the test codes table and data entry, checked through the real query service."""

from __future__ import annotations

import json
import random
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select

from saglik.domain.clock import SystemClock
from saglik.domain.hes import NO_EXPIRY, HealthStatus, HesResult
from saglik.domain.pseudonym import Pseudonymizer
from saglik.domain.tckn import random_tckn
from saglik.services.fixtures import hes_fixtures
from saglik.services.hes import HesQueryService
from saglik.store import migrate
from saglik.store.schema import persons
from tests.cli.conftest import Invoke, Store, assert_error, run_saglik
from tests.hes_fixture_support import DOCUMENT_CATEGORIES, EXTRA_CATEGORIES

CATEGORIES = {*DOCUMENT_CATEGORIES, *EXTRA_CATEGORIES}
ISSUED = re.compile(
    r"code (?P<code>[A-Z][0-9][A-Z][0-9]{7}) valid until "
    r"(?P<until>\d{4}-\d\d-\d\d \d\d:\d\d) UTC"
)

_rng = random.Random()


def _check(db: Engine, code: str, *, env: str = "live", plus: bool = True) -> HesResult:
    outcome = HesQueryService(db, SystemClock(), Pseudonymizer(b"k" * 32)).check(
        env, code, plus=plus
    )
    assert outcome.result is not None, outcome.error
    return outcome.result


def _error_key(db: Engine, code: str, *, env: str = "live") -> str:
    outcome = HesQueryService(db, SystemClock(), Pseudonymizer(b"k" * 32)).check(
        env, code, plus=False
    )
    assert outcome.error is not None
    return outcome.error.error_key


def _ok(result) -> str:
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout.strip()


@pytest.fixture
def tckn(cli: Invoke) -> str:
    number = random_tckn(_rng)
    _ok(cli("hes", "person", "add", number, "--first-name", "Ayşe Gül", "--last-name", "Yıldız"))
    return number


@pytest.fixture
def code(cli: Invoke, tckn: str) -> str:
    match = ISSUED.fullmatch(_ok(cli("hes", "code", "issue", tckn)))
    assert match is not None
    return match["code"]


def _at(moment: datetime) -> str:
    return moment.isoformat()


# --- test-codes ----------------------------------------------------------------------------------


def test_test_codes_table(cli: Invoke, store_file: Store) -> None:
    out = _ok(cli("hes", "test-codes"))
    assert "category" in out
    for fx in hes_fixtures():
        row = next(line for line in out.splitlines() if fx.code in line)
        assert fx.category in row
    for category in CATEGORIES:
        assert category in out
    assert not store_file.path.exists(), "listing the fixtures needs no store"


def test_test_codes_json_is_a_list_of_objects_with_snake_case_keys(cli: Invoke) -> None:
    rows = json.loads(_ok(cli("hes", "test-codes", "--json")))
    assert isinstance(rows, list)
    assert all(list(row) == ["category", "hes_code"] for row in rows)
    assert {row["category"] for row in rows} == CATEGORIES
    assert len({row["hes_code"] for row in rows}) == 11
    for row in rows:
        assert re.fullmatch(r"[A-Z0-9]{8}S[0-9]", row["hes_code"]), row
    assert rows == [{"category": fx.category, "hes_code": fx.code} for fx in hes_fixtures()]


def test_test_codes_json_from_a_real_process(store_file: Store, tmp_path) -> None:
    done = run_saglik(["hes", "test-codes", "--json"], env_url=store_file.url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert {row["category"] for row in json.loads(done.stdout)} == CATEGORIES
    assert "Süresi dolmuş" in done.stdout, "UTF-8, not \\u escapes"


# --- person add ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    ["12345678901", "1234567890", "123456789012", "02345678901", "1234567890a", "١٢٣٤٥٦٧٨٩٠١", ""],
)
def test_person_add_rejects_an_invalid_identity_number(
    cli: Invoke, db: Engine, number: str
) -> None:
    result = cli("hes", "person", "add", number, "--first-name", "Ali", "--last-name", "Veli")
    assert_error(result, "not a valid T.C. Kimlik No")
    with db.connect() as conn:
        assert conn.execute(select(persons.c.id)).first() is None


def test_person_add_stores_turkish_upper_case_nfc(cli: Invoke, db: Engine) -> None:
    number = random_tckn(_rng)
    first = unicodedata.normalize("NFD", "  inci   gökçe ")
    last = unicodedata.normalize("NFD", "ılgaz-şahinoğlu")
    assert _ok(cli("hes", "person", "add", number, "--first-name", first, "--last-name", last)) == (
        "person saved"
    )
    with db.connect() as conn:
        row = conn.execute(
            select(persons.c.env, persons.c.first_name, persons.c.last_name).where(
                persons.c.identity_number == number
            )
        ).one()
    assert row.env == "live"
    assert row.first_name == "İNCİ GÖKÇE"
    assert row.last_name == "ILGAZ-ŞAHİNOĞLU"
    assert unicodedata.is_normalized("NFC", row.first_name + row.last_name)


def test_person_add_again_updates_the_names(cli: Invoke, db: Engine, tckn: str, code: str) -> None:
    _ok(cli("hes", "person", "add", tckn, "--first-name", "Ömer Faruk", "--last-name", "Işık"))
    result = _check(db, code)
    assert (result.masked_firstname, result.masked_lastname) == ("ÖM**** FA****", "IŞ****")
    assert result.masked_identity_number == "********" + tckn[-3:]


@pytest.mark.parametrize(("first", "last"), [(" ", "Veli"), ("Ali", "")])
def test_person_add_blank_name(cli: Invoke, first: str, last: str) -> None:
    result = cli(
        "hes", "person", "add", random_tckn(_rng), "--first-name", first, "--last-name", last
    )
    assert_error(result, "must not be blank")


def test_person_add_unknown_env_is_a_usage_error(cli: Invoke, db: Engine) -> None:
    result = cli(
        "hes",
        "person",
        "add",
        random_tckn(_rng),
        "--first-name",
        "Ali",
        "--last-name",
        "Veli",
        "--env",
        "prod",
    )
    assert result.exit_code == 2
    assert "--env" in result.stderr
    assert "live, test" in result.stderr
    assert migrate.current_revision(db) is None, "refused before touching the store"


def test_the_environments_are_separate(cli: Invoke, db: Engine) -> None:
    number = random_tckn(_rng)
    _ok(
        cli(
            "hes",
            "person",
            "add",
            number,
            "--first-name",
            "Ali",
            "--last-name",
            "Veli",
            "--env",
            "test",
        )
    )
    assert_error(cli("hes", "code", "issue", number), "no person")
    code = ISSUED.fullmatch(_ok(cli("hes", "code", "issue", number, "--env", "test")))
    assert code is not None
    assert _check(db, code["code"], env="test").current_health_status is HealthStatus.RISKLESS
    assert _error_key(db, code["code"], env="live") == "hescodenotfound"


# --- code issue ----------------------------------------------------------------------------------


def test_code_issue_default_is_one_year(cli: Invoke, db: Engine, tckn: str) -> None:
    before = datetime.now(UTC)
    match = ISSUED.fullmatch(_ok(cli("hes", "code", "issue", tckn)))
    assert match is not None, "letter, digit, letter, seven digits"
    result = _check(db, match["code"], plus=False)
    assert result.current_health_status is HealthStatus.RISKLESS
    expected = before + timedelta(days=365)
    assert abs(result.expiration_date - expected) < timedelta(minutes=1)
    assert match["until"] == f"{result.expiration_date:%Y-%m-%d %H:%M}"


def test_code_issue_days(cli: Invoke, db: Engine, tckn: str) -> None:
    match = ISSUED.fullmatch(_ok(cli("hes", "code", "issue", tckn, "--days", "30")))
    assert match is not None
    expires = _check(db, match["code"]).expiration_date
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)


def test_code_issue_no_expiry(cli: Invoke, db: Engine, tckn: str) -> None:
    out = _ok(cli("hes", "code", "issue", tckn, "--no-expiry"))
    match = ISSUED.fullmatch(out)
    assert match is not None
    assert match["until"] == "2070-12-30 00:00"
    assert _check(db, match["code"]).expiration_date == NO_EXPIRY


def test_each_issue_is_a_new_code_and_all_stay_valid(cli: Invoke, db: Engine, tckn: str) -> None:
    codes = {ISSUED.fullmatch(_ok(cli("hes", "code", "issue", tckn)))["code"] for _ in range(3)}  # type: ignore[index]
    assert len(codes) == 3
    for code in codes:
        assert _check(db, code).current_health_status is HealthStatus.RISKLESS


@pytest.mark.parametrize("days", ["0", "-1", "36501", "99999999"])
def test_code_issue_out_of_range_days(cli: Invoke, tckn: str, days: str) -> None:
    result = cli("hes", "code", "issue", tckn, "--days", days)
    assert result.exit_code == 2
    assert "--days" in result.stderr


def test_code_issue_unknown_person(cli: Invoke) -> None:
    assert_error(cli("hes", "code", "issue", random_tckn(_rng)), "no person")


# --- risk ----------------------------------------------------------------------------------------


def test_risk_open_then_close(cli: Invoke, db: Engine, tckn: str, code: str) -> None:
    assert _ok(cli("hes", "risk", "open", tckn)) == "risk period opened"
    assert _check(db, code).current_health_status is HealthStatus.RISKY
    assert _ok(cli("hes", "risk", "close", tckn)) == "1 risk period(s) closed"
    assert _check(db, code).current_health_status is HealthStatus.RISKLESS


def test_risk_contact_and_case_close_together(
    cli: Invoke, db: Engine, tckn: str, code: str
) -> None:
    _ok(cli("hes", "risk", "open", tckn, "--kind", "contact"))
    _ok(cli("hes", "risk", "open", tckn, "--kind", "case"))
    assert _check(db, code).current_health_status is HealthStatus.RISKY
    assert _ok(cli("hes", "risk", "close", tckn)) == "2 risk period(s) closed"
    assert _check(db, code).current_health_status is HealthStatus.RISKLESS


def test_risk_opened_in_the_future_is_not_yet_risky(
    cli: Invoke, db: Engine, tckn: str, code: str
) -> None:
    later = datetime.now(UTC) + timedelta(days=2)
    _ok(cli("hes", "risk", "open", tckn, "--at", _at(later)))
    assert _check(db, code).current_health_status is HealthStatus.RISKLESS


def test_risk_close_with_nothing_open_exits_1(cli: Invoke, tckn: str) -> None:
    assert_error(cli("hes", "risk", "close", tckn), "no open risk period", code=1)


def test_risk_unknown_kind(cli: Invoke, db: Engine, tckn: str, code: str) -> None:
    assert_error(cli("hes", "risk", "open", tckn, "--kind", "suspect"), "case, contact")
    assert _check(db, code).current_health_status is HealthStatus.RISKLESS


def test_risk_unknown_person(cli: Invoke) -> None:
    assert_error(cli("hes", "risk", "open", random_tckn(_rng)), "no person")


def test_risky_hides_every_plus_field(cli: Invoke, db: Engine, tckn: str, code: str) -> None:
    _ok(cli("hes", "consent", tckn, "--vaccination", "--immunity", "--test"))
    _ok(cli("hes", "vaccinate", tckn, "--dose", "1"))
    _ok(cli("hes", "vaccinate", tckn, "--dose", "2"))
    _ok(cli("hes", "risk", "open", tckn))
    plus = _check(db, code).plus
    assert plus is not None
    assert (plus.is_vaccinated, plus.is_immune, plus.last_negative_test_date) == (None, None, None)
    assert plus.is_test_data_shared is True


# --- vaccinate, infection, pcr, consent ----------------------------------------------------------


def test_two_doses_and_consent_make_is_vaccinated(
    cli: Invoke, db: Engine, tckn: str, code: str
) -> None:
    _ok(cli("hes", "consent", tckn, "--vaccination"))
    assert _ok(cli("hes", "vaccinate", tckn, "--dose", "1", "--vaccine", "BioNTech")) == (
        "dose recorded"
    )
    assert _check(db, code).plus.is_vaccinated is False  # type: ignore[union-attr]
    _ok(cli("hes", "vaccinate", tckn, "--dose", "2", "--at", _at(datetime.now(UTC))))
    plus = _check(db, code).plus
    assert plus is not None
    assert plus.is_vaccinated is True
    assert plus.is_immune is None, "immunity not shared"
    assert plus.last_negative_test_date is None
    assert plus.is_test_data_shared is False


def test_vaccinated_without_consent_is_not_shared(
    cli: Invoke, db: Engine, tckn: str, code: str
) -> None:
    _ok(cli("hes", "vaccinate", tckn, "--dose", "1"))
    _ok(cli("hes", "vaccinate", tckn, "--dose", "2"))
    assert _check(db, code).plus.is_vaccinated is None  # type: ignore[union-attr]


@pytest.mark.parametrize("dose", ["0", "-1"])
def test_vaccinate_bad_dose(cli: Invoke, tckn: str, dose: str) -> None:
    assert_error(cli("hes", "vaccinate", tckn, "--dose", dose), "dose number starts at 1")


def test_vaccinate_needs_a_dose(cli: Invoke, tckn: str) -> None:
    result = cli("hes", "vaccinate", tckn)
    assert result.exit_code == 2
    assert "--dose" in result.stderr


@pytest.mark.parametrize(("days_ago", "immune"), [(30, True), (170, True), (200, False)])
def test_infection_makes_immune_for_six_months(
    cli: Invoke, db: Engine, tckn: str, code: str, days_ago: int, immune: bool
) -> None:
    _ok(cli("hes", "consent", tckn, "--immunity"))
    at = datetime.now(UTC) - timedelta(days=days_ago)
    assert _ok(cli("hes", "infection", tckn, "--at", _at(at))) == "infection recorded"
    plus = _check(db, code).plus
    assert plus is not None
    assert plus.is_immune is immune
    assert plus.is_vaccinated is None


def test_infection_now(cli: Invoke, db: Engine, tckn: str, code: str) -> None:
    _ok(cli("hes", "consent", tckn, "--immunity"))
    _ok(cli("hes", "infection", tckn))
    assert _check(db, code).plus.is_immune is True  # type: ignore[union-attr]


def test_negative_pcr_within_72_hours(cli: Invoke, db: Engine, tckn: str, code: str) -> None:
    _ok(cli("hes", "consent", tckn, "--test"))
    sampled = (datetime.now(UTC) - timedelta(hours=5)).replace(microsecond=0)
    # An offset is honoured: the same instant written in Istanbul time.
    istanbul = sampled.astimezone(timezone(timedelta(hours=3)))
    assert _ok(cli("hes", "pcr", tckn, "--negative", "--at", _at(istanbul))) == (
        "PCR result recorded"
    )
    plus = _check(db, code).plus
    assert plus is not None
    assert plus.last_negative_test_date == sampled
    assert plus.is_test_data_shared is True
    assert _check(db, code).current_health_status is HealthStatus.RISKLESS


def test_naive_at_is_utc(cli: Invoke, db: Engine, tckn: str, code: str) -> None:
    _ok(cli("hes", "consent", tckn, "--test"))
    sampled = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    _ok(cli("hes", "pcr", tckn, "--negative", "--at", sampled.strftime("%Y-%m-%dT%H:%M:%S")))
    assert _check(db, code).plus.last_negative_test_date == sampled  # type: ignore[union-attr]


def test_old_negative_and_any_positive_pcr_do_not_count(
    cli: Invoke, db: Engine, tckn: str, code: str
) -> None:
    _ok(cli("hes", "consent", tckn, "--test"))
    now = datetime.now(UTC)
    _ok(cli("hes", "pcr", tckn, "--negative", "--at", _at(now - timedelta(hours=80))))
    _ok(cli("hes", "pcr", tckn, "--positive", "--at", _at(now - timedelta(hours=1))))
    plus = _check(db, code).plus
    assert plus is not None
    assert plus.last_negative_test_date is None
    assert plus.is_test_data_shared is True


def test_pcr_needs_a_result(cli: Invoke, tckn: str) -> None:
    result = cli("hes", "pcr", tckn)
    assert result.exit_code == 2
    assert "--negative" in result.stderr


def test_bad_at_is_a_usage_error(cli: Invoke, tckn: str) -> None:
    result = cli("hes", "infection", tckn, "--at", "yesterday")
    assert result.exit_code == 2
    assert "--at" in result.stderr


def test_consent_defaults_to_sharing_nothing(cli: Invoke, db: Engine, tckn: str, code: str) -> None:
    _ok(cli("hes", "vaccinate", tckn, "--dose", "1"))
    _ok(cli("hes", "vaccinate", tckn, "--dose", "2"))
    _ok(cli("hes", "infection", tckn))
    _ok(cli("hes", "pcr", tckn, "--negative"))

    assert _ok(cli("hes", "consent", tckn, "--vaccination", "--immunity", "--test")) == (
        "consent saved"
    )
    plus = _check(db, code).plus
    assert plus is not None
    assert (plus.is_vaccinated, plus.is_immune, plus.is_test_data_shared) == (True, True, True)
    assert plus.last_negative_test_date is not None

    _ok(cli("hes", "consent", tckn, "--immunity"))
    plus = _check(db, code).plus
    assert plus is not None
    assert (plus.is_vaccinated, plus.is_immune, plus.last_negative_test_date) == (None, True, None)
    assert plus.is_test_data_shared is False

    _ok(cli("hes", "consent", tckn))
    plus = _check(db, code).plus
    assert plus is not None
    assert (plus.is_vaccinated, plus.is_immune, plus.last_negative_test_date) == (None, None, None)


def test_consent_no_flags(cli: Invoke, db: Engine, tckn: str, code: str) -> None:
    _ok(cli("hes", "consent", tckn, "--test", "--no-test", "--vaccination"))
    plus = _check(db, code).plus
    assert plus is not None
    assert plus.is_test_data_shared is False
    assert plus.is_vaccinated is False


UNKNOWN = "10000000146"  # checksum-valid, never added by these tests


@pytest.mark.parametrize(
    "command",
    [
        ("vaccinate", UNKNOWN, "--dose", "1"),
        ("infection", UNKNOWN),
        ("pcr", UNKNOWN, "--negative"),
        ("consent", UNKNOWN, "--test"),
        ("risk", "close", UNKNOWN),
        ("code", "issue", UNKNOWN),
    ],
    ids=lambda c: c[0],
)
def test_data_entry_for_an_unknown_person(cli: Invoke, command: tuple[str, ...]) -> None:
    assert_error(cli("hes", *command), "no person with that identity number")
