"""Test-environment fixtures (contract §4.6): one code per category of the document's table, plus
an expired one, one without consent and a plain riskless one — each answering on the test path
with what its category implies, relative to "now", however far the clock has moved."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from saglik.services.fixtures import HesFixture, apply_hes_fixtures, hes_fixtures
from saglik.store.schema import moi_outbox
from tests.conftest import LiveServer
from tests.hes_fixture_support import DOCUMENT_CATEGORIES
from tests.web.conftest import (
    EXPIRED_BODY,
    NOT_FOUND_BODY,
    PLUS_KEYS,
    Caller,
    assert_hes_error,
    assert_json,
    millis,
    seconds,
)

pytestmark = pytest.mark.usefixtures("test_fixtures")
"""Applied at the test's clock before it runs and restored after it (see tests/web/conftest.py)."""


H = timedelta(hours=1)


@pytest.fixture
def now(server: LiveServer) -> datetime:
    return server.clock.now()


# category → (status, is_vaccinated, is_immune, hours since the newest negative test or None,
#             is_test_data_shared)
EXPECTED: dict[str, tuple[str, Any, Any, Any, bool]] = {
    "Aşı": ("RISKLESS", True, False, None, True),
    "Bağışıklık": ("RISKLESS", False, True, None, True),
    "PCR Test Sonucu": ("RISKLESS", False, False, 6, True),
    "Riskli": ("RISKY", None, None, None, True),
    "Aşı & Bağışıklık & PCR Test Sonucu": ("RISKLESS", True, True, 10, True),
    "Aşı & Bağışıklık": ("RISKLESS", True, True, None, True),
    "Aşı & PCR Test Sonucu": ("RISKLESS", True, False, 20, True),
    "Bağışıklık & PCR Test Sonucu": ("RISKLESS", False, True, 30, True),
    "İzin verilmemiş": ("RISKLESS", None, None, None, False),
    "Risksiz": ("RISKLESS", False, False, None, True),
}
EXPIRED_CATEGORY = "Süresi dolmuş"
DOCUMENT_TABLE = list(DOCUMENT_CATEGORIES)


def by_category(category: str) -> HesFixture:
    (fixture,) = [f for f in hes_fixtures() if f.category == category]
    return fixture


def assert_category(
    body: dict[str, Any], category: str, now: datetime, *, negative_exact: bool = True
) -> None:
    status, vaccinated, immune, hours, shared = EXPECTED[category]
    assert list(body) == PLUS_KEYS
    assert body["current_health_status"] == status
    assert body["is_vaccinated"] is vaccinated
    assert body["is_immune"] is immune
    if hours is None:
        assert body["last_negative_test_date"] is None
    elif negative_exact:
        assert body["last_negative_test_date"] == millis(now - hours * H)
    else:
        assert body["last_negative_test_date"] is not None
    assert body["is_test_data_shared"] is shared


def test_every_category_of_the_document_table_has_exactly_one_fixture() -> None:
    categories = [f.category for f in hes_fixtures()]
    for category in [*DOCUMENT_TABLE, EXPIRED_CATEGORY, "İzin verilmemiş", "Risksiz"]:
        assert categories.count(category) == 1, category
    assert len(categories) == len(set(categories)) == len(DOCUMENT_TABLE) + 3


def test_fixture_codes_are_valid_codes_ending_in_s_and_a_digit() -> None:
    codes = [f.code for f in hes_fixtures()]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert re.fullmatch(r"[A-Z0-9]{8}S[0-9]", code), code


@pytest.mark.parametrize("category", sorted(EXPECTED))
def test_fixture_answers_check_hes_code_plus_as_its_category_implies(
    sandbox: Caller, now: datetime, category: str
) -> None:
    fixture = by_category(category)
    body = assert_json(sandbox.check("check-hes-code-plus", fixture.code))
    assert_category(body, category, now)


@pytest.mark.parametrize("category", sorted(EXPECTED))
def test_fixture_answers_the_plain_methods_with_its_masks(sandbox: Caller, category: str) -> None:
    fixture = by_category(category)
    for method in ("check-employee-hes-code", "check-visitor-hes-code"):
        body = assert_json(sandbox.check(method, fixture.code))
        assert body["current_health_status"] == EXPECTED[category][0]
        assert body["masked_identity_number"] == "********" + fixture.identity_number[-3:]
        assert body["masked_firstname"] == " ".join(
            w[:2] + "****" for w in fixture.first_name.split(" ")
        )
        assert body["masked_lastname"] == fixture.last_name[:2] + "****"


