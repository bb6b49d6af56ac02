"""Request validation over the wire (contract §4.4): constraint violations with fieldErrors,
unparseable JSON, wrong media type — and never a 500, whatever is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.conftest import (
    BULK_METHODS,
    HES_METHODS,
    NOT_FOUND_BODY,
    SINGLE_METHODS,
    VISIT,
    Caller,
    assert_field_errors,
    assert_hes_error,
    assert_http_problem,
    assert_problem,
)

CODE_ONLY = ("check-employee-hes-code", "check-hes-code-plus", "check-hes-code")


@pytest.mark.parametrize("method", SINGLE_METHODS)
def test_missing_hes_code_is_a_constraint_violation(live: Caller, method: str) -> None:
    body: dict[str, Any] = dict(VISIT) if method == "check-visitor-hes-code" else {}
    assert_field_errors(live.post(method, body), [("hes_code", "NotNull")])


@pytest.mark.parametrize("method", SINGLE_METHODS)
def test_null_hes_code_is_not_null_like_a_missing_one(live: Caller, method: str) -> None:
    body: dict[str, Any] = {"hes_code": None}
    if method == "check-visitor-hes-code":
        body.update(VISIT)
    assert_field_errors(live.post(method, body), [("hes_code", "NotNull")])


@pytest.mark.parametrize("method", SINGLE_METHODS)
@pytest.mark.parametrize("blank", ["", "   ", "\t\n", "\u00a0\u3000"])
def test_blank_hes_code_is_not_found_like_a_dashed_one(
    live: Caller, method: str, blank: str
) -> None:
    """The document answers a code in an unsuitable format with the ``hescodenotfound`` body
    (contract §4.4): a blank code is one, exactly like a dashed code."""
    visit = VISIT if method == "check-visitor-hes-code" else {}
    dashed = live.post(method, {"hes_code": "A1S1-0001-S1", **visit})
    assert_hes_error(dashed, NOT_FOUND_BODY)
    assert_hes_error(live.post(method, {"hes_code": blank, **visit}), NOT_FOUND_BODY)


def test_a_blank_hes_code_is_not_a_field_error_beside_a_blank_visit_field(live: Caller) -> None:
    body = {**VISIT, "hes_code": "", "city": ""}
    assert_field_errors(live.post("check-visitor-hes-code", body), [("city", "NotBlank")])


@pytest.mark.parametrize("field", ["city", "district", "explicit_address"])
@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_visit_field_is_a_constraint_violation(live: Caller, field: str, blank: str) -> None:
    body = {"hes_code": "A1B2345678", **VISIT, field: blank}
    assert_field_errors(live.post("check-visitor-hes-code", body), [(field, "NotBlank")])


@pytest.mark.parametrize("field", ["city", "district", "explicit_address"])
def test_missing_visit_field_is_a_constraint_violation(live: Caller, field: str) -> None:
    body = {"hes_code": "A1B2345678", **VISIT}
    del body[field]
    assert_field_errors(live.post("check-visitor-hes-code", body), [(field, "NotNull")])


@pytest.mark.parametrize("field", ["city", "district", "explicit_address"])
def test_null_visit_field_is_not_null(live: Caller, field: str) -> None:
    body = {"hes_code": "A1B2345678", **VISIT, field: None}
    assert_field_errors(live.post("check-visitor-hes-code", body), [(field, "NotNull")])


def test_every_invalid_visit_field_is_reported_at_once(live: Caller) -> None:
    body = {"city": " ", "explicit_address": ""}
    assert_field_errors(
        live.post("check-visitor-hes-code", body),
        [
            ("hes_code", "NotNull"),
            ("city", "NotBlank"),
            ("district", "NotNull"),
            ("explicit_address", "NotBlank"),
        ],
    )


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ({"latitude": 90.0001, "longitude": 0}, [("location.latitude", "DecimalMax")]),
        ({"latitude": -90.5, "longitude": 0}, [("location.latitude", "DecimalMin")]),
        ({"latitude": 0, "longitude": 180.01}, [("location.longitude", "DecimalMax")]),
        ({"latitude": 0, "longitude": -181}, [("location.longitude", "DecimalMin")]),
        (
            {"latitude": 91, "longitude": 181},
            [("location.latitude", "DecimalMax"), ("location.longitude", "DecimalMax")],
        ),
        ({"latitude": 39.9}, [("location.longitude", "NotNull")]),
        ({"latitude": None, "longitude": 32.8}, [("location.latitude", "NotNull")]),
        ({"latitude": "39.9", "longitude": 32.8}, [("location.latitude", "TypeMismatch")]),
        ({"latitude": True, "longitude": 32.8}, [("location.latitude", "TypeMismatch")]),
        ("39.9,32.8", [("location", "TypeMismatch")]),
        ([39.9, 32.8], [("location", "TypeMismatch")]),
    ],
    ids=[
        "lat>90",
        "lat<-90",
        "lon>180",
        "lon<-180",
        "both-out",
        "lon-missing",
        "lat-null",
        "lat-string",
        "lat-bool",
        "location-string",
        "location-array",
    ],
)
def test_invalid_location_is_a_constraint_violation(
    live: Caller, location: Any, expected: list[tuple[str, str]]
) -> None:
    body = {"hes_code": "A1B2345678", **VISIT, "location": location}
    assert_field_errors(live.post("check-visitor-hes-code", body), expected)


@pytest.mark.parametrize(
    "location",
    [
        None,
        {"latitude": 0, "longitude": 0},
        {"latitude": 90, "longitude": -180},
        {"latitude": -90, "longitude": 180},
        {"latitude": 39.925533, "longitude": 32.866287},
    ],
)
def test_location_is_optional_and_its_bounds_are_inclusive(live: Caller, location: Any) -> None:
    body: dict[str, Any] = {"hes_code": "Q9Q9999999", **VISIT}
    if location is not None:
        body["location"] = location
    response = live.post("check-visitor-hes-code", body)
    # passes validation: the unknown code is what gets reported
    assert_problem(response, 400)
    assert response.json()["errorKey"] == "hescodenotfound"


@pytest.mark.parametrize("method", CODE_ONLY)
@pytest.mark.parametrize("value", [12345678, 1.5, True, ["A1B2345678"], {"code": "A1B2345678"}])
def test_hes_code_of_the_wrong_json_type_is_a_constraint_violation(
    live: Caller, method: str, value: Any
) -> None:
    assert_field_errors(live.post(method, {"hes_code": value}), [("hes_code", "TypeMismatch")])


@pytest.mark.parametrize("field", ["city", "district", "explicit_address"])
def test_visit_field_of_the_wrong_json_type_is_a_constraint_violation(
    live: Caller, field: str
) -> None:
    body = {"hes_code": "A1B2345678", **VISIT, field: 34}
    assert_field_errors(live.post("check-visitor-hes-code", body), [(field, "TypeMismatch")])


@pytest.mark.parametrize("method", SINGLE_METHODS)
@pytest.mark.parametrize("body", [[], [{"hes_code": "A1B2345678"}], "A1B2345678", 7, True])
def test_single_method_with_a_non_object_body_is_a_constraint_violation(
    live: Caller, method: str, body: Any
) -> None:
    response = live.raw(method, json.dumps(body).encode())
    assert_problem(response, 400)
    errors = response.json()["fieldErrors"]
    assert len(errors) == 1
    assert errors[0]["message"] == "TypeMismatch"
    assert response.json()["message"] == "error.validation"


@pytest.mark.parametrize("method", SINGLE_METHODS)
def test_a_null_body_is_not_null(live: Caller, method: str) -> None:
    assert_field_errors(live.raw(method, b"null"), [("body", "NotNull")])


@pytest.mark.parametrize("method", HES_METHODS)
@pytest.mark.parametrize(
    "content",
    [b"", b"{", b'{"hes_code": "A1B2345678"', b"{hes_code: 'x'}", b"\xff\xfe\x00", b"[1,]"],
    ids=["empty", "open-brace", "unterminated", "js-literal", "not-utf8", "trailing-comma"],
)
def test_unparseable_json_answers_error_http_400(live: Caller, method: str, content: bytes) -> None:
    body = assert_http_problem(live.raw(method, content), 400)
    assert "fieldErrors" not in body
    assert "errorKey" not in body


@pytest.mark.parametrize("method", HES_METHODS)
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", None],
)
def test_wrong_content_type_answers_415(
    live: Caller, method: str, content_type: str | None
) -> None:
    response = live.raw(method, b'{"hes_code": "A1B2345678"}', content_type=content_type)
    assert_http_problem(response, 415)


def test_json_content_type_with_a_charset_is_accepted(live: Caller) -> None:
    response = live.raw(
        "check-employee-hes-code",
        b'{"hes_code": "Q9Q9999999"}',
        content_type="application/json; charset=utf-8",
    )
    assert response.status_code == 400
    assert response.json()["errorKey"] == "hescodenotfound"


def test_body_over_one_mebibyte_is_refused_with_413(live: Caller) -> None:
    content = b'{"hes_code": "' + b"A" * (1 << 20) + b'"}'
    assert_http_problem(live.raw("check-employee-hes-code", content), 413)


def test_chunked_body_over_one_mebibyte_is_refused_without_a_length_header(live: Caller) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"hes_code": "'
        for _ in range(17):
            yield b"A" * 65536
        yield b'"}'

    response = live.client.post(
        "/services/g2g/saglik/hes/check-employee-hes-code",
        content=chunks(),
        headers={"Content-Type": "application/json"},
        auth=live.credential.auth,
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert_http_problem(response, 413)


@pytest.mark.parametrize("verb", ["GET", "PUT", "DELETE"])
def test_other_http_verbs_answer_405_problem(live: Caller, verb: str) -> None:
    response = live.client.request(
        verb, "/services/g2g/saglik/hes/check-employee-hes-code", auth=live.credential.auth
    )
    assert_http_problem(response, 405)


NASTY_BODIES: list[bytes] = [
    b"null",
    b"0",
    b"-1e999",
    b'""',
    b"{}",
    b"[]",
    b"[null]",
    b"[[]]",
    b"[{}]",
    b'[{"hes_code": null}]',
    b'{"hes_code": {"hes_code": "A1B2345678"}}',
    b'{"hes_code": "\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000"}',
    b'{"hes_code": "\\ud800"}',
    b'{"hes_code": "A1B2345678", "location": {"latitude": 1e999, "longitude": -1e999}}',
    b'{"hes_code": "A1B2345678", "city": "x", "district": "y", "explicit_address": "z",'
    b' "location": {"latitude": NaN, "longitude": Infinity}}',
    b'{"hes_code": "A1B2345678", "city": "x", "district": "y", "explicit_address": "z",'
    b' "location": {"latitude": 1e999, "longitude": 0}}',
    b"[" * 20000 + b"]" * 20000,
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'{"hes_code": "' + "Ş".encode() * 2000 + b'"}',
    b'{"hes_code": "A1B2345678"} trailing',
    b'{"hes_code": "A1B2345678", "hes_code": 5}',
    json.dumps([{"hes_code": str(i)} for i in range(2000)]).encode(),
]


@pytest.mark.parametrize("method", HES_METHODS)
def test_no_body_makes_the_server_answer_500(live: Caller, method: str) -> None:
    for content in NASTY_BODIES:
        response = live.raw(method, content)
        assert response.status_code == 400, (content[:60], response.text)
        assert response.headers["content-type"].split(";")[0] == "application/problem+json"
        assert response.json()["status"] == 400


@pytest.mark.parametrize("method", BULK_METHODS)
def test_a_bulk_method_with_an_object_body_is_a_constraint_violation(
    live: Caller, method: str
) -> None:
    response = live.post(method, {"hes_code": "A1B2345678"})
    assert_field_errors(response, [("hes_codes", "TypeMismatch")])
