"""Wrong passwords slow guessing (issue 11, F5; README "Guessing"), over a real socket.

FREE_FAILURES wrong passwords are answered as such; after that each one locks the username and
the client address for 1 s, 2 s, 4 s … (up to 15 min, clock time). While a key is locked, HES
answers 429 with ``Retry-After`` and ÖBS its one documented 500, whatever the password.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, select

from saglik.config import Settings
from saglik.domain import throttle
from saglik.domain.clock import ManualClock
from saglik.services.accounts import AccountService
from saglik.store.schema import auth_failures
from tests.conftest import Credential, LiveServer, start_server
from tests.web.conftest import path
from tests.web.obs_helpers import assert_auth_failure, obs_get

EMPLOYEE = "check-employee-hes-code"


def _hes(http: httpx.Client, auth: tuple[str, str], **headers: str) -> httpx.Response:
    return http.post(path("live", EMPLOYEE), json={"hes_code": "X"}, auth=auth, headers=headers)


def _admitted(response: httpx.Response) -> bool:
    """Past the gateway: the made-up code "X" gets the HES error answer, not a refusal."""
    return response.status_code == 400 and "errorKey" in response.json()


def _wrong(user: Credential, n: int = 0) -> tuple[str, str]:
    return user.username, f"not-the-password-{n}"


def _fail_freely(http: httpx.Client, user: Credential, **headers: str) -> None:
    for n in range(throttle.FREE_FAILURES):
        assert _hes(http, _wrong(user, n), **headers).status_code == 401


def test_guessing_is_locked_out_after_the_free_failures_whatever_the_password(
    server: LiveServer, http: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    user = make_user(env="live")
    _fail_freely(http, user)
    assert _hes(http, _wrong(user, 99)).status_code == 401  # the one that sets the first lock
    for auth in (_wrong(user, 100), user.auth):
        response = _hes(http, auth)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"
        assert response.json()["detail"] == "Too many failed authentications; try again later"
    server.clock.advance(timedelta(seconds=1, milliseconds=1))
    assert _admitted(_hes(http, user.auth))  # the lock ran out


def test_each_further_failure_doubles_the_lock(
    server: LiveServer, http: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    user = make_user(env="live")
    _fail_freely(http, user)
    for retry_after in (1, 2, 4, 8):
        assert _hes(http, _wrong(user)).status_code == 401
        assert _hes(http, _wrong(user)).headers["retry-after"] == str(retry_after)
        server.clock.advance(timedelta(seconds=retry_after, milliseconds=1))


def test_a_right_password_forgives_the_usernames_count(
    server: LiveServer, http: httpx.Client, make_user: Callable[..., Credential], store: Engine
) -> None:
    user = make_user(env="live")
    _fail_freely(http, user)
    assert _admitted(_hes(http, user.auth))
    with store.connect() as conn:
        keys = set(conn.execute(select(auth_failures.c.key)).scalars())
    assert keys == {throttle.address_key("127.0.0.1")}


def test_obs_answers_a_lock_with_its_one_documented_500(
    server: LiveServer, http: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    user = make_user(env="live")
    _fail_freely(http, user)
    assert _hes(http, _wrong(user)).status_code == 401
    response = obs_get(http, "live", "GetTumOlumlerByDate", user.auth, {"Tarih": "2025-03-14"})
    assert_auth_failure(response)


def test_the_address_is_counted_across_usernames(
    server: LiveServer, http: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    """A guesser spreading its attempts over many usernames is held back by its address."""
    users = [make_user(env="live") for _ in range(throttle.FREE_FAILURES + 1)]
    for user in users:
        assert _hes(http, _wrong(user)).status_code == 401
    assert _hes(http, users[0].auth).status_code == 429


@pytest.fixture
def behind_proxy(store: Engine, clock: ManualClock) -> Iterator[str]:
    """A second server (another worker, as far as the store can tell) that takes the client
    address from X-Forwarded-For: guesses can come from many addresses."""
    settings = Settings(database_url="unused", trusted_proxies=("127.0.0.1/32",))
    srv, thread, base_url = start_server(store, clock, settings)
    yield base_url
    srv.should_exit = True
    thread.join(timeout=15)


def test_a_lock_set_through_one_worker_holds_in_another(
    server: LiveServer, make_user: Callable[..., Credential], behind_proxy: str
) -> None:
    user = make_user(env="live")
    with httpx.Client(base_url=behind_proxy, timeout=10) as other, server.client() as first:
        _fail_freely(first, user)
        assert _hes(first, _wrong(user)).status_code == 401
        assert _hes(other, user.auth, **{"X-Forwarded-For": "198.51.100.7"}).status_code == 429


def test_guesses_from_elsewhere_never_lock_out_an_address_in_the_users_allow_list(
    make_user: Callable[..., Credential], behind_proxy: str
) -> None:
    user = make_user(env="live", ip_allowlist=["192.0.2.0/24"])
    with httpx.Client(base_url=behind_proxy, timeout=10) as http:
        for n in range(3 * throttle.FREE_FAILURES):  # one guesser per address, inside the list
            guesser = {"X-Forwarded-For": f"192.0.2.{100 + n}"}
            assert _hes(http, _wrong(user, n), **guesser).status_code == 401
        home = {"X-Forwarded-For": "192.0.2.1"}
        assert _admitted(_hes(http, user.auth, **home))


def test_user_unlock_clears_a_lock(
    server: LiveServer,
    http: httpx.Client,
    make_user: Callable[..., Credential],
    accounts: AccountService,
) -> None:
    user = make_user(env="live")
    _fail_freely(http, user)
    assert _hes(http, _wrong(user)).status_code == 401
    assert _hes(http, user.auth).status_code == 429
    assert accounts.unlock(user.username, "live", ["127.0.0.1"]) == 2
    assert _admitted(_hes(http, user.auth))


def test_a_lock_and_its_lifting_hold_at_once_where_the_password_was_already_verified(
    server: LiveServer,
    make_user: Callable[..., Credential],
    accounts: AccountService,
    behind_proxy: str,
) -> None:
    """The other worker admits the user from its cache of verified passwords, without the store:
    it must still know, for its very next call, of a lock set or lifted through another."""
    user = make_user(env="live")
    elsewhere = {"X-Forwarded-For": "198.51.100.8"}
    with httpx.Client(base_url=behind_proxy, timeout=10) as other, server.client() as first:
        assert _admitted(_hes(other, user.auth, **elsewhere))  # verified there, now cached
        _fail_freely(first, user)
        assert _hes(first, _wrong(user)).status_code == 401  # the username's first lock
        assert _hes(other, user.auth, **elsewhere).status_code == 429
        assert accounts.unlock(user.username, "live", ()) == 1
        assert _admitted(_hes(other, user.auth, **elsewhere))