def test_fixture_masks_use_turkish_letters(sandbox: Caller) -> None:
    body = assert_json(sandbox.check("check-employee-hes-code", by_category("Aşı").code))
    assert (body["masked_firstname"], body["masked_lastname"]) == ("FA**** GÖ****", "IŞ****")
    pcr = by_category("PCR Test Sonucu").code
    body = assert_json(sandbox.check("check-employee-hes-code", pcr))
    assert (body["masked_firstname"], body["masked_lastname"]) == ("İB****", "YI****")


def test_expired_fixture_answers_hescodehasbeenexpired(sandbox: Caller) -> None:
    code = by_category(EXPIRED_CATEGORY).code
    for method in ("check-employee-hes-code", "check-hes-code-plus", "check-visitor-hes-code"):
        assert_hes_error(sandbox.check(method, code), EXPIRED_BODY)
    body = assert_json(sandbox.post("check-hes-codes-plus", [{"hes_code": code}]))
    assert body == {"success_map": {}, "unsuccess_map": {code: "hescodehasbeenexpired"}}


def test_every_fixture_in_one_bulk_plus_call(sandbox: Caller, now: datetime) -> None:
    codes = [f.code for f in hes_fixtures()]
    body = assert_json(sandbox.post("check-hes-codes-plus", [{"hes_code": c} for c in codes]))
    expired = by_category(EXPIRED_CATEGORY).code
    assert body["unsuccess_map"] == {expired: "hescodehasbeenexpired"}
    for fixture in hes_fixtures():
        if fixture.category != EXPIRED_CATEGORY:
            assert_category(body["success_map"][fixture.code], fixture.category, now)


def test_fixture_codes_are_valid_a_year_ahead(sandbox: Caller, now: datetime) -> None:
    body = assert_json(sandbox.check("check-hes-code-plus", by_category("Risksiz").code))
    assert body["expiration_date"] == seconds(now + timedelta(days=365))


@pytest.mark.parametrize("method", ["check-hes-code-plus", "check-hes-codes"])
def test_fixtures_are_not_visible_on_the_live_path(live: Caller, method: str) -> None:
    code = by_category("Aşı").code
    if method == "check-hes-codes":
        body = assert_json(live.post(method, [{"hes_code": code}]))
        assert body["unsuccess_map"] == {code: "hescodenotfound"}
    else:
        assert_hes_error(live.check(method, code), NOT_FOUND_BODY)


@pytest.mark.parametrize(
    "advance",
    [timedelta(hours=80), timedelta(days=200), timedelta(days=400), timedelta(days=3650)],
    ids=["80h", "200d", "400d", "10y"],
)
def test_fixtures_stay_valid_after_the_clock_moves_and_they_are_refreshed(
    server: LiveServer, sandbox: Caller, advance: timedelta
) -> None:
    server.clock.advance(advance)
    apply_hes_fixtures(server.engine, server.clock)
    now = server.clock.now()
    for category in EXPECTED:
        body = assert_json(sandbox.check("check-hes-code-plus", by_category(category).code))
        assert_category(body, category, now)
        assert body["expiration_date"] == seconds(now + timedelta(days=365))
    assert_hes_error(
        sandbox.check("check-hes-code-plus", by_category(EXPIRED_CATEGORY).code), EXPIRED_BODY
    )


def test_applying_fixtures_twice_is_idempotent(
    server: LiveServer, sandbox: Caller, now: datetime
) -> None:
    apply_hes_fixtures(server.engine, server.clock)
    apply_hes_fixtures(server.engine, server.clock)
    body = assert_json(
        sandbox.check("check-hes-code-plus", by_category("Aşı & Bağışıklık & PCR Test Sonucu").code)
    )
    assert_category(body, "Aşı & Bağışıklık & PCR Test Sonucu", now)


def test_riskli_fixture_visitor_check_is_reported(server: LiveServer, sandbox: Caller) -> None:
    def count() -> int:
        with server.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(moi_outbox)).scalar_one())

    before = count()
    body = assert_json(sandbox.check("check-visitor-hes-code", by_category("Riskli").code))
    assert body["current_health_status"] == "RISKY"
    assert count() == before + 1
