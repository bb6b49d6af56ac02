"""Browser clients (SAGLIK_CORS_ORIGINS, contract §3): real preflights over a socket. A listed
origin gets what the G2G methods need; any other origin, and any other path, gets no CORS header
at all; without the setting nobody does."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from saglik.config import Settings, SettingsError
from saglik.domain.clock import ManualClock
from tests.conftest import start_server
from tests.web.conftest import Users, path

ALLOWED = "https://hes-checker.example"
ALSO_ALLOWED = "http://127.0.0.1:5173"
OTHER = "https://evil.example"
HES = path("test", "check-employee-hes-code")
OBS = "/services/g2g/test/saglik/OBS/GetTumOlumlerByDate"


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def preflight(
    client: httpx.Client, url: str, origin: str, method: str = "POST", headers: str = ""
) -> httpx.Response:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        asked["Access-Control-Request-Headers"] = headers
    return client.options(url, headers=asked)


@pytest.fixture(scope="module")
def cors_client(store: Engine, clock: ManualClock) -> Iterator[httpx.Client]:
    settings = Settings(
        database_url="unused-engine-injected",
        cors_origins=(ALLOWED, ALSO_ALLOWED),
    )
    server, thread, base_url = start_server(store, clock, settings)
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client
    server.should_exit = True
    thread.join(timeout=15)


@pytest.mark.parametrize(("url", "method"), [(HES, "POST"), (OBS, "GET")])
@pytest.mark.parametrize("origin", [ALLOWED, ALSO_ALLOWED])
def test_a_listed_origins_preflight_gets_what_the_g2g_methods_need(
    cors_client: httpx.Client, url: str, method: str, origin: str
) -> None:
    response = preflight(cors_client, url, origin, method, "authorization, content-type")
    assert response.status_code == 200
    headers = cors_headers(response)
    assert headers["access-control-allow-origin"] == origin
    assert {m.strip() for m in headers["access-control-allow-methods"].split(",")} >= {
        "GET",
        "POST",
    }
    allowed = {h.strip().lower() for h in headers["access-control-allow-headers"].split(",")}
    assert allowed >= {"authorization", "content-type"}
    assert int(headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in headers  # Basic auth is a header, no cookie
    assert "origin" in response.headers.get("vary", "").lower()


def test_a_listed_origin_reads_the_answer_and_its_retry_after(
    cors_client: httpx.Client, users: Users
) -> None:
    response = cors_client.post(
        HES,
        json={"hes_code": "L3S11011S1"},
        auth=users.test.auth,
        headers={"Origin": ALLOWED},
    )
    assert response.status_code == 200, response.text
    headers = cors_headers(response)
    assert headers["access-control-allow-origin"] == ALLOWED
    assert "retry-after" in headers["access-control-expose-headers"].lower()


@pytest.mark.parametrize("url", [HES, OBS])
def test_any_other_origin_gets_no_cors_header(cors_client: httpx.Client, url: str) -> None:
    for origin in (OTHER, ALLOWED + ":8443", ALLOWED.replace("https", "http"), "null"):
        refused = preflight(cors_client, url, origin, "POST", "authorization, content-type")
        assert refused.status_code == 405
        assert cors_headers(refused) == {}
        simple = cors_client.post(url, json={}, headers={"Origin": origin})
        assert simple.status_code in (401, 405)
        assert cors_headers(simple) == {}


def test_a_method_or_header_beyond_the_g2g_needs_is_not_allowed(
    cors_client: httpx.Client,
) -> None:
    response = preflight(cors_client, HES, ALLOWED, "DELETE")
    assert response.status_code == 400
    assert "DELETE" not in response.headers.get("access-control-allow-methods", "")
    response = preflight(cors_client, HES, ALLOWED, "POST", "x-custom")
    assert response.status_code == 400


@pytest.mark.parametrize("url", ["/admin/api/institutions", "/docs", "/healthz"])
def test_only_the_g2g_paths_take_part(cors_client: httpx.Client, url: str) -> None:
    response = preflight(cors_client, url, ALLOWED, "GET", "authorization")
    assert cors_headers(response) == {}
    assert cors_headers(cors_client.get(url, headers={"Origin": ALLOWED})) == {}


def test_without_the_setting_no_origin_gets_cors_headers(http: httpx.Client) -> None:
    response = preflight(http, HES, ALLOWED, "POST", "authorization, content-type")
    assert response.status_code == 405
    assert cors_headers(response) == {}


def test_the_setting_is_a_comma_separated_list_of_origins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAGLIK_CORS_ORIGINS", f" {ALLOWED}/ ,{ALSO_ALLOWED},")
    assert Settings.from_env().cors_origins == (ALLOWED, ALSO_ALLOWED)
    monkeypatch.delenv("SAGLIK_CORS_ORIGINS")
    assert Settings.from_env().cors_origins == ()


@pytest.mark.parametrize(
    "value", ["hes-checker.example", "https://a.example/path", "ftp://a.example", "https://"]
)
def test_a_value_that_is_not_an_origin_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SAGLIK_CORS_ORIGINS", value)
    with pytest.raises(SettingsError, match="SAGLIK_CORS_ORIGINS"):
        Settings.from_env()
