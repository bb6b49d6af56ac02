"""The gateway in front of the HES methods (contract §3): Basic auth per environment, per-method
rights, IP allow-lists, rate limits, credential changes at once, unknown methods."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from saglik.services import authn
from saglik.services.accounts import AccountService
from saglik.store import state
from saglik.store.schema import service_users
from tests.authn_support import current_account
from tests.conftest import Credential, Holder, LiveServer
from tests.web.conftest import (
    HES_METHODS,
    Caller,
    Users,
    assert_http_problem,
    assert_json,
    path,
    request_body,
)

EMPLOYEE = "check-employee-hes-code"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def call(
    http: httpx.Client,
    env: str,
    method: str,
    code: str,
    authorization: str | None = None,
    auth: tuple[str, str] | None = None,
) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return http.post(path(env, method), json=request_body(method, code), headers=headers, auth=auth)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def assert_unauthorized(response: httpx.Response) -> None:
    assert_http_problem(response, 401)
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.split(" ")[0] == "Basic"


# --- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", HES_METHODS)
@pytest.mark.parametrize("env", ["live", "test"])
def test_missing_authorization_answers_401_with_a_basic_challenge(
    http: httpx.Client, make_holder: Callable[..., Holder], method: str, env: str
) -> None:
    holder = make_holder(env=env)
    assert_unauthorized(call(http, env, method, holder.code))


def test_wrong_password_answers_401(
    http: httpx.Client, make_user: Callable[..., Credential], make_holder: Callable[..., Holder]
) -> None:
    user = make_user(env="live")
    holder = make_holder()
    assert_json(call(http, "live", EMPLOYEE, holder.code, auth=user.auth))
    assert_unauthorized(call(http, "live", EMPLOYEE, holder.code, auth=(user.username, "x" * 24)))
    assert_unauthorized(
        call(http, "live", EMPLOYEE, holder.code, auth=(user.username, user.password + "x"))
    )
    assert_unauthorized(call(http, "live", EMPLOYEE, holder.code, auth=(user.username, "")))


def test_password_is_case_sensitive(
    http: httpx.Client, make_user: Callable[..., Credential], make_holder: Callable[..., Holder]
) -> None:
    user = make_user(env="live")
    holder = make_holder()
    swapped = user.password.swapcase()
    assert swapped != user.password
    assert_unauthorized(call(http, "live", EMPLOYEE, holder.code, auth=(user.username, swapped)))


def test_unknown_user_answers_the_403_of_every_refusal_made_before_the_password(
    http: httpx.Client, make_holder: Callable[..., Holder]
) -> None:
    """README "Refusals": a name that is no user is refused like one that may not call, so the
    answer never depends on a password that was not looked at."""
    holder = make_holder()
    assert_http_problem(
        call(http, "live", EMPLOYEE, holder.code, auth=("nobody-at-all", "correct horse battery")),
        403,
    )


def test_username_is_matched_exactly(
    http: httpx.Client, make_user: Callable[..., Credential], make_holder: Callable[..., Holder]
) -> None:
    user = make_user(env="live")
    holder = make_holder()
    for other_name in (user.username.upper(), user.username + " "):
        response = call(http, "live", EMPLOYEE, holder.code, auth=(other_name, user.password))
        assert_http_problem(response, 403)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Basic !!!not-base64!!!", id="not-base64"),
        pytest.param("Basic " + base64.b64encode(b"no-colon-here").decode(), id="no-colon"),
        pytest.param("Basic " + base64.b64encode(b":only-password").decode(), id="empty-user"),
        pytest.param("Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(), id="not-utf8"),
        pytest.param("Basic", id="scheme-only"),
        pytest.param("Basic ====", id="padding-only"),
        pytest.param("Bearer abc.def.ghi", id="bearer"),
        pytest.param("Digest username=x", id="digest"),
        pytest.param("", id="empty"),
        pytest.param("dXNlcjpwYXNz", id="token-without-scheme"),
    ],
)
def test_malformed_authorization_header_answers_401(
    http: httpx.Client, make_holder: Callable[..., Holder], authorization: str
) -> None:
    holder = make_holder()
    assert_unauthorized(call(http, "live", EMPLOYEE, holder.code, authorization=authorization))


def test_basic_scheme_name_is_case_insensitive(
    http: httpx.Client, make_user: Callable[..., Credential], make_holder: Callable[..., Holder]
) -> None:
    user = make_user(env="live")
    holder = make_holder()
    token = basic(user.username, user.password).split(" ", 1)[1]
    assert_json(call(http, "live", EMPLOYEE, holder.code, authorization=f"basic {token}"))


def test_password_containing_a_colon_is_accepted(
    http: httpx.Client, accounts: AccountService, make_holder: Callable[..., Holder]
) -> None:
    institution, username = unique("Kolonlu Parola Kurumu "), unique("colon")
    accounts.add_institution(institution)
    issued = accounts.add_user(
        username=username,
        institution=institution,
        env="live",
        methods=[EMPLOYEE],
        password="pa:ss:word:long-enough",
    )
    holder = make_holder()
    assert_json(call(http, "live", EMPLOYEE, holder.code, auth=(username, issued.password)))


def test_test_credential_on_the_live_path_answers_403_as_an_unknown_user(
    http: httpx.Client, users: Users, make_holder: Callable[..., Holder]
) -> None:
    live_holder, test_holder = make_holder(env="live"), make_holder(env="test")
    for method in HES_METHODS:
        response = call(http, "live", method, live_holder.code, auth=users.test.auth)
        assert_http_problem(response, 403)
        assert call(http, "test", method, test_holder.code, auth=users.test.auth).status_code == 200


def test_live_credential_on_the_test_path_answers_403_as_an_unknown_user(
    http: httpx.Client, users: Users, make_holder: Callable[..., Holder]
) -> None:
    live_holder, test_holder = make_holder(env="live"), make_holder(env="test")
    for method in HES_METHODS:
        response = call(http, "test", method, test_holder.code, auth=users.live.auth)
        assert_http_problem(response, 403)
        assert call(http, "live", method, live_holder.code, auth=users.live.auth).status_code == 200


def test_same_username_in_both_environments_keeps_separate_passwords(
    http: httpx.Client, accounts: AccountService, make_holder: Callable[..., Holder]
) -> None:
    institution, name = unique("İki Ortamlı Kurum "), unique("twin")
    accounts.add_institution(institution)
    live_pw = accounts.add_user(
        username=name, institution=institution, env="live", methods=[EMPLOYEE]
    ).password
    test_pw = accounts.add_user(
        username=name, institution=institution, env="test", methods=[EMPLOYEE]
    ).password
    live_holder, test_holder = make_holder(env="live"), make_holder(env="test")
    assert_json(call(http, "live", EMPLOYEE, live_holder.code, auth=(name, live_pw)))
    assert_json(call(http, "test", EMPLOYEE, test_holder.code, auth=(name, test_pw)))
    assert_unauthorized(call(http, "live", EMPLOYEE, live_holder.code, auth=(name, test_pw)))
    assert_unauthorized(call(http, "test", EMPLOYEE, test_holder.code, auth=(name, live_pw)))


def test_authentication_is_checked_before_the_body(http: httpx.Client) -> None:
    response = http.post(
        path("live", EMPLOYEE), content=b"{not json", headers={"Content-Type": "text/plain"}
    )
    assert_unauthorized(response)


# --- rights ------------------------------------------------------------------------------------


def test_method_not_granted_answers_403(
    http: httpx.Client,
    users: Users,
    make_user: Callable[..., Credential],
    make_holder: Callable[..., Holder],
) -> None:
    no_rights = make_user(env="live", methods=())
    holder = make_holder()
    for method in HES_METHODS:
        assert_http_problem(call(http, "live", method, holder.code, auth=no_rights.auth), 403)
        assert call(http, "live", method, holder.code, auth=users.live.auth).status_code == 200


def test_right_on_one_method_grants_no_other(
    http: httpx.Client, make_user: Callable[..., Credential], make_holder: Callable[..., Holder]
) -> None:
    user = make_user(env="live", methods=("check-hes-codes",))
    holder = make_holder()
    assert call(http, "live", "check-hes-codes", holder.code, auth=user.auth).status_code == 200
    for method in HES_METHODS:
        if method != "check-hes-codes":
            assert_http_problem(call(http, "live", method, holder.code, auth=user.auth), 403)


def test_ip_allow_list_without_the_caller_answers_403(
    http: httpx.Client, make_user: Callable[..., Credential], make_holder: Callable[..., Holder]
) -> None:
    user = make_user(env="live", ip_allowlist=["10.0.0.0/8", "192.0.2.7/32", "::1/128"])
    holder = make_holder()
    assert_http_problem(call(http, "live", EMPLOYEE, holder.code, auth=user.auth), 403)


@pytest.mark.parametrize("allow", [["127.0.0.1/32"], ["127.0.0.0/8"], ["10.1.2.0/24", "127.0.0.1"]])
def test_ip_allow_list_containing_the_caller_admits_it(
    http: httpx.Client,
    make_user: Callable[..., Credential],
    make_holder: Callable[..., Holder],
    allow: list[str],
) -> None:
    user = make_user(env="live", ip_allowlist=allow)
    holder = make_holder()
    assert_json(call(http, "live", EMPLOYEE, holder.code, auth=user.auth))


def test_forwarded_for_header_does_not_bypass_the_allow_list(
    http: httpx.Client, make_user: Callable[..., Credential], make_holder: Callable[..., Holder]
) -> None:
    user = make_user(env="live", ip_allowlist=["203.0.113.0/24"])
    holder = make_holder()
    response = http.post(
        path("live", EMPLOYEE),
        json={"hes_code": holder.code},
        auth=user.auth,
        headers={"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"},
    )
    assert_http_problem(response, 403)


def test_forbidden_answers_are_not_401_and_carry_no_challenge(
    http: httpx.Client, make_user: Callable[..., Credential], make_holder: Callable[..., Holder]
) -> None:
    user = make_user(env="live", methods=("check-hes-codes",))
    holder = make_holder()
    response = call(http, "live", EMPLOYEE, holder.code, auth=user.auth)
    assert_http_problem(response, 403)
    assert "www-authenticate" not in response.headers


# --- rate limits -------------------------------------------------------------------------------


def test_third_call_within_a_minute_on_2_per_minute_answers_429_with_retry_after(
    http: httpx.Client, make_user: Callable[..., Credential], make_holder: Callable[..., Holder]
) -> None:
    user = make_user(env="live", rate_limit="2/minute")
    holder = make_holder()
    assert_json(call(http, "live", EMPLOYEE, holder.code, auth=user.auth))
    assert_json(call(http, "live", EMPLOYEE, holder.code, auth=user.auth))
    response = call(http, "live", EMPLOYEE, holder.code, auth=user.auth)
    assert_http_problem(response, 429)
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60


def test_rate_limit_counts_every_method_of_the_user(
    http: httpx.Client, make_user: Callable[..., Credential], make_holder: Callable[..., Holder]
) -> None:
    user = make_user(env="live", rate_limit="2/minute")
    holder = make_holder()
    assert_json(call(http, "live", EMPLOYEE, holder.code, auth=user.auth))
    assert_json(call(http, "live", "check-hes-code-plus", holder.code, auth=user.auth))
    assert_http_problem(call(http, "live", "check-hes-codes", holder.code, auth=user.auth), 429)


def test_rate_limit_of_one_user_does_not_limit_another(
    http: httpx.Client, make_user: Callable[..., Credential], make_holder: Callable[..., Holder]
) -> None:
    limited = make_user(env="live", rate_limit="1/minute")
    other = make_user(env="live", rate_limit="1/minute")
    holder = make_holder()
    assert_json(call(http, "live", EMPLOYEE, holder.code, auth=limited.auth))
    assert_http_problem(call(http, "live", EMPLOYEE, holder.code, auth=limited.auth), 429)
    assert_json(call(http, "live", EMPLOYEE, holder.code, auth=other.auth))


def test_user_without_a_rate_limit_is_not_limited(
    live: Caller, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    for _ in range(25):
        assert_json(live.check(EMPLOYEE, holder.code))


# --- credential changes --------------------------------------------------------------------------


def test_password_reset_takes_effect_at_once(
    http: httpx.Client,
    accounts: AccountService,
    make_user: Callable[..., Credential],
    make_holder: Callable[..., Holder],
) -> None:
    user = make_user(env="live")
    holder = make_holder()
    assert_json(call(http, "live", EMPLOYEE, holder.code, auth=user.auth))  # now cached
    issued = accounts.reset_password(user.username, "live")
    assert issued.password != user.password
    assert_unauthorized(call(http, "live", EMPLOYEE, holder.code, auth=user.auth))
    assert_json(call(http, "live", EMPLOYEE, holder.code, auth=(user.username, issued.password)))


def test_password_reset_in_one_environment_leaves_the_other_alone(
    http: httpx.Client, accounts: AccountService, make_holder: Callable[..., Holder]
) -> None:
    institution, name = unique("Sıfırlama Kurumu "), unique("reset")
    accounts.add_institution(institution)
    live_pw = accounts.add_user(
        username=name, institution=institution, env="live", methods=[EMPLOYEE]
    ).password
    test_pw = accounts.add_user(
        username=name, institution=institution, env="test", methods=[EMPLOYEE]
    ).password
    test_holder = make_holder(env="test")
    live_holder = make_holder(env="live")
    accounts.reset_password(name, "live")
    assert_unauthorized(call(http, "live", EMPLOYEE, live_holder.code, auth=(name, live_pw)))
    assert_json(call(http, "test", EMPLOYEE, test_holder.code, auth=(name, test_pw)))


# --- routing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["live", "test"])
@pytest.mark.parametrize(
    "method", ["check-hes-kodu", "check-visitor-hes-codes", "CHECK-HES-CODE-PLUS", "nope"]
)
def test_unknown_method_path_answers_404_problem(live: Caller, env: str, method: str) -> None:
    response = live.client.post(
        path(env, method), json={"hes_code": "A1B2345678"}, auth=live.credential.auth
    )
    assert_http_problem(response, 404)


@pytest.mark.parametrize(
    "url",
    [
        "/services/g2g/saglik/hes/",
        "/services/g2g/saglik/hes/check-employee-hes-code/extra",
        "/services/g2g/prod/saglik/hes/check-employee-hes-code",
        "/services/g2g/saglik/HES/check-employee-hes-code",
    ],
)
def test_paths_outside_the_method_routes_answer_404_problem(live: Caller, url: str) -> None:
    response = live.client.post(url, json={"hes_code": "A1B2345678"}, auth=live.credential.auth)
    assert_http_problem(response, 404)


def test_deactivated_user_is_refused_with_403_at_once(
    server: LiveServer,
    http: httpx.Client,
    make_user: Callable[..., Credential],
    make_holder: Callable[..., Holder],
) -> None:
    user = make_user(env="live")
    holder = make_holder()
    assert_json(call(http, "live", EMPLOYEE, holder.code, auth=user.auth))  # now cached
    with server.engine.begin() as conn:  # what an operator's "deactivate" does to the store
        conn.execute(
            service_users.update()
            .where(service_users.c.env == "live", service_users.c.username == user.username)
            .values(active=False)
        )
        state.bump_credentials_version(conn)
    response = call(http, "live", EMPLOYEE, holder.code, auth=user.auth)
    assert_http_problem(response, 403)


# --- one Argon2 verification per credential, however many requests bring it --------------------

CONCURRENT = 12


def test_concurrent_requests_with_a_new_credential_share_one_verification(
    monkeypatch: pytest.MonkeyPatch,
    server: LiveServer,
    make_user: Callable[..., Credential],
    make_holder: Callable[..., Holder],
) -> None:
    user = make_user(env="live")
    holder = make_holder()
    arrived = threading.Semaphore(0)
    hashes: list[int] = []
    original_key = authn.Authenticator.flight_key
    original_verify = authn.verify_password

    def flight_key(self: authn.Authenticator, *args: Any) -> tuple[bytes, int]:
        arrived.release()  # this request missed the cache and is about to verify or join
        return original_key(self, *args)

    def verify_password(stored: str | None, password: str) -> bool:
        hashes.append(1)
        for _ in range(CONCURRENT):  # hold the hash until every request is waiting on it
            assert arrived.acquire(timeout=30)
        return original_verify(stored, password)

    monkeypatch.setattr(authn.Authenticator, "flight_key", flight_key)
    monkeypatch.setattr(authn, "verify_password", verify_password)

    def call(_: int) -> int:
        with server.client(auth=user.auth) as client:
            response = client.post(
                path("live", "check-employee-hes-code"), json={"hes_code": holder.code}
            )
            return response.status_code

    with ThreadPoolExecutor(CONCURRENT) as pool:
        statuses = list(pool.map(call, range(CONCURRENT)))
    assert statuses == [200] * CONCURRENT
    assert len(hashes) == 1


def test_a_change_to_the_credentials_starts_a_new_verification(
    server: LiveServer, make_user: Callable[..., Credential]
) -> None:
    user = make_user(env="live")
    authenticator = authn.Authenticator(server.engine)

    def flight_key() -> tuple[bytes, int]:
        account = current_account(authenticator, "live", user.username)
        assert account is not None
        return authenticator.flight_key(account, user.password)

    before = flight_key()
    assert flight_key() == before
    with server.engine.begin() as conn:
        state.bump_credentials_version(conn)
    assert flight_key() != before
