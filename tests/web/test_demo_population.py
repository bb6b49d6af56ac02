"""The G2G services answer correctly on the demo population (services/demo.py), over the socket:
HES codes valid, expired and cancelled at death, the RISKY ones, the plus fields, and the death
forms through the ÖBS lookups and the forensic feed.

The population is written once per backend into the shared store's live environment; the test
regenerates the same persons with the domain generator (same seed, same anchor) to know what to
ask and what to expect.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from saglik.domain.hes import NO_EXPIRY
from saglik.domain.obs import FORENSIC_MANNERS, ISTANBUL
from saglik.domain.population import DemoPerson, anchor_for, generate_population
from saglik.domain.turkish import mask_identity_number, mask_name
from saglik.services import demo
from tests.conftest import BASE_TIME, LiveServer
from tests.web.conftest import EXPIRED_BODY, NOT_FOUND_BODY, Caller, Users, assert_hes_error
from tests.web.obs_helpers import istanbul, obs_get, pairs, success

PERSONS = 3_000
SEED = 5
YEARS = 5

_written: set[str] = set()


@pytest.fixture
def people(server: LiveServer) -> list[DemoPerson]:
    """The demo persons in the server's store (written on the first use per backend)."""
    url = server.engine.url.render_as_string()
    if url not in _written:
        # the shared store's live environment holds other tests' persons, which no demo run wrote
        summary = demo.generate(
            server.engine,
            server.clock,
            persons=PERSONS,
            years=YEARS,
            seed=SEED,
            env="live",
            force=True,
        )
        assert summary.refused == 0
        _written.add(url)
    return list(
        generate_population(
            demo.tables(),
            seed=SEED,
            count=PERSONS,
            years=YEARS,
            anchor=anchor_for(BASE_TIME),
            districts=demo.load_districts(server.engine),
            exclude_identity_numbers=demo.reserved_identity_numbers(),
        )
    )


def _open_risk(p: DemoPerson) -> bool:
    return any(
        e.kind == "risk" and e.at <= BASE_TIME and (e.ended_at is None or e.ended_at > BASE_TIME)
        for e in p.events
    )


def _valid(p: DemoPerson) -> bool:
    return p.code.cancelled_at is None and p.code.expires_at > BASE_TIME


def _assert_result(body: dict[str, object], p: DemoPerson, status: str) -> None:
    assert body["masked_firstname"] == mask_name(p.person.first_name)
    assert body["masked_lastname"] == mask_name(p.person.last_name)
    assert body["masked_identity_number"] == mask_identity_number(p.person.identity_number)
    assert body["current_health_status"] == status
    assert body["expiration_date"] == f"{p.code.expires_at:%Y-%m-%dT%H:%M:%SZ}"


def test_a_valid_demo_code_answers_with_its_holder_s_masked_name(
    live: Caller, people: list[DemoPerson]
) -> None:
    riskless = [p for p in people if _valid(p) and not _open_risk(p)]
    two_names = next(p for p in riskless if " " in p.person.first_name)
    for p in (riskless[0], riskless[-1], two_names):
        reply = live.check("check-employee-hes-code", p.code.code)
        assert reply.status_code == 200, reply.text
        _assert_result(reply.json(), p, "RISKLESS")


def test_a_code_without_expiry_answers(live: Caller, people: list[DemoPerson]) -> None:
    p = next(p for p in people if _valid(p) and p.code.expires_at == NO_EXPIRY)
    reply = live.check("check-employee-hes-code", p.code.code)
    assert reply.status_code == 200, reply.text
    assert reply.json()["expiration_date"] == "2070-12-30T00:00:00Z"


def test_a_person_in_isolation_or_quarantine_is_risky(
    live: Caller, people: list[DemoPerson]
) -> None:
    p = next(p for p in people if _valid(p) and _open_risk(p))
    reply = live.check("check-employee-hes-code", p.code.code)
    assert reply.status_code == 200, reply.text
    _assert_result(reply.json(), p, "RISKY")


def test_an_expired_demo_code_is_the_documented_400(live: Caller, people: list[DemoPerson]) -> None:
    p = next(p for p in people if p.code.cancelled_at is None and p.code.expires_at <= BASE_TIME)
    assert_hes_error(live.check("check-employee-hes-code", p.code.code), EXPIRED_BODY)


