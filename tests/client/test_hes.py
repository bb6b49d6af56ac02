"""HesClient and AsyncHesClient against the real server over its socket: every method, every
documented answer (contract §4), the test-environment fixture codes as the contract lists them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC

import pytest

from saglik.client import (
    ERROR_EXPIRED,
    ERROR_INVALID,
    ERROR_NOT_FOUND,
    AsyncHesClient,
    HealthStatus,
    HesClient,
    HesCodeExpired,
    HesCodeNotFound,
    HesPlusResult,
    HesResult,
    InvalidCode,
    NotAuthenticated,
    PermissionDenied,
    RateLimited,
    RequestInvalid,
    RetryPolicy,
    Visit,
)
from tests.client.conftest import NO_WAIT, CountingTransport, live_base, sandbox_base
from tests.conftest import Credential, LiveServer
from tests.web.conftest import Users

VACCINATED = "A1S10001S1"
RISKY = "D4S40004S4"
ALL_SHARED = "E5S50005S5"
EXPIRED = "J1S90009S9"
NO_CONSENT = "K2S10010S0"
RISKLESS = "L3S11011S1"
UNKNOWN = "Z9Z99999Z9"
VISIT = Visit("ANKARA", "ÇANKAYA", "Bilkent, 06800", latitude=39.87, longitude=32.75)

pytestmark = pytest.mark.usefixtures("test_fixtures")


def _assert_result(result: HesResult) -> None:
    assert result.expiration_date.tzinfo is UTC
    assert result.masked_identity_number.startswith("********")
    assert result.masked_firstname.endswith("****")


def test_check_employee_normalises_what_a_person_typed(hes: HesClient) -> None:
    result = hes.check_employee("l3s1-1011 s1")
    assert type(result) is HesResult
    assert result.current_health_status is HealthStatus.RISKLESS
    assert not result.risky
    _assert_result(result)


def test_check_visitor_reports_a_risky_visitor(hes: HesClient) -> None:
    result = hes.check_visitor(RISKY, VISIT)
    assert result.current_health_status is HealthStatus.RISKY
    assert result.risky
    _assert_result(result)
    assert hes.check_visitor(RISKLESS, Visit("İZMİR", "KONAK", "Cumhuriyet Blv. 1")).risky is False


def test_check_plus_types_the_plus_fields(hes: HesClient) -> None:
    full = hes.check_plus(ALL_SHARED)
    assert type(full) is HesPlusResult
    assert (full.is_vaccinated, full.is_immune, full.is_test_data_shared) == (True, True, True)
    assert full.last_negative_test_date is not None
    assert full.last_negative_test_date.tzinfo is UTC
    nothing = hes.check_plus(NO_CONSENT)
    assert (nothing.is_vaccinated, nothing.is_immune, nothing.last_negative_test_date) == (
        None,
        None,
        None,
    )
    risky = hes.check_plus(RISKY)
    assert risky.risky
    assert risky.is_vaccinated is None


def test_check_codes_keys_both_maps_by_the_input_as_given(hes: HesClient) -> None:
    answer = hes.check_codes(["a1s1-0001-s1", RISKY, EXPIRED, UNKNOWN, "A1S10001S1"])
    assert set(answer.success) == {"a1s1-0001-s1", "A1S10001S1", RISKY}
    assert answer.success["a1s1-0001-s1"] == answer.success["A1S10001S1"]
    assert answer.success[RISKY].risky
    assert answer.failure == {EXPIRED: ERROR_EXPIRED, UNKNOWN: ERROR_NOT_FOUND}
    assert all(type(r) is HesResult for r in answer.success.values())


def test_check_codes_plus(hes: HesClient) -> None:
    answer = hes.check_codes_plus([VACCINATED, NO_CONSENT, UNKNOWN])
    assert answer.success[VACCINATED].is_vaccinated is True
    assert answer.success[NO_CONSENT].is_vaccinated is None
    assert answer.failure == {UNKNOWN: ERROR_NOT_FOUND}
    assert all(type(r) is HesPlusResult for r in answer.success.values())


def test_check_code_calls_check_hes_code_and_types_it_like_the_employee_check(
    server: LiveServer, users: Users
) -> None:
    transport = CountingTransport()
    with HesClient(
        sandbox_base(server), users.test.username, users.test.password, transport=transport
    ) as client:
        legacy = client.check_code("e5s5-0005 s5")
        employee = client.check_employee(ALL_SHARED)
    assert type(legacy) is HesResult
    assert legacy == employee
    _assert_result(legacy)
    assert [r.url.path.rsplit("/", 1)[1] for r in transport.requests] == [
        "check-hes-code",
        "check-employee-hes-code",
    ]
    assert json.loads(transport.requests[0].content) == {"hes_code": ALL_SHARED}


@pytest.mark.parametrize("method", ["check_employee", "check_code", "check_plus"])
def test_code_errors(hes: HesClient, method: str) -> None:
    call = getattr(hes, method)
    with pytest.raises(HesCodeNotFound) as not_found:
        call(UNKNOWN)
    assert (not_found.value.code, not_found.value.error_key) == (UNKNOWN, ERROR_NOT_FOUND)
    assert not_found.value.status == 400
    assert UNKNOWN not in str(not_found.value)
    with pytest.raises(HesCodeExpired) as expired:
        call("j1s9-0009-s9")
    assert (expired.value.code, expired.value.error_key) == (EXPIRED, ERROR_EXPIRED)


def test_visitor_field_errors_come_back_as_request_invalid(hes: HesClient) -> None:
    with pytest.raises(RequestInvalid) as caught:
        hes.check_visitor(RISKLESS, Visit(" ", "", "adres", latitude=91.0, longitude=0.0))
    fields = {(e.field, e.message) for e in caught.value.field_errors}
    assert fields == {
        ("city", "NotBlank"),
        ("district", "NotBlank"),
        ("location.latitude", "DecimalMax"),
    }
    assert {e.object_name for e in caught.value.field_errors} == {"visitorHesCodeRequest"}
    assert caught.value.status == 400


def test_bulk_size_is_refused_locally(hes: HesClient) -> None:
    transport = CountingTransport()
    with HesClient(hes.base_url, "u", "p", transport=transport) as client:
        for codes in ([], [RISKLESS] * 501):
            with pytest.raises(RequestInvalid) as caught:
                client.check_codes(codes)
            assert [(e.field, e.message) for e in caught.value.field_errors] == [
                ("hes_codes", "Size")
            ]
        with pytest.raises(InvalidCode):
            client.check_codes([RISKLESS, "not a code"])
    assert transport.requests == []


def test_a_wrong_password_is_not_authenticated_and_a_wrong_environment_is_denied(
    server: LiveServer, users: Users
) -> None:
    with (
        HesClient(sandbox_base(server), users.test.username, "wrong password") as client,
        pytest.raises(NotAuthenticated) as caught,
    ):
        client.check_employee(RISKLESS)
    assert caught.value.status == 401
    with (
        HesClient(live_base(server), users.test.username, users.test.password) as client,
        pytest.raises(PermissionDenied),
    ):
        client.check_employee(RISKLESS)


def test_method_not_granted_is_permission_denied(
    make_user: Callable[..., Credential], hes_for: Callable[..., HesClient]
) -> None:
    client = hes_for(make_user(methods=("check-employee-hes-code",)))
    assert client.check_employee(RISKLESS).current_health_status is HealthStatus.RISKLESS
    with pytest.raises(PermissionDenied) as caught:
        client.check_plus(RISKLESS)
    assert caught.value.status == 403


def test_no_retry_on_401_or_403_against_the_real_server(
    make_user: Callable[..., Credential], server: LiveServer
) -> None:
    user = make_user(methods=("check-employee-hes-code",))
    transport = CountingTransport()
    with (
        HesClient(sandbox_base(server), user.username, "wrong", transport=transport) as client,
        pytest.raises(NotAuthenticated),
    ):
        client.check_employee(RISKLESS)
    transport2 = CountingTransport()
    with (
        HesClient(
            sandbox_base(server), user.username, user.password, transport=transport2
        ) as client,
        pytest.raises(PermissionDenied),
    ):
        client.check_plus(RISKLESS)
    assert (len(transport.requests), len(transport2.requests)) == (1, 1)


def test_rate_limit_raises_with_retry_after(
    make_user: Callable[..., Credential], hes_for: Callable[..., HesClient]
) -> None:
    user = make_user(rate_limit="1/minute")
    client = hes_for(user, retry=RetryPolicy.never())
    client.check_employee(RISKLESS)
    with pytest.raises(RateLimited) as caught:
        client.check_employee(RISKLESS)
    assert caught.value.retry_after is not None
    assert 1 <= caught.value.retry_after <= 60


def test_rate_limit_retries_sleep_at_least_retry_after(
    make_user: Callable[..., Credential], hes_for: Callable[..., HesClient]
) -> None:
    slept: list[float] = []
    policy = RetryPolicy(attempts=3, base=0.01, cap=0.02, sleep=slept.append)
    client = hes_for(make_user(rate_limit="1/minute"), retry=policy)
    client.check_employee(RISKLESS)
    with pytest.raises(RateLimited) as caught:
        client.check_employee(RISKLESS)
    assert caught.value.retry_after is not None
    assert len(slept) == 2
    assert all(delay >= 1 for delay in slept)


def test_check_many_splits_into_requests_of_500_and_merges(
    server: LiveServer, users: Users
) -> None:
    fixtures = [VACCINATED, RISKY, EXPIRED, RISKLESS]
    unknown = [f"Z{i:04d}ZZZZZ" for i in range(1226)]
    inputs = [*fixtures, *unknown, "a1s1-0001-s1", "junk", "", UNKNOWN + "|x"]
    assert len(inputs) == 1234
    transport = CountingTransport()
    progress: list[tuple[int, int]] = []
    with HesClient(
        sandbox_base(server),
        users.test.username,
        users.test.password,
        transport=transport,
        retry=NO_WAIT,
    ) as client:
        answer = client.check_many(inputs, concurrency=2, progress=lambda *p: progress.append(p))
    sizes = sorted(len(json.loads(r.content)) for r in transport.requests)
    assert sizes == [230, 500, 500]  # 1,230 distinct valid codes; the duplicate sent once
    assert len(answer) == 1234
    assert set(answer.success) == {VACCINATED, RISKY, RISKLESS, "a1s1-0001-s1"}
    assert answer.failure[EXPIRED] == ERROR_EXPIRED
    assert all(answer.failure[code] == ERROR_NOT_FOUND for code in unknown)
    assert {answer.failure[x] for x in ("junk", "", UNKNOWN + "|x")} == {ERROR_INVALID}
    assert progress[0] == (0, 1230)
    assert progress[-1] == (1230, 1230)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert len(progress) == 4


def test_check_many_plus_and_nothing_to_send(hes: HesClient) -> None:
    answer = hes.check_many([ALL_SHARED], plus=True)
    assert answer.success[ALL_SHARED].is_immune is True
    progress: list[tuple[int, int]] = []
    empty = hes.check_many(["?"], progress=lambda *p: progress.append(p))
    assert (empty.success, empty.failure, progress) == ({}, {"?": ERROR_INVALID}, [(0, 0)])
    with pytest.raises(ValueError, match="concurrency"):
        hes.check_many([RISKLESS], concurrency=0)


def test_check_many_raises_a_whole_request_failure(server: LiveServer, users: Users) -> None:
    with (
        HesClient(sandbox_base(server), users.test.username, "wrong", retry=NO_WAIT) as client,
        pytest.raises(NotAuthenticated),
    ):
        client.check_many([f"Z{i:04d}ZZZZZ" for i in range(1200)], concurrency=3)


def test_async_client_has_every_method(async_hes: AsyncHesClient) -> None:
    async def scenario() -> None:
        async with async_hes as client:
            assert (await client.check_employee(RISKLESS)).risky is False
            assert await client.check_code(RISKLESS) == await client.check_employee(RISKLESS)
            assert (await client.check_visitor(RISKY, VISIT)).risky is True
            assert (await client.check_plus(VACCINATED)).is_vaccinated is True
            bulk = await client.check_codes([RISKLESS, UNKNOWN])
            assert (set(bulk.success), bulk.failure) == ({RISKLESS}, {UNKNOWN: ERROR_NOT_FOUND})
            plus = await client.check_codes_plus([ALL_SHARED])
            assert plus.success[ALL_SHARED].is_immune is True
            progress: list[tuple[int, int]] = []
            many = await client.check_many(
                [RISKLESS, "bad", *(f"Y{i:04d}YYYYY" for i in range(1000))],
                plus=True,
                concurrency=2,
                progress=lambda *p: progress.append(p),
            )
            assert type(many.success[RISKLESS]) is HesPlusResult
            assert (many.failure["bad"], len(many)) == (ERROR_INVALID, 1002)
            assert (progress[0], progress[-1], len(progress)) == ((0, 1001), (1001, 1001), 4)
            with pytest.raises(HesCodeExpired):
                await client.check_employee(EXPIRED)
            with pytest.raises(HesCodeNotFound):
                await client.check_plus(UNKNOWN)

    asyncio.run(scenario())


def test_async_errors_are_the_same_exceptions(server: LiveServer, users: Users) -> None:
    async def scenario() -> None:
        async with AsyncHesClient(
            sandbox_base(server), users.test.username, "nope", retry=NO_WAIT
        ) as client:
            with pytest.raises(NotAuthenticated):
                await client.check_employee(RISKLESS)
            with pytest.raises(NotAuthenticated):
                await client.check_many([f"Z{i:04d}ZZZZZ" for i in range(1100)])

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("single", "plus"),
    [("check-hes-code", False), ("check-employee-hes-code", False), ("check-hes-code-plus", True)],
)
def test_check_many_through_a_single_code_method_sends_one_request_a_code(
    server: LiveServer, users: Users, single: str, plus: bool
) -> None:
    transport = CountingTransport()
    progress: list[tuple[int, int]] = []
    with HesClient(
        sandbox_base(server), users.test.username, users.test.password, transport=transport
    ) as client:
        answer = client.check_many(
            ["a1s1-0001-s1", RISKY, EXPIRED, UNKNOWN, "bad", RISKY],
            plus=plus,
            single=single,
            progress=lambda *p: progress.append(p),
        )
        bulk = client.check_many([VACCINATED, RISKY], plus=plus)
    assert set(answer.success) == {"a1s1-0001-s1", RISKY}
    assert answer.success["a1s1-0001-s1"] == bulk.success[VACCINATED]
    assert answer.failure == {
        EXPIRED: ERROR_EXPIRED,
        UNKNOWN: ERROR_NOT_FOUND,
        "bad": ERROR_INVALID,
    }
    sent = [r.url.path.rsplit("/", 1)[1] for r in transport.requests[:4]]
    assert sent == [single] * 4, "each distinct code once, through the method named"
    assert (progress[0], progress[-1], len(progress)) == ((0, 4), (4, 4), 5)


def test_check_many_refuses_a_method_it_cannot_send_codes_through(hes: HesClient) -> None:
    for single, plus in (("check-visitor-hes-code", False), ("check-hes-code", True)):
        with pytest.raises(ValueError, match="single must be one of"):
            hes.check_many([RISKLESS], plus=plus, single=single)


def test_async_check_many_through_a_single_code_method(async_hes: AsyncHesClient) -> None:
    async def scenario() -> None:
        async with async_hes as client:
            answer = await client.check_many(
                [RISKLESS, UNKNOWN], single="check-hes-code", concurrency=2
            )
            assert (set(answer.success), answer.failure) == ({RISKLESS}, {UNKNOWN: ERROR_NOT_FOUND})

    asyncio.run(scenario())
