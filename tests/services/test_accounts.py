"""Institutions and service users (contract §3): what the operator may create, and what is refused
before anything is stored."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine

from saglik.domain.methods import ALL_METHODS, HES_METHODS
from saglik.services.accounts import AccountService, InvalidAccountError, valid_username
from saglik.services.passwords import verify_password
from saglik.store import accounts_repo, state
from saglik.store.accounts_repo import DuplicateError, NotFoundError, UserRecord


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture
def institution(accounts: AccountService) -> str:
    name = unique("Kurum ")
    accounts.add_institution(name)
    return name


def find(store: Engine, env: str, username: str) -> UserRecord | None:
    with store.connect() as conn:
        return accounts_repo.find_user(conn, env, username)


def add(accounts: AccountService, institution: str, **changes: Any) -> tuple[str, Any]:
    options: dict[str, Any] = {
        "username": unique("u"),
        "institution": institution,
        "env": "test",
        "methods": ["check-hes-codes"],
    }
    options.update(changes)
    return options["username"], accounts.add_user(**options)


# --- institutions ------------------------------------------------------------------------------


def test_an_institution_name_is_stored_with_single_spaces(
    store: Engine, accounts: AccountService
) -> None:
    name = unique("Sağlık ")
    accounts.add_institution(f"  {name.replace(' ', '   ')}  ")
    with store.connect() as conn:
        assert accounts_repo.institution_id(conn, name) > 0


def test_adding_an_institution_returns_what_was_stored(
    store: Engine, accounts: AccountService
) -> None:
    name = unique("Sağlık ")
    added = accounts.add_institution(f"  {name.replace(' ', '   ')}  ")
    with store.connect() as conn:
        listed = accounts_repo.list_institutions(conn)
    assert added.name == " ".join(name.split())
    assert (added.id, added.name, added.created_at, 0) in listed


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_a_blank_institution_name_is_refused(accounts: AccountService, blank: str) -> None:
    with pytest.raises(InvalidAccountError, match="blank"):
        accounts.add_institution(blank)


def test_an_institution_name_is_registered_once(accounts: AccountService, institution: str) -> None:
    with pytest.raises(DuplicateError):
        accounts.add_institution(institution)


# --- users -------------------------------------------------------------------------------------


def test_a_user_is_created_with_a_generated_password_kept_only_as_argon2id(
    store: Engine, accounts: AccountService, institution: str
) -> None:
    username, issued = add(accounts, institution, methods=HES_METHODS)
    assert (issued.username, issued.env) == (username, "test")
    assert len(issued.password) >= 12
    stored = find(store, "test", username)
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert issued.password not in stored.password_hash
    assert verify_password(stored.password_hash, issued.password)
    assert stored.methods == frozenset(HES_METHODS)
    assert stored.institution_name == institution
    assert stored.active


def test_every_new_user_gets_a_different_generated_password(
    accounts: AccountService, institution: str
) -> None:
    _, first = add(accounts, institution)
    _, second = add(accounts, institution)
    assert first.password != second.password


def test_a_chosen_password_of_twelve_characters_is_accepted(
    store: Engine, accounts: AccountService, institution: str
) -> None:
    username, issued = add(accounts, institution, password="x" * 12)
    assert issued.password == "x" * 12
    stored = find(store, "test", username)
    assert stored is not None
    assert verify_password(stored.password_hash, "x" * 12)


def test_scope_allow_list_and_rate_limit_are_stored(
    store: Engine, accounts: AccountService, institution: str
) -> None:
    username, _ = add(
        accounts,
        institution,
        province_code=34,
        district_code=1103,
        ip_allowlist=[" 10.1.2.3/8 ", "2001:db8::/32", "192.0.2.7"],
        rate_limit="100/second",
    )
    stored = find(store, "test", username)
    assert stored is not None
    assert (stored.province_code, stored.district_code) == (34, 1103)
    assert stored.ip_allowlist == ("10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32")
    assert stored.rate_limit == "100/second"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"methods": ["check-hes-kodu", "check-hes-codes"]}, "unknown method"),
        ({"methods": ["CHECK-HES-CODES"]}, "unknown method"),
        ({"ip_allowlist": ["10.0.0.0/33"]}, "not an IP network"),
        ({"ip_allowlist": ["10.0.0.0/8", "intranet"]}, "not an IP network"),
        ({"ip_allowlist": ["300.1.1.1"]}, "not an IP network"),
        ({"rate_limit": "lots"}, "not a rate limit"),
        ({"rate_limit": "10/fortnight"}, "not a rate limit"),
        ({"rate_limit": ""}, "not a rate limit"),
        ({"rate_limit": "0/second"}, "not a rate limit"),
        ({"password": "short"}, "at least 12"),
        ({"password": "x" * 11}, "at least 12"),
        ({"env": "prod"}, "environment"),
        ({"env": "TEST"}, "environment"),
        ({"username": ""}, "username"),
        ({"username": "nul\x00byte"}, "username"),
        ({"username": "bell\x07"}, "username"),
        ({"username": "with space"}, "username"),
        ({"username": "with:colon"}, "username"),
        ({"username": "with/slash"}, "username"),
        ({"username": "x" * 101}, "username"),
    ],
)
def test_invalid_user_settings_are_refused_and_nothing_is_stored(
    store: Engine,
    accounts: AccountService,
    institution: str,
    changes: dict[str, Any],
    message: str,
) -> None:
    username = changes.get("username", unique("u"))
    before = _version(store)
    with pytest.raises(InvalidAccountError, match=message):
        add(accounts, institution, **{**changes, "username": username})
    if username and "\x00" not in username:  # PostgreSQL text cannot even be queried with NUL
        for any_env in ("test", "live"):
            assert find(store, any_env, username) is None
    assert _version(store) == before


def _version(store: Engine) -> int:
    with store.connect() as conn:
        return state.versions(conn).credentials


def test_an_unknown_institution_is_refused(store: Engine, accounts: AccountService) -> None:
    username = unique("u")
    with pytest.raises(NotFoundError, match="institution"):
        accounts.add_user(
            username=username, institution=unique("Nowhere "), env="test", methods=ALL_METHODS
        )
    assert find(store, "test", username) is None


def test_a_username_is_unique_within_an_environment(
    store: Engine, accounts: AccountService, institution: str
) -> None:
    username, first = add(accounts, institution)
    with pytest.raises(DuplicateError):
        add(accounts, institution, username=username, methods=ALL_METHODS)
    stored = find(store, "test", username)
    assert stored is not None
    assert verify_password(stored.password_hash, first.password)
    assert stored.methods == frozenset({"check-hes-codes"})


def test_the_same_username_may_exist_in_both_environments(
    store: Engine, accounts: AccountService, institution: str
) -> None:
    username, in_test = add(accounts, institution, env="test")
    _, in_live = add(accounts, institution, username=username, env="live")
    test_user, live_user = find(store, "test", username), find(store, "live", username)
    assert test_user is not None
    assert live_user is not None
    assert test_user.id != live_user.id
    assert not verify_password(live_user.password_hash, in_test.password)
    assert verify_password(live_user.password_hash, in_live.password)


def test_creating_a_user_bumps_the_credentials_version(
    store: Engine, accounts: AccountService, institution: str
) -> None:
    before = _version(store)
    add(accounts, institution)
    assert _version(store) > before


# --- password rotation -------------------------------------------------------------------------


def test_reset_password_replaces_the_old_one(
    store: Engine, accounts: AccountService, institution: str
) -> None:
    username, old = add(accounts, institution)
    before = _version(store)
    new = accounts.reset_password(username, "test")
    assert new.password != old.password
    stored = find(store, "test", username)
    assert stored is not None
    assert verify_password(stored.password_hash, new.password)
    assert not verify_password(stored.password_hash, old.password)
    assert _version(store) > before


def test_reset_password_to_a_chosen_one(
    store: Engine, accounts: AccountService, institution: str
) -> None:
    username, _ = add(accounts, institution)
    accounts.reset_password(username, "test", "a chosen one 2026")
    stored = find(store, "test", username)
    assert stored is not None
    assert verify_password(stored.password_hash, "a chosen one 2026")


def test_reset_password_refuses_a_short_password(
    store: Engine, accounts: AccountService, institution: str
) -> None:
    username, issued = add(accounts, institution)
    with pytest.raises(InvalidAccountError, match="at least 12"):
        accounts.reset_password(username, "test", "short")
    stored = find(store, "test", username)
    assert stored is not None
    assert verify_password(stored.password_hash, issued.password)


def test_reset_password_of_an_unknown_user_is_refused(accounts: AccountService) -> None:
    with pytest.raises(NotFoundError):
        accounts.reset_password(unique("nobody"), "test")


def test_reset_password_in_the_other_environment_is_refused(
    accounts: AccountService, institution: str
) -> None:
    username, _ = add(accounts, institution, env="test")
    with pytest.raises(NotFoundError):
        accounts.reset_password(username, "live")


def test_reset_password_refuses_an_unknown_environment(
    accounts: AccountService, institution: str
) -> None:
    username, _ = add(accounts, institution)
    with pytest.raises(InvalidAccountError, match="environment"):
        accounts.reset_password(username, "staging")


def test_adding_a_user_returns_the_user_as_stored(
    store: Engine, accounts: AccountService, institution: str
) -> None:
    username, issued = add(accounts, institution, env="live", rate_limit="5/second")
    assert issued.user == find(store, "live", username)
    assert (issued.username, issued.env) == (username, "live")


def test_list_users_of_one_environment(accounts: AccountService, institution: str) -> None:
    in_test, _ = add(accounts, institution, env="test")
    in_live, _ = add(accounts, institution, env="live")
    for env, mine, other in (("test", in_test, in_live), ("live", in_live, in_test)):
        listed = accounts.list_users(env)
        assert {u.env for u in listed} == {env}
        names = [u.username for u in listed]
        assert mine in names
        assert other not in names
        assert names == sorted(names)
    everyone = {(u.env, u.username) for u in accounts.list_users()}
    assert {("test", in_test), ("live", in_live)} <= everyone
    with pytest.raises(InvalidAccountError, match="environment"):
        accounts.list_users("prod")


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("abb-hes", True),
        ("kurum.ç_01@x", True),
        ("x" * 100, True),
        ("", False),
        ("x" * 101, False),
        ("a b", False),
        ("a\tb", False),
        ("a:b", False),
        ("a/b", False),
        ("a\x00b", False),
        ("a\u200bb", False),
    ],
)
def test_the_one_username_rule(name: str, valid: bool) -> None:
    assert valid_username(name) is valid


def test_list_users_shows_users_with_their_rights(
    accounts: AccountService, institution: str
) -> None:
    username, _ = add(accounts, institution, methods=["check-hes-code-plus", "check-hes-codes"])
    listed = {(u.env, u.username): u for u in accounts.list_users()}
    assert listed[("test", username)].methods == {"check-hes-code-plus", "check-hes-codes"}
    assert listed[("test", username)].institution_name == institution
