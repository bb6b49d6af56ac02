"""Who is calling (contract §3, §8): a user looked up by name (no secret involved), its password
verified once per copy of the users, a copy that every credential change replaces at once, IP
allow-lists and per-method rights."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from saglik.domain.methods import ALL_METHODS
from saglik.services import authn as authn_module
from saglik.services.accounts import AccountService
from saglik.services.authn import Authenticator, Principal
from tests.authn_support import current_account
from tests.conftest import Credential

MakeUser = Callable[..., Credential]


@pytest.fixture
def authn(store: Engine) -> Authenticator:
    return Authenticator(store)


def login(authn: Authenticator, env: str, username: str, password: str) -> Principal | None:
    """What the gateway does once nothing but the password is left to decide."""
    account = current_account(authn, env, username)
    if account is None or not authn.verify(account, password):
        return None
    return account.principal


def cached(authn: Authenticator, env: str, username: str, password: str) -> bool:
    account = current_account(authn, env, username)
    return account is not None and authn.cached(account, password)


def test_the_right_credential_gives_its_principal(
    authn: Authenticator, make_user: MakeUser
) -> None:
    user = make_user(env="test", methods=("check-hes-codes",), rate_limit="5/second")
    principal = login(authn, "test", user.username, user.password)
    assert principal is not None
    assert principal.username == user.username
    assert principal.env == "test"
    assert principal.active
    assert principal.methods == frozenset({"check-hes-codes"})
    assert principal.rate_limit == "5/second"
    assert principal.user_id > 0
    assert principal.institution_id > 0


def test_a_wrong_password_gives_nothing(authn: Authenticator, make_user: MakeUser) -> None:
    user = make_user()
    assert login(authn, "test", user.username, user.password + "x") is None
    assert login(authn, "test", user.username, "") is None
    assert not cached(authn, "test", user.username, user.password + "x")


def test_an_unknown_user_gives_nothing(authn: Authenticator, make_user: MakeUser) -> None:
    user = make_user()
    assert login(authn, "test", user.username + "x", user.password) is None


def test_a_credential_works_only_in_its_own_environment(
    authn: Authenticator, make_user: MakeUser
) -> None:
    sandbox = make_user(env="test")
    live = make_user(env="live")
    assert login(authn, "live", sandbox.username, sandbox.password) is None
    assert login(authn, "test", live.username, live.password) is None
    assert login(authn, "live", live.username, live.password) is not None


def test_a_verified_credential_is_served_from_the_cache(
    authn: Authenticator, make_user: MakeUser
) -> None:
    user = make_user()
    assert not cached(authn, "test", user.username, user.password)
    assert login(authn, "test", user.username, user.password) is not None
    assert cached(authn, "test", user.username, user.password)


def test_the_first_verification_of_a_new_authenticator_is_cached(
    store: Engine, make_user: MakeUser
) -> None:
    user = make_user()
    authn = Authenticator(store)
    assert login(authn, "test", user.username, user.password) is not None
    assert cached(authn, "test", user.username, user.password)


def test_the_cache_is_keyed_by_the_whole_credential(
    authn: Authenticator, make_user: MakeUser
) -> None:
    user = make_user()
    assert login(authn, "test", user.username, user.password) is not None
    assert not cached(authn, "test", user.username, user.password[:-1])
    assert not cached(authn, "live", user.username, user.password)
    assert not cached(authn, "test", user.username.upper(), user.password)


def test_a_password_reset_empties_the_cache_at_once(
    authn: Authenticator, accounts: AccountService, make_user: MakeUser
) -> None:
    user = make_user()
    assert login(authn, "test", user.username, user.password) is not None
    assert cached(authn, "test", user.username, user.password)
    new = accounts.reset_password(user.username, "test")
    assert not cached(authn, "test", user.username, user.password)
    assert login(authn, "test", user.username, user.password) is None
    assert login(authn, "test", user.username, new.password) is not None
    assert cached(authn, "test", user.username, new.password)


def test_a_change_to_any_other_user_also_empties_the_cache(
    authn: Authenticator, make_user: MakeUser
) -> None:
    user = make_user()
    assert login(authn, "test", user.username, user.password) is not None
    assert cached(authn, "test", user.username, user.password)
    make_user()
    assert not cached(authn, "test", user.username, user.password)


def test_the_documented_delay_keeps_an_old_credential_until_it_expires(
    store: Engine, accounts: AccountService, make_user: MakeUser
) -> None:
    """Sandbox fidelity (the ÖBS document's five minutes): with a fixed delay the old password
    keeps working, and the new one does not yet."""
    authn = Authenticator(store, fixed_delay_seconds=3600)
    user = make_user()
    assert login(authn, "test", user.username, user.password) is not None
    new = accounts.reset_password(user.username, "test")
    assert cached(authn, "test", user.username, user.password)
    assert login(authn, "test", user.username, user.password) is not None
    assert login(authn, "test", user.username, new.password) is None


def test_after_the_documented_delay_the_change_takes_effect(
    store: Engine, accounts: AccountService, make_user: MakeUser
) -> None:
    authn = Authenticator(store, fixed_delay_seconds=0.2)
    user = make_user()
    assert login(authn, "test", user.username, user.password) is not None
    new = accounts.reset_password(user.username, "test")
    assert login(authn, "test", user.username, new.password) is None  # the change is seen
    time.sleep(0.25)
    assert login(authn, "test", user.username, user.password) is None
    assert login(authn, "test", user.username, new.password) is not None


def test_the_cache_never_holds_the_clear_password(
    authn: Authenticator, make_user: MakeUser
) -> None:
    user = make_user()
    assert login(authn, "test", user.username, user.password) is not None
    assert user.password not in repr(authn.__dict__)
    assert user.password.encode() not in b"".join(authn._verified)


# --- rights and IP allow-lists -----------------------------------------------------------------


def test_a_principal_may_call_only_its_granted_methods(
    authn: Authenticator, make_user: MakeUser
) -> None:
    user = make_user(methods=("check-hes-code-plus",))
    principal = login(authn, "test", user.username, user.password)
    assert principal is not None
    assert principal.may_call("check-hes-code-plus")
    for other in set(ALL_METHODS) - {"check-hes-code-plus"}:
        assert not principal.may_call(other)


def test_a_principal_without_methods_may_call_nothing(
    authn: Authenticator, make_user: MakeUser
) -> None:
    user = make_user(methods=())
    principal = login(authn, "test", user.username, user.password)
    assert principal is not None
    assert not any(principal.may_call(m) for m in ALL_METHODS)


def test_without_an_allow_list_any_address_is_allowed(
    authn: Authenticator, make_user: MakeUser
) -> None:
    user = make_user()
    principal = login(authn, "test", user.username, user.password)
    assert principal is not None
    assert principal.networks == ()
    for ip in ("203.0.113.9", "::1", None):
        assert principal.allows_ip(ip)


@pytest.mark.parametrize(
    ("ip", "allowed"),
    [
        ("10.0.0.1", True),
        ("10.255.255.255", True),
        ("192.0.2.7", True),
        ("192.0.2.8", False),
        ("11.0.0.1", False),
        ("2001:db8::1", True),
        ("2001:db9::1", False),
        ("::ffff:172.16.0.1", False),
        (None, False),
        ("not-an-ip", False),
        ("", False),
    ],
)
def test_with_an_allow_list_the_address_must_be_inside_it(
    authn: Authenticator, make_user: MakeUser, ip: str | None, allowed: bool
) -> None:
    user = make_user(ip_allowlist=["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"])
    principal = login(authn, "test", user.username, user.password)
    assert principal is not None
    assert principal.allows_ip(ip) is allowed


def test_a_password_reset_during_a_verification_does_not_leave_the_old_password_cached(
    authn: Authenticator,
    accounts: AccountService,
    make_user: MakeUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hash check runs off the event loop; while it runs, the password is reset and another
    request on the loop sees the change. The old password must not end up in the cache."""
    user = make_user()
    real_verify = authn_module.verify_password

    def verify_while_reset_happens(password_hash: str | None, password: str) -> bool:
        ok = real_verify(password_hash, password)
        accounts.reset_password(user.username, "test")
        assert not cached(authn, "test", user.username, "another request")
        return ok

    monkeypatch.setattr(authn_module, "verify_password", verify_while_reset_happens)
    assert login(authn, "test", user.username, user.password) is not None
    monkeypatch.setattr(authn_module, "verify_password", real_verify)
    assert not cached(authn, "test", user.username, user.password)
    assert login(authn, "test", user.username, user.password) is None
