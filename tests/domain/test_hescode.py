"""HES code shape (contract §4.3): generated codes, the lookup form, the display form."""

from __future__ import annotations

import random
import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saglik.domain.hescode import display, generate_code, is_generated_shape, lookup_key

GENERATED = re.compile(r"[A-Z][0-9][A-Z][0-9]{7}")
LOOKUP_ALPHABET = string.ascii_letters + string.digits
DRAWS = 1000
"""Collision odds over 1000 draws from 26·10·26·10⁷ codes are below one in a hundred thousand."""


@pytest.fixture(scope="module")
def drawn() -> list[str]:
    return [generate_code() for _ in range(DRAWS)]


def test_generated_codes_have_the_observed_shape(drawn: list[str]) -> None:
    for code in drawn:
        assert GENERATED.fullmatch(code), code
        assert is_generated_shape(code)


def test_generated_codes_are_their_own_lookup_key(drawn: list[str]) -> None:
    for code in drawn:
        assert lookup_key(code) == code


def test_generated_codes_are_unique_over_many_draws(drawn: list[str]) -> None:
    assert len(set(drawn)) == len(drawn)


def test_generated_codes_use_the_whole_alphabet_in_every_position(drawn: list[str]) -> None:
    for position, alphabet in [
        (0, string.ascii_uppercase),
        (1, string.digits),
        (2, string.ascii_uppercase),
        *[(p, string.digits) for p in range(3, 10)],
    ]:
        assert {code[position] for code in drawn} == set(alphabet), position


def test_generated_codes_do_not_come_from_the_seedable_random_module() -> None:
    random.seed(20260615)
    first = generate_code()
    random.seed(20260615)
    second = generate_code()
    assert first != second


@settings(deadline=None)
@given(st.text(alphabet=LOOKUP_ALPHABET, min_size=10, max_size=10))
def test_lookup_key_accepts_ten_ascii_letters_or_digits_and_upper_cases_them(sent: str) -> None:
    assert lookup_key(sent) == sent.upper()


@settings(deadline=None)
@given(st.text(alphabet=LOOKUP_ALPHABET, max_size=30).filter(lambda s: len(s) != 10))
def test_lookup_key_rejects_other_lengths(sent: str) -> None:
    assert lookup_key(sent) is None


@settings(deadline=None)
@given(
    st.text(alphabet=LOOKUP_ALPHABET, min_size=9, max_size=9),
    st.characters().filter(lambda c: c not in LOOKUP_ALPHABET),
    st.integers(0, 9),
)
def test_lookup_key_rejects_any_character_outside_ascii_letters_and_digits(
    nine: str, odd: str, position: int
) -> None:
    assert lookup_key(nine[:position] + odd + nine[position:]) is None


@pytest.mark.parametrize(
    "sent",
    [
        "A1B2-3456-78",  # the display form
        "A1B2-345678",
        "A1B2 345678",
        " A1B2345678",
        "A1B2345678 ",
        "A1B2345678\n",
        "A1Bı345678",  # dotless i: upper-cases to I, still not a code
        "A1Bİ345678",
        "Ａ1B2345678",  # fullwidth letter
        "A１B２３４５６７８",  # fullwidth digits
        "A1B٢345678",  # Arabic-Indic digit
        "A1\u212a2345678",  # KELVIN SIGN, which case-folds to K
        "",
    ],
)
def test_lookup_key_does_not_repair_what_clients_send(sent: str) -> None:
    assert lookup_key(sent) is None


def test_lookup_key_folds_ascii_lower_case_only() -> None:
    assert lookup_key("a1b2345678") == "A1B2345678"
    assert lookup_key("a1S10001s1") == "A1S10001S1"


@settings(deadline=None)
@given(st.text(alphabet=LOOKUP_ALPHABET, min_size=10, max_size=10).map(str.upper))
def test_the_display_form_groups_four_four_two_and_is_never_a_lookup_key(code: str) -> None:
    shown = display(code)
    assert shown == f"{code[:4]}-{code[4:8]}-{code[8:]}"
    assert shown.replace("-", "") == code
    assert lookup_key(shown) is None
