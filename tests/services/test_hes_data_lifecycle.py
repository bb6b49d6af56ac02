"""The HES data lifecycle the operator surfaces share: every change leaves a change-log row
with its actor, before/after where something was corrected, and no clear identity number or
code; reads give the person's whole record; codes can be listed and cancelled."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from saglik.domain.clock import ManualClock
from saglik.domain.errors import NotFound
from saglik.services.changes import PERSONAL, store_pseudonymizer
from saglik.services.hes import HesCodeConflict, HesDataError, HesDataService, HesQueryService
from saglik.store import changes_repo
from saglik.store.changes_repo import ChangeRecord
from saglik.store.schema import operator_changes
from tests.change_support import TEST_ACTOR, change_log
from tests.conftest import Holder

MakeHolder = Callable[..., Holder]


def _changes_about(store: Engine, tckn: str) -> list[ChangeRecord]:
    refs = store_pseudonymizer(store).refs("tckn", tckn)
    with store.connect() as conn:
        return list(reversed(changes_repo.list_changes(conn, subject_refs=refs)))


def test_adding_then_correcting_a_person_logs_which_names_changed_never_the_names(
    store: Engine, hes_data: HesDataService, make_holder: MakeHolder
) -> None:
    holder = make_holder(first_name="Ali", last_name="Veli")
    assert hes_data.add_person("live", holder.identity_number, "ali", "Yılmaz") is False
    changes = _changes_about(store, holder.identity_number)
    person = [c for c in changes if c.entity == "person"]
    assert [c.action for c in person] == ["add", "correct"]
    assert person[0].before is None
    assert json.loads(person[0].after or "") == {"first_name": PERSONAL, "last_name": PERSONAL}
    assert json.loads(person[1].after or "") == {"last_name": PERSONAL}
    text = " ".join(f"{c.before} {c.after}" for c in changes)
    for name in ("ALİ", "VELİ", "YILMAZ"):
        assert name not in text
    assert {c.actor for c in changes} == {TEST_ACTOR.name}


def test_saving_the_same_names_again_logs_nothing(
    store: Engine, hes_data: HesDataService, make_holder: MakeHolder
) -> None:
    holder = make_holder(first_name="Ali", last_name="Veli")
    before = len(_changes_about(store, holder.identity_number))
    hes_data.add_person("live", holder.identity_number, "ALİ", "VELİ")
    assert len(_changes_about(store, holder.identity_number)) == before


def test_the_change_log_holds_no_clear_identity_number_or_code(
    store: Engine, hes_data: HesDataService, make_holder: MakeHolder, clock: ManualClock
) -> None:
    holder = make_holder()
    hes_data.cancel_code("live", holder.code)
    hes_data.set_consent(
        "live", holder.identity_number, vaccination=True, immunity=False, test=True
    )
    with store.connect() as conn:
        rows = conn.execute(select(operator_changes)).all()
    text = " ".join(str(value) for row in rows for value in row)
    assert holder.identity_number not in text
    assert holder.code not in text
    issued = [c for c in _changes_about(store, holder.identity_number) if c.entity == "hes_code"]
    assert [c.action for c in issued] == ["issue", "cancel"]
    assert issued[0].target == change_log(store, clock).code_target(holder.code)


def test_consent_changes_are_logged_with_before_and_after(
    store: Engine, hes_data: HesDataService, make_holder: MakeHolder
) -> None:
    holder = make_holder()
    hes_data.set_consent(
        "live", holder.identity_number, vaccination=True, immunity=False, test=True
    )
    consent = [c for c in _changes_about(store, holder.identity_number) if c.entity == "consent"]
    assert json.loads(consent[-1].before or "") == {
        "immunity": False,
        "test": False,
        "vaccination": False,
    }
    assert json.loads(consent[-1].after or "") == {
        "immunity": False,
        "test": True,
        "vaccination": True,
    }


def test_the_person_view_shows_names_consent_codes_and_events(
    hes_data: HesDataService, make_holder: MakeHolder, clock: ManualClock
) -> None:
    holder = make_holder(first_name="Ayşe", last_name="Işık")
    hes_data.vaccinate(
        "live", holder.identity_number, 1, "CoronaVac", clock.now() - timedelta(days=60)
    )
    hes_data.record_pcr("live", holder.identity_number, True, clock.now() - timedelta(hours=5))
    hes_data.open_risk("live", holder.identity_number, "contact", clock.now() - timedelta(days=1))
    view = hes_data.person("live", holder.identity_number)
    assert (view.first_name, view.last_name) == ("AYŞE", "IŞIK")
    assert [c.code for c in view.codes] == [holder.code]
    assert view.codes[0].status == "active"
    assert [v["dose_number"] for v in view.events["vaccinations"]] == [1]
    assert [p["result"] for p in view.events["pcr_results"]] == ["NEGATIVE"]
    assert [r["kind"] for r in view.events["risk_periods"]] == ["contact"]
    assert view.events["infections"] == []


def test_a_code_without_expiry_is_listed_with_no_expiry(
    hes_data: HesDataService, make_holder: MakeHolder
) -> None:
    holder = make_holder(valid_for=None)
    assert hes_data.codes("live", holder.identity_number)[0].expires_at is None


def test_a_cancelled_code_is_not_found_and_cannot_be_cancelled_twice(
    store: Engine, hes_data: HesDataService, make_holder: MakeHolder, clock: ManualClock
) -> None:
    holder = make_holder()
    hes_data.cancel_code("live", holder.code.lower())
    assert hes_data.codes("live", holder.identity_number)[0].status == "cancelled"
    queries = HesQueryService(store, clock, store_pseudonymizer(store))
    try:
        outcome = queries.check("live", holder.code, plus=False)
    finally:
        queries.close()
    assert outcome.error is not None
    assert outcome.error.error_key == "hescodenotfound"
    with pytest.raises(HesCodeConflict):
        hes_data.cancel_code("live", holder.code)


def test_cancelling_an_unknown_or_malformed_code_is_refused(hes_data: HesDataService) -> None:
    with pytest.raises(NotFound):
        hes_data.cancel_code("live", "A1B2C3D4E5")
    with pytest.raises(HesDataError):
        hes_data.cancel_code("live", "not a code")


def test_recording_the_same_dose_twice_keeps_one_row_with_the_latest_details(
    store: Engine, hes_data: HesDataService, make_holder: MakeHolder, clock: ManualClock
) -> None:
    holder = make_holder()
    hes_data.vaccinate(
        "live", holder.identity_number, 1, "CoronaVac", clock.now() - timedelta(days=9)
    )
    hes_data.vaccinate(
        "live", holder.identity_number, 1, "BioNTech", clock.now() - timedelta(days=8)
    )
    doses = hes_data.person("live", holder.identity_number).events["vaccinations"]
    assert [(d["dose_number"], d["vaccine"]) for d in doses] == [(1, "BioNTech")]


def test_a_vaccine_name_must_not_be_blank(
    hes_data: HesDataService, make_holder: MakeHolder
) -> None:
    holder = make_holder()
    with pytest.raises(HesDataError, match="vaccine"):
        hes_data.vaccinate("live", holder.identity_number, 1, "   ")


def test_reading_an_unknown_person_is_not_found(hes_data: HesDataService) -> None:
    with pytest.raises(NotFound):
        hes_data.person("live", "10000000146")
    with pytest.raises(NotFound):
        hes_data.codes("live", "10000000146")


def test_a_validity_reaching_the_no_expiry_date_is_refused(
    hes_data: HesDataService, make_holder: MakeHolder
) -> None:
    holder = make_holder()
    for days in (36500, 3_000_000, 999_999_999):  # past the year 9999 too, where dates overflow
        with pytest.raises(HesDataError, match="no expiry"):
            hes_data.issue_code("live", holder.identity_number, valid_for=timedelta(days=days))
