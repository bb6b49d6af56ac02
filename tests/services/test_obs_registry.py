"""The ÖBS registry (operator side, contract §5.5): what a death form must be to be accepted, clear
refusals that never echo personal data, unguessable numbers, corrections and status changes."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from saglik.domain.clock import ManualClock
from saglik.domain.obs import Cause, Place
from saglik.services import obs as obs_service
from saglik.services.changes import store_pseudonymizer
from saglik.services.obs import (
    DeathFormInput,
    ObsDataError,
    ObsRegistryService,
    UnknownFormError,
    new_form_numbers,
    parse_form,
)
from saglik.store import obs_repo
from saglik.store.schema import death_form_history, death_forms, operator_changes
from tests.change_support import change_log
from tests.services.obs_support import own_store, valid_form
from tests.store.readers import reading

ENV = "live"
PERSONAL = (
    "10000000146",
    "ayşe",
    "AYŞE",
    "yıldırım",
    "YILDIRIM",
    "ismail",
    "Işıl",
    "1950-04-01",
    "izmir",
    "2026-06-14",
    "C01X00T47",
)


@pytest.fixture(scope="module")
def db(store: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    yield from own_store(store, tmp_path_factory)


@pytest.fixture
def registry(db: Engine, clock: ManualClock) -> ObsRegistryService:
    return ObsRegistryService(db, clock, change_log(db, clock))


def as_json(form: dict[str, Any]) -> str:
    return json.dumps(form, ensure_ascii=False)


def refused(form: dict[str, Any] | str, *fragments: str) -> str:
    """parse_form refuses ``form``: a message naming the problem, with no personal value in it."""
    with pytest.raises(ObsDataError) as caught:
        parse_form(form if isinstance(form, str) else as_json(form))
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    for value in PERSONAL:
        assert value not in message, (value, message)
    return message


def form_count(db: Engine) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(death_forms)).scalar_one()


# --- shape and codes ---------------------------------------------------------------------------


def test_a_valid_form_parses() -> None:
    form = parse_form(as_json(valid_form()))
    assert form.identity_number == "10000000146"
    assert form.died_at == datetime(2026, 6, 14, 7, 0, tzinfo=UTC)  # Istanbul without offset
    assert form.causes[0].icd_code == "I21.9"


def test_parse_form_accepts_bytes() -> None:
    assert parse_form(as_json(valid_form()).encode()).manner == 1


@pytest.mark.parametrize(
    "identity",
    [
        {"identity_number": ..., "passport_no": ...},
        {"identity_number": "10000000146", "passport_no": "C01X00T47"},
    ],
    ids=["neither", "both"],
)
def test_exactly_one_of_identity_number_and_passport_no(identity: dict[str, Any]) -> None:
    refused(valid_form(**identity), "exactly one of identity_number and passport_no")


def test_a_passport_form_is_accepted() -> None:
    form = parse_form(as_json(valid_form(identity_number=..., passport_no="C01X00T47")))
    assert form.passport_no == "C01X00T47"


@pytest.mark.parametrize("passport", ["", "   "])
def test_a_blank_passport_number_is_not_an_identity(passport: str) -> None:
    refused(valid_form(identity_number=..., passport_no=passport), "passport_no")


@pytest.mark.parametrize("number", ["10000000147", "1000000014", "00000000146", "abcdefghijk"])
def test_an_invalid_tckn_is_refused_without_echoing_it(number: str) -> None:
    message = refused(valid_form(identity_number=number), "not a valid T.C. Kimlik No")
    assert number not in message


@pytest.mark.parametrize(
    ("field", "value", "table"),
    [
        ("sex", 4, "Cinsiyet"),
        ("sex", 0, "Cinsiyet"),
        ("manner", 11, "OlumSekli"),
        ("manner", 97, "OlumSekli"),
        ("place_of_death_type", 6, "OlumYeri"),
        ("maternal_status", 5, "KadinOlumuNedeni"),
    ],
)
def test_unknown_codes_are_refused_naming_the_field_and_known_codes(
    field: str, value: int, table: str
) -> None:
    message = refused(valid_form(**{field: value}), f"{field}:", f"not a {table} code", "known:")
    assert re.search(r"known: \d", message)


def test_an_unknown_cause_kind_is_refused() -> None:
    causes = [{"kind": 6, "icd_code": "I21.9"}]
    refused(valid_form(causes=causes), "causes.0.kind", "not a OlumNedeniTuru code")


@pytest.mark.parametrize("code", ["ZZZ", "A00-A09", "I21.99", "XYZ.1", "I2"])
def test_an_icd_code_that_is_not_a_who_category_is_refused(code: str) -> None:
    refused(valid_form(causes=[{"kind": 1, "icd_code": code}]), "causes.0.icd_code")


@pytest.mark.parametrize(
    ("given", "stored"),
    [("I21.9", "I21.9"), ("I219", "I21.9"), ("i21.9", "I21.9"), (" R99 ", "R99"), ("I21", "I21")],
)
def test_valid_icd_codes_are_kept_in_dotted_form(given: str, stored: str) -> None:
    form = parse_form(as_json(valid_form(causes=[{"kind": 1, "icd_code": given}])))
    assert form.causes[0].icd_code == stored


def test_a_form_without_causes_is_refused() -> None:
    refused(valid_form(causes=[]), "causes")
    refused(valid_form(causes=...), "causes", "Field required")


def test_maternal_status_applies_to_women_only() -> None:
    refused(valid_form(sex=1, maternal_status=3), "maternal_status applies to women only")
    refused(valid_form(sex=3, maternal_status=3), "maternal_status applies to women only")
    assert parse_form(as_json(valid_form(sex=2, maternal_status=3))).maternal_status == 3


def test_birth_after_death_is_refused() -> None:
    refused(valid_form(birth_date="2026-06-15"), "birth_date is after the death")
    # Born on the day of death (Istanbul date) is possible.
    assert parse_form(as_json(valid_form(birth_date="2026-06-14"))).birth_date is not None


def test_the_birth_day_is_compared_with_the_istanbul_date_of_death() -> None:
    # 22:30 UTC on the 13th is already the 14th in Istanbul.
    form = valid_form(birth_date="2026-06-14", died_at="2026-06-13T22:30:00Z")
    assert parse_form(as_json(form)).birth_date is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("died_at", "9999-12-31T23:59:59-05:00"),
        ("died_at", "0001-01-01T00:00:00"),
        ("injured_at", "1899-12-31T23:59:59Z"),
    ],
)
def test_times_outside_1900_to_2999_are_refused_not_overflowed(field: str, value: str) -> None:
    refused(valid_form(**{field: value}), field, "between the years 1900 and 2999")


def test_injury_after_death_is_refused() -> None:
    refused(valid_form(injured_at="2026-06-14T10:00:01"), "injured_at is after the death")
    ok = parse_form(as_json(valid_form(injured_at="2026-06-14T09:30:00", manner=3)))
    assert ok.injured_at == datetime(2026, 6, 14, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"death_province": 0}, "death_province"),
        ({"residence_province": 82}, "residence_province"),
        ({"nationality": "tr"}, "nationality"),
        ({"first_name": ""}, "first_name"),
        ({"sex": "kadın"}, "sex"),
        ({"died_at": "dün"}, "died_at"),
        ({"birth_date": "01.04.1950"}, "birth_date"),
    ],
)
def test_malformed_fields_are_refused_naming_the_field(changes: dict[str, Any], where: str) -> None:
    refused(valid_form(**changes), f"{where}:")


@pytest.mark.parametrize(
    "form",
    [valid_form(religion="x"), valid_form(causes=[{"kind": 1, "icd_code": "I21.9", "note": "x"}])],
    ids=["form", "cause"],
)
def test_extra_fields_are_refused(form: dict[str, Any]) -> None:
    refused(form, "Extra inputs are not permitted")


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"first_name": "Ay\u0000şe"}, "first_name"),
        ({"father_name": "\u0000"}, "father_name"),
        ({"birth_place": "İzmir\u0000"}, "birth_place"),
        ({"identity_number": ..., "passport_no": "C01\u0000X"}, "passport_no"),
        (
            {"causes": [{"kind": 1, "icd_code": "I21.9", "interval": "2\u0000saat"}]},
            "causes.0.interval",
        ),
    ],
)
def test_a_nul_character_is_refused_on_every_backend(changes: dict[str, Any], where: str) -> None:
    """PostgreSQL text cannot hold NUL; SQLite could: the registry must not differ by backend."""
    refused(valid_form(**changes), f"{where}:", "NUL")


@pytest.mark.parametrize("raw", ["", "{", "[]", "null", '{"first_name": "ayşe"'])
def test_invalid_json_is_refused_clearly(raw: str) -> None:
    refused(raw)


def test_every_problem_is_reported_at_once() -> None:
    message = refused(valid_form(sex=9, manner=50), "sex:", "manner:")
    assert "; " in message


# --- checks that need the store and the clock --------------------------------------------------


def test_a_death_in_the_future_is_refused(
    registry: ObsRegistryService, db: Engine, clock: ManualClock
) -> None:
    now = clock.now()
    before = form_count(db)
    future = (now + timedelta(seconds=1)).isoformat()
    with pytest.raises(ObsDataError, match="died_at is in the future"):
        registry.register(ENV, parse_form(as_json(valid_form(died_at=future))))
    assert form_count(db) == before
    registry.register(ENV, parse_form(as_json(valid_form(died_at=now.isoformat()))))
    assert form_count(db) == before + 1


@pytest.mark.parametrize("field", ["death_district", "residence_district"])
def test_an_unknown_district_is_refused(
    registry: ObsRegistryService, db: Engine, field: str
) -> None:
    before = form_count(db)
    with pytest.raises(ObsDataError, match=f"{field}: unknown district code") as caught:
        registry.register(ENV, parse_form(as_json(valid_form(**{field: 999_999}))))
    assert "saglik refdata import" in str(caught.value)
    assert form_count(db) == before


@pytest.mark.parametrize(
    ("field", "province"),
    [("death_district", "death_province"), ("residence_district", "residence_province")],
)
def test_a_district_outside_its_province_is_refused(
    registry: ObsRegistryService, db: Engine, field: str, province: str
) -> None:
    before = form_count(db)
    form = valid_form(**{province: 34})  # 1231 (Çankaya) is in Ankara (6)
    with pytest.raises(ObsDataError, match=f"{field}: the district is not in province 34"):
        registry.register(ENV, parse_form(as_json(form)))
    assert form_count(db) == before


def test_a_form_without_districts_is_accepted(registry: ObsRegistryService) -> None:
    form = valid_form(death_district=None, residence_district=...)
    registry.register(ENV, parse_form(as_json(form)))


def test_blank_names_are_refused_at_registration(registry: ObsRegistryService, db: Engine) -> None:
    before = form_count(db)
    with pytest.raises(ObsDataError, match="must not be blank"):
        registry.register(ENV, parse_form(as_json(valid_form(last_name="   "))))
    assert form_count(db) == before


# --- registration ------------------------------------------------------------------------------


def stored(db: Engine, form_no: str, referans_no: str) -> Any:
    with reading(db) as readers:
        (found,) = obs_repo.by_form(readers, ENV, form_no, referans_no, with_causes=True)
    return found


def test_register_stores_names_in_nfc_turkish_upper_case(
    registry: ObsRegistryService, db: Engine, clock: ManualClock
) -> None:
    form = valid_form(
        first_name="  s\u0327u\u0308kru\u0308   ilkay ",
        last_name="yıldırım",
        father_name="ismail",
        mother_name="   ",
        birth_place="izmir",
    )
    form_no, referans_no = registry.register(ENV, parse_form(as_json(form)))
    record = stored(db, form_no, referans_no)
    assert record.first_name == "ŞÜKRÜ İLKAY"
    assert record.last_name == "YILDIRIM"
    assert record.father_name == "İSMAİL"
    assert record.mother_name is None
    assert record.birth_place == "İZMİR"
    assert record.registered_at == clock.now()
    assert record.updated_at is None
    assert record.died_at == datetime(2026, 6, 14, 7, 0, tzinfo=UTC)
    assert record.death_place == Place(6, 1231)
    assert record.causes == (Cause(1, "I21.9", "2 saat"),)


def test_register_folds_the_passport_number(registry: ObsRegistryService, db: Engine) -> None:
    form = valid_form(identity_number=..., passport_no=" c01 x00t47 ", nationality="DE")
    form_no, referans_no = registry.register(ENV, parse_form(as_json(form)))
    assert stored(db, form_no, referans_no).passport_no == "C01X00T47"


def test_register_returns_a_10_digit_form_no_and_an_8_character_reference(
    registry: ObsRegistryService,
) -> None:
    form_no, referans_no = registry.register(ENV, parse_form(as_json(valid_form())))
    assert re.fullmatch(r"[1-9]\d{9}", form_no)
    assert re.fullmatch(r"[A-Z2-9]{8}", referans_no)
    assert not set(referans_no) & set("0O1IL")


def test_many_registrations_get_distinct_unrelated_numbers(registry: ObsRegistryService) -> None:
    form = parse_form(as_json(valid_form()))
    numbers = [registry.register(ENV, form) for _ in range(60)]
    form_nos = [int(f) for f, _ in numbers]
    assert len(set(form_nos)) == len(numbers)
    assert len({r for _, r in numbers}) == len(numbers)
    steps = {b - a for a, b in itertools.pairwise(form_nos)}
    assert len(steps) > 1, "form numbers must not follow from one another"


def test_new_form_numbers_are_random_over_the_whole_space() -> None:
    drawn = [new_form_numbers() for _ in range(3000)]
    forms = [int(f) for f, _ in drawn]
    assert len(set(forms)) == len(drawn)
    assert len({r for _, r in drawn}) == len(drawn)
    assert all(len(f) == 10 for f, _ in drawn)
    assert min(forms) < 2 * 10**9
    assert max(forms) > 9 * 10**9
    letters = {c for _, r in drawn for c in r}
    assert letters <= set(obs_service._REF_ALPHABET)
    assert len(letters) == len(obs_service._REF_ALPHABET) == 31


def test_a_form_number_already_taken_is_drawn_again(
    registry: ObsRegistryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    form = parse_form(as_json(valid_form()))
    taken = registry.register(ENV, form)
    fresh = ("1234567890", "ABCDEFGH")
    draws = iter([(taken[0], "ZZZZZZZZ"), fresh])
    monkeypatch.setattr(obs_service, "new_form_numbers", lambda: next(draws))
    assert registry.register(ENV, form) == fresh


# --- corrections and status --------------------------------------------------------------------


def history_actions(db: Engine, form_no: str) -> list[tuple[str, datetime]]:
    with db.connect() as conn:
        rows = conn.execute(
            select(death_form_history.c.action, death_form_history.c.at)
            .join(death_forms, death_forms.c.id == death_form_history.c.form_id)
            .where(death_forms.c.form_no == form_no)
            .order_by(death_form_history.c.id)
        )
        return [(a, t) for a, t in rows]


def test_correct_returns_the_changed_fields_and_moves_the_update_time(
    registry: ObsRegistryService, db: Engine, clock: ManualClock
) -> None:
    form_no, referans_no = registry.register(ENV, parse_form(as_json(valid_form())))
    registered_at = clock.now()
    clock.advance(timedelta(hours=5))
    fixed = valid_form(
        manner=3,
        injured_at="2026-06-14T09:00:00",
        causes=[{"kind": 1, "icd_code": "S069", "interval": "1 saat"}],
    )
    changes = registry.correct(ENV, form_no, referans_no.lower(), parse_form(as_json(fixed)))
    assert set(changes) == {"manner", "injured_at", "causes"}
    assert changes["manner"] == [1, 3]
    assert changes["causes"] == [[(1, "I21.9", "2 saat")], [(1, "S06.9", "1 saat")]]

    record = stored(db, form_no, referans_no)
    assert record.manner == 3
    assert record.updated_at == clock.now()
    assert record.registered_at == registered_at
    assert record.referans_no == referans_no
    assert history_actions(db, form_no)[-1] == ("corrected", clock.now())


def test_a_correction_is_validated_like_a_registration(
    registry: ObsRegistryService, db: Engine
) -> None:
    form_no, referans_no = registry.register(ENV, parse_form(as_json(valid_form())))
    with pytest.raises(ObsDataError, match="not in province"):
        registry.correct(
            ENV, form_no, referans_no, parse_form(as_json(valid_form(death_province=34)))
        )
    assert stored(db, form_no, referans_no).death_place == Place(6, 1231)
    assert [a for a, _ in history_actions(db, form_no)] == ["registered"]


@pytest.mark.parametrize("status", [obs_repo.APPROVED, obs_repo.RETURNED])
def test_set_status_records_history_and_moves_the_update_time(
    registry: ObsRegistryService, db: Engine, clock: ManualClock, status: str
) -> None:
    form_no, referans_no = registry.register(ENV, parse_form(as_json(valid_form())))
    clock.advance(timedelta(days=1))
    registry.set_status(ENV, form_no, referans_no, status)
    assert stored(db, form_no, referans_no).updated_at == clock.now()
    assert history_actions(db, form_no)[-1] == (status, clock.now())
    with db.connect() as conn:
        found = obs_repo.form_id(conn, ENV, form_no, referans_no)
    assert found is not None
    assert found[1] == status


def test_set_status_refuses_other_statuses(registry: ObsRegistryService) -> None:
    form_no, referans_no = registry.register(ENV, parse_form(as_json(valid_form())))
    with pytest.raises(ObsDataError, match="approved or returned"):
        registry.set_status(ENV, form_no, referans_no, "registered")


def test_an_unknown_form_or_wrong_reference_is_not_found(
    registry: ObsRegistryService,
) -> None:
    form = parse_form(as_json(valid_form()))
    form_no, referans_no = registry.register(ENV, form)
    wrong = [(form_no, "ZZZZZZZZ"), ("0000000000", referans_no)]
    for number, reference in wrong:
        with pytest.raises(UnknownFormError, match="no form with that FormNo and ReferansNo"):
            registry.correct(ENV, number, reference, form)
        with pytest.raises(UnknownFormError, match="no form with that FormNo and ReferansNo"):
            registry.set_status(ENV, number, reference, obs_repo.APPROVED)
        with pytest.raises(UnknownFormError):
            registry.form(ENV, number, reference)
    # The same numbers in the other environment are another form.
    with pytest.raises(UnknownFormError, match="no form"):
        registry.set_status("test", form_no, referans_no, obs_repo.APPROVED)


def test_the_input_model_forbids_extra_fields() -> None:
    assert DeathFormInput.model_config.get("extra") == "forbid"


def _logged_changes(db: Engine, form_no: str) -> list[Any]:
    with db.connect() as conn:
        return conn.execute(
            select(operator_changes)
            .where(operator_changes.c.target == form_no)
            .order_by(operator_changes.c.id)
        ).all()


def test_the_change_log_names_corrected_personal_fields_but_never_copies_them(
    registry: ObsRegistryService, db: Engine, clock: ManualClock
) -> None:
    form_no, referans_no = registry.register(ENV, parse_form(as_json(valid_form())))
    clock.advance(timedelta(hours=1))
    fixed = valid_form(
        identity_number="10000000078", first_name="Ayşe Nur", birth_place="Ankara", manner=3
    )
    registry.correct(ENV, form_no, referans_no, parse_form(as_json(fixed)))
    rows = _logged_changes(db, form_no)
    text = " ".join(f"{r.before} {r.after}" for r in rows)
    for value in (*PERSONAL, "10000000078", "AYŞE NUR", "ANKARA"):
        assert value not in text, value
    corrections = [r for r in rows if r.action == "correct"]
    after = json.loads(corrections[0].after)
    assert after == {
        "identity_number": "(personal)",
        "first_name": "(personal)",
        "birth_place": "(personal)",
        "manner": 3,
    }
    # Both the person the form names now and the one it named before see the correction.
    pseudonyms = store_pseudonymizer(db)
    assert {r.subject_ref for r in corrections} == {
        pseudonyms.person("10000000078"),
        pseudonyms.person("10000000146"),
    }
