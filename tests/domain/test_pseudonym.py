"""Pseudonymous subject references (contract §3 Audit): keyed, stable, never the clear value."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from saglik.domain.pseudonym import Pseudonymizer
from saglik.domain.tckn import complete_tckn

KEY = bytes(range(32))


def test_a_reference_is_a_keyed_hmac_sha256_of_kind_and_value() -> None:
    expected = hmac.new(KEY, b"hes:A1B2345678", hashlib.sha256).hexdigest()[:40]
    assert Pseudonymizer(KEY).code("A1B2345678") == expected
    expected = hmac.new(KEY, b"tckn:10000000146", hashlib.sha256).hexdigest()[:40]
    assert Pseudonymizer(KEY).person("10000000146") == expected


@settings(deadline=None)
@given(st.text(min_size=1, max_size=20))
def test_the_same_value_gives_the_same_reference_under_one_key(value: str) -> None:
    assert Pseudonymizer(KEY).code(value) == Pseudonymizer(KEY).code(value)


@settings(deadline=None)
@given(st.text(min_size=1, max_size=20))
def test_another_key_gives_another_reference(value: str) -> None:
    assert Pseudonymizer(KEY).code(value) != Pseudonymizer(KEY[::-1]).code(value)


@settings(deadline=None)
@given(st.text(alphabet="0123456789", min_size=10, max_size=11))
def test_a_code_and_an_identity_number_with_the_same_text_never_collide(value: str) -> None:
    p = Pseudonymizer(KEY)
    assert p.code(value) != p.person(value)


@settings(deadline=None)
@given(st.integers(100_000_000, 999_999_999).map(str).map(complete_tckn))
def test_a_reference_is_forty_hex_digits_and_does_not_contain_the_value(number: str) -> None:
    ref = Pseudonymizer(KEY).person(number)
    assert len(ref) == 40
    assert all(c in "0123456789abcdef" for c in ref)
    assert number not in ref
