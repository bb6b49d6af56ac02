"""What the security probe of issue 11 found on every answer, over a real socket: the headers
(F10: ``no-store`` on answers carrying personal data, ``nosniff``, frame and script policy on
``/docs``) and redirects (F7: none is ever built from the request's ``Host``)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from saglik.web import docs
from saglik.web.security_headers import CONTENT_SECURITY_POLICY
from tests.conftest import LiveServer
from tests.web.admin_support import PREFIX, Token
from tests.web.conftest import Caller, Users, path
from tests.web.obs_helpers import obs_path

HTML_ONLY = ("x-frame-options", "content-security-policy")


def assert_no_store(response: httpx.Response) -> None:
    """Exactly one Cache-Control, ``no-store``, and ``nosniff``; no HTML-only header."""
    assert response.headers.get_list("cache-control") == ["no-store"], response.headers
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
    for name in HTML_ONLY:
        assert name not in response.headers


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def test_hes_answers_are_never_stored(sandbox: Caller, test_fixtures: None) -> None:
    found = sandbox.check("check-hes-code-plus", "E5S50005S5")
    assert found.status_code == 200
    assert_no_store(found)
    not_found = sandbox.check("check-employee-hes-code", "Z9Z99999Z9")
    assert not_found.status_code == 400
    assert_no_store(not_found)


def test_obs_answers_are_never_stored(client: httpx.Client, users: Users) -> None:
    found = client.get(
        obs_path("test", "GetOlumByFormNoFull"),
        params={"FormNo": "9000000011", "ReferansNo": "TSTA7K2M"},
        auth=users.test.auth,
    )
    assert found.json()["State"] == 1
    assert_no_store(found)


def test_refusals_are_never_stored(client: httpx.Client, users: Users) -> None:
    hes = client.post(
        path("test", "check-employee-hes-code"),
        json={"hes_code": "E5S50005S5"},
        auth=(users.test.username, "wrong password!"),
    )
    assert hes.status_code == 401
    assert_no_store(hes)
    obs = client.get(obs_path("test", "GetTumOlumlerByDate"), params={"Tarih": "2025-03-14"})
    assert obs.status_code == 500
    assert_no_store(obs)
    unknown = client.get("/no/such/path")
    assert unknown.status_code == 404
    assert_no_store(unknown)


def test_operator_api_answers_are_never_stored(client: httpx.Client, operator_token: Token) -> None:
    listed = client.get(PREFIX + "/institutions", headers=operator_token.header)
    assert listed.status_code == 200
    assert_no_store(listed)
    refused = client.get(PREFIX + "/institutions")
    assert refused.status_code == 401
    assert_no_store(refused)


def test_health_answers_are_never_stored(client: httpx.Client) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    assert_no_store(health)


def test_the_docs_page_may_not_be_framed_and_runs_only_this_origins_scripts(
    client: httpx.Client,
) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers.get_list("cache-control") == ["no-store"]
    assert page.headers.get_list("x-content-type-options") == ["nosniff"]
    assert page.headers.get_list("x-frame-options") == ["DENY"]
    (policy,) = page.headers.get_list("content-security-policy")
    assert policy == CONTENT_SECURITY_POLICY
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no hash, no other host
    assert directives["frame-ancestors"] == "'none'"
    assert "<script>" not in page.text  # every script is a file the policy allows


def test_the_docs_script_is_javascript_the_browser_will_not_sniff(client: httpx.Client) -> None:
    script = client.get("/docs/init.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/openapi/hes.json" in script.text
    assert_no_store(script)


def test_the_packaged_swagger_files_are_revalidated_instead_of_never_stored(
    client: httpx.Client,
) -> None:
    """They carry no data: a browser keeps them but asks each time (the one answer that sets its
    own Cache-Control, which is kept, not doubled)."""
    asset = client.get("/docs/static/swagger-ui.css")
    assert asset.status_code == 200
    assert asset.headers.get_list("cache-control") == ["no-cache"]
    assert asset.headers.get_list("x-content-type-options") == ["nosniff"]
    unchanged = client.get(
        "/docs/static/swagger-ui.css", headers={"If-None-Match": asset.headers["etag"]}
    )
    assert unchanged.status_code == 304
    assert unchanged.headers.get_list("cache-control") == ["no-cache"]


# --- F7: no redirect is built from Host ---------------------------------------------------------

HOSTILE = {"Host": "attacker.example"}


@pytest.mark.parametrize("start", ["/", "/docs/"])
def test_a_browser_is_sent_to_the_docs_by_path_whatever_its_host_header(
    client: httpx.Client, start: str
) -> None:
    response = client.get(start, headers=HOSTILE)
    assert response.status_code == 302
    assert response.headers["location"] == "/docs"
    assert_no_store(response)


def test_a_trailing_slash_under_the_operator_api_is_a_404_not_a_redirect(
    client: httpx.Client, operator_token: Token
) -> None:
    assert client.get(PREFIX + "/institutions", headers=operator_token.header).status_code == 200
    response = client.get(PREFIX + "/institutions/", headers={**HOSTILE, **operator_token.header})
    assert response.status_code == 404
    assert "location" not in response.headers
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["message"] == "error.http.404"
    unauthenticated = client.get(PREFIX + "/institutions/", headers=HOSTILE)
    assert unauthenticated.status_code == 401
    assert "location" not in unauthenticated.headers


def test_an_unexpected_failure_outside_the_g2g_paths_is_never_stored_either(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Starlette sends that 500 from its outermost layer, outside every middleware."""

    def broken(name: str) -> None:
        raise RuntimeError(name)

    monkeypatch.setattr(docs, "spec", broken)
    response = client.get("/openapi/hes.json")
    assert response.status_code == 500
    assert_no_store(response)
