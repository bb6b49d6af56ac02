"""``saglik`` as a whole and ``saglik db``: help on every command, migrations, store errors."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
from sqlalchemy import inspect, text
from typer.main import get_command

from saglik import __version__
from saglik.cli.main import app
from saglik.store import migrate
from tests.cli.conftest import SAGLIK, Invoke, Store, assert_error, run_saglik

HEAD = migrate.head_revision()

# Every command and group, with one word its help must contain.
HELP: dict[tuple[str, ...], str] = {
    (): "SAGLIK_DATABASE_URL",
    ("serve",): "migrated",
    ("db",): "Alembic",
    ("db", "upgrade"): "newest",
    ("db", "current"): "revision",
    ("institution",): "kurum",
    ("institution", "add"): "Register",
    ("user",): "credentials",
    ("user", "add"): "Argon2id",
    ("user", "reset-password"): "Replace",
    ("user", "list"): "passwords",
    ("user", "unlock"): "failed-password",
    ("hes",): "test codes",
    ("hes", "test-codes"): "fixture",
    ("hes", "person"): "holders",
    ("hes", "person", "add"): "NFC",
    ("hes", "person", "show"): "logged",
    ("hes", "code"): "HES codes",
    ("hes", "code", "issue"): "Issue",
    ("hes", "risk"): "quarantine",
    ("hes", "risk", "open"): "RISKY",
    ("hes", "risk", "close"): "Close",
    ("hes", "vaccinate"): "dose",
    ("hes", "infection"): "immune",
    ("hes", "pcr"): "72 hours",
    ("hes", "consent"): "HES Kod Ayarları",
    ("hes", "check"): "QR",
    ("obs",): "death forms",
    ("obs", "test-records"): "fixture",
    ("obs", "register"): "ReferansNo",
    ("obs", "correct"): "history",
    ("obs", "show"): "logged",
    ("obs", "approve"): "Approve",
    ("obs", "return"): "Return",
    ("obs", "deaths"): "GetAdliFormlarByDate",
    ("obs", "lookup"): "passport",
    ("obs", "death-date"): "GetOlumTarihiByTcKimlikNo",
    ("refdata",): "districts",
    ("refdata", "import"): "district_code",
    ("token",): "Bearer",
    ("token", "create"): "print it once",
    ("token", "list"): "revoked",
    ("token", "revoke"): "refuses",
    ("audit",): "audit trail",
    ("audit", "list"): "pseudonyms",
    ("audit", "subject"): "institutions",
    ("audit", "changes"): "before/after",
    ("audit", "moi-reports"): "would have been",
    ("audit-key",): "SAGLIK_AUDIT_KEY",
    ("audit-key", "show"): "fingerprint",
    ("audit-key", "rotate"): "restart",
    ("demo",): "reproducible",
    ("demo", "generate"): "Deterministic",
    ("demo", "sample"): "ÖBS parameter names",
    ("import",): "Safe to run again",
    ("import", "persons"): "T.C. Kimlik No",
    ("import", "codes"): "expires_at",
    ("import", "events"): "kind",
    ("import", "deaths"): "ReferansNo",
}


def _command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    # Duck-typed: Typer may vendor its own Click, so isinstance(click.Group) is not reliable.
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths += _command_paths(sub, (*prefix, name))
    return paths


def test_the_help_table_names_every_command() -> None:
    assert sorted(_command_paths(get_command(app))) == sorted(HELP)


@pytest.mark.parametrize("path", list(HELP), ids=lambda p: " ".join(p) or "saglik")
def test_help_exits_0_and_explains(cli: Invoke, store_file: Store, path: tuple[str, ...]) -> None:
    result = cli(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout
    assert HELP[path] in result.stdout
    assert not store_file.path.exists(), "--help must not touch the store"


def test_version(cli: Invoke) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__


@pytest.mark.parametrize("group", [(), ("db",), ("user",), ("hes",), ("hes", "risk")])
def test_a_group_without_a_command_shows_its_help(cli: Invoke, group: tuple[str, ...]) -> None:
    result = cli(*group)
    assert result.exit_code in (0, 2)
    assert "Usage" in result.output
    assert "Commands" in result.output


def test_current_on_an_empty_store(cli: Invoke) -> None:
    result = cli("db", "current")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"store: empty; code: {HEAD}"


def test_upgrade_an_empty_store_then_current(cli: Invoke, db) -> None:
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"store at schema {HEAD}"
    assert migrate.current_revision(db) == HEAD
    tables = set(inspect(db).get_table_names())
    assert {"institutions", "service_users", "persons", "hes_codes", "audit_events"} <= tables

    result = cli("db", "current")
    assert result.stdout.strip() == f"store: {HEAD}; code: {HEAD}"


def test_upgrade_twice_is_harmless(cli: Invoke) -> None:
    assert cli("db", "upgrade").exit_code == 0
    again = cli("db", "upgrade")
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == f"store at schema {HEAD}"


def test_upgrade_to_an_unknown_revision_is_one_clear_line(cli: Invoke) -> None:
    result = cli("db", "upgrade", "nosuchrev")
    assert_error(result, "cannot migrate the store", "nosuchrev")


@pytest.mark.parametrize(
    "command",
    [
        ("institution", "add", "Kurum A"),
        ("user", "list"),
        ("hes", "person", "add", "10000000146", "--first-name", "Ali", "--last-name", "Veli"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_data_commands_migrate_an_empty_store_first(
    cli: Invoke, db, command: tuple[str, ...]
) -> None:
    result = cli(*command)
    assert result.exit_code == 0, result.output
    assert migrate.current_revision(db) == HEAD


def _set_revision(db, revision: str) -> None:
    migrate.upgrade(db)
    with db.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})


@pytest.mark.parametrize(
    "command",
    [
        ("institution", "add", "Kurum A"),
        ("user", "list"),
        ("user", "add", "u1", "--institution", "X", "--env", "test", "--all-methods"),
        ("hes", "person", "add", "10000000146", "--first-name", "Ali", "--last-name", "Veli"),
        ("hes", "risk", "close", "10000000146"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_data_commands_refuse_a_store_written_by_a_newer_version(
    cli: Invoke, db, command: tuple[str, ...]
) -> None:
    _set_revision(db, "0000behind")
    result = cli(*command)
    assert_error(result, "0000behind", HEAD, "a newer saglik wrote it")
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM institutions")).scalar_one() == 0


def test_current_and_upgrade_on_a_store_at_an_unknown_revision(cli: Invoke, db) -> None:
    _set_revision(db, "fromthefuture")
    current = cli("db", "current")
    assert current.exit_code == 0
    assert current.stdout.strip() == f"store: fromthefuture; code: {HEAD}"
    assert_error(cli("db", "upgrade"), "cannot migrate the store", "fromthefuture")


@pytest.mark.parametrize(
    "command",
    [("db", "current"), ("db", "upgrade"), ("user", "list"), ("institution", "add", "K")],
    ids=" ".join,
)
def test_an_unreachable_store_is_one_clear_line(
    cli: Invoke, tmp_path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    monkeypatch.setenv("SAGLIK_DATABASE_URL", f"sqlite:///{tmp_path}/no/such/dir/saglik.db")
    assert_error(cli(*command), "SAGLIK_DATABASE_URL", "unable to open database file")


def test_a_malformed_url_is_reported_without_echoing_it(
    cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAGLIK_DATABASE_URL", "not a url with s3cr3t inside")
    line = assert_error(cli("db", "current"), "SAGLIK_DATABASE_URL")
    assert "s3cr3t" not in line


def test_subprocess_upgrade_and_current(store_file: Store, tmp_path) -> None:
    """The installed executable, end to end, in its own process."""
    up = run_saglik(["db", "upgrade"], env_url=store_file.url, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == f"store at schema {HEAD}"
    cur = run_saglik(["db", "current"], env_url=store_file.url, cwd=tmp_path)
    assert cur.returncode == 0, cur.stderr
    assert cur.stdout.strip() == f"store: {HEAD}; code: {HEAD}"
    assert cur.stderr == ""


def test_default_store_is_saglik_db_in_the_working_directory(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SAGLIK_DATABASE_URL"}
    done = subprocess.run(
        [SAGLIK, "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "saglik.db").exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SAGLIK_CORS_ORIGINS", "https://app.example/path"),
        ("SAGLIK_RATE_LIMIT_STORAGE", "memcached://127.0.0.1"),
        ("SAGLIK_CREDENTIAL_DELAY_SECONDS", "soon"),
        ("SAGLIK_TRUSTED_PROXIES", "not-a-network"),
        ("SAGLIK_ARGON2_MEMORY_KIB", "12"),
    ],
)
def test_an_unusable_setting_is_one_red_line_naming_it(
    cli: Invoke, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("SAGLIK_DATABASE_URL", "postgresql://ops:pa55-secret@127.0.0.1:1/x")
    monkeypatch.setenv(variable, value)
    line = assert_error(cli("db", "current"), variable)
    assert "pa55-secret" not in line
