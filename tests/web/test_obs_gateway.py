"""The gateway in front of the ÖBS methods (contract §3, ÖBS document): any refusal — wrong or
missing credentials, unknown user, no right on the method, address not allowed, the other
environment's credential — is one HTTP 500 with one body; over the limit is 429 with Retry-After;
live and test data are apart."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable

import httpx
import pytest

from saglik.domain.methods import HES_METHODS, OBS_METHODS
from saglik.services.accounts import AccountService
from tests.change_support import change_log
from tests.conftest import Credential, LiveServer
from tests.web.conftest import Users
from tests.web.obs_helpers import (
    AUTH_FAILURE_MESSAGE,
    DATE_METHODS,
    PASSPORT_METHODS,
    Registered,
    Registry,
    assert_auth_failure,
    assert_not_found,
    envelope,
    obs_get,
    obs_path,
    success,
)

FIXTURE_CITIZEN = {
    "TcKimlikNo": "76883560160",
    "Adi": "Mehmet Emin",
    "Soyadi": "Yıldız",
    "DogumTarihi": "1941-05-02",
}
"""The sandbox's T.C. citizen (data/obs_fixtures.json), present on the test path only."""


@pytest.fixture
def registry(server: LiveServer) -> Registry:
    return Registry(server)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def params_for(method: str, reg: Registered) -> dict[str, str]:
    return {"Tarih": "2026-06-15"} if method in DATE_METHODS else reg.params_for(method)


@pytest.fixture(scope="module")
def callers(server: LiveServer) -> dict[str, Credential]:
    """Per backend, the users the refusal tests call as (hashing a password is slow)."""
    accounts = AccountService(server.engine, server.clock, change_log(server.engine, server.clock))
    made = {}
    for name, env, methods, options in (
        ("allowed", "live", OBS_METHODS, {}),
        ("hes-only", "live", HES_METHODS, {}),
        ("only-death-date", "live", ("GetOlumTarihiByTcKimlikNo",), {}),
        ("only-all-deaths", "live", ("GetTumOlumlerByDate",), {}),
        ("wrong-ip", "live", OBS_METHODS, {"ip_allowlist": ["10.20.0.0/16"]}),
        ("test", "test", OBS_METHODS, {}),
    ):
        institution = f"Ret {name} {uuid.uuid4().hex[:8]}"
        accounts.add_institution(institution)
        username = f"ret{uuid.uuid4().hex[:12]}"
        issued = accounts.add_user(
            username=username, institution=institution, env=env, methods=methods, **options
        )
        made[name] = Credential(username, issued.password, env)
    return made


