"""No redirect built from ``Host`` (issue 11, F7), and a client that leaves mid-body is not an
error (README "Slow, idle and oversized clients"), over a real socket."""

from __future__ import annotations

import logging
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import LiveServer
from tests.web.admin_support import PREFIX, Token
from tests.web.conftest import assert_http_problem, path
from tests.web.obs_helpers import envelope, obs_path

EVIL = {"Host": "attacker.example"}


@pytest.mark.parametrize("env", ["live", "test"])
@pytest.mark.parametrize("suffix", ["/", "/more", "//"])
def test_a_hes_path_with_a_trailing_slash_is_the_hes_404_never_a_redirect(
    http: httpx.Client, env: str, suffix: str
) -> None:
    response = http.post(path(env, "check-hes-code") + suffix, json={}, headers=EVIL)
    assert "location" not in response.headers
    assert_http_problem(response, 404)


@pytest.mark.parametrize("env", ["live", "test"])
def test_an_obs_path_with_a_trailing_slash_is_the_obs_404_never_a_redirect(
    http: httpx.Client, env: str
) -> None:
    response = http.get(obs_path(env, "GetTumOlumlerByDate") + "/", headers=EVIL)
    assert "location" not in response.headers
    assert envelope(response, 404)["State"] == 0


@pytest.mark.parametrize("url", ["/healthz/", "/readyz/", "/openapi/hes.json/"])
def test_other_paths_with_a_trailing_slash_are_404_never_a_redirect(
    http: httpx.Client, url: str
) -> None:
    response = http.get(url, headers=EVIL)
    assert response.status_code == 404
    assert "location" not in response.headers


@pytest.mark.parametrize("where", ["g2g", "operator"])
def test_a_client_that_leaves_mid_body_is_logged_at_info_without_a_traceback(
    server: LiveServer, caplog: pytest.LogCaptureFixture, operator_token: Token, where: str
) -> None:
    caplog.set_level(logging.INFO)
    address = urlsplit(server.base_url)
    target, token = path("live", "check-hes-code"), ""
    if where == "operator":
        target, token = (
            f"{PREFIX}/institutions",
            f"Authorization: Bearer {operator_token.value}\r\n",
        )
    request = (
        f"POST {target} HTTP/1.1\r\nHost: x\r\n{token}"
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name": '
    ).encode()
    with socket.create_connection((address.hostname, address.port)) as raw:
        raw.sendall(request)
        time.sleep(0.1)
    deadline = time.monotonic() + 5
    while not any("disconnected" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
        time.sleep(0.02)
    gone = next(r for r in caplog.records if "disconnected" in r.getMessage())
    assert gone.levelno == logging.INFO
    assert gone.exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
