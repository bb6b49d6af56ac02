"""The password never leaves the Authorization header: not in reprs, exception messages or logs
(every logger, DEBUG), whatever the failure."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

import httpx
import pytest

from saglik.client import (
    HesClient,
    ObsClient,
    RetryPolicy,
    SaglikClientError,
)
from tests.client.conftest import sandbox_base
from tests.conftest import LiveServer
from tests.web.conftest import Users

PASSWORD = "Very$ecret-Pa55word"


def secrets_of(username: str, password: str) -> list[str]:
    header = base64.b64encode(f"{username}:{password}".encode()).decode()
    return [password, header]


def test_no_failure_leaks_the_password(
    server: LiveServer, users: Users, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    fast = RetryPolicy(attempts=2, base=0, cap=0, jitter=False)
    calls: list[Callable[[HesClient, ObsClient], object]] = [
        lambda hes, obs: hes.check_employee("L3S11011S1"),
        lambda hes, obs: hes.check_many(["L3S11011S1", "junk"]),
        lambda hes, obs: obs.death_date("76883560160"),
        lambda hes, obs: hes.check_employee("nope"),
    ]
    endpoints = [
        (sandbox_base(server), users.test.username, PASSWORD),  # 401 / ÖBS 500
        ("http://127.0.0.1:9/services/g2g/test/saglik", "someone", PASSWORD),  # refused
    ]
    for base, username, password in endpoints:
        with (
            HesClient(base, username, password, retry=fast, timeout=2) as hes,
            ObsClient(base, username, password, retry=fast, timeout=2) as obs,
        ):
            messages += [repr(hes), repr(obs)]
            for call in calls:
                with pytest.raises(SaglikClientError) as caught:
                    call(hes, obs)
                messages += [str(caught.value), repr(caught.value)]
                cause = caught.value.__cause__
                if cause is not None:
                    messages.append(str(cause))
    text = "\n".join([*messages, caplog.text])
    assert "retry 1 of 1" in caplog.text  # the connection failures were logged…
    for secret in secrets_of(users.test.username, PASSWORD) + secrets_of("someone", PASSWORD):
        assert secret not in text  # …without the secret


def test_the_request_carries_basic_auth_only_in_the_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500)

    with (
        ObsClient(
            "http://g2g.example/s", "user", PASSWORD, transport=httpx.MockTransport(handler)
        ) as obs,
        pytest.raises(SaglikClientError),
    ):
        obs.by_form_basic("1", "R")
    (request,) = seen
    assert request.headers["Authorization"] == "Basic " + secrets_of("user", PASSWORD)[1]
    assert PASSWORD not in str(request.url)
    assert request.headers["User-Agent"].startswith("saglik-client/")
    assert request.url.path == "/s/OBS/GetOlumByFormNoBasic"
