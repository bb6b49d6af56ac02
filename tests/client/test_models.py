"""Typed results: enums that keep values this client does not know, aware datetimes, and answers
outside the contract. The server never sends an unknown code (it validates its own tables), so
those answers come from a mock transport."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from saglik.client import (
    ISTANBUL,
    Cinsiyet,
    HealthStatus,
    HesClient,
    KadinOlumuNedeni,
    ObsClient,
    OlumNedeniTuru,
    OlumSekli,
    OlumYeri,
    ServisSonucDurumu,
    UnexpectedResponse,
    Visit,
)

BASE = "http://g2g.example/services/g2g/test/saglik"
FULL: dict[str, Any] = {
    "FormNo": "1",
    "ReferansNo": "R",
    "TcKimlikNo": "76883560160",
    "PasaportNo": None,
    "UyrukKodu": "TR",
    "Adi": "MEHMET",
    "Soyadi": "YILDIZ",
    "BabaAdi": None,
    "AnaAdi": None,
    "DogumTarihi": None,
    "DogumYeri": None,
    "Cinsiyet": 4,
    "CinsiyetAdi": "Yeni",
    "OlumTarihi": "2025-03-30T03:30:00",
    "OlumYeriId": 6,
    "OlumYeri": "Yeni",
    "OlumIlKodu": 6,
    "OlumIlAdi": "ANKARA",
    "OlumIlceKodu": None,
    "OlumIlceAdi": None,
    "IkametIlKodu": 6,
    "IkametIlAdi": "ANKARA",
    "IkametIlceKodu": None,
    "IkametIlceAdi": None,
    "OlumSekliId": 11,
    "OlumSekli": "Yeni",
    "KadinOlumuNedeniId": 5,
    "KadinOlumuNedeni": "Yeni",
    "KayitTarihi": "2025-03-30T10:00:00",
    "GuncellemeTarihi": None,
    "OlumNedenleri": [
        {
            "Sira": 1,
            "OlumNedeniTuruId": 6,
            "OlumNedeniTuru": "Yeni",
            "IcdKodu": "I21.9",
            "IcdAdi": None,
            "Sure": None,
        }
    ],
    "OtopsiYapildiMi": None,
    "YaralanmaTarihi": None,
    "YeniAlan": "a field added later is ignored",
}


def answering(body: Any, status: int = 200) -> httpx.MockTransport:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.MockTransport(lambda request: httpx.Response(status, content=content))


def test_unknown_integers_are_kept_as_pseudo_members() -> None:
    for enum, value in [
        (Cinsiyet, 4),
        (OlumYeri, 6),
        (OlumSekli, 11),
        (KadinOlumuNedeni, 5),
        (OlumNedeniTuru, 6),
        (ServisSonucDurumu, 3),
    ]:
        member = enum(value)
        assert isinstance(member, enum)
        assert member == value
        assert int(member) == value
        assert member is enum(value)
        assert member.name == f"UNKNOWN_{value}"
        assert not member.known
        assert value not in {m.value for m in enum}  # iteration lists only the known ones
    assert Cinsiyet.ERKEK.known
    with pytest.raises(ValueError, match="valid"):
        Cinsiyet("1")  # type: ignore[arg-type]


def test_unknown_health_status_is_kept_and_not_risky() -> None:
    status = HealthStatus("QUARANTINE")
    assert (status.value, status.name, status.known) == ("QUARANTINE", "UNKNOWN_QUARANTINE", False)
    result = {
        "expiration_date": "2027-06-15T09:00:00Z",
        "current_health_status": "QUARANTINE",
        "masked_firstname": "AY****",
        "masked_identity_number": "********909",
        "masked_lastname": "YI****",
    }
    with HesClient(BASE, "u", "p", transport=answering(result)) as client:
        answer = client.check_employee("L3S11011S1")
    assert answer.current_health_status is status
    assert answer.risky is False
    assert answer.expiration_date == datetime(2027, 6, 15, 9, tzinfo=UTC)


def test_an_obs_answer_with_unknown_codes_parses() -> None:
    envelope = {"State": 1, "Message": None, "Result": FULL}
    with ObsClient(BASE, "u", "p", transport=answering(envelope)) as client:
        full = client.by_form_full("1", "R")
    assert (full.cinsiyet, full.olum_yeri_id, full.olum_sekli_id) == (4, 6, 11)
    assert full.kadin_olumu_nedeni_id == KadinOlumuNedeni(5)
    assert full.olum_nedenleri[0].olum_nedeni_turu_id.name == "UNKNOWN_6"
    # 03:30 on the day Istanbul would once have switched to summer time: fixed UTC+3 since 2016.
    assert full.olum_tarihi.tzinfo is ISTANBUL
    assert full.olum_tarihi.utcoffset() is not None
    assert full.olum_tarihi.astimezone(UTC) == datetime(2025, 3, 30, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"<html>gateway</html>", 200),
        ({"State": 3, "Message": None, "Result": None}, 200),
        ({"State": "1", "Message": None, "Result": None}, 200),
        ({"State": 1, "Message": None, "Result": {"FormNo": "1"}}, 200),
        ({"State": 0, "Message": "Böyle bir servis metodu yok.", "Result": None}, 404),
        (b"", 302),
    ],
    ids=["html", "unknown-state", "string-state", "missing-fields", "404", "redirect"],
)
def test_obs_answers_outside_the_contract(body: Any, status: int) -> None:
    with (
        ObsClient(BASE, "u", "p", transport=answering(body, status)) as client,
        pytest.raises(UnexpectedResponse) as caught,
    ):
        client.by_form_basic("1", "R")
    assert caught.value.status == status


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 200),
        ({"expiration_date": "2027-06-15T09:00:00"}, 200),
        ({"title": "Unsupported Media Type"}, 415),
    ],
    ids=["not-json", "naive-date", "415"],
)
def test_hes_answers_outside_the_contract(body: Any, status: int) -> None:
    with (
        HesClient(BASE, "u", "p", transport=answering(body, status)) as client,
        pytest.raises(UnexpectedResponse),
    ):
        client.check_plus("L3S11011S1")


def test_bulk_answer_outside_the_contract() -> None:
    bad = {"success_map": {"L3S11011S1": {"expiration_date": 5}}, "unsuccess_map": {}}
    with (
        HesClient(BASE, "u", "p", transport=answering(bad)) as client,
        pytest.raises(UnexpectedResponse),
    ):
        client.check_codes(["L3S11011S1"])
    with (
        HesClient(BASE, "u", "p", transport=answering([1, 2])) as client,
        pytest.raises(UnexpectedResponse),
    ):
        client.check_codes(["L3S11011S1"])


def test_a_code_missing_from_both_maps_is_reported_not_lost() -> None:
    empty: dict[str, Any] = {"success_map": {}, "unsuccess_map": {}}
    with HesClient(BASE, "u", "p", transport=answering(empty)) as client:
        assert client.check_codes(["L3S11011S1"]).failure == {"L3S11011S1": "hescodenotfound"}


def test_visit_refuses_what_cannot_be_sent() -> None:
    with pytest.raises(ValueError, match="together"):
        Visit("ANKARA", "ÇANKAYA", "adres", latitude=39.9)
    with pytest.raises(ValueError, match="finite"):
        Visit("ANKARA", "ÇANKAYA", "adres", latitude=float("nan"), longitude=1.0)


def test_visit_body_on_the_wire() -> None:
    sent: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(400, json={"errorKey": "hescodenotfound"})

    with HesClient(BASE, "u", "p", transport=httpx.MockTransport(handler)) as client:
        for visit in (Visit("A", "B", "C"), Visit("A", "B", "C", latitude=1.5, longitude=-2.0)):
            with pytest.raises(Exception, match="not found"):
                client.check_visitor("l3s1-1011-s1", visit)
    assert sent == [
        {"hes_code": "L3S11011S1", "city": "A", "district": "B", "explicit_address": "C"},
        {
            "hes_code": "L3S11011S1",
            "city": "A",
            "district": "B",
            "explicit_address": "C",
            "location": {"latitude": 1.5, "longitude": -2.0},
        },
    ]
