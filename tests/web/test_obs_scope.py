"""Object-level authorization on ÖBS (contract §5.3): a service user bound to a province, or to a
district of it, sees deaths that occurred in the area plus deaths elsewhere of people residing in
it; nothing else. Out of scope reads byte for byte like a record that does not exist."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import pytest

from saglik.domain.methods import OBS_METHODS
from saglik.services.accounts import AccountService
from tests.change_support import change_log
from tests.conftest import BASE_TIME, Credential, LiveServer
from tests.web.obs_helpers import (
    DATE_METHODS,
    DEATH_DATE_METHOD,
    FORM_METHODS,
    LOOKUP_METHODS,
    PASSPORT_METHODS,
    Registered,
    Registry,
    at_istanbul,
    envelope,
    fresh_day,
    new_passport,
    new_tckn,
    obs_get,
    pairs,
    success,
)

ANKARA, CANKAYA, KECIOREN = 6, 1231, 1745
ISTANBUL, KADIKOY = 34, 1421
IZMIR, KONAK = 35, 1819

PLACEMENTS: dict[str, tuple[tuple[int, int | None], tuple[int, int | None]]] = {
    # name: ((death province, district), (residence province, district))
    "died-in-district": ((ANKARA, CANKAYA), (ISTANBUL, KADIKOY)),
    "resided-in-district": ((ISTANBUL, KADIKOY), (ANKARA, CANKAYA)),
    "died-in-province-elsewhere": ((ANKARA, KECIOREN), (ISTANBUL, KADIKOY)),
    "resided-in-province-elsewhere": ((ISTANBUL, KADIKOY), (ANKARA, KECIOREN)),
    "died-in-province-no-district": ((ANKARA, None), (IZMIR, KONAK)),
    "neither": ((ISTANBUL, KADIKOY), (IZMIR, KONAK)),
}
VISIBLE: dict[str, set[str]] = {
    "unscoped": set(PLACEMENTS),
    "province": set(PLACEMENTS) - {"neither"},
    "district": {"died-in-district", "resided-in-district"},
}
SCOPES: dict[str, dict[str, int]] = {
    "unscoped": {},
    "province": {"province_code": ANKARA},
    "district": {"province_code": ANKARA, "district_code": CANKAYA},
}


@dataclass(frozen=True)
class World:
    users: dict[str, Credential]
    citizens: dict[str, Registered]
    foreigners: dict[str, Registered]
    registered_day: date
    approved_day: date

    def form(self, placement: str, method: str) -> Registered:
        return (self.foreigners if method in PASSPORT_METHODS else self.citizens)[placement]

    def order(self) -> list[tuple[str, Registered]]:
        """Every form in registration order."""
        return [(p, self.citizens[p]) for p in PLACEMENTS] + [
            (p, self.foreigners[p]) for p in PLACEMENTS
        ]


@pytest.fixture(scope="module")
def world(server: LiveServer) -> World:
    """Per backend: three live users (unscoped, Ankara, Çankaya) and, for every placement, one
    citizen's forensic form and one foreigner's ordinary form, registered on a day of their own
    and approved on the next."""
    accounts = AccountService(server.engine, server.clock, change_log(server.engine, server.clock))
    users = {}
    for kind, scope in SCOPES.items():
        institution = f"Kapsam {kind} {uuid.uuid4().hex[:8]}"
        accounts.add_institution(institution)
        username = f"scope{kind}{uuid.uuid4().hex[:8]}"
        issued = accounts.add_user(
            username=username, institution=institution, env="live", methods=OBS_METHODS, **scope
        )
        users[kind] = Credential(username, issued.password, "live")
    registry = Registry(server)
    day = fresh_day()
    citizens, foreigners = {}, {}
    minute = 0
    for passport, made in ((False, citizens), (True, foreigners)):
        for name, ((dp, dd), (rp, rd)) in PLACEMENTS.items():
            minute += 1
            made[name] = registry.register(
                at=at_istanbul(day, 10, minute),
                passport=passport,
                manner=1 if passport else 3,
                death_province=dp,
                death_district=dd,
                residence_province=rp,
                residence_district=rd,
            )
    approved = day + timedelta(days=1)
    for i, reg in enumerate([*citizens.values(), *foreigners.values()]):
        registry.set_status(reg, "approved", at=at_istanbul(approved, 9, i))
    server.clock.set(BASE_TIME)
    return World(users, citizens, foreigners, day, approved)


def missing_params(method: str) -> dict[str, str]:
    """Parameters of a record that does not exist, shaped like the method's real ones."""
    if method in FORM_METHODS:
        return {"FormNo": "1000000001", "ReferansNo": "ZZZZZZZZ"}
    if method in PASSPORT_METHODS:
        return {"PasaportNo": new_passport(), "Adi": "Mehmet Emin", "Soyadi": "Yıldız"}
    params = {"TcKimlikNo": new_tckn()}
    if method != DEATH_DATE_METHOD:
        params |= {"Adi": "Mehmet Emin", "Soyadi": "Yıldız", "DogumTarihi": "1950-04-03"}
    return params


