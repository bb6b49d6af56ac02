"""Every string a request carries is bounded (issue 11, F9; README "Request bounds", contract §4.1
and §5.2 "Bounds"): at its maximum a value is read as usual, one character more is refused in the
service's own form without the value being repeated, and nothing unbounded reaches the outbox.

The maxima are read from the OpenAPI documents, so the documents and the server cannot drift."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from saglik.services.hes import HesDataService
from saglik.store.schema import moi_outbox
from tests.conftest import Holder, LiveServer
from tests.web.admin_support import Admin, field_errors, new_tckn, problem
from tests.web.conftest import (
    NOT_FOUND_BODY,
    SINGLE_METHODS,
    VISIT,
    Caller,
    Users,
    assert_field_errors,
    assert_hes_error,
    assert_json,
    audit_since,
    last_audit_id,
)
from tests.web.obs_helpers import CITIZEN, FOREIGNER, FORM, invalid_message, obs_get, success
from tests.web.openapi_support import SPEC_NAMES, ContractSpec, contract_spec

HES = contract_spec("hes")
OBS = contract_spec("obs")
HES_SCHEMAS = HES.doc["components"]["schemas"]
HES_CODE_MAX = HES_SCHEMAS["HesCode"]["maxLength"]
VISIT_MAX = {
    name: HES_SCHEMAS["VisitorRequest"]["properties"][name]["maxLength"]
    for name in ("city", "district", "explicit_address")
}
NAME_MAX = OBS.doc["components"]["schemas"]["QueryName"]["maxLength"]
CODE_MAX = OBS.doc["components"]["schemas"]["QueryCode"]["maxLength"]

VISITOR = "check-visitor-hes-code"
RISKLESS_FIXTURE = "L3S11011S1"


def test_the_documents_state_the_bounds_the_server_applies() -> None:
    assert HES_CODE_MAX == 64
    assert VISIT_MAX == {"city": 100, "district": 100, "explicit_address": 500}
    assert (NAME_MAX, CODE_MAX) == (200, 20)


# --- every request string in the three documents has a maximum ----------------------------------

_VERBS = {"get", "put", "post", "patch", "delete"}


def _request_schemas(spec: ContractSpec) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, schema) of every parameter and JSON request body the document describes."""
    for path, item in spec.doc["paths"].items():
        item = spec.resolve(item["$ref"]) if "$ref" in item else item
        for verb, operation in item.items():
            if verb not in _VERBS:
                continue
            for param in [*item.get("parameters", []), *operation.get("parameters", [])]:
                param = spec.resolve(param["$ref"]) if "$ref" in param else param
                yield f"{verb} {path} {param['in']} {param['name']}", param["schema"]
            body = operation.get("requestBody")
            if body is not None:
                body = spec.resolve(body["$ref"]) if "$ref" in body else body
                for content in body["content"].values():
                    yield f"{verb} {path} body", content["schema"]


def _unbounded_strings(spec: ContractSpec, node: dict[str, Any], at: str) -> Iterator[str]:
    """Where a string schema under ``node`` has neither ``maxLength`` nor ``enum`` (each counts
    whether stated beside an ``allOf`` or inside one of its members)."""
    if "$ref" in node:
        yield from _unbounded_strings(spec, spec.resolve(node["$ref"]), at)
        return
    parts = [node, *(spec.resolve(p["$ref"]) if "$ref" in p else p for p in node.get("allOf", []))]
    if any(part.get("type") == "string" for part in parts):
        if not any("maxLength" in part or "enum" in part for part in parts):
            yield at
        return
    for key in ("oneOf", "anyOf"):
        for sub in node.get(key, []):
            yield from _unbounded_strings(spec, sub, at)
    for part in parts:
        for name, sub in part.get("properties", {}).items():
            yield from _unbounded_strings(spec, sub, f"{at}.{name}")
        if isinstance(part.get("items"), dict):
            yield from _unbounded_strings(spec, part["items"], f"{at}[]")


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_every_request_string_of_the_document_has_a_maximum_length(name: str) -> None:
    spec = contract_spec(name)
    schemas = list(_request_schemas(spec))
    assert schemas, "the walk found the document's requests"
    unbounded = [at for where, schema in schemas for at in _unbounded_strings(spec, schema, where)]
    assert unbounded == []


def test_the_walk_finds_a_string_without_a_maximum() -> None:
    spec = contract_spec("hes")
    unbounded = {"type": "object", "properties": {"note": {"type": "string"}}}
    assert list(_unbounded_strings(spec, unbounded, "body")) == ["body.note"]
    bounded = {"type": "object", "properties": {"note": {"type": "string", "maxLength": 9}}}
    assert list(_unbounded_strings(spec, bounded, "body")) == []


# --- HES ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", SINGLE_METHODS)
def test_a_hes_code_at_its_bound_is_not_found_and_one_longer_is_a_size_violation(
    live: Caller, method: str
) -> None:
    assert_hes_error(live.check(method, "A" * HES_CODE_MAX), NOT_FOUND_BODY)
    too_long = live.check(method, "A" * (HES_CODE_MAX + 1))
    assert_field_errors(too_long, [("hes_code", "Size")])
    assert "A" * (HES_CODE_MAX + 1) not in too_long.text


