"""Single-code HES methods over the wire (contract §4.1–4.4): success bodies, formats, the two
environments, code shapes, expiry and the documented error bodies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from saglik.services.hes import HesDataService
from tests.conftest import BASE_TIME, Holder, LiveServer
from tests.web.conftest import (
    BULK_METHODS,
    EXPIRED_BODY,
    HES_METHODS,
    NOT_FOUND_BODY,
    PLUS_KEYS,
    RESULT_KEYS,
    SECONDS_FORMAT,
    SINGLE_METHODS,
    Caller,
    assert_hes_error,
    assert_json,
    path,
    request_body,
)

PLAIN_METHODS = ("check-visitor-hes-code", "check-employee-hes-code", "check-hes-code")


@pytest.mark.parametrize("method", PLAIN_METHODS)
def test_single_result_has_the_five_documented_keys_in_order(
    live: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    holder = make_holder()
    body = assert_json(live.check(method, holder.code))
    assert list(body.keys()) == RESULT_KEYS


def test_plus_result_adds_the_four_plus_keys_after_the_five_in_order(
    live: Caller, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    body = assert_json(live.check("check-hes-code-plus", holder.code))
    assert list(body.keys()) == PLUS_KEYS


OBSERVED_ORDER = [
    "expiration_date",
    "current_health_status",
    "masked_identity_number",
    "masked_firstname",
    "masked_lastname",
    "is_vaccinated",
    "is_immune",
    "is_test_data_shared",
    "last_negative_test_date",
]
"""A live ``check-hes-code-plus`` answer quoted in a public client's source; the document's bulk
example agrees on the masked fields (contract §4.2)."""


@pytest.mark.parametrize("method", HES_METHODS)
def test_every_method_answers_the_observed_field_order(
    live: Caller, make_holder: Callable[..., Holder], hes_data: HesDataService, method: str
) -> None:
    holder = make_holder()
    hes_data.set_consent("live", holder.identity_number, vaccination=True, immunity=True, test=True)
    body = assert_json(live.post(method, request_body(method, holder.code)))
    result = body["success_map"][holder.code] if method in BULK_METHODS else body
    expected = [k for k in OBSERVED_ORDER if k in result]
    assert list(result) == expected
    assert len(expected) == (9 if method.endswith("-plus") else 5)


@pytest.mark.parametrize("method", SINGLE_METHODS)
def test_single_result_values_for_a_riskless_holder(
    live: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    holder = make_holder(first_name="Ayşe Gül", last_name="Yıldırım")
    body = assert_json(live.check(method, holder.code))
    assert body["expiration_date"] == "2027-06-15T09:00:00Z"  # BASE_TIME + the default year
    assert body["current_health_status"] == "RISKLESS"
    assert body["masked_firstname"] == "AY**** GÜ****"
    assert body["masked_identity_number"] == "********" + holder.identity_number[-3:]
    assert body["masked_lastname"] == "YI****"


def test_expiration_date_is_utc_to_the_second_with_a_z(
    live: Caller, make_holder: Callable[..., Holder], server: LiveServer
) -> None:
    server.clock.set(BASE_TIME + timedelta(milliseconds=987, microseconds=654))
    holder = make_holder(valid_for=timedelta(days=30, hours=3, minutes=7, seconds=5))
    body = assert_json(live.check("check-employee-hes-code", holder.code))
    assert SECONDS_FORMAT.fullmatch(body["expiration_date"])
    assert body["expiration_date"] == "2026-07-15T12:07:05Z"


def test_a_code_issued_without_expiry_reports_2070_12_30(
    live: Caller, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder(valid_for=None)
    body = assert_json(live.check("check-employee-hes-code", holder.code))
    assert body["expiration_date"] == "2070-12-30T00:00:00Z"


@pytest.mark.parametrize("method", SINGLE_METHODS)
def test_a_test_environment_code_answers_on_the_test_path(
    sandbox: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    holder = make_holder(env="test", first_name="Deniz", last_name="Kaya")
    body = assert_json(sandbox.check(method, holder.code))
    assert body["masked_firstname"] == "DE****"
    assert body["masked_lastname"] == "KA****"


@pytest.mark.parametrize("method", SINGLE_METHODS)
def test_test_environment_data_is_not_visible_on_the_live_path(
    live: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    holder = make_holder(env="test")
    assert_hes_error(live.check(method, holder.code), NOT_FOUND_BODY)


@pytest.mark.parametrize("method", SINGLE_METHODS)
def test_live_data_is_not_visible_on_the_test_path(
    sandbox: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    holder = make_holder(env="live")
    assert_hes_error(sandbox.check(method, holder.code), NOT_FOUND_BODY)


def test_live_and_test_paths_are_the_documented_ones(
    live: Caller, sandbox: Caller, make_holder: Callable[..., Holder]
) -> None:
    assert path("live", "check-hes-code-plus") == "/services/g2g/saglik/hes/check-hes-code-plus"
    assert (
        path("test", "check-hes-code-plus") == "/services/g2g/test/saglik/hes/check-hes-code-plus"
    )
    live_holder = make_holder(env="live")
    test_holder = make_holder(env="test")
    assert_json(live.check("check-hes-code-plus", live_holder.code))
    assert_json(sandbox.check("check-hes-code-plus", test_holder.code))


# --- not found ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", SINGLE_METHODS)
def test_unknown_code_answers_hescodenotfound(live: Caller, method: str) -> None:
    assert_hes_error(live.check(method, "Z9Z9999999"), NOT_FOUND_BODY)


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda c: f"{c[0:4]}-{c[4:8]}-{c[8:10]}", id="dashed-XXXX-XXXX-XX"),
        pytest.param(lambda c: f"{c[0:4]} {c[4:8]} {c[8:10]}", id="spaced"),
        pytest.param(lambda c: f" {c}", id="leading-space"),
        pytest.param(lambda c: f"{c} ", id="trailing-space"),
        pytest.param(lambda c: c[:9], id="nine-characters"),
        pytest.param(lambda c: c + "0", id="eleven-characters"),
        pytest.param(lambda c: c[:9] + "!", id="punctuation"),
        pytest.param(lambda c: c[:9] + "Ş", id="non-ascii-letter"),
        pytest.param(lambda c: c[:9] + "\u0660", id="arabic-indic-digit"),
        pytest.param(lambda c: c * 6, id="long-within-the-bound"),
    ],
)
@pytest.mark.parametrize("method", SINGLE_METHODS)
def test_a_real_code_in_any_other_shape_answers_hescodenotfound(
    live: Caller,
    make_holder: Callable[..., Holder],
    method: str,
    shape: Callable[[str], str],
) -> None:
    holder = make_holder()
    assert_json(live.check(method, holder.code))
    assert_hes_error(live.check(method, shape(holder.code)), NOT_FOUND_BODY)


@pytest.mark.parametrize("method", SINGLE_METHODS)
def test_lower_case_code_is_upper_cased_before_lookup(
    live: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    holder = make_holder()
    expected = assert_json(live.check(method, holder.code))
    assert assert_json(live.check(method, holder.code.lower())) == expected
    mixed = holder.code[:5].lower() + holder.code[5:]
    assert assert_json(live.check(method, mixed)) == expected


def test_not_found_body_is_the_documented_problem_in_the_documented_order(live: Caller) -> None:
    response = live.check("check-employee-hes-code", "A0A0000000")
    assert response.status_code == 400
    assert response.headers["content-type"].split(";")[0] == "application/problem+json"
    assert list(response.json().items()) == [
        ("entityName", "hesCode"),
        ("errorKey", "hescodenotfound"),
        ("type", "https://hescode.saglik.gov.tr/problem/problem-with-message"),
        ("title", "Hes code not found!"),
        ("status", 400),
        ("message", "error.hescodenotfound"),
        ("params", "hesCode"),
    ]


# --- expiry ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", SINGLE_METHODS)
def test_expired_code_answers_hescodehasbeenexpired(
    live: Caller, make_holder: Callable[..., Holder], server: LiveServer, method: str
) -> None:
    holder = make_holder(valid_for=timedelta(days=2))
    assert_json(live.check(method, holder.code))
    server.clock.advance(timedelta(days=2, seconds=1))
    assert_hes_error(live.check(method, holder.code), EXPIRED_BODY)


def test_code_is_valid_until_the_second_before_its_expiry_and_expired_at_it(
    live: Caller, make_holder: Callable[..., Holder], server: LiveServer
) -> None:
    holder = make_holder(valid_for=timedelta(hours=5))
    server.clock.advance(timedelta(hours=5) - timedelta(seconds=1))
    assert_json(live.check("check-employee-hes-code", holder.code))
    server.clock.advance(timedelta(seconds=1))
    assert_hes_error(live.check("check-employee-hes-code", holder.code), EXPIRED_BODY)


def test_expired_lower_case_code_is_also_reported_expired(
    live: Caller, make_holder: Callable[..., Holder], server: LiveServer
) -> None:
    holder = make_holder(valid_for=timedelta(days=1))
    server.clock.advance(timedelta(days=3))
    assert_hes_error(live.check("check-hes-code-plus", holder.code.lower()), EXPIRED_BODY)


def test_a_code_without_expiry_is_still_valid_decades_later(
    live: Caller, make_holder: Callable[..., Holder], server: LiveServer
) -> None:
    holder = make_holder(valid_for=None)
    server.clock.advance(timedelta(days=365 * 40))
    body = assert_json(live.check("check-employee-hes-code", holder.code))
    assert body["expiration_date"] == "2070-12-30T00:00:00Z"


# --- current state, whenever the code was issued ------------------------------------------------


@pytest.mark.parametrize("method", SINGLE_METHODS)
def test_an_old_code_reports_the_current_risk_state(
    live: Caller,
    make_holder: Callable[..., Holder],
    hes_data: HesDataService,
    server: LiveServer,
    method: str,
) -> None:
    holder = make_holder()
    server.clock.advance(timedelta(days=100))
    hes_data.open_risk("live", holder.identity_number, "contact")
    body = assert_json(live.check(method, holder.code))
    assert body["current_health_status"] == "RISKY"


def test_every_code_of_a_person_reports_the_same_state(
    live: Caller, make_holder: Callable[..., Holder], hes_data: HesDataService
) -> None:
    holder = make_holder()
    second, _ = hes_data.issue_code("live", holder.identity_number)
    hes_data.open_risk("live", holder.identity_number, "case")
    for code in (holder.code, second):
        body = assert_json(live.check("check-employee-hes-code", code))
        assert body["current_health_status"] == "RISKY"
