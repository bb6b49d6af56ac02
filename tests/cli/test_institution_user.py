"""``saglik institution`` and ``saglik user``: credentials are generated, shown once, and work."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select
from typer.testing import Result

from saglik.domain.methods import ALL_METHODS
from saglik.services.authn import Authenticator, Principal
from saglik.store import accounts_repo, throttle_repo
from saglik.store.schema import auth_failures, operator_changes
from tests.authn_support import current_account
from tests.cli.conftest import Invoke, Store, assert_error, run_saglik

PASSWORD_BANNER = "password (shown once, store it now):"
INSTITUTION = "Ankara Şehir Hastanesi"


def _principal(db: Engine, env: str, username: str, password: str) -> Principal | None:
    authn = Authenticator(db)
    account = current_account(authn, env, username)
    return account.principal if account and authn.verify(account, password) else None


def _user(db: Engine, env: str, username: str) -> accounts_repo.UserRecord:
    with db.connect() as conn:
        record = accounts_repo.find_user(conn, env, username)
    assert record is not None
    return record


def _generated_password(stdout: str) -> str:
    lines = stdout.splitlines()
    assert lines.count(PASSWORD_BANNER) == 1, stdout
    password = lines[lines.index(PASSWORD_BANNER) + 1]
    assert len(password) >= 20
    assert stdout.count(password) == 1, "the password is printed exactly once"
    return password


@pytest.fixture
def institution(cli: Invoke) -> str:
    result = cli("institution", "add", INSTITUTION)
    assert result.exit_code == 0, result.output
    return INSTITUTION


def add_user(
    cli: Invoke,
    username: str,
    *options: str,
    env: str = "test",
    institution: str = INSTITUTION,
    stdin: str | None = None,
) -> Result:
    """``saglik user add USERNAME --institution … --env ENV OPTIONS…`` (``--all-methods`` if no
    right is named)."""
    if not any(o in ("--method", "--all-methods", "--no-rights") for o in options):
        options = ("--all-methods", *options)
    options = tuple(o for o in options if o != "--no-rights")
    return cli(
        "user", "add", username, "--institution", institution, "--env", env, *options, input=stdin
    )


# --- institution add -----------------------------------------------------------------------------


def test_institution_add(cli: Invoke, db: Engine) -> None:
    result = cli("institution", "add", "Ankara Şehir Hastanesi")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "institution Ankara Şehir Hastanesi added"
    with db.connect() as conn:
        assert accounts_repo.institution_id(conn, "Ankara Şehir Hastanesi") > 0


def test_institution_add_twice_is_one_red_line(cli: Invoke, institution: str) -> None:
    result = cli("institution", "add", institution)
    assert_error(result, f"institution '{institution}' exists")


def test_institution_blank_name(cli: Invoke) -> None:
    assert_error(cli("institution", "add", "   "), "must not be blank")


def test_institution_name_with_brackets_is_text_not_markup(cli: Invoke, db: Engine) -> None:
    """Rich markup in a name must neither crash the command nor disappear from its output."""
    for name in ("[/]", "[bold]Kurum[/bold]"):
        result = cli("institution", "add", name)
        assert result.exit_code == 0, result.output
        assert name in result.stdout
    assert_error(cli("institution", "add", "[bold]Kurum[/bold]"), "'[bold]Kurum[/bold]' exists")


# --- user add: rights ----------------------------------------------------------------------------


def test_user_add_with_repeated_method(cli: Invoke, db: Engine, institution: str) -> None:
    result = add_user(
        cli,
        "hastane01",
        "--method",
        "check-hes-codes",
        "--method",
        "check-hes-code-plus",
        env="live",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "user hastane01 (live)"
    record = _user(db, "live", "hastane01")
    assert record.methods == {"check-hes-codes", "check-hes-code-plus"}
    assert record.institution_name == institution
    assert record.active
    assert record.ip_allowlist == ()
    assert record.rate_limit is None


def test_user_add_all_methods(cli: Invoke, db: Engine, institution: str) -> None:
    result = add_user(cli, "hastane02", "--all-methods")
    assert result.exit_code == 0, result.output
    record = _user(db, "test", "hastane02")
    assert record.methods == frozenset(ALL_METHODS)
    assert record.env == "test"


@pytest.mark.parametrize(
    "rights",
    [("--no-rights",), ("--all-methods", "--method", "check-hes-codes")],
    ids=["neither", "both"],
)
def test_user_add_needs_exactly_one_way_to_grant(
    cli: Invoke, db: Engine, institution: str, rights: tuple[str, ...]
) -> None:
    assert_error(add_user(cli, "u1", *rights), "--method", "--all-methods")
    with db.connect() as conn:
        assert accounts_repo.find_user(conn, "test", "u1") is None


def test_user_add_unknown_method(cli: Invoke, institution: str) -> None:
    result = add_user(cli, "u1", "--method", "check-hes-kodu", "--method", "check-hes-codes")
    line = assert_error(result, "unknown method(s): check-hes-kodu;", "known:")
    for method in ALL_METHODS:
        assert method in line


def test_user_add_unknown_institution(cli: Invoke) -> None:
    assert_error(add_user(cli, "u1", institution="Yok"), "no institution named 'Yok'")


def test_user_add_unknown_env(cli: Invoke, institution: str) -> None:
    assert_error(add_user(cli, "u1", env="prod"), "environment must be one of live, test")


def test_user_add_duplicate(cli: Invoke, institution: str) -> None:
    assert add_user(cli, "u1").exit_code == 0
    assert_error(add_user(cli, "u1"), "user 'u1' exists in the test environment")
    # The same name in the other environment is another user.
    assert add_user(cli, "u1", env="live").exit_code == 0


@pytest.mark.parametrize("username", ["two words", "a:b", "", "a/b"])
def test_user_add_bad_username(cli: Invoke, institution: str, username: str) -> None:
    assert_error(add_user(cli, username), "username must be 1-100 printable characters")


def test_user_add_ip_allowlist_and_rate_limit(cli: Invoke, db: Engine, institution: str) -> None:
    result = add_user(
        cli, "u1", "--ip", "10.20.30.7/24", "--ip", "2001:db8::/32", "--rate-limit", "100/second"
    )
    assert result.exit_code == 0, result.output
    record = _user(db, "test", "u1")
    assert record.ip_allowlist == ("10.20.30.0/24", "2001:db8::/32")
    assert record.rate_limit == "100/second"


@pytest.mark.parametrize("cidr", ["10.0.0.300/8", "10.0.0.0/33", "localhost"])
def test_user_add_bad_cidr(cli: Invoke, db: Engine, institution: str, cidr: str) -> None:
    result = add_user(cli, "u1", "--ip", "192.168.0.0/16", "--ip", cidr)
    assert_error(result, f"not an IP network: '{cidr}'")
    with db.connect() as conn:
        assert accounts_repo.find_user(conn, "test", "u1") is None


@pytest.mark.parametrize("limit", ["lots", "100", "100/fortnight", "-5/second"])
def test_user_add_bad_rate_limit(cli: Invoke, institution: str, limit: str) -> None:
    result = add_user(cli, "u1", "--rate-limit", limit)
    assert_error(result, f"not a rate limit: '{limit}'", "100/second")


# --- user add: passwords -------------------------------------------------------------------------


def test_generated_password_is_printed_once_and_works(
    cli: Invoke, db: Engine, institution: str
) -> None:
    result = add_user(cli, "u1")
    assert result.exit_code == 0, result.output
    password = _generated_password(result.stdout)
    assert password not in result.stderr

    principal = _principal(db, "test", "u1", password)
    assert principal is not None
    assert principal.methods == frozenset(ALL_METHODS)
    assert _principal(db, "live", "u1", password) is None, "a test credential is not a live one"
    assert _principal(db, "test", "u1", password + "x") is None

    stored = _user(db, "test", "u1").password_hash
    assert stored.startswith("$argon2id$")
    assert password not in stored
    assert PasswordHasher().verify(stored, password)


def test_two_generated_passwords_differ(cli: Invoke, institution: str) -> None:
    passwords = {_generated_password(add_user(cli, name).stdout) for name in ("u1", "u2")}
    assert len(passwords) == 2


def test_password_from_stdin_is_used_and_never_printed(
    cli: Invoke, db: Engine, institution: str
) -> None:
    secret = "dogru at pil zımba 42"
    result = add_user(
        cli,
        "u1",
        "--method",
        "check-employee-hes-code",
        "--password-stdin",
        env="live",
        stdin=secret + "\n",
    )
    assert result.exit_code == 0, result.output
    assert secret not in result.output
    assert "password" not in result.output
    assert result.stdout.strip() == "user u1 (live)"
    assert _principal(db, "live", "u1", secret) is not None


def test_password_stdin_with_crlf(cli: Invoke, db: Engine, institution: str) -> None:
    secret = "windows-line-ending-secret"
    result = add_user(cli, "u1", "--password-stdin", stdin=secret + "\r\n")
    assert result.exit_code == 0, result.output
    assert _principal(db, "test", "u1", secret) is not None


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("", "standard input was empty"),
        ("\n", "standard input was empty"),
        ("short\n", "at least 12 characters"),
    ],
    ids=["eof", "blank", "short"],
)
def test_password_stdin_rejects(
    cli: Invoke, db: Engine, institution: str, stdin: str, message: str
) -> None:
    assert_error(add_user(cli, "u1", "--password-stdin", stdin=stdin), message)
    with db.connect() as conn:
        assert accounts_repo.find_user(conn, "test", "u1") is None


def test_password_stdin_in_a_real_process(store_file: Store, tmp_path) -> None:
    def saglik(*args: str, stdin: str | None = None):
        return run_saglik(args, env_url=store_file.url, cwd=tmp_path, input=stdin)

    assert saglik("institution", "add", "Kurum").returncode == 0
    secret = "pipe-fed-password-123"
    done = saglik(
        "user", "add", "u1", "--institution", "Kurum", "--env", "test", "--all-methods",
        "--password-stdin", stdin=secret + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert secret not in done.stdout + done.stderr
    engine = store_file.engine()
    try:
        assert _principal(engine, "test", "u1", secret) is not None
    finally:
        engine.dispose()

    dup = saglik("institution", "add", "Kurum")
    assert dup.returncode == 2
    assert dup.stdout == ""
    assert dup.stderr == "error: institution 'Kurum' exists\n"


# --- reset-password ------------------------------------------------------------------------------


@pytest.fixture
def user_with_password(cli: Invoke, institution: str) -> str:
    result = add_user(cli, "u1")
    assert result.exit_code == 0, result.output
    return _generated_password(result.stdout)


def test_reset_password_generated(cli: Invoke, db: Engine, user_with_password: str) -> None:
    old = user_with_password
    result = cli("user", "reset-password", "u1", "--env", "test")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "user u1 (test)"
    new = _generated_password(result.stdout)
    assert new != old
    assert _principal(db, "test", "u1", old) is None
    assert _principal(db, "test", "u1", new) is not None


def test_reset_password_from_stdin(cli: Invoke, db: Engine, user_with_password: str) -> None:
    new = "a new password from the vault"
    result = cli("user", "reset-password", "u1", "--env", "test", "--password-stdin", input=new)
    assert result.exit_code == 0, result.output
    assert new not in result.output
    assert "password" not in result.output
    assert _principal(db, "test", "u1", user_with_password) is None
    assert _principal(db, "test", "u1", new) is not None


def test_reset_password_keeps_rights(cli: Invoke, db: Engine, institution: str) -> None:
    add_user(
        cli, "u1", "--method", "check-hes-codes", "--ip", "10.0.0.0/8", "--rate-limit", "5/minute"
    )
    before = _user(db, "test", "u1")
    assert cli("user", "reset-password", "u1", "--env", "test").exit_code == 0
    after = _user(db, "test", "u1")
    assert (after.methods, after.ip_allowlist, after.rate_limit) == (
        before.methods,
        before.ip_allowlist,
        before.rate_limit,
    )
    assert after.password_hash != before.password_hash


def test_reset_password_unknown_user(cli: Invoke, user_with_password: str) -> None:
    result = cli("user", "reset-password", "u1", "--env", "live")
    assert_error(result, "no user 'u1' in the live environment")
    assert_error(cli("user", "reset-password", "nobody", "--env", "test"), "no user 'nobody'")


def test_reset_password_unknown_env(cli: Invoke, user_with_password: str) -> None:
    assert_error(cli("user", "reset-password", "u1", "--env", "staging"), "environment must be")


# --- list ----------------------------------------------------------------------------------------


def test_list_on_an_empty_store(cli: Invoke) -> None:
    result = cli("user", "list")
    assert result.exit_code == 0, result.output
    assert "username" in result.stdout


def test_list_shows_users_and_never_a_secret(cli: Invoke, db: Engine, institution: str) -> None:
    generated = _generated_password(add_user(cli, "hastane01").stdout)
    chosen = "chosen-secret-password"
    add_user(
        cli,
        "hastane02",
        "--method",
        "check-hes-codes",
        "--ip",
        "10.1.2.0/24",
        "--rate-limit",
        "50/second",
        "--password-stdin",
        env="live",
        stdin=chosen + "\n",
    )

    result = cli("user", "list")
    assert result.exit_code == 0, result.output
    out = result.stdout
    first = next(line for line in out.splitlines() if "hastane01" in line)
    for shown in ("test", institution, "yes", "all", "any", "none"):
        assert shown in first, shown
    second = next(line for line in out.splitlines() if "hastane02" in line)
    for shown in ("live", institution, "yes", "check-hes-codes", "10.1.2.0/24", "50/second"):
        assert shown in second, shown
    assert "…" not in out, "nothing is cut off"
    for secret in (generated, chosen, "argon2", "$"):
        assert secret not in out
    for env, user in (("test", "hastane01"), ("live", "hastane02")):
        stored = _user(db, env, user).password_hash
        assert stored.rsplit("$", 1)[-1][:16] not in out


def test_piped_list_keeps_each_value_whole(cli: Invoke, institution: str) -> None:
    """Not a terminal (COLUMNS=80 here): rows grow as wide as needed rather than fold or cut."""
    username = "ankara-sehir-hastanesi-entegrasyon-kullanicisi-01"
    add_user(cli, username, "--method", "check-visitor-hes-code", "--ip", "2001:db8:abcd:12::/64")
    out = cli("user", "list").stdout
    assert "…" not in out
    row = next(line for line in out.splitlines() if username in line)
    for shown in (institution, "check-visitor-hes-code", "2001:db8:abcd:12::/64", "none"):
        assert shown in row


def _failures(db: Engine) -> set[str]:
    with db.connect() as conn:
        return set(conn.execute(select(auth_failures.c.key)).scalars())


def test_user_unlock_clears_the_counts_it_names_and_logs_the_change(
    cli: Invoke, db: Engine
) -> None:
    assert cli("user", "list").exit_code == 0  # the store, as every command prepares it
    now = datetime.now(UTC)
    with db.begin() as conn:
        for key in ("user:live:u1", "addr:203.0.113.9", "addr:198.51.100.1"):
            throttle_repo.count_failure(conn, key, now, lambda n, _last: (n + 1, now))
    result = cli("user", "unlock", "u1", "--env", "live", "--address", "203.0.113.9")
    assert result.exit_code == 0, result.output
    assert result.stdout == "cleared 2 failed-password count(s)\n"
    assert _failures(db) == {"addr:198.51.100.1"}
    with db.connect() as conn:
        logged = conn.execute(
            select(operator_changes.c.action, operator_changes.c.target).where(
                operator_changes.c.entity == "auth_failures"
            )
        ).all()
    assert sorted(logged) == [("unlock", "addr:203.0.113.9"), ("unlock", "user:live:u1")]


def test_user_unlock_needs_something_to_unlock_and_an_environment_for_a_user(cli: Invoke) -> None:
    assert_error(cli("user", "unlock"), "nothing to unlock")
    assert_error(cli("user", "unlock", "u1"), "--env")
