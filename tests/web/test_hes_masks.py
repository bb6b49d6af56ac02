"""Masks of names and identity numbers as the wire shows them (contract §4.5, §7): Turkish casing,
NFC before slicing, one mask per word."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pytest
from sqlalchemy import select

from saglik.store.schema import persons
from tests.conftest import Holder, LiveServer
from tests.web.conftest import SINGLE_METHODS, Caller, assert_json


def masks(caller: Caller, code: str, method: str = "check-employee-hes-code") -> tuple[str, str]:
    body = assert_json(caller.check(method, code))
    return body["masked_firstname"], body["masked_lastname"]


@pytest.mark.parametrize(
    ("first", "last", "masked_first", "masked_last"),
    [
        pytest.param("Gökçe", "Işık", "GÖ****", "IŞ****", id="ö-ç-ı-ş"),
        pytest.param("İsmail", "Ğüzel", "İS****", "ĞÜ****", id="capital-dotted-i-and-ğ"),
        pytest.param("Çağrı", "Özşahin", "ÇA****", "ÖZ****", id="ç-ö"),
        pytest.param("Ümit", "Şen", "ÜM****", "ŞE****", id="ü-ş"),
        pytest.param("ismail", "ılgaz", "İS****", "IL****", id="lower-i-becomes-dotted-İ"),
        pytest.param("ıı", "ii", "II****", "İİ****", id="dotless-and-dotted-lower"),
        pytest.param("Al", "O", "AL****", "O****", id="short-words"),
    ],
)
def test_turkish_names_are_masked_with_turkish_upper_case(
    live: Caller,
    make_holder: Callable[..., Holder],
    first: str,
    last: str,
    masked_first: str,
    masked_last: str,
) -> None:
    holder = make_holder(first_name=first, last_name=last)
    assert masks(live, holder.code) == (masked_first, masked_last)


@pytest.mark.parametrize(
    ("first", "masked"),
    [
        ("ÖMER FARUK", "ÖM**** FA****"),
        ("Mehmet  Ali", "ME**** AL****"),
        ("  fatma   gökçe nur ", "FA**** GÖ**** NU****"),
    ],
)
def test_each_word_of_a_name_is_masked_and_words_are_joined_by_one_space(
    live: Caller, make_holder: Callable[..., Holder], first: str, masked: str
) -> None:
    holder = make_holder(first_name=first)
    assert masks(live, holder.code)[0] == masked


@pytest.mark.parametrize(
    ("name", "nfc_upper", "masked"),
    [
        ("Gökçe", "GÖKÇE", "GÖ****"),
        ("İSMAİL", "İSMAİL", "İS****"),
        ("Öztürk", "ÖZTÜRK", "ÖZ****"),
        ("Ğülşen", "ĞÜLŞEN", "ĞÜ****"),
    ],
)
def test_decomposed_name_is_stored_nfc_and_masked_after_composition(
    live: Caller,
    make_holder: Callable[..., Holder],
    server: LiveServer,
    name: str,
    nfc_upper: str,
    masked: str,
) -> None:
    decomposed = unicodedata.normalize("NFD", name)
    assert decomposed != name
    holder = make_holder(first_name=decomposed, last_name=decomposed)
    with server.engine.connect() as conn:
        stored = conn.execute(
            select(persons.c.first_name, persons.c.last_name).where(
                persons.c.env == "live", persons.c.identity_number == holder.identity_number
            )
        ).one()
    assert tuple(stored) == (nfc_upper, nfc_upper)
    assert unicodedata.is_normalized("NFC", stored.first_name)
    assert masks(live, holder.code) == (masked, masked)


@pytest.mark.parametrize("method", SINGLE_METHODS)
def test_identity_number_is_eight_stars_and_the_last_three_digits(
    live: Caller, make_holder: Callable[..., Holder], method: str
) -> None:
    holder = make_holder()
    body = assert_json(live.check(method, holder.code))
    assert body["masked_identity_number"] == "********" + holder.identity_number[-3:]
    assert len(body["masked_identity_number"]) == 11


def test_no_clear_name_or_identity_number_appears_in_a_success_body(
    live: Caller, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder(first_name="Bahadır", last_name="Karaçam")
    for method in SINGLE_METHODS:
        text = live.check(method, holder.code).text
        for secret in ("BAHADIR", "KARAÇAM", "Bahadır", "Karaçam", holder.identity_number[:8]):
            assert secret not in text
