"""The ten ÖBS queries at the service layer (contract §5.2–5.3, 5.6): found in scope, reads like
nothing out of scope, pseudonymous subject references, Turkish refusals, and the fixtures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, func, select

from saglik.domain.clock import ManualClock
from saglik.domain.obs import ISTANBUL, InvalidParameterError, Scope, istanbul_day
from saglik.domain.pseudonym import Pseudonymizer
from saglik.services.obs import Feed, ObsQueryService, ObsRegistryService, parse_form
from saglik.services.obs_fixtures import DIGEST_KEY, TEST_ENV, apply_obs_fixtures, obs_fixtures
from saglik.services.refdata import import_districts
from saglik.store import state
from saglik.store.schema import death_causes, death_form_history, death_forms
from tests.change_support import change_log
from tests.services.obs_support import own_store, valid_form
from tests.store.backends import backend_of, blank_engine

KEY = b"k" * 32
PSEUDO = Pseudonymizer(KEY)
FX = {fx.category: fx for fx in obs_fixtures()}
CITIZEN = FX["T.C. vatandaşı"]
FOREIGNER = FX["Yabancı uyruklu (pasaport)"]
FORENSIC = FX["Adli vaka"]
MATERNAL = FX["Anne ölümü"]
ELSEWHERE = FX["İkamet ili dışında ölüm"]
CORRECTED = FX["Düzeltilmiş form"]
EVERYONE = Scope()


def pair(fx) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    return (fx.form_no, fx.referans_no)


@pytest.fixture(scope="module")
def db(store: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    for engine in own_store(store, tmp_path_factory):
        apply_obs_fixtures(engine)
        yield engine


@pytest.fixture
def service(db: Engine) -> ObsQueryService:
    return ObsQueryService(db, PSEUDO)


# --- ByDate ------------------------------------------------------------------------------------


def test_all_deaths_of_the_fixture_day_in_registration_order(service: ObsQueryService) -> None:
    found = service.deaths_by_date(TEST_ENV, EVERYONE, "2025-03-14", None, Feed.ALL)
    assert found == [pair(fx) for fx in obs_fixtures()]


def test_a_day_without_registrations_is_an_empty_list(service: ObsQueryService) -> None:
    assert service.deaths_by_date(TEST_ENV, EVERYONE, "2025-03-15", None, Feed.ALL) == []
    assert service.deaths_by_date("live", EVERYONE, "2025-03-14", None, Feed.ALL) == []


def test_the_forensic_feed_has_only_forensic_manners(service: ObsQueryService) -> None:
    found = service.deaths_by_date(TEST_ENV, EVERYONE, "2025-03-14", None, Feed.FORENSIC)
    assert found == [pair(FORENSIC)]


def test_the_updated_feed_has_the_corrected_form_on_its_correction_day(
    service: ObsQueryService,
) -> None:
    assert service.deaths_by_date(TEST_ENV, EVERYONE, "2025-03-16", None, Feed.UPDATED) == [
        pair(CORRECTED)
    ]
    assert service.deaths_by_date(TEST_ENV, EVERYONE, "2025-03-14", None, Feed.UPDATED) == []


@pytest.mark.parametrize(
    ("il_kodu", "expected"),
    [
        ("6", [CITIZEN, CORRECTED]),
        ("06", [CITIZEN, CORRECTED]),
        ("7", [ELSEWHERE]),  # died there
        ("1", [ELSEWHERE]),  # resided there
        ("34", [FOREIGNER]),
        ("81", []),
    ],
)
def test_ilkodu_selects_by_place_of_death_or_residence(
    service: ObsQueryService, il_kodu: str, expected: list
) -> None:
    found = service.deaths_by_date(TEST_ENV, EVERYONE, "2025-03-14", il_kodu, Feed.ALL)
    assert found == [pair(fx) for fx in expected]


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (Scope(1), [ELSEWHERE]),
        (Scope(7), [ELSEWHERE]),
        (Scope(6), [CITIZEN, CORRECTED]),
        (Scope(6, 1231), [CITIZEN]),
        (Scope(1, 1104), [ELSEWHERE]),
        (Scope(1, 1219), []),
    ],
)
def test_scope_limits_the_date_feeds(
    service: ObsQueryService, scope: Scope, expected: list
) -> None:
    found = service.deaths_by_date(TEST_ENV, scope, "2025-03-14", None, Feed.ALL)
    assert found == [pair(fx) for fx in expected]


@pytest.mark.parametrize(
    ("tarih", "il_kodu", "message"),
    [
        (None, None, "Tarih parametresi zorunludur"),
        ("14.03.2025", None, "Tarih parametresi yyyy-mm-dd biçiminde olmalıdır."),
        ("2025-02-30", None, "Tarih parametresi geçerli bir tarih değil."),
        ("2025-03-14", "82", "IlKodu 1 ile 81 arasında bir plaka kodu olmalıdır."),
        ("2025-03-14", "0", "IlKodu 1 ile 81 arasında"),
        ("2025-03-14", "Ankara", "IlKodu 1 ile 81 arasında"),
    ],
)
@pytest.mark.parametrize("feed", list(Feed))
def test_invalid_date_feed_parameters_are_refused_in_turkish(
    service: ObsQueryService, feed: Feed, tarih: str | None, il_kodu: str | None, message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        service.deaths_by_date(TEST_ENV, EVERYONE, tarih, il_kodu, feed)


# --- identity lookups --------------------------------------------------------------------------


def by_citizen(service: ObsQueryService, scope: Scope, *, full: bool = False, **changes: str):
    params = {
        "tckn": CITIZEN.form.identity_number,
        "adi": "mehmet  emin",
        "soyadi": "YILDIZ",
        "dogum_tarihi": "1941-05-02",
    }
    params.update(changes)
    return service.by_identity(TEST_ENV, scope, **params, full=full)


def test_by_identity_finds_the_record_with_its_place_names(service: ObsQueryService) -> None:
    found = by_citizen(service, EVERYONE, full=True)
    assert found.value is not None
    record = found.value.record
    assert (record.form_no, record.referans_no) == pair(CITIZEN)
    assert (record.first_name, record.last_name) == ("MEHMET EMİN", "YILDIZ")
    assert record.died_at == datetime(2025, 3, 13, 3, 40, tzinfo=UTC)
    assert [c.icd_code for c in record.causes] == ["I21.9", "I25.1", "E11.9"]
    assert found.value.district_names == {1231: "Çankaya"}


def test_a_basic_lookup_does_not_load_the_causes(service: ObsQueryService) -> None:
    found = by_citizen(service, EVERYONE, full=False)
    assert found.value is not None
    assert found.value.record.causes == ()


@pytest.mark.parametrize(
    "changes",
    [
        {"adi": "Mehmet"},
        {"soyadi": "Yilmaz"},
        {"dogum_tarihi": "1941-05-03"},
        {"tckn": "10000000146"},
    ],
)
def test_by_identity_needs_every_field_to_match(
    service: ObsQueryService, changes: dict[str, str]
) -> None:
    assert by_citizen(service, EVERYONE, **changes).value is None


def test_subject_refs_are_hmac_references_never_the_clear_value(
    service: ObsQueryService,
) -> None:
    number = CITIZEN.form.identity_number
    assert number is not None
    for found in (by_citizen(service, EVERYONE), by_citizen(service, Scope(34))):
        assert found.subject_refs == (PSEUDO.person(number),)
        assert number not in "".join(found.subject_refs)
    assert Pseudonymizer(b"other").person(number) not in by_citizen(service, EVERYONE).subject_refs


def test_out_of_scope_reads_exactly_like_not_found(service: ObsQueryService) -> None:
    out_of_scope = by_citizen(service, Scope(34))
    missing = by_citizen(service, Scope(34), tckn="10000000146")
    assert out_of_scope.value is None
    assert missing.value is None
    assert by_citizen(service, Scope(6)).value is not None
    assert by_citizen(service, Scope(6, 1231)).value is not None
    assert by_citizen(service, Scope(6, 1130)).value is None


@pytest.mark.parametrize(
    ("scope", "sees"),
    [
        (Scope(1), True),
        (Scope(7), True),
        (Scope(6), False),
        (Scope(1, 1104), True),
        (Scope(7, 2039), True),
        (Scope(1, 1219), False),
    ],
)
def test_a_death_outside_the_residence_province_is_seen_by_both_provinces(
    service: ObsQueryService, scope: Scope, sees: bool
) -> None:
    number = ELSEWHERE.form.identity_number
    found = service.by_identity(
        TEST_ENV, scope, number, "Hüseyin", "Öztürk", "1950-12-01", full=False
    )
    assert (found.value is not None) is sees
    assert (service.death_date(TEST_ENV, scope, number).value is not None) is sees
    assert (service.by_form(TEST_ENV, scope, *pair(ELSEWHERE), full=True).value is not None) is sees


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"tckn": "12345678901"}, "TcKimlikNo geçerli bir T.C. Kimlik Numarası değil."),
        ({"tckn": None}, "TcKimlikNo parametresi zorunludur."),
        ({"adi": " "}, "Adi parametresi zorunludur."),
        ({"soyadi": None}, "Soyadi parametresi zorunludur."),
        ({"dogum_tarihi": "02.05.1941"}, "DogumTarihi parametresi yyyy-mm-dd biçiminde"),
        ({"dogum_tarihi": None}, "DogumTarihi parametresi zorunludur"),
    ],
)
def test_invalid_identity_parameters_are_refused_in_turkish(
    service: ObsQueryService, params: dict[str, str | None], message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        by_citizen(service, EVERYONE, **params)  # type: ignore[arg-type]


def test_by_form_finds_with_both_numbers(service: ObsQueryService) -> None:
    found = service.by_form(
        TEST_ENV, EVERYONE, FORENSIC.form_no, FORENSIC.referans_no.lower(), full=True
    )
    assert found.value is not None
    assert found.value.record.manner == 3
    assert found.value.record.autopsy is True
    assert found.subject_refs == (PSEUDO.ref("form", FORENSIC.form_no),)
    assert FORENSIC.form_no not in found.subject_refs[0]
    assert service.by_form(TEST_ENV, Scope(6), *pair(FORENSIC), full=True).value is None
    assert (
        service.by_form(TEST_ENV, EVERYONE, FORENSIC.form_no, "TSTA7K2M", full=True).value is None
    )


@pytest.mark.parametrize(
    ("form_no", "referans_no", "message"),
    [
        ("9000000033", None, "ReferansNo olmadan yalnızca FormNo ile sorgulama yapılamaz."),
        ("9000000033", "  ", "ReferansNo olmadan yalnızca FormNo ile sorgulama yapılamaz."),
        (None, "TSTC5R4T", "FormNo parametresi zorunludur."),
        ("9" * 21, "TSTC5R4T", "FormNo parametresi en fazla 20 karakter olabilir."),
    ],
)
def test_invalid_form_parameters_are_refused_in_turkish(
    service: ObsQueryService, form_no: str | None, referans_no: str | None, message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        service.by_form(TEST_ENV, EVERYONE, form_no, referans_no, full=False)


def test_by_passport_folds_the_number_and_matches_names(service: ObsQueryService) -> None:
    found = service.by_passport(
        TEST_ENV, EVERYONE, " c01x00 t47", "anna  maria", "SCHMIDT", full=False
    )
    assert found.value is not None
    assert found.value.record.nationality == "DE"
    assert found.value.district_names == {1421: "Kadıköy"}
    assert found.subject_refs == (PSEUDO.ref("passport", "C01X00T47"),)
    assert "C01X00T47" not in found.subject_refs[0]
    assert (
        service.by_passport(TEST_ENV, EVERYONE, "C01X00T47", "Anna", "Schmidt", full=False).value
        is None
    )
    assert (
        service.by_passport(
            TEST_ENV, Scope(6), "C01X00T47", "Anna Maria", "Schmidt", full=False
        ).value
        is None
    )


@pytest.mark.parametrize(
    ("passport", "adi", "message"),
    [
        (None, "Anna", "PasaportNo parametresi zorunludur."),
        ("C01X00T47", "", "Adi parametresi zorunludur."),
    ],
)
def test_invalid_passport_parameters_are_refused_in_turkish(
    service: ObsQueryService, passport: str | None, adi: str, message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        service.by_passport(TEST_ENV, EVERYONE, passport, adi, "Schmidt", full=False)


def test_death_date_in_and_out_of_scope(service: ObsQueryService) -> None:
    number = MATERNAL.form.identity_number
    assert number is not None
    found = service.death_date(TEST_ENV, Scope(35), number)
    assert found.value == datetime(2025, 3, 13, 3, 10, tzinfo=ISTANBUL)
    assert found.subject_refs == (PSEUDO.person(number),)
    hidden = service.death_date(TEST_ENV, Scope(6), number)
    assert hidden.value is None
    assert hidden.subject_refs == found.subject_refs
    with pytest.raises(InvalidParameterError, match="TcKimlikNo geçerli"):
        service.death_date(TEST_ENV, EVERYONE, "11111111111")


def test_a_registered_form_is_found_in_its_environment_only(
    db: Engine, service: ObsQueryService, clock: ManualClock
) -> None:
    number = "37428199856"  # also a fixture person, in the test environment only
    registry = ObsRegistryService(db, clock, change_log(db, clock))
    form_no, referans_no = registry.register(
        "live",
        parse_form(
            json.dumps(
                valid_form(
                    identity_number=number,
                    first_name="Şükrü",
                    last_name="Karadeniz",
                    birth_date="1979-08-09",
                )
            )
        ),
    )
    live = service.by_identity(
        "live", EVERYONE, number, "ŞÜKRÜ", "KARADENİZ", "1979-08-09", full=False
    )
    assert live.value is not None
    assert live.value.record.form_no == form_no
    test = service.by_identity(
        TEST_ENV, EVERYONE, number, "ŞÜKRÜ", "KARADENİZ", "1979-08-09", full=False
    )
    assert test.value is not None
    assert test.value.record.form_no == FORENSIC.form_no
    today = clock.now().astimezone(ISTANBUL).date().isoformat()
    assert (form_no, referans_no) in service.deaths_by_date("live", EVERYONE, today, None, Feed.ALL)


# --- fixtures ----------------------------------------------------------------------------------


def test_every_fixture_category_is_present_and_shows_its_case() -> None:
    assert set(FX) == {
        "T.C. vatandaşı",
        "Yabancı uyruklu (pasaport)",
        "Adli vaka",
        "Anne ölümü",
        "İkamet ili dışında ölüm",
        "Düzeltilmiş form",
    }
    assert CITIZEN.form.identity_number
    assert CITIZEN.form.nationality == "TR"
    assert FOREIGNER.form.passport_no
    assert FOREIGNER.form.identity_number is None
    assert FOREIGNER.form.nationality != "TR"
    assert FORENSIC.form.manner in (3, 4)
    assert MATERNAL.form.sex == 2
    assert MATERNAL.form.maternal_status in (2, 3, 4)
    assert ELSEWHERE.form.death_province != ELSEWHERE.form.residence_province
    assert CORRECTED.correction is not None
    assert all(fx.correction is None for fx in obs_fixtures() if fx is not CORRECTED)
    assert len({fx.form_no for fx in obs_fixtures()}) == 6
    for fx in obs_fixtures():
        assert fx.registered_at.astimezone(ISTANBUL).date() == date(2025, 3, 14)


def form_ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(death_forms.c.form_no, death_forms.c.id).where(death_forms.c.env == TEST_ENV)
        )
        return dict(rows.all())


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(
                select(func.count()).select_from(t).where(t.c.env == TEST_ENV)
            ).scalar_one()
            if "env" in t.c
            else conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (death_forms, death_form_history, death_causes)
        )


def first_name_of(engine: Engine, form_no: str) -> str:
    with engine.connect() as conn:
        return conn.execute(
            select(death_forms.c.first_name).where(
                death_forms.c.env == TEST_ENV, death_forms.c.form_no == form_no
            )
        ).scalar_one()


def test_applying_the_fixtures_again_changes_nothing(store: Engine, tmp_path_factory) -> None:
    for engine in own_store(store, tmp_path_factory):
        apply_obs_fixtures(engine)
        before = counts(engine)
        assert set(form_ids(engine)) == {fx.form_no for fx in obs_fixtures()}
        # 6 forms; 6 registrations + 1 correction; 3+1+2+2+1+2 causes after the correction
        assert before == (6, 7, 11)
        # A mark on one fixture shows whether a second apply lays them again.
        with engine.begin() as conn:
            conn.execute(
                death_forms.update()
                .where(death_forms.c.form_no == CITIZEN.form_no)
                .values(first_name="İŞARET")
            )
        apply_obs_fixtures(engine)
        assert first_name_of(engine, CITIZEN.form_no) == "İŞARET", "unchanged: not laid again"
        assert counts(engine) == before

        # A changed definition (here: a stale digest) lays them again, without duplicates.
        with engine.begin() as conn:
            state.put(conn, DIGEST_KEY, "stale")
        apply_obs_fixtures(engine)
        assert first_name_of(engine, CITIZEN.form_no) == "MEHMET EMİN"
        assert counts(engine) == before
        with engine.connect() as conn:
            assert state.get(conn, DIGEST_KEY) != "stale"


def test_the_corrected_fixture_has_a_correction_on_2025_03_16_istanbul(db: Engine) -> None:
    start, end = istanbul_day(date(2025, 3, 16))
    with db.connect() as conn:
        rows = conn.execute(
            select(
                death_form_history.c.action, death_form_history.c.at, death_form_history.c.changes
            )
            .join(death_forms, death_forms.c.id == death_form_history.c.form_id)
            .where(death_forms.c.form_no == CORRECTED.form_no)
            .order_by(death_form_history.c.id)
        ).all()
        updated_at = conn.execute(
            select(death_forms.c.updated_at).where(death_forms.c.form_no == CORRECTED.form_no)
        ).scalar_one()
    assert [r.action for r in rows] == ["registered", "corrected"]
    corrected = rows[1]
    assert start <= corrected.at < end
    assert corrected.at == datetime(2025, 3, 16, 11, 0, tzinfo=ISTANBUL)
    assert updated_at == corrected.at
    assert set(json.loads(corrected.changes)) == {"causes"}
    assert rows[0].at == CORRECTED.registered_at


def test_a_district_imported_after_a_lookup_is_named_in_the_next(
    store: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """District names are kept per service once read; a code not yet imported is not."""
    with blank_engine(backend_of(store), tmp_path_factory.mktemp("names"), migrated=True) as engine:
        apply_obs_fixtures(engine)
        service = ObsQueryService(engine, PSEUDO)
        before = by_citizen(service, EVERYONE, full=False)
        assert before.value is not None
        assert before.value.district_names == {}
        import_districts(engine)
        after = by_citizen(service, EVERYONE, full=False)
        assert after.value is not None
        assert after.value.district_names == {1231: "Çankaya"}
