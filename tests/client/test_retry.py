"""Fault injection with ``httpx.MockTransport``, only for what the real server cannot be made to
do on demand: timeouts, connection failures, 502/503/504 then success, an HTML 500, a Retry-After
as an HTTP date. The sleep is injected, so no test really waits."""

from __future__ import annotations

import asyncio
import email.utils
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from saglik.client import (
    AsyncHesClient,
    AsyncObsClient,
    HesClient,
    HesCodeNotFound,
    NotAuthenticated,
    ObsAuthorizationFailed,
    ObsClient,
    PermissionDenied,
    RateLimited,
    RequestInvalid,
    RetryPolicy,
    ServiceUnavailable,
)
from saglik.client._core import parse_retry_after

BASE = "https://g2g.example/services/g2g/test/saglik"
CODE = "L3S11011S1"
RESULT = {
    "expiration_date": "2027-06-15T09:00:00Z",
    "current_health_status": "RISKLESS",
    "masked_firstname": "AY**** GÜ****",
    "masked_identity_number": "********909",
    "masked_lastname": "YI****",
}
OBS_DATE = {"State": 1, "Message": None, "Result": "2025-03-13T06:40:00"}
NOT_FOUND = {
    "entityName": "hesCode",
    "errorKey": "hescodenotfound",
    "type": "https://hescode.saglik.gov.tr/problem/problem-with-message",
    "title": "Hes code not found!",
    "status": 400,
    "message": "error.hescodenotfound",
    "params": "hesCode",
}

Step = httpx.Response | Exception


def scripted(steps: list[Step]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport answering ``steps`` in order (an exception is raised as the transport's)."""
    seen: list[httpx.Request] = []
    queue: Iterator[Step] = iter(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = next(queue)
        if isinstance(step, Exception):
            raise step
        return step

    return httpx.MockTransport(handler), seen


def problem(status: int, **headers: str) -> httpx.Response:
    body = {
        "type": "about:blank",
        "title": "x",
        "status": status,
        "message": f"error.http.{status}",
    }
    return httpx.Response(status, json=body, headers=headers)


def policy(slept: list[float], **options: Any) -> RetryPolicy:
    return RetryPolicy(sleep=slept.append, **options)


def hes_with(steps: list[Step], slept: list[float], **options: Any) -> tuple[HesClient, list[Any]]:
    transport, seen = scripted(steps)
    return HesClient(BASE, "user", "pw", transport=transport, retry=policy(slept, **options)), seen


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ConnectError("connection refused"),
        problem(502),
        problem(503),
        problem(504),
    ],
    ids=["read-timeout", "connect-timeout", "connect-error", "502", "503", "504"],
)
def test_transient_failures_are_retried_then_succeed(failure: Step) -> None:
    slept: list[float] = []
    client, seen = hes_with([failure, failure, httpx.Response(200, json=RESULT)], slept)
    assert client.check_employee(CODE).masked_lastname == "YI****"
    assert len(seen) == 3
    assert len(slept) == 2


def test_backoff_is_exponential_capped_and_jittered_within_bounds() -> None:
    slept: list[float] = []
    client, seen = hes_with([problem(503)] * 5, slept, attempts=5, base=0.5, cap=1.5, jitter=False)
    with pytest.raises(ServiceUnavailable) as caught:
        client.check_employee(CODE)
    assert caught.value.status == 503
    assert slept == [0.5, 1.0, 1.5, 1.5]
    assert len(seen) == 5

    jittered: list[float] = []
    client, _ = hes_with([problem(503)] * 5, jittered, attempts=5, base=0.5, cap=1.5)
    with pytest.raises(ServiceUnavailable):
        client.check_employee(CODE)
    assert all(
        0 <= delay <= bound for delay, bound in zip(jittered, [0.5, 1.0, 1.5, 1.5], strict=True)
    )


def test_timeouts_exhausted_raise_service_unavailable_without_status() -> None:
    slept: list[float] = []
    client, seen = hes_with([httpx.ReadTimeout("slow")] * 4, slept)
    with pytest.raises(ServiceUnavailable, match="timed out") as caught:
        client.check_employee(CODE)
    assert caught.value.status is None
    assert (len(seen), len(slept)) == (4, 3)


def test_the_real_timeout_setting_reaches_httpx() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json=RESULT)

    with HesClient(BASE, "u", "p", timeout=2.5, transport=httpx.MockTransport(handler)) as client:
        client.check_employee(CODE)
    assert seen == [{"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}]


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_slept_at_least(status: int) -> None:
    slept: list[float] = []
    client, seen = hes_with(
        [problem(status, **{"Retry-After": "7"}), httpx.Response(200, json=RESULT)], slept
    )
    client.check_employee(CODE)
    assert len(seen) == 2
    assert slept[0] >= 7


def test_429_with_an_http_date_retry_after() -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    slept: list[float] = []
    client, _ = hes_with(
        [problem(429, **{"Retry-After": when}), httpx.Response(200, json=RESULT)], slept
    )
    client.check_employee(CODE)
    assert 25 <= slept[0] <= 31
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-3") == 0.0


@pytest.mark.parametrize(("status", "error"), [(429, RateLimited), (503, ServiceUnavailable)])
def test_retry_after_beyond_the_maximum_is_raised_at_once(
    status: int, error: type[RateLimited | ServiceUnavailable]
) -> None:
    slept: list[float] = []
    client, seen = hes_with([problem(status, **{"Retry-After": "3600"})], slept)
    with pytest.raises(error) as caught:
        client.check_employee(CODE)
    assert isinstance(caught.value, RateLimited | ServiceUnavailable)
    assert caught.value.retry_after == 3600
    assert (len(seen), slept) == (1, [])


def test_429_exhausted_keeps_retry_after() -> None:
    slept: list[float] = []
    client, seen = hes_with([problem(429, **{"Retry-After": "2"})] * 4, slept)
    with pytest.raises(RateLimited) as caught:
        client.check_employee(CODE)
    assert caught.value.retry_after == 2
    assert len(seen) == 4
    assert all(delay >= 2 for delay in slept)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(400, json=NOT_FOUND), HesCodeNotFound),
        (httpx.Response(400, json={"message": "error.http.400", "status": 400}), RequestInvalid),
        (problem(401, **{"WWW-Authenticate": "Basic"}), NotAuthenticated),
        (problem(403), PermissionDenied),
        (problem(500), ServiceUnavailable),
    ],
    ids=["400-code", "400-body", "401", "403", "500"],
)
def test_client_errors_are_never_retried(answer: httpx.Response, error: type[Exception]) -> None:
    slept: list[float] = []
    client, seen = hes_with([answer, httpx.Response(200, json=RESULT)], slept)
    with pytest.raises(error):
        client.check_employee(CODE)
    assert (len(seen), slept) == (1, [])


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, json={"State": 0, "Message": "yetki", "Result": None}),
        httpx.Response(500, text="<html><body>Runtime Error</body></html>"),
        httpx.Response(500),
    ],
    ids=["json", "html", "empty"],
)
def test_obs_authorization_500_whatever_the_body_is_never_retried(answer: httpx.Response) -> None:
    slept: list[float] = []
    transport, seen = scripted([answer, httpx.Response(200, json=OBS_DATE)])
    with (
        ObsClient(BASE, "u", "p", transport=transport, retry=policy(slept)) as client,
        pytest.raises(ObsAuthorizationFailed),
    ):
        client.death_date("76883560160")
    assert (len(seen), slept) == (1, [])


