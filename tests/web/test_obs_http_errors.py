"""HTTP-level errors on ÖBS paths are ÖBS answers (issue 14, point 3; contract §5 "ÖBS paths",
§5.1): a wrong verb on a method is a 405 with ``Allow``, a path in another case or naming no
method a 404, an unexpected failure a 500 — all in the ``ServisSonucu`` envelope, never the HES
problem JSON. HES paths and every other path keep their own answers. Over a real socket."""

from __future__ import annotations

import httpx
import pytest

from saglik.domain.methods import UNKNOWN_METHOD
from saglik.services.obs import ObsQueryService
from tests.conftest import LiveServer
from tests.web.conftest import Users, assert_http_problem, audit_since, last_audit_id, path
from tests.web.obs_helpers import envelope, obs_path
from tests.web.openapi_support import contract_spec

OBS = contract_spec("obs")
assert_component = OBS.assert_component
assert_conforms = OBS.assert_conforms

WRONG_VERB = {
    "State": 0,
    "Message": "Bu servis metodu yalnızca GET isteğiyle çağrılabilir.",
    "Result": None,
}
NO_SUCH_METHOD = {"State": 0, "Message": "Böyle bir servis metodu yok.", "Result": None}
INTERNAL_ERROR = {
    "State": 0,
    "Message": "Beklenmeyen bir hata oluştu; lütfen daha sonra tekrar deneyiniz.",
    "Result": None,
}
BASE = {"live": "/services/g2g/saglik/", "test": "/services/g2g/test/saglik/"}
"""The part of an ÖBS path before its service segment, as the documents spell it."""


def assert_method_not_allowed(response: httpx.Response) -> None:
    assert envelope(response, 405) == WRONG_VERB
    assert response.headers["allow"] == "GET, HEAD"
    assert response.headers["content-type"] == "application/json; charset=utf-8"


# --- 405 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("env", ["live", "test"])
def test_another_verb_on_an_obs_method_is_the_405_envelope_with_allow(
    http: httpx.Client, users: Users, env: str, verb: str
) -> None:
    credential = users.live if env == "live" else users.test
    response = http.request(
        verb, obs_path(env, "GetTumOlumlerByDate"), json={}, auth=credential.auth
    )
    assert_method_not_allowed(response)


def test_the_405_is_the_documented_response(http: httpx.Client) -> None:
    """Before any credential check, and as ``components/responses/MethodNotAllowed`` says."""
    response = http.post(obs_path("test", "GetOlumByFormNoBasic"))
    assert_method_not_allowed(response)
    assert_component("MethodNotAllowed", response.json())


def test_a_method_named_in_another_case_is_a_method_there_too(http: httpx.Client) -> None:
    assert_method_not_allowed(http.post(obs_path("live", "gettumolumlerbydate")))


def test_the_405_is_not_audited_like_the_hes_one(server: LiveServer, http: httpx.Client) -> None:
    before = last_audit_id(server.engine)
    assert_method_not_allowed(http.delete(obs_path("live", "GetOlumTarihiByTcKimlikNo")))
    assert http.get(path("live", "check-hes-code")).status_code == 405
    assert not [row for row in audit_since(server.engine, before) if row.status == 405]


# --- 404 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("segment", ["obs", "Obs", "oBS"])
@pytest.mark.parametrize("env", ["live", "test"])
def test_the_service_segment_in_another_case_is_the_404_envelope(
    http: httpx.Client, users: Users, env: str, segment: str
) -> None:
    """Even with a valid credential and valid parameters: only ``OBS`` names the service."""
    credential = users.live if env == "live" else users.test
    url = f"{BASE[env]}{segment}/GetTumOlumlerByDate"
    response = http.get(url, params={"Tarih": "2025-03-14"}, auth=credential.auth)
    assert envelope(response, 404) == NO_SUCH_METHOD
    assert_component("UnknownMethod", response.json())


