"""Bulk methods over the wire (contract §4.1): ``check-hes-codes`` and ``check-hes-codes-plus`` —
1..500 items, success_map and unsuccess_map as top-level siblings keyed exactly as sent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from saglik.services.hes import HesDataService
from tests.conftest import Holder, LiveServer
from tests.web.conftest import (
    BULK_METHODS,
    PLUS_KEYS,
    RESULT_KEYS,
    Caller,
    assert_field_errors,
    assert_json,
)

KEYS = {"check-hes-codes": RESULT_KEYS, "check-hes-codes-plus": PLUS_KEYS}
SINGLE_OF = {
    "check-hes-codes": "check-employee-hes-code",
    "check-hes-codes-plus": "check-hes-code-plus",
}


def items(*codes: str) -> list[dict[str, str]]:
    return [{"hes_code": c} for c in codes]


def unknown_codes(count: int, prefix: str = "U") -> list[str]:
    return [f"{prefix}0U{i:07d}" for i in range(count)]


@pytest.mark.parametrize("method", BULK_METHODS)
def test_bulk_answers_success_map_and_unsuccess_map_as_top_level_siblings(
    live: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    holder = make_holder()
    body = assert_json(live.post(method, items(holder.code, "Z0Z0000000")))
    assert list(body.keys()) == ["success_map", "unsuccess_map"]
    assert list(body["success_map"]) == [holder.code]
    assert body["unsuccess_map"] == {"Z0Z0000000": "hescodenotfound"}
    assert "unsuccess_map" not in body["success_map"]


@pytest.mark.parametrize("method", BULK_METHODS)
def test_bulk_results_have_the_single_method_keys_in_order_and_equal_values(
    live: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    holder = make_holder(first_name="Ömer Faruk", last_name="Çelik")
    body = assert_json(live.post(method, items(holder.code)))
    result = body["success_map"][holder.code]
    assert list(result.keys()) == KEYS[method]
    single = assert_json(live.check(SINGLE_OF[method], holder.code))
    assert result == single
    assert result["masked_firstname"] == "ÖM**** FA****"


@pytest.mark.parametrize("method", BULK_METHODS)
def test_bulk_with_all_codes_found_has_an_empty_unsuccess_map(
    live: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    holders = [make_holder() for _ in range(3)]
    body = assert_json(live.post(method, items(*(h.code for h in holders))))
    assert set(body["success_map"]) == {h.code for h in holders}
    assert body["unsuccess_map"] == {}


@pytest.mark.parametrize("method", BULK_METHODS)
def test_bulk_with_no_code_found_has_an_empty_success_map(live: Caller, method: str) -> None:
    body = assert_json(live.post(method, items("Z0Z0000001", "Z0Z0000002")))
    assert body == {
        "success_map": {},
        "unsuccess_map": {"Z0Z0000001": "hescodenotfound", "Z0Z0000002": "hescodenotfound"},
    }


@pytest.mark.parametrize("method", BULK_METHODS)
def test_bulk_mixes_found_expired_unknown_and_malformed_codes(
    live: Caller,
    make_holder: Callable[..., Holder],
    hes_data: HesDataService,
    server: LiveServer,
    method: str,
) -> None:
    riskless = make_holder()
    risky = make_holder()
    hes_data.open_risk("live", risky.identity_number, "case")
    expired = make_holder(valid_for=timedelta(hours=1))
    server.clock.advance(timedelta(hours=2))
    dashed = f"{riskless.code[0:4]}-{riskless.code[4:8]}-{riskless.code[8:10]}"
    sent = [riskless.code, expired.code, "Y0Y0000000", risky.code, dashed, "SHORT"]
    body = assert_json(live.post(method, items(*sent)))
    assert set(body["success_map"]) == {riskless.code, risky.code}
    assert body["success_map"][riskless.code]["current_health_status"] == "RISKLESS"
    assert body["success_map"][risky.code]["current_health_status"] == "RISKY"
    assert body["unsuccess_map"] == {
        expired.code: "hescodehasbeenexpired",
        "Y0Y0000000": "hescodenotfound",
        dashed: "hescodenotfound",
        "SHORT": "hescodenotfound",
    }


@pytest.mark.parametrize("method", BULK_METHODS)
def test_bulk_keys_each_code_exactly_as_sent(
    live: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    holder = make_holder()
    lower = holder.code.lower()
    mixed = holder.code[:1] + holder.code[1:].lower()
    dashed = f"{lower[0:4]}-{lower[4:8]}-{lower[8:10]}"
    spaced = f" {holder.code}"
    body = assert_json(live.post(method, items(lower, mixed, holder.code, dashed, spaced)))
    assert list(body["success_map"]) == [lower, mixed, holder.code]
    first = body["success_map"][lower]
    assert body["success_map"][mixed] == first
    assert body["success_map"][holder.code] == first
    assert body["unsuccess_map"] == {dashed: "hescodenotfound", spaced: "hescodenotfound"}


@pytest.mark.parametrize("method", BULK_METHODS)
def test_bulk_duplicates_answer_once_per_distinct_code(
    live: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    holder = make_holder()
    body = assert_json(
        live.post(method, items(holder.code, "X0X0000000", holder.code, "X0X0000000"))
    )
    assert list(body["success_map"]) == [holder.code]
    assert body["unsuccess_map"] == {"X0X0000000": "hescodenotfound"}


@pytest.mark.parametrize("method", BULK_METHODS)
def test_bulk_of_exactly_500_items_is_accepted(
    live: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    holder = make_holder()
    codes = [holder.code, *unknown_codes(499)]
    body = assert_json(live.post(method, items(*codes)))
    assert list(body["success_map"]) == [holder.code]
    assert len(body["unsuccess_map"]) == 499
    assert set(body["unsuccess_map"].values()) == {"hescodenotfound"}


@pytest.mark.parametrize("method", BULK_METHODS)
@pytest.mark.parametrize("count", [501, 1000])
def test_bulk_over_500_items_is_a_size_constraint_violation(
    live: Caller, method: str, count: int
) -> None:
    response = live.post(method, items(*unknown_codes(count)))
    assert_field_errors(response, [("hes_codes", "Size")])


@pytest.mark.parametrize("method", BULK_METHODS)
def test_bulk_of_501_duplicates_is_still_over_the_cap(
    live: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    holder = make_holder()
    assert_field_errors(live.post(method, items(*[holder.code] * 501)), [("hes_codes", "Size")])


@pytest.mark.parametrize("method", BULK_METHODS)
def test_empty_bulk_is_a_size_constraint_violation(live: Caller, method: str) -> None:
    assert_field_errors(live.post(method, []), [("hes_codes", "Size")])


@pytest.mark.parametrize("method", BULK_METHODS)
@pytest.mark.parametrize(
    ("bad_item", "expected"),
    [
        ({}, ("hes_codes[1].hes_code", "NotNull")),
        ({"hes_code": 12345}, ("hes_codes[1].hes_code", "TypeMismatch")),
        ({"hes_code": None}, ("hes_codes[1].hes_code", "NotNull")),
        ("A1B2345678", ("hes_codes[1]", "TypeMismatch")),
        (None, ("hes_codes[1]", "NotNull")),
        (["A1B2345678"], ("hes_codes[1]", "TypeMismatch")),
    ],
    ids=["missing", "number", "null", "bare-string", "null-item", "array-item"],
)
def test_bulk_item_errors_name_the_item_index(
    live: Caller, method: str, bad_item: Any, expected: tuple[str, str]
) -> None:
    body = [{"hes_code": "A1B2345678"}, bad_item, {"hes_code": "C3D4567890"}]
    assert_field_errors(live.post(method, body), [expected])


@pytest.mark.parametrize("method", BULK_METHODS)
def test_bulk_reports_every_bad_item_at_once(live: Caller, method: str) -> None:
    body = [{"hes_code": 1}, {"hes_code": "A1B2345678"}, {}, {"hes_code": ""}, None]
    assert_field_errors(
        live.post(method, body),
        [
            ("hes_codes[0].hes_code", "TypeMismatch"),
            ("hes_codes[2].hes_code", "NotNull"),
            ("hes_codes[4]", "NotNull"),
        ],
    )


@pytest.mark.parametrize("method", BULK_METHODS)
def test_a_null_bulk_body_is_not_null(live: Caller, method: str) -> None:
    assert_field_errors(live.raw(method, b"null"), [("hes_codes", "NotNull")])


@pytest.mark.parametrize("method", BULK_METHODS)
def test_blank_items_land_in_unsuccess_map_as_sent_and_the_rest_is_answered(
    live: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    """A blank code is a code in an unsuitable format, like a dashed one (contract §4.1): it is
    not found, keyed exactly as sent, and never refuses the batch it came in."""
    holder = make_holder()
    sent = [holder.code, "", "   ", "\t", "A1S1-0001-S1", "Z0Z0000000"]
    body = assert_json(live.post(method, items(*sent)))
    assert list(body["success_map"]) == [holder.code]
    assert list(body["success_map"][holder.code]) == KEYS[method]
    assert body["unsuccess_map"] == {
        "": "hescodenotfound",
        "   ": "hescodenotfound",
        "\t": "hescodenotfound",
        "A1S1-0001-S1": "hescodenotfound",
        "Z0Z0000000": "hescodenotfound",
    }


def test_bulk_plus_applies_the_plus_rules_per_code(
    live: Caller, make_holder: Callable[..., Holder], hes_data: HesDataService
) -> None:
    vaccinated = make_holder()
    hes_data.set_consent(
        "live", vaccinated.identity_number, vaccination=True, immunity=True, test=True
    )
    hes_data.vaccinate("live", vaccinated.identity_number, 1, "CoronaVac")
    hes_data.vaccinate("live", vaccinated.identity_number, 2, "CoronaVac")
    risky = make_holder()
    hes_data.set_consent("live", risky.identity_number, vaccination=True, immunity=True, test=True)
    hes_data.vaccinate("live", risky.identity_number, 1, "BioNTech")
    hes_data.vaccinate("live", risky.identity_number, 2, "BioNTech")
    hes_data.open_risk("live", risky.identity_number, "contact")
    body = assert_json(live.post("check-hes-codes-plus", items(vaccinated.code, risky.code)))
    ok = body["success_map"][vaccinated.code]
    assert (ok["is_vaccinated"], ok["is_immune"], ok["last_negative_test_date"]) == (
        True,
        False,
        None,
    )
    at_risk = body["success_map"][risky.code]
    assert at_risk["current_health_status"] == "RISKY"
    assert (at_risk["is_vaccinated"], at_risk["is_immune"]) == (None, None)


def test_plain_bulk_never_carries_plus_fields(
    live: Caller, make_holder: Callable[..., Holder], hes_data: HesDataService
) -> None:
    holder = make_holder()
    hes_data.set_consent("live", holder.identity_number, vaccination=True, immunity=True, test=True)
    body = assert_json(live.post("check-hes-codes", items(holder.code)))
    assert list(body["success_map"][holder.code]) == RESULT_KEYS


@pytest.mark.parametrize("method", BULK_METHODS)
def test_bulk_sees_only_its_own_environment(
    live: Caller, sandbox: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    live_holder = make_holder(env="live")
    test_holder = make_holder(env="test")
    both = items(live_holder.code, test_holder.code)
    on_live = assert_json(live.post(method, both))
    assert list(on_live["success_map"]) == [live_holder.code]
    assert on_live["unsuccess_map"] == {test_holder.code: "hescodenotfound"}
    on_test = assert_json(sandbox.post(method, both))
    assert list(on_test["success_map"]) == [test_holder.code]
    assert on_test["unsuccess_map"] == {live_holder.code: "hescodenotfound"}