def test_obs_503_then_success() -> None:
    slept: list[float] = []
    audit_down = {"State": 0, "Message": "Denetim kaydı yazılamadı", "Result": None}
    transport, seen = scripted(
        [httpx.Response(503, json=audit_down), httpx.Response(200, json=OBS_DATE)]
    )
    with ObsClient(BASE, "u", "p", transport=transport, retry=policy(slept)) as client:
        assert client.death_date("76883560160").hour == 6
    assert len(seen) == 2


def test_async_retries_use_the_async_sleep() -> None:
    slept: list[float] = []

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)

    async def scenario() -> None:
        steps: list[Step] = [
            httpx.ReadTimeout("slow"),
            problem(429, **{"Retry-After": "4"}),
            httpx.Response(200, json=RESULT),
        ]
        transport, seen = scripted(steps)
        retry = RetryPolicy(async_sleep=fake_sleep, sleep=_never_sleep)
        async with AsyncHesClient(BASE, "u", "p", transport=transport, retry=retry) as client:
            assert (await client.check_employee(CODE)).risky is False
        assert len(seen) == 3
        obs_transport, obs_seen = scripted([httpx.Response(500), httpx.Response(200)])
        async with AsyncObsClient(BASE, "u", "p", transport=obs_transport, retry=retry) as obs:
            with pytest.raises(ObsAuthorizationFailed):
                await obs.death_date("76883560160")
        assert len(obs_seen) == 1

    asyncio.run(scenario())
    assert len(slept) == 2
    assert slept[1] >= 4


def _never_sleep(delay: float) -> None:
    raise AssertionError("the async client must not block the event loop")


def test_a_failing_chunk_cancels_check_many_and_raises_itself() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        codes = [item["hes_code"] for item in json.loads(request.content)]
        if codes[0] == "Z0000ZZZZZ":
            return problem(401)
        return httpx.Response(200, json={"success_map": {}, "unsuccess_map": {}})

    async def scenario() -> None:
        transport = httpx.MockTransport(handler)
        async with AsyncHesClient(BASE, "u", "p", transport=transport) as client:
            with pytest.raises(NotAuthenticated):
                await client.check_many([f"Z{i:04d}ZZZZZ" for i in range(1500)], concurrency=1)

    asyncio.run(scenario())


def test_retry_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(base=-1)
    assert RetryPolicy.never().attempts == 1