@pytest.mark.parametrize("method", LOOKUP_METHODS)
@pytest.mark.parametrize("user", list(SCOPES))
def test_lookups_see_only_forms_in_the_users_area(
    http: httpx.Client, world: World, user: str, method: str
) -> None:
    auth = world.users[user].auth
    absent = obs_get(http, "live", method, auth, missing_params(method))
    assert envelope(absent)["State"] == 2
    seen = set()
    for placement in PLACEMENTS:
        reg = world.form(placement, method)
        response = obs_get(http, "live", method, auth, reg.params_for(method))
        if placement in VISIBLE[user]:
            result = success(response)
            if method == DEATH_DATE_METHOD:
                assert isinstance(result, str)
            else:
                assert result["FormNo"] == reg.form_no
            seen.add(placement)
        else:
            assert response.status_code == absent.status_code
            assert response.content == absent.content
            assert response.headers["content-type"] == absent.headers["content-type"]
    assert seen == VISIBLE[user]


@pytest.mark.parametrize("method", DATE_METHODS)
@pytest.mark.parametrize("user", list(SCOPES))
def test_date_feeds_list_only_forms_in_the_users_area(
    http: httpx.Client, world: World, user: str, method: str
) -> None:
    auth = world.users[user].auth
    day = world.approved_day if method == "GetGuncellenenOlumlerByDate" else world.registered_day
    listed = pairs(success(obs_get(http, "live", method, auth, {"Tarih": day.isoformat()})))
    expected = [
        reg.pair
        for placement, reg in world.order()
        if placement in VISIBLE[user]
        and (method != "GetAdliFormlarByDate" or reg.form.get("identity_number"))
    ]
    assert listed == expected
    assert expected  # every user sees something, so an empty answer cannot pass


@pytest.mark.parametrize(
    ("user", "il", "visible"),
    [
        # IlKodu narrows what the scope allows; it never widens it
        ("province", "35", {"died-in-province-no-district"}),
        ("district", "35", set()),
        ("district", "34", {"died-in-district", "resided-in-district"}),
        ("province", "6", set(PLACEMENTS) - {"neither"}),
        ("unscoped", "35", {"died-in-province-no-district", "neither"}),
        ("province", "1", set()),
    ],
)
def test_il_kodu_cannot_reach_outside_the_users_area(
    http: httpx.Client, world: World, user: str, il: str, visible: set[str]
) -> None:
    auth = world.users[user].auth
    params = {"Tarih": world.registered_day.isoformat(), "IlKodu": il}
    listed = pairs(success(obs_get(http, "live", "GetTumOlumlerByDate", auth, params)))
    assert listed == [reg.pair for placement, reg in world.order() if placement in visible]


def test_a_province_user_never_sees_an_out_of_area_form_through_any_method(
    http: httpx.Client, world: World
) -> None:
    """The out-of-area form, looked up by every way there is, leaves no trace of existing."""
    auth = world.users["province"].auth
    citizen, foreigner = world.citizens["neither"], world.foreigners["neither"]
    bodies = set()
    for method in LOOKUP_METHODS:
        reg = foreigner if method in PASSPORT_METHODS else citizen
        bodies.add(obs_get(http, "live", method, auth, reg.params_for(method)).content)
        bodies.add(obs_get(http, "live", method, auth, missing_params(method)).content)
    assert len(bodies) == 1
    for method in DATE_METHODS:
        for day in (world.registered_day, world.approved_day):
            listed = pairs(success(obs_get(http, "live", method, auth, {"Tarih": day.isoformat()})))
            assert citizen.pair not in listed
            assert foreigner.pair not in listed


def test_an_unscoped_user_sees_the_whole_country(http: httpx.Client, world: World) -> None:
    auth = world.users["unscoped"].auth
    day = {"Tarih": world.registered_day.isoformat()}
    listed = pairs(success(obs_get(http, "live", "GetTumOlumlerByDate", auth, day)))
    assert listed == [reg.pair for _, reg in world.order()]
