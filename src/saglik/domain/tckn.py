"""T.C. Kimlik No: 11 digits, no leading zero, two check digits."""

from __future__ import annotations

import random


def _check_digits(first_nine: str) -> str:
    digits = [int(c) for c in first_nine]
    odd = sum(digits[0:9:2])
    even = sum(digits[1:8:2])
    d10 = (odd * 7 - even) % 10
    d11 = (sum(digits) + d10) % 10
    return f"{d10}{d11}"


def is_valid_tckn(value: str) -> bool:
    if len(value) != 11 or not value.isascii() or not value.isdigit() or value[0] == "0":
        return False
    return value[9:] == _check_digits(value[:9])


def complete_tckn(first_nine: str) -> str:
    """Append the two check digits to nine digits that do not start with 0."""
    if (
        len(first_nine) != 9
        or not first_nine.isascii()
        or not first_nine.isdigit()
        or first_nine[0] == "0"
    ):
        raise ValueError("need nine digits not starting with 0")
    return first_nine + _check_digits(first_nine)


def random_tckn(rng: random.Random) -> str:
    """A checksum-valid number for synthetic data and tests."""
    return complete_tckn(str(rng.randint(100_000_000, 999_999_999)))