@pytest.mark.parametrize("method", ["check-hes-codes", "check-hes-codes-plus"])
def test_a_bulk_item_over_the_code_bound_refuses_the_request(live: Caller, method: str) -> None:
    at_bound = "B" * HES_CODE_MAX
    answer = assert_json(live.post(method, [{"hes_code": at_bound}]))
    assert answer["unsuccess_map"] == {at_bound: "hescodenotfound"}
    too_long = live.post(
        method, [{"hes_code": "A1S10001S1"}, {"hes_code": "B" * (HES_CODE_MAX + 1)}]
    )
    assert_field_errors(too_long, [("hes_codes[1].hes_code", "Size")])


@pytest.mark.parametrize("field", sorted(VISIT_MAX))
def test_a_visit_field_is_bounded_in_characters_not_bytes(
    sandbox: Caller, test_fixtures: None, field: str
) -> None:
    """``Ç`` is two bytes in UTF-8: the bound counts characters, as the document's maxLength."""
    bound = VISIT_MAX[field]
    at_bound = sandbox.check(VISITOR, RISKLESS_FIXTURE, **{field: "Ç" * bound})
    assert assert_json(at_bound)["current_health_status"] == "RISKLESS"
    too_long = sandbox.check(VISITOR, RISKLESS_FIXTURE, **{field: "Ç" * (bound + 1)})
    assert_field_errors(too_long, [(field, "Size")])


def test_every_field_over_its_bound_is_reported_at_once(live: Caller) -> None:
    body = {
        "hes_code": "X" * 65,
        "city": "x" * 101,
        "district": "x" * 101,
        "explicit_address": "x" * 501,
    }
    assert_field_errors(
        live.post(VISITOR, body),
        [
            ("hes_code", "Size"),
            ("city", "Size"),
            ("district", "Size"),
            ("explicit_address", "Size"),
        ],
    )


def _last_outbox_id(server: LiveServer) -> int:
    with server.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(moi_outbox.c.id), 0))).scalar_one())


def _outbox_after(server: LiveServer, after_id: int) -> list[str]:
    with server.engine.connect() as conn:
        return list(
            conn.execute(select(moi_outbox.c.payload).where(moi_outbox.c.id > after_id)).scalars()
        )


@pytest.fixture
def risky(make_holder: Callable[..., Holder], hes_data: HesDataService) -> Holder:
    holder = make_holder()
    hes_data.open_risk("live", holder.identity_number, "case")
    return holder


def test_a_megabyte_city_is_refused_and_never_reaches_the_outbox(
    server: LiveServer, live: Caller, risky: Holder
) -> None:
    """The probe of issue 11: a 1 MB ``city`` on a RISKY code was stored in the outbox and sent
    to the Ministry of Interior. The same call with a real city writes its report (the check
    sees the outbox)."""
    before_outbox, before_audit = _last_outbox_id(server), last_audit_id(server.engine)
    city = "KARAKOY1" * 125_000  # 1,000,000 bytes: under the 1 MiB body limit
    refused = live.post(VISITOR, {**VISIT, "hes_code": risky.code, "city": city})
    assert_field_errors(refused, [("city", "Size")])
    assert "KARAKOY1" not in refused.text
    assert _outbox_after(server, before_outbox) == []
    (audit,) = audit_since(server.engine, before_audit)
    assert audit.outcome == "validation"

    accepted = live.post(VISITOR, {**VISIT, "hes_code": risky.code, "city": "İSTANBUL"})
    assert assert_json(accepted)["current_health_status"] == "RISKY"
    (report,) = _outbox_after(server, before_outbox)
    assert json.loads(report)["city"] == "İSTANBUL"


# --- ÖBS ----------------------------------------------------------------------------------------

PERSONAL = "Zeynepnur"
"""Over-long names and numbers are built from this (no message may repeat what was sent)."""