def test_the_code_of_a_dead_person_was_cancelled(live: Caller, people: list[DemoPerson]) -> None:
    p = next(p for p in people if p.death is not None and p.code.expires_at > BASE_TIME)
    assert_hes_error(live.check("check-employee-hes-code", p.code.code), NOT_FOUND_BODY)


def test_the_bulk_method_sorts_demo_codes_into_both_maps(
    live: Caller, people: list[DemoPerson]
) -> None:
    codes = {p.code.code: p for p in people[:400]}
    reply = live.post("check-hes-codes", [{"hes_code": c} for c in codes])
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert set(body["success_map"]) == {c for c, p in codes.items() if _valid(p)}
    assert set(body["unsuccess_map"]) == {c for c, p in codes.items() if not _valid(p)}


def test_plus_fields_follow_the_demo_health_events(live: Caller, people: list[DemoPerson]) -> None:
    def doses(p: DemoPerson) -> int:
        return sum(e.kind == "vaccination" for e in p.events)

    p = next(
        p
        for p in people
        if _valid(p) and not _open_risk(p) and p.person.consent_vaccination and doses(p) >= 2
    )
    reply = live.check("check-hes-code-plus", p.code.code)
    assert reply.status_code == 200, reply.text
    assert reply.json()["is_vaccinated"] is True

    recent = BASE_TIME - timedelta(hours=72)
    q = next(
        q
        for q in people
        if _valid(q)
        and not _open_risk(q)
        and q.person.consent_test
        and any(e.kind == "pcr" and e.negative and e.at >= recent for e in q.events)
    )
    newest = max(e.at for e in q.events if e.kind == "pcr" and e.negative)
    reply = live.check("check-hes-code-plus", q.code.code)
    assert reply.status_code == 200, reply.text
    assert reply.json()["last_negative_test_date"] == (
        newest.strftime("%Y-%m-%dT%H:%M:%S.") + f"{newest.microsecond // 1000:03d}Z"
    )


def test_a_demo_death_is_found_by_identity_with_its_form_and_causes(
    http: httpx.Client, users: Users, people: list[DemoPerson]
) -> None:
    dead = [p.death for p in people if p.death is not None]
    assert len(dead) > 30
    for d in (dead[0], dead[-1]):
        assert d.birth_date is not None
        result = success(
            obs_get(
                http,
                "live",
                "GetOlumByTcKimlikNoFull",
                users.live.auth,
                {
                    "TcKimlikNo": d.identity_number or "",
                    "Adi": d.first_name,
                    "Soyadi": d.last_name,
                    "DogumTarihi": d.birth_date.isoformat(),
                },
            )
        )
        assert (result["FormNo"], result["ReferansNo"]) == (d.form_no, d.referans_no)
        assert result["OlumTarihi"] == istanbul(d.died_at)
        assert result["KayitTarihi"] == istanbul(d.registered_at)
        assert result["OlumSekliId"] == d.manner
        assert result["KadinOlumuNedeniId"] == d.maternal_status
        assert [
            (c["OlumNedeniTuruId"], c["IcdKodu"], c["Sure"]) for c in result["OlumNedenleri"]
        ] == [(c.kind, c.icd_code, c.interval) for c in d.causes]
        by_form = success(
            obs_get(
                http,
                "live",
                "GetOlumByFormNoBasic",
                users.live.auth,
                {"FormNo": d.form_no, "ReferansNo": d.referans_no},
            )
        )
        assert by_form["TcKimlikNo"] == d.identity_number


def test_demo_forensic_deaths_are_in_the_forensic_feed_of_their_day(
    http: httpx.Client, users: Users, people: list[DemoPerson]
) -> None:
    forensic = [
        p.death for p in people if p.death is not None and p.death.manner in FORENSIC_MANNERS
    ]
    assert forensic
    d = forensic[0]
    day = d.registered_at.astimezone(ISTANBUL).date().isoformat()
    params = {"Tarih": day, "IlKodu": str(d.death_place.province)}
    feed = pairs(success(obs_get(http, "live", "GetAdliFormlarByDate", users.live.auth, params)))
    assert (d.form_no, d.referans_no) in feed
    everything = pairs(
        success(obs_get(http, "live", "GetTumOlumlerByDate", users.live.auth, params))
    )
    assert (d.form_no, d.referans_no) in everything