@pytest.mark.parametrize(
    "suffix", ["obs/GetTumOlumlerByDate", "OBS", "obs", "OBS/", "OBS/GetTumOlumlerByDate/x"]
)
@pytest.mark.parametrize("verb", ["GET", "POST", "PUT", "OPTIONS"])
def test_an_obs_path_naming_no_method_is_the_404_envelope_whatever_the_verb(
    http: httpx.Client, verb: str, suffix: str
) -> None:
    response = http.request(verb, BASE["test"] + suffix)
    assert envelope(response, 404) == NO_SUCH_METHOD
    assert "allow" not in response.headers


@pytest.mark.parametrize("verb", ["GET", "POST", "DELETE"])
def test_an_unknown_obs_method_is_the_404_envelope_whatever_the_verb(
    http: httpx.Client, verb: str
) -> None:
    """A GET always was; another verb was a HES-branded 405 before (the method does not exist)."""
    response = http.request(verb, obs_path("live", "GetOlumByFormNo"))
    assert envelope(response, 404) == NO_SUCH_METHOD


def test_head_on_an_obs_path_in_another_case_is_a_json_404(http: httpx.Client) -> None:
    response = http.head(BASE["live"] + "obs/GetTumOlumlerByDate")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json; charset=utf-8"


def test_head_on_an_obs_method_still_reaches_the_method(http: httpx.Client) -> None:
    """Without credentials: the documented authorization 500, as for GET."""
    response = http.head(obs_path("test", "GetTumOlumlerByDate"))
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.usefixtures("fresh_minute")
def test_a_path_in_another_case_is_audited_as_an_unknown_obs_method(
    server: LiveServer, http: httpx.Client
) -> None:
    before = last_audit_id(server.engine)
    envelope(http.post(BASE["test"] + "obs/GetTumOlumlerByDate"), 404)
    rows = audit_since(server.engine, before)
    assert [(r.env, r.service, r.method, r.status, r.outcome) for r in rows] == [
        ("test", "obs", UNKNOWN_METHOD, 404, "no-such-method")
    ]


# --- 500 ---------------------------------------------------------------------------------------


def test_an_unexpected_failure_is_the_internal_error_envelope_without_its_details(
    monkeypatch: pytest.MonkeyPatch, http: httpx.Client, users: Users
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("lookup failed for 76883560160")

    monkeypatch.setattr(ObsQueryService, "death_date", broken)
    path_ = obs_path("test", "GetOlumTarihiByTcKimlikNo")
    response = http.get(path_, params={"TcKimlikNo": "76883560160"}, auth=users.test.auth)
    assert envelope(response, 500) == INTERNAL_ERROR
    assert "lookup failed" not in response.text
    assert_conforms(path_, response, component="InternalError")


# --- every other path keeps its answers --------------------------------------------------------


def test_hes_paths_keep_their_hes_answers(http: httpx.Client, users: Users) -> None:
    wrong_verb = http.get(path("live", "check-hes-code"), auth=users.live.auth)
    assert assert_http_problem(wrong_verb, 405)["type"].startswith("https://hescode.saglik")
    assert wrong_verb.headers["allow"] == "POST"
    assert_http_problem(http.post(path("test", "no-such-method"), json={}), 404)
    assert_http_problem(http.post(path("live", "check-hes-code") + "/x", json={}), 404)


@pytest.mark.parametrize(
    "url",
    [
        "/services/g2g/saglik/Hes/check-hes-code",
        "/services/g2g/saglik/OBSX/GetTumOlumlerByDate",
        "/services/g2g/saglik/ÖBS/GetTumOlumlerByDate",
        "/services/g2g/Saglik/OBS/GetTumOlumlerByDate",
        "/services/g2g/TEST/saglik/OBS/GetTumOlumlerByDate",
        "/services/g2g/prod/saglik/OBS/GetTumOlumlerByDate",
        "/services/G2G/saglik/OBS/GetTumOlumlerByDate",
        "/services/g2g/saglik",
    ],
)
@pytest.mark.parametrize("verb", ["GET", "POST"])
def test_paths_outside_the_obs_space_keep_the_generic_problem(
    http: httpx.Client, verb: str, url: str
) -> None:
    response = http.request(verb, url)
    assert_http_problem(response, 404)