@pytest.fixture
def obs(http: httpx.Client, users: Users) -> Callable[[str, dict[str, str]], httpx.Response]:
    def call(method: str, params: dict[str, str]) -> httpx.Response:
        return obs_get(http, "test", method, users.test.auth, params)

    return call


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        (
            "GetOlumByTcKimlikNoBasic",
            {**CITIZEN, "Adi": PERSONAL * 23},
            f"Adi parametresi en fazla {NAME_MAX} karakter olabilir.",
        ),
        (
            "GetOlumByTcKimlikNoFull",
            {**CITIZEN, "Soyadi": PERSONAL * 23},
            f"Soyadi parametresi en fazla {NAME_MAX} karakter olabilir.",
        ),
        (
            "GetOlumByPasaportNoBasic",
            {**FOREIGNER, "Adi": PERSONAL * 23},
            f"Adi parametresi en fazla {NAME_MAX} karakter olabilir.",
        ),
        (
            "GetOlumByPasaportNoFull",
            {**FOREIGNER, "PasaportNo": PERSONAL * 3},
            f"PasaportNo parametresi en fazla {CODE_MAX} karakter olabilir.",
        ),
        (
            "GetOlumByFormNoBasic",
            {**FORM, "ReferansNo": PERSONAL * 3},
            f"ReferansNo parametresi en fazla {CODE_MAX} karakter olabilir.",
        ),
        (
            "GetOlumByFormNoFull",
            {**FORM, "FormNo": "9" * (CODE_MAX + 1)},
            f"FormNo parametresi en fazla {CODE_MAX} karakter olabilir.",
        ),
        (
            "GetTumOlumlerByDate",
            {"Tarih": "2025-03-14", "IlKodu": "1" * 5000},  # int() refuses over 4300 digits
            "IlKodu 1 ile 81 arasında bir plaka kodu olmalıdır.",
        ),
        (
            "GetAdliFormlarByDate",
            {"Tarih": "2025-03-14", "IlKodu": "0061"},
            "IlKodu 1 ile 81 arasında bir plaka kodu olmalıdır.",
        ),
        (
            "GetGuncellenenOlumlerByDate",
            {"Tarih": "2025-03-16" + "0" * 5000},
            "Tarih parametresi yyyy-mm-dd biçiminde olmalıdır.",
        ),
        (
            "GetOlumTarihiByTcKimlikNo",
            {"TcKimlikNo": "76883560160" * 500},
            "TcKimlikNo geçerli bir T.C. Kimlik Numarası değil.",
        ),
        (
            "GetOlumByTcKimlikNoBasic",
            {**CITIZEN, "DogumTarihi": "1941-05-02" * 500},
            "DogumTarihi parametresi yyyy-mm-dd biçiminde olmalıdır.",
        ),
    ],
)
def test_a_parameter_over_its_bound_is_state_0_without_its_value(
    obs: Callable[[str, dict[str, str]], httpx.Response],
    method: str,
    params: dict[str, str],
    message: str,
) -> None:
    answer = obs(method, params)
    assert invalid_message(answer) == message
    for value in params.values():
        assert value[: CODE_MAX + 1] not in answer.text


def test_names_at_their_bound_are_looked_up(
    obs: Callable[[str, dict[str, str]], httpx.Response],
) -> None:
    answer = obs("GetOlumByTcKimlikNoBasic", {**CITIZEN, "Adi": "A" * NAME_MAX})
    assert answer.json() == {
        "State": 2,
        "Message": "Arama kriterlerine uygun kayıt bulunamadı.",
        "Result": None,
    }


def test_surrounding_white_space_does_not_count_towards_a_bound(
    obs: Callable[[str, dict[str, str]], httpx.Response],
) -> None:
    padding = " " * NAME_MAX
    found = success(obs("GetOlumByTcKimlikNoBasic", {**CITIZEN, "Adi": padding + "Mehmet Emin"}))
    assert found["FormNo"] == FORM["FormNo"]
    padded_form = {"FormNo": padding + FORM["FormNo"] + padding, "ReferansNo": FORM["ReferansNo"]}
    assert success(obs("GetOlumByFormNoBasic", padded_form))["FormNo"] == FORM["FormNo"]


# --- operator API -------------------------------------------------------------------------------


def test_operator_body_strings_over_their_bound_are_422_naming_the_field(admin: Admin) -> None:
    assert field_errors(admin.post("/institutions", {"name": "K" * 201})) == {"name"}
    person = {
        "env": "live",
        "identity_number": new_tckn(),
        "first_name": PERSONAL * 12,
        "last_name": "Y",
    }
    refused = admin.put("/persons", person)
    assert field_errors(refused) == {"first_name"}
    assert PERSONAL not in refused.text


def test_a_death_form_identity_number_is_bounded_like_every_other(admin: Admin) -> None:
    """It used to reach only the form's own check-digit rule, reported for the whole body."""
    form = {
        "identity_number": "4" * 5000,
        "first_name": "Ali",
        "last_name": "Kaya",
        "sex": 1,
        "died_at": "2025-03-13T06:40:00",
        "place_of_death_type": 1,
        "death_province": 6,
        "residence_province": 6,
        "manner": 1,
        "causes": [{"kind": 1, "icd_code": "I21.9"}],
    }
    refused = admin.post("/death-forms", form, params={"env": "test"})
    assert field_errors(refused) == {"identity_number"}
    assert "4" * 20 not in refused.text


def test_operator_query_strings_over_their_bound_are_422(admin: Admin) -> None:
    person = admin.get("/persons", params={"env": "live", "identity_number": "3" * 5000})
    assert field_errors(person) == {"identity_number"}
    calls = admin.get("/audit/calls", params={"institution": "K" * 201})
    assert field_errors(calls) == {"institution"}


def test_an_operator_path_value_over_its_bound_names_nothing(admin: Admin) -> None:
    problem(admin.get("/users/{env}/{username}", path={"env": "live", "username": "u" * 101}), 404)
    problem(
        admin.get(
            "/death-forms/{form_no}",
            path={"form_no": "9" * 21},
            params={"env": "test", "referans_no": "TSTA7K2M"},
        ),
        404,
    )