def refusals(
    http: httpx.Client, callers: dict[str, Credential], reg: Registered, method: str
) -> dict[str, httpx.Response]:
    """Every way of being refused on the live path, for one method."""
    allowed = callers["allowed"]
    one_other_method = callers[
        "only-all-deaths" if method == "GetOlumTarihiByTcKimlikNo" else "only-death-date"
    ]
    params = params_for(method, reg)

    def call(
        auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return obs_get(http, "live", method, auth, params, headers=headers)

    assert envelope(call(allowed.auth))["State"] == 1  # the same call goes through when allowed
    return {
        "no-authorization": call(),
        "wrong-password": call((allowed.username, allowed.password + "x")),
        "empty-password": call((allowed.username, "")),
        "unknown-user": call(("no-such-user-here", allowed.password)),
        "password-of-another-user": call((callers["hes-only"].username, allowed.password)),
        "not-basic": call(headers={"Authorization": "Bearer " + allowed.password}),
        "garbage-basic": call(headers={"Authorization": "Basic !!!notbase64"}),
        "no-colon": call(headers={"Authorization": "Basic " + base64.b64encode(b"x").decode()}),
        "hes-methods-only": call(callers["hes-only"].auth),
        "another-obs-method-only": call(one_other_method.auth),
        "ip-not-allowed": call(callers["wrong-ip"].auth),
        "test-credential-on-live": call(callers["test"].auth),
    }


@pytest.mark.parametrize("method", OBS_METHODS)
def test_every_refusal_is_one_identical_500(
    http: httpx.Client, callers: dict[str, Credential], registry: Registry, method: str
) -> None:
    reg = registry.register(passport=method in PASSPORT_METHODS)
    responses = refusals(http, callers, reg, method)
    bodies = {name: assert_auth_failure(r) for name, r in responses.items()}
    assert len(set(bodies.values())) == 1, bodies
    body = next(iter(bodies.values()))
    assert AUTH_FAILURE_MESSAGE.encode() in body
    assert (
        "Servis kullanımı yetkisi için servis sağlayıcısı kurum ile görüşünüz...".encode() in body
    )
    for response in responses.values():
        assert "www-authenticate" not in response.headers
        assert "retry-after" not in response.headers


def test_the_refusal_carries_nothing_about_the_case(
    http: httpx.Client, callers: dict[str, Credential], registry: Registry
) -> None:
    reg = registry.register()
    responses = refusals(http, callers, reg, "GetOlumByTcKimlikNoFull")
    headers = {
        name: sorted((k, v) for k, v in r.headers.items() if k not in ("date", "x-request-id"))
        for name, r in responses.items()
    }
    assert len({tuple(h) for h in headers.values()}) == 1, headers


@pytest.mark.parametrize("method", OBS_METHODS)
def test_a_live_credential_is_refused_on_the_test_path(
    http: httpx.Client, users: Users, method: str
) -> None:
    response = obs_get(http, "test", method, users.live.auth, {"Tarih": "2025-03-14"})
    assert_auth_failure(response)
    missing = obs_get(http, "test", method, None, {"Tarih": "2025-03-14"})
    assert response.content == missing.content


def test_a_user_granted_one_obs_method_may_call_only_that_one(
    http: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    user = make_user(env="test", methods=("GetOlumByTcKimlikNoBasic",))
    assert success(obs_get(http, "test", "GetOlumByTcKimlikNoBasic", user.auth, FIXTURE_CITIZEN))
    # the right is per method name, whatever case the path uses
    lowered = obs_get(http, "test", "getolumbytckimliknobasic", user.auth, FIXTURE_CITIZEN)
    assert success(lowered)["TcKimlikNo"] == "76883560160"
    for method in OBS_METHODS:
        if method != "GetOlumByTcKimlikNoBasic":
            assert_auth_failure(obs_get(http, "test", method, user.auth, FIXTURE_CITIZEN))


def test_hes_rights_give_nothing_on_obs(
    http: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    user = make_user(env="test", methods=HES_METHODS)
    for method in OBS_METHODS:
        assert_auth_failure(obs_get(http, "test", method, user.auth, FIXTURE_CITIZEN))


def test_an_allowed_address_goes_through(
    http: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    user = make_user(env="test", methods=OBS_METHODS, ip_allowlist=["10.0.0.0/8", "127.0.0.1/32"])
    assert success(obs_get(http, "test", "GetOlumByTcKimlikNoBasic", user.auth, FIXTURE_CITIZEN))
    blocked = make_user(env="test", methods=OBS_METHODS, ip_allowlist=["10.0.0.0/8"])
    refused = obs_get(http, "test", "GetOlumByTcKimlikNoBasic", blocked.auth, FIXTURE_CITIZEN)
    assert_auth_failure(refused)
    # a forged X-Forwarded-For does not buy an allowed address (no trusted proxy configured)
    forged = http.get(
        obs_path("test", "GetOlumByTcKimlikNoBasic"),
        params=FIXTURE_CITIZEN,
        auth=blocked.auth,
        headers={"X-Forwarded-For": "10.1.2.3"},
    )
    assert forged.content == refused.content
    assert forged.status_code == 500


def test_rate_limit_answers_429_with_retry_after(
    http: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    user = make_user(env="test", methods=OBS_METHODS, rate_limit="2/minute")
    first = obs_get(http, "test", "GetOlumByTcKimlikNoBasic", user.auth, FIXTURE_CITIZEN)
    second = obs_get(http, "test", "GetTumOlumlerByDate", user.auth, {"Tarih": "2025-03-14"})
    assert success(first)["TcKimlikNo"] == "76883560160"
    assert isinstance(success(second), list)
    third = obs_get(http, "test", "GetOlumByTcKimlikNoFull", user.auth, FIXTURE_CITIZEN)
    body = envelope(third, 429)
    assert body["State"] == 0
    assert body["Result"] is None
    assert isinstance(body["Message"], str)
    assert body["Message"]
    retry = third.headers["retry-after"]
    assert retry.isdigit()
    assert 1 <= int(retry) <= 60
    # the limit is the user's: another user is not held back
    other = make_user(env="test", methods=OBS_METHODS, rate_limit="2/minute")
    assert success(obs_get(http, "test", "GetOlumByTcKimlikNoBasic", other.auth, FIXTURE_CITIZEN))


def test_rate_limit_does_not_reveal_more_than_the_refusal_for_bad_credentials(
    http: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    """Wrong passwords are refused before any limit is counted, so they answer the 500."""
    user = make_user(env="test", methods=OBS_METHODS, rate_limit="1/minute")
    for _ in range(3):
        response = obs_get(http, "test", "GetTumOlumlerByDate", (user.username, "nope"), {})
        assert_auth_failure(response)
    assert isinstance(
        success(obs_get(http, "test", "GetTumOlumlerByDate", user.auth, {"Tarih": "2025-03-14"})),
        list,
    )


def test_test_fixtures_are_not_visible_on_live(http: httpx.Client, users: Users) -> None:
    sandbox = obs_get(http, "test", "GetOlumByTcKimlikNoBasic", users.test.auth, FIXTURE_CITIZEN)
    assert success(sandbox)["FormNo"] == "9000000011"
    live = obs_get(http, "live", "GetOlumByTcKimlikNoBasic", users.live.auth, FIXTURE_CITIZEN)
    assert_not_found(live)
    by_form = {"FormNo": "9000000011", "ReferansNo": "TSTA7K2M"}
    assert_not_found(obs_get(http, "live", "GetOlumByFormNoFull", users.live.auth, by_form))
    feed = obs_get(http, "live", "GetTumOlumlerByDate", users.live.auth, {"Tarih": "2025-03-14"})
    assert {"FormNo": "9000000011", "ReferansNo": "TSTA7K2M"} not in success(feed)


def test_live_forms_are_not_visible_on_the_test_path(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    reg = registry.register(env="live")
    for method in ("GetOlumByTcKimlikNoBasic", "GetOlumByFormNoFull", "GetOlumTarihiByTcKimlikNo"):
        live = obs_get(http, "live", method, users.live.auth, reg.params_for(method))
        assert envelope(live)["State"] == 1
        assert_not_found(obs_get(http, "test", method, users.test.auth, reg.params_for(method)))


def test_a_test_form_is_not_visible_on_live(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    reg = registry.register(env="test", passport=True)
    method = "GetOlumByPasaportNoBasic"
    assert success(obs_get(http, "test", method, users.test.auth, reg.passport_params()))
    assert_not_found(obs_get(http, "live", method, users.live.auth, reg.passport_params()))


def test_raw_authorization_header_with_the_right_credentials_is_accepted(
    http: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    user = make_user(env="test", methods=OBS_METHODS)
    response = http.get(
        obs_path("test", "GetOlumByTcKimlikNoBasic"),
        params=FIXTURE_CITIZEN,
        headers={"Authorization": basic(user.username, user.password)},
    )
    assert success(response)["FormNo"] == "9000000011"
