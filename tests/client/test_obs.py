"""ObsClient and AsyncObsClient against the real server over its socket: the ten methods on the
test environment's fixture forms (as obs.yaml lists them), and every documented failure."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime

import pytest

from saglik.client import (
    ISTANBUL,
    AsyncObsClient,
    Cinsiyet,
    FormRef,
    KadinOlumuNedeni,
    ObsAuthorizationFailed,
    ObsBasic,
    ObsClient,
    ObsFull,
    ObsInvalid,
    ObsNotFound,
    OlumNedeniTuru,
    OlumSekli,
    OlumYeri,
    RateLimited,
    RetryPolicy,
)
from tests.client.conftest import CountingTransport, live_base, sandbox_base
from tests.conftest import Credential, LiveServer
from tests.web.conftest import Users

REGISTERED = date(2025, 3, 14)
CORRECTED_DAY = date(2025, 3, 16)
CITIZEN = FormRef(form_no="9000000011", referans_no="TSTA7K2M")
FOREIGNER = FormRef(form_no="9000000022", referans_no="TSTB3N8P")
FORENSIC = FormRef(form_no="9000000033", referans_no="TSTC5R4T")
MATERNAL = FormRef(form_no="9000000044", referans_no="TSTD9W6X")
ELSEWHERE = FormRef(form_no="9000000055", referans_no="TSTE2H7J")
CORRECTED = FormRef(form_no="9000000066", referans_no="TSTF8Q3V")
ALL_FORMS = {CITIZEN, FOREIGNER, FORENSIC, MATERNAL, ELSEWHERE, CORRECTED}
CITIZEN_TC = ("76883560160", "Mehmet Emin", "Yıldız", date(1941, 5, 2))
PASSPORT = ("C01X00T47", "Anna Maria", "Schmidt")


def _istanbul(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is ISTANBUL


def test_by_date_methods(obs: ObsClient) -> None:
    assert set(obs.deaths_by_date(REGISTERED)) == ALL_FORMS
    assert set(obs.deaths_by_date(REGISTERED, il=7)) == {ELSEWHERE}
    assert set(obs.deaths_by_date(REGISTERED, il=1)) == {ELSEWHERE}  # residence counts too
    assert obs.forensic_by_date(REGISTERED) == [FORENSIC]
    assert obs.forensic_by_date(REGISTERED, il=6) == []
    assert CORRECTED in obs.updated_by_date(CORRECTED_DAY)
    assert obs.deaths_by_date(date(2003, 1, 1)) == []
    # A datetime is a date too: only its day is sent.
    assert set(obs.deaths_by_date(datetime(2025, 3, 14, 23, 59))) == ALL_FORMS


def test_by_tc_basic_and_full(obs: ObsClient) -> None:
    basic = obs.by_tc_basic("76883560160", "mehmet  emin", "YILDIZ", date(1941, 5, 2))
    assert type(basic) is ObsBasic
    assert basic.form == CITIZEN
    assert (basic.tc_kimlik_no, basic.pasaport_no, basic.uyruk_kodu) == ("76883560160", None, "TR")
    assert (basic.adi, basic.soyadi) == ("MEHMET EMİN", "YILDIZ")
    assert basic.cinsiyet is Cinsiyet.ERKEK
    assert basic.olum_sekli_id is OlumSekli.BULASICI_OLMAYAN_HASTALIK
    assert isinstance(basic.olum_yeri_id, OlumYeri)
    assert basic.olum_tarihi == datetime(2025, 3, 13, 6, 40, tzinfo=ISTANBUL)
    _istanbul(basic.olum_tarihi)
    _istanbul(basic.kayit_tarihi)
    assert basic.dogum_tarihi == datetime(1941, 5, 2, tzinfo=ISTANBUL)
    assert basic.kadin_olumu_nedeni_id is None

    full = obs.by_tc_full(*CITIZEN_TC)
    assert type(full) is ObsFull
    assert full.form == CITIZEN
    assert [cause.sira for cause in full.olum_nedenleri] == [1, 2, 3]
    assert full.olum_nedenleri[0].olum_nedeni_turu_id is OlumNedeniTuru.DOGRUDAN_NEDEN
    assert full.otopsi_yapildi_mi is False
    assert full.yaralanma_tarihi is None


def test_by_form_basic_and_full(obs: ObsClient) -> None:
    maternal = obs.by_form_basic(MATERNAL.form_no, MATERNAL.referans_no.lower())
    assert maternal.cinsiyet is Cinsiyet.KADIN
    assert maternal.kadin_olumu_nedeni_id is KadinOlumuNedeni.SON_42_GUNDE_GEBELIK_SONLANMIS
    forensic = obs.by_form_full(FORENSIC.form_no, FORENSIC.referans_no)
    assert forensic.olum_sekli_id is OlumSekli.BULASICI_OLMAYAN_HASTALIK_ADLI_OLAY
    assert forensic.otopsi_yapildi_mi is True
    _istanbul(forensic.yaralanma_tarihi)
    corrected = obs.by_form_basic(CORRECTED.form_no, CORRECTED.referans_no)
    assert corrected.guncelleme_tarihi is not None
    assert corrected.guncelleme_tarihi.date() == CORRECTED_DAY


def test_by_passport_basic_and_full(obs: ObsClient) -> None:
    basic = obs.by_passport_basic("c01x 00t47", "Anna Maria", "Schmidt")
    assert (basic.form, basic.tc_kimlik_no, basic.pasaport_no) == (FOREIGNER, None, "C01X00T47")
    full = obs.by_passport_full(*PASSPORT)
    assert full.form == FOREIGNER
    assert len(full.olum_nedenleri) == 1


def test_death_date(obs: ObsClient) -> None:
    assert obs.death_date("76883560160") == datetime(2025, 3, 13, 6, 40, tzinfo=ISTANBUL)


def test_not_found_is_obs_not_found(obs: ObsClient) -> None:
    with pytest.raises(ObsNotFound) as caught:
        obs.by_tc_basic("76883560160", "Ahmet", "Yıldız", date(1941, 5, 2))
    assert "Arama kriterlerine uygun kayıt bulunamadı." in str(caught.value)
    with pytest.raises(ObsNotFound):
        obs.by_form_full(CITIZEN.form_no, "WRONG")
    with pytest.raises(ObsNotFound):
        obs.by_passport_full("X0000000", "Anna Maria", "Schmidt")


def test_invalid_parameters_are_obs_invalid(obs: ObsClient) -> None:
    with pytest.raises(ObsInvalid, match="TcKimlikNo"):
        obs.death_date("12345678901")
    with pytest.raises(ObsInvalid, match="IlKodu") as caught:
        obs.deaths_by_date(REGISTERED, il=99)
    assert caught.value.status == 200
    with pytest.raises(ObsInvalid, match="Adi"):
        obs.by_passport_basic("C01X00T47", " ", "Schmidt")


def test_authorization_failures_are_the_documented_500_never_retried(
    server: LiveServer, users: Users, make_user: Callable[..., Credential]
) -> None:
    hes_only = make_user(methods=("check-employee-hes-code",))
    cases = [
        (sandbox_base(server), users.test.username, "wrong password"),
        (live_base(server), users.test.username, users.test.password),
        (sandbox_base(server), hes_only.username, hes_only.password),
    ]
    for base, username, password in cases:
        transport = CountingTransport()
        with (
            ObsClient(base, username, password, transport=transport) as client,
            pytest.raises(ObsAuthorizationFailed) as caught,
        ):
            client.by_form_basic(CITIZEN.form_no, CITIZEN.referans_no)
        assert caught.value.status == 500
        assert len(transport.requests) == 1


def test_rate_limit(
    make_user: Callable[..., Credential], obs_for: Callable[..., ObsClient]
) -> None:
    client = obs_for(make_user(rate_limit="1/minute"), retry=RetryPolicy.never())
    client.death_date("76883560160")
    with pytest.raises(RateLimited) as caught:
        client.death_date("76883560160")
    assert caught.value.retry_after is not None
    assert caught.value.retry_after >= 1


def test_async_client_has_every_method(async_obs: AsyncObsClient) -> None:
    async def scenario() -> None:
        async with async_obs as client:
            assert set(await client.deaths_by_date(REGISTERED)) == ALL_FORMS
            assert await client.forensic_by_date(REGISTERED) == [FORENSIC]
            assert CORRECTED in await client.updated_by_date(CORRECTED_DAY)
            assert (await client.by_tc_basic(*CITIZEN_TC)).form == CITIZEN
            assert len((await client.by_tc_full(*CITIZEN_TC)).olum_nedenleri) == 3
            assert (await client.by_form_basic(CITIZEN.form_no, CITIZEN.referans_no)).form == (
                CITIZEN
            )
            full = await client.by_form_full(FORENSIC.form_no, FORENSIC.referans_no)
            assert full.otopsi_yapildi_mi is True
            assert (await client.by_passport_basic(*PASSPORT)).form == FOREIGNER
            assert (await client.by_passport_full(*PASSPORT)).form == FOREIGNER
            _istanbul(await client.death_date("76883560160"))
            with pytest.raises(ObsNotFound):
                await client.by_form_basic(CITIZEN.form_no, "NOPE")
            with pytest.raises(ObsInvalid):
                await client.death_date("1")

    asyncio.run(scenario())


def test_async_authorization_failure(server: LiveServer, users: Users) -> None:
    async def scenario() -> None:
        async with AsyncObsClient(sandbox_base(server), users.test.username, "nope") as client:
            with pytest.raises(ObsAuthorizationFailed):
                await client.death_date("76883560160")

    asyncio.run(scenario())
