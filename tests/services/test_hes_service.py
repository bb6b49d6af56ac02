"""The HES query operations (contract §4) over a real store: single, bulk, plus and visitor checks,
and the data entry behind them."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from saglik.domain.clock import ManualClock
from saglik.domain.errors import NotFound
from saglik.domain.hes import NO_EXPIRY, HealthStatus, HesCodeExpired, HesCodeNotFound
from saglik.domain.hescode import display, generate_code, is_generated_shape
from saglik.domain.pseudonym import Pseudonymizer
from saglik.domain.tckn import random_tckn
from saglik.services.hes import (
    BULK_MAX,
    HesCodeConflict,
    HesDataError,
    HesDataService,
    HesQueryService,
    Visit,
)
from saglik.store.schema import hes_codes
from tests.conftest import Holder

MakeHolder = Callable[..., Holder]
KEY = b"0123456789abcdef0123456789abcdef"
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
_rng = random.Random()
VISIT = Visit(institution_id=7, city="İzmir", district="Konak", explicit_address="Kordon 5")


@pytest.fixture
def pseudonymizer() -> Pseudonymizer:
    return Pseudonymizer(KEY)


@pytest.fixture
def service(store: Engine, clock: ManualClock, pseudonymizer: Pseudonymizer) -> HesQueryService:
    return HesQueryService(store, clock, pseudonymizer)


def new_tckn() -> str:
    return random_tckn(_rng)


# --- single checks -----------------------------------------------------------------------------


def test_a_known_code_answers_with_masks_status_and_expiry(
    service: HesQueryService, clock: ManualClock, make_holder: MakeHolder
) -> None:
    holder = make_holder(first_name="ömer faruk", last_name="şahin")
    outcome = service.check("live", holder.code, plus=False)
    assert outcome.error is None
    result = outcome.result
    assert result is not None
    assert result.current_health_status is HealthStatus.RISKLESS
    assert result.expiration_date == clock.now() + timedelta(days=365)
    assert (result.masked_firstname, result.masked_lastname) == ("ÖM**** FA****", "ŞA****")
    assert result.masked_identity_number == "********" + holder.identity_number[-3:]
    assert result.plus is None


def test_a_code_sent_in_lower_case_is_found(
    service: HesQueryService, make_holder: MakeHolder
) -> None:
    holder = make_holder()
    assert service.check("live", holder.code.lower(), plus=False).result is not None


@pytest.mark.parametrize(
    "mangle",
    [
        display,
        lambda c: f" {c}",
        lambda c: f"{c}\n",
        lambda c: c[:-1],
        lambda c: c + "0",
        lambda c: c.replace("I", "ı") if "I" in c else c[:5] + "ı" + c[6:],
    ],
    ids=["dashed", "leading-space", "trailing-newline", "short", "long", "dotless-i"],
)
def test_a_code_in_any_other_shape_is_not_found(
    service: HesQueryService, make_holder: MakeHolder, mangle: Callable[[str], str]
) -> None:
    holder = make_holder()
    outcome = service.check("live", mangle(holder.code), plus=False)
    assert outcome.result is None
    assert isinstance(outcome.error, HesCodeNotFound)
    assert outcome.subject_refs == ()


def test_an_unknown_code_is_not_found_and_recorded_by_its_reference_only(
    service: HesQueryService, pseudonymizer: Pseudonymizer
) -> None:
    code = generate_code()
    outcome = service.check("live", code, plus=True)
    assert isinstance(outcome.error, HesCodeNotFound)
    assert outcome.subject_refs == (pseudonymizer.code(code),)


def test_a_found_code_is_recorded_by_code_and_person_references_never_clear_values(
    service: HesQueryService, pseudonymizer: Pseudonymizer, make_holder: MakeHolder
) -> None:
    holder = make_holder()
    outcome = service.check("live", holder.code.lower(), plus=False)
    assert outcome.subject_refs == (
        pseudonymizer.code(holder.code),
        pseudonymizer.person(holder.identity_number),
    )
    for ref in outcome.subject_refs:
        assert holder.code not in ref
        assert holder.identity_number not in ref


def test_a_code_expires_at_its_expiry_instant(
    service: HesQueryService, clock: ManualClock, make_holder: MakeHolder
) -> None:
    holder = make_holder(valid_for=HOUR)
    clock.advance(HOUR - timedelta(microseconds=1))
    assert service.check("live", holder.code, plus=False).result is not None
    clock.advance(timedelta(microseconds=1))
    outcome = service.check("live", holder.code, plus=False)
    assert isinstance(outcome.error, HesCodeExpired)
    assert outcome.error.error_key == "hescodehasbeenexpired"


def test_a_code_issued_without_expiry_expires_on_2070_12_30(
    service: HesQueryService, make_holder: MakeHolder
) -> None:
    holder = make_holder(valid_for=None)
    result = service.check("live", holder.code, plus=False).result
    assert result is not None
    assert result.expiration_date == NO_EXPIRY


def test_a_cancelled_code_is_not_found(
    store: Engine, service: HesQueryService, clock: ManualClock, make_holder: MakeHolder
) -> None:
    holder = make_holder()
    with store.begin() as conn:
        conn.execute(
            hes_codes.update()
            .where(hes_codes.c.env == "live", hes_codes.c.code == holder.code)
            .values(cancelled_at=clock.now())
        )
    assert isinstance(service.check("live", holder.code, plus=False).error, HesCodeNotFound)


def test_a_code_reports_the_current_state_whenever_it_was_created(
    service: HesQueryService, hes_data: HesDataService, clock: ManualClock, make_holder: MakeHolder
) -> None:
    holder = make_holder()
    clock.advance(10 * DAY)
    hes_data.open_risk("live", holder.identity_number, "case")
    result = service.check("live", holder.code, plus=False).result
    assert result is not None
    assert result.current_health_status is HealthStatus.RISKY
    clock.advance(14 * DAY)
    assert hes_data.close_risk("live", holder.identity_number) == 1
    result = service.check("live", holder.code, plus=False).result
    assert result is not None
    assert result.current_health_status is HealthStatus.RISKLESS


def test_a_code_of_one_environment_is_not_found_in_the_other(
    service: HesQueryService, make_holder: MakeHolder
) -> None:
    sandbox = make_holder(env="test")
    assert isinstance(service.check("live", sandbox.code, plus=False).error, HesCodeNotFound)
    assert service.check("test", sandbox.code, plus=False).result is not None


def test_plus_fields_come_from_the_stored_events_and_consent(
    service: HesQueryService, hes_data: HesDataService, clock: ManualClock, make_holder: MakeHolder
) -> None:
    holder = make_holder()
    tckn, now = holder.identity_number, clock.now()
    hes_data.vaccinate("live", tckn, 1, "CoronaVac", now - 60 * DAY)
    hes_data.vaccinate("live", tckn, 2, "CoronaVac", now - 30 * DAY)
    hes_data.record_infection("live", tckn, now - 40 * DAY)
    hes_data.record_pcr("live", tckn, negative=True, at=now - 12 * HOUR)
    hes_data.record_pcr("live", tckn, negative=False, at=now - 100 * DAY)

    plus = service.check("live", holder.code, plus=True).result.plus  # type: ignore[union-attr]
    assert plus is not None
    assert (plus.is_vaccinated, plus.is_immune, plus.last_negative_test_date) == (None,) * 3
    assert plus.is_test_data_shared is False

    hes_data.set_consent("live", tckn, vaccination=True, immunity=True, test=True)
    plus = service.check("live", holder.code, plus=True).result.plus  # type: ignore[union-attr]
    assert plus is not None
    assert plus.is_vaccinated is True
    assert plus.is_immune is True
    assert plus.last_negative_test_date == now - 12 * HOUR
    assert plus.is_test_data_shared is True

    clock.advance(61 * HOUR)  # the negative test is now 73 hours old
    plus = service.check("live", holder.code, plus=True).result.plus  # type: ignore[union-attr]
    assert plus is not None
    assert plus.last_negative_test_date is None


def test_a_risky_person_gets_null_plus_fields_despite_consent(
    service: HesQueryService, hes_data: HesDataService, clock: ManualClock, make_holder: MakeHolder
) -> None:
    holder = make_holder()
    tckn = holder.identity_number
    hes_data.set_consent("live", tckn, vaccination=True, immunity=True, test=True)
    hes_data.vaccinate("live", tckn, 1, "CoronaVac", clock.now() - 60 * DAY)
    hes_data.vaccinate("live", tckn, 2, "CoronaVac", clock.now() - 30 * DAY)
    hes_data.open_risk("live", tckn, "contact", clock.now() - DAY)
    result = service.check("live", holder.code, plus=True).result
    assert result is not None
    assert result.current_health_status is HealthStatus.RISKY
    assert result.plus is not None
    assert (result.plus.is_vaccinated, result.plus.is_immune) == (None, None)
    assert result.plus.last_negative_test_date is None
    assert result.plus.is_test_data_shared is True


# --- bulk --------------------------------------------------------------------------------------


def test_a_bulk_check_keys_every_answer_by_the_code_as_sent(
    service: HesQueryService, clock: ManualClock, make_holder: MakeHolder
) -> None:
    found = make_holder()
    expiring = make_holder(valid_for=HOUR)
    unknown = generate_code()
    clock.advance(HOUR)
    sent = [found.code.lower(), expiring.code, unknown, display(found.code), found.code]
    outcome = service.check_many("live", sent, plus=False)
    assert set(outcome.success) == {found.code.lower(), found.code}
    assert outcome.failure == {
        expiring.code: "hescodehasbeenexpired",
        unknown: "hescodenotfound",
        display(found.code): "hescodenotfound",
    }


def test_a_bulk_check_records_each_reference_once(
    service: HesQueryService, pseudonymizer: Pseudonymizer, make_holder: MakeHolder
) -> None:
    holder = make_holder()
    outcome = service.check_many("live", [holder.code, holder.code.lower()], plus=True)
    assert outcome.subject_refs == (
        pseudonymizer.code(holder.code),
        pseudonymizer.person(holder.identity_number),
    )


def test_a_bulk_check_takes_up_to_500_codes(
    service: HesQueryService, make_holder: MakeHolder
) -> None:
    holder = make_holder()
    codes = [holder.code] + [generate_code() for _ in range(BULK_MAX - 1)]
    outcome = service.check_many("live", codes, plus=True)
    assert len(outcome.success) + len(outcome.failure) == len(set(codes))
    assert holder.code in outcome.success
    with pytest.raises(ValueError, match="500"):
        service.check_many("live", [*codes, generate_code()], plus=True)


# --- visitor check and the Ministry of Interior report -----------------------------------------


def test_a_risky_visitor_yields_a_report_for_the_ministry(
    service: HesQueryService,
    hes_data: HesDataService,
    pseudonymizer: Pseudonymizer,
    clock: ManualClock,
    make_holder: MakeHolder,
) -> None:
    holder = make_holder()
    hes_data.open_risk("live", holder.identity_number, "case", clock.now() - DAY)
    outcome = service.check_visitor("live", holder.code.lower(), VISIT)
    report = outcome.outbox_payload
    assert outcome.result is not None
    assert outcome.result.current_health_status is HealthStatus.RISKY
    assert report is not None
    body = json.loads(report)
    assert body["hes_code"] == holder.code
    assert body["person_ref"] == pseudonymizer.person(holder.identity_number)
    assert body["environment"] == "live"
    assert body["reported_at"] == clock.now().isoformat()
    assert (body["institution_id"], body["city"], body["district"]) == (7, "İzmir", "Konak")
    assert holder.identity_number not in report
    assert holder.last_name.upper() not in report


def test_a_riskless_or_unknown_visitor_yields_no_report(
    service: HesQueryService, make_holder: MakeHolder
) -> None:
    holder = make_holder()
    assert service.check_visitor("live", holder.code, VISIT).outbox_payload is None
    assert service.check_visitor("live", generate_code(), VISIT).outbox_payload is None


# --- data entry --------------------------------------------------------------------------------


@pytest.mark.parametrize("tckn", ["12345678901", "1234567890", "01234567890", "abcdefghijk", ""])
def test_a_person_needs_a_valid_identity_number(hes_data: HesDataService, tckn: str) -> None:
    with pytest.raises(HesDataError, match="Kimlik"):
        hes_data.add_person("live", tckn, "Ali", "Veli")


@pytest.mark.parametrize(("first", "last"), [("", "Veli"), ("Ali", "  "), ("\t", "\n")])
def test_a_person_needs_both_names(hes_data: HesDataService, first: str, last: str) -> None:
    with pytest.raises(HesDataError, match="blank"):
        hes_data.add_person("live", new_tckn(), first, last)


def test_names_are_stored_in_the_turkish_upper_case_nfc_form(
    service: HesQueryService, hes_data: HesDataService
) -> None:
    tckn = new_tckn()
    hes_data.add_person("live", tckn, "  ilkay ", "gu\u0308ler")  # NFD input
    code, _ = hes_data.issue_code("live", tckn)
    result = service.check("live", code, plus=False).result
    assert result is not None
    assert result.masked_lastname == "GÜ****"
    hes_data.add_person("live", tckn, "Işık", "Güler")  # the same person, renamed
    result = service.check("live", code, plus=False).result
    assert result is not None
    assert result.masked_firstname == "IŞ****"


def test_an_issued_code_has_the_generated_shape(
    hes_data: HesDataService, clock: ManualClock
) -> None:
    tckn = new_tckn()
    hes_data.add_person("live", tckn, "Ali", "Veli")
    code, expires = hes_data.issue_code("live", tckn, valid_for=timedelta(days=30))
    assert is_generated_shape(code)
    assert expires == clock.now() + timedelta(days=30)


@pytest.mark.parametrize(
    "bad", ["a1b2345678", "A1B2-34567", "A1B234567", "A1B23456789", "Ａ1B2345678"]
)
def test_a_chosen_code_must_be_ten_upper_case_ascii_letters_or_digits(
    hes_data: HesDataService, bad: str
) -> None:
    tckn = new_tckn()
    hes_data.add_person("live", tckn, "Ali", "Veli")
    with pytest.raises(HesDataError, match="10 characters"):
        hes_data.issue_code("live", tckn, code=bad)


def test_a_chosen_code_must_be_new_in_its_environment(
    hes_data: HesDataService, make_holder: MakeHolder
) -> None:
    holder = make_holder()
    with pytest.raises(HesCodeConflict, match="exists"):
        hes_data.issue_code("live", holder.identity_number, code=holder.code)


@pytest.mark.parametrize("valid_for", [timedelta(0), -DAY])
def test_a_code_needs_a_positive_validity(
    hes_data: HesDataService, make_holder: MakeHolder, valid_for: timedelta
) -> None:
    holder = make_holder()
    with pytest.raises(HesDataError, match="positive"):
        hes_data.issue_code("live", holder.identity_number, valid_for=valid_for)


def test_data_entry_for_an_unknown_person_is_refused(hes_data: HesDataService) -> None:
    tckn = new_tckn()
    for entry in (
        lambda: hes_data.issue_code("live", tckn),
        lambda: hes_data.set_consent("live", tckn, vaccination=True, immunity=True, test=True),
        lambda: hes_data.open_risk("live", tckn, "case"),
        lambda: hes_data.close_risk("live", tckn),
        lambda: hes_data.vaccinate("live", tckn, 1, "CoronaVac"),
        lambda: hes_data.record_infection("live", tckn),
        lambda: hes_data.record_pcr("live", tckn, negative=True),
    ):
        with pytest.raises(NotFound, match="no person"):
            entry()


def test_a_person_of_one_environment_is_unknown_in_the_other(
    hes_data: HesDataService, make_holder: MakeHolder
) -> None:
    holder = make_holder(env="live")
    with pytest.raises(NotFound):
        hes_data.issue_code("test", holder.identity_number)


def test_a_risk_is_a_case_or_a_contact(hes_data: HesDataService, make_holder: MakeHolder) -> None:
    holder = make_holder()
    with pytest.raises(HesDataError, match="case, contact"):
        hes_data.open_risk("live", holder.identity_number, "suspect")


def test_dose_numbers_start_at_one(hes_data: HesDataService, make_holder: MakeHolder) -> None:
    holder = make_holder()
    with pytest.raises(HesDataError, match="starts at 1"):
        hes_data.vaccinate("live", holder.identity_number, 0, "CoronaVac")
