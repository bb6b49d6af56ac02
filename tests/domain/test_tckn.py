"""T.C. Kimlik No: 11 ASCII digits, no leading zero, two check digits."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saglik.domain.tckn import complete_tckn, is_valid_tckn, random_tckn


def _oracle(number: str) -> bool:
    """An independent reading of the published rule, written from the definition."""
    if len(number) != 11 or any(c not in "0123456789" for c in number) or number[0] == "0":
        return False
    d = [int(c) for c in number]
    tenth = ((d[0] + d[2] + d[4] + d[6] + d[8]) * 7 - (d[1] + d[3] + d[5] + d[7])) % 10
    eleventh = sum(d[:10]) % 10
    return d[9] == tenth and d[10] == eleventh


nine_digits = st.integers(100_000_000, 999_999_999).map(str)
valid_numbers = nine_digits.map(complete_tckn)


def test_a_published_example_is_valid() -> None:
    assert is_valid_tckn("10000000146")


@settings(deadline=None)
@given(st.integers())
def test_random_tckn_is_always_valid(seed: int) -> None:
    number = random_tckn(random.Random(seed))
    assert is_valid_tckn(number)
    assert _oracle(number)


@settings(deadline=None)
@given(nine_digits)
def test_complete_tckn_keeps_the_nine_digits_and_makes_a_valid_number(first_nine: str) -> None:
    number = complete_tckn(first_nine)
    assert number[:9] == first_nine
    assert is_valid_tckn(number)
    assert _oracle(number)


@settings(deadline=None)
@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_validity_agrees_with_the_published_rule_on_any_eleven_digits(number: str) -> None:
    assert is_valid_tckn(number) == _oracle(number)


@settings(deadline=None)
@given(valid_numbers, st.integers(0, 10), st.integers(1, 9))
def test_changing_any_single_digit_makes_a_valid_number_invalid(
    number: str, position: int, delta: int
) -> None:
    changed_digit = (int(number[position]) + delta) % 10
    changed = number[:position] + str(changed_digit) + number[position + 1 :]
    assert changed != number
    assert not is_valid_tckn(changed)


@settings(deadline=None)
@given(valid_numbers, st.integers(0, 10))
def test_a_valid_number_with_one_digit_replaced_by_a_non_digit_is_invalid(
    number: str, position: int
) -> None:
    for bad in ("a", " ", "-", "٣", "３"):
        assert not is_valid_tckn(number[:position] + bad + number[position + 1 :])


@settings(deadline=None)
@given(valid_numbers)
def test_ten_or_twelve_digits_are_invalid(number: str) -> None:
    assert not is_valid_tckn(number[:10])
    assert not is_valid_tckn(number + "0")
    assert not is_valid_tckn(number + number[-1])


@settings(deadline=None)
@given(st.integers(10_000_000, 99_999_999).map(lambda n: f"0{n}"))
def test_a_leading_zero_is_invalid_even_with_correct_check_digits(first_nine: str) -> None:
    d = [int(c) for c in first_nine]
    tenth = ((d[0] + d[2] + d[4] + d[6] + d[8]) * 7 - (d[1] + d[3] + d[5] + d[7])) % 10
    number = f"{first_nine}{tenth}{(sum(d) + tenth) % 10}"
    assert not is_valid_tckn(number)


@settings(deadline=None)
@given(valid_numbers)
def test_the_same_number_in_non_ascii_digits_is_invalid(number: str) -> None:
    arabic_indic = number.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    fullwidth = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert not is_valid_tckn(arabic_indic)
    assert not is_valid_tckn(fullwidth)


@settings(deadline=None)
@given(valid_numbers)
def test_surrounding_whitespace_is_not_stripped(number: str) -> None:
    assert not is_valid_tckn(f" {number}")
    assert not is_valid_tckn(f"{number}\n")


@pytest.mark.parametrize(
    "first_nine",
    ["12345678", "1234567890", "012345678", "12345678a", "", "١٢٣٤٥٦٧٨٩", "１２３４５６７８９"],
)
def test_complete_tckn_refuses_anything_but_nine_ascii_digits_without_a_leading_zero(
    first_nine: str,
) -> None:
    with pytest.raises(ValueError, match="nine digits"):
        complete_tckn(first_nine)


@settings(deadline=None)
@given(st.text(max_size=12))
def test_complete_tckn_either_refuses_or_returns_a_valid_number(first_nine: str) -> None:
    try:
        number = complete_tckn(first_nine)
    except ValueError:
        return
    assert is_valid_tckn(number)
