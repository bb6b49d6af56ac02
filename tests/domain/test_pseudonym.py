"""Pseudonymous subject references (contract §3 Audit): keyed, stable, never the clear value; made
with the ring's current key and found again under any key of the ring."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saglik.domain.pseudonym import (
    KEY_BYTES,
    LEGACY,
    AuditKey,
    KeyRing,
    KeyRingError,
    Pseudonymizer,
    new_ring,
    parse_ring,
)
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


# --- the key ring -------------------------------------------------------------------------------

RING = KeyRing((AuditKey(LEGACY, KEY), AuditKey("k1", KEY[::-1])))


def test_a_reference_names_the_current_key_and_a_legacy_one_has_no_prefix() -> None:
    legacy = hmac.new(KEY, b"tckn:10000000146", hashlib.sha256).hexdigest()[:40]
    current = hmac.new(KEY[::-1], b"tckn:10000000146", hashlib.sha256).hexdigest()[:40]
    assert Pseudonymizer(RING).person("10000000146") == f"k1:{current}"
    assert Pseudonymizer(KeyRing(RING.keys[:1])).person("10000000146") == legacy
    assert Pseudonymizer(RING).refs("tckn", "10000000146") == (legacy, f"k1:{current}")


@settings(deadline=None)
@given(st.text(min_size=1, max_size=20))
def test_every_key_of_the_ring_gives_a_lookup_reference(value: str) -> None:
    older = Pseudonymizer(KeyRing(RING.keys[:1]))
    newer = Pseudonymizer(RING)
    assert set(newer.refs("hes", value)) == {older.code(value), newer.code(value)}


def test_rotation_adds_a_current_key_after_the_others() -> None:
    rotated = RING.rotated().rotated()
    assert [k.id for k in rotated.keys] == [LEGACY, "k1", "k2", "k3"]
    assert rotated.keys[:2] == RING.keys
    assert len({k.secret for k in rotated.keys}) == 4
    assert all(len(k.secret) == KEY_BYTES for k in rotated.keys[2:])
    assert Pseudonymizer(rotated).code("A1B2345678").startswith("k3:")
    assert len(Pseudonymizer(rotated).code("A1B2345678")) == 43  # fits String(64)


def test_a_ring_reads_back_from_its_file_text_and_from_one_line() -> None:
    ring = new_ring().rotated()
    assert parse_ring(ring.text()) == ring
    one_line = ", ".join(f"{k.id}:{k.secret.hex()}" for k in ring.keys)
    assert parse_ring(one_line) == ring
    assert parse_ring(f"# comment\n\n{one_line}  # the current one last\n") == ring


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no key"),
        ("k1:" + "ab" * 31, "entry 1 is not"),
        ("k1:" + "ab" * 32 + " k0:" + "cd" * 32, "entry 2 is not"),
        ("k1:" + "ab" * 32 + " k1:" + "cd" * 32, "same id"),
        ("k1:" + "ab" * 32 + " k2:" + "ab" * 32, "same key"),
        ("k1:" + "ab" * 32 + " legacy:" + "cd" * 32, "legacy key can only be the first"),
        ("ab" * 32, "entry 1 is not"),
    ],
)
def test_a_bad_ring_is_refused_without_quoting_it(text: str, reason: str) -> None:
    with pytest.raises(KeyRingError, match=reason) as refused:
        parse_ring(text)
    assert "abab" not in str(refused.value)
    assert "cdcd" not in str(refused.value)


def test_a_fingerprint_tells_keys_apart_and_is_not_the_key() -> None:
    first, second = RING.keys
    assert first.fingerprint != second.fingerprint
    assert len(first.fingerprint) == 16
    assert first.fingerprint not in KEY.hex()
    assert AuditKey("k9", KEY).fingerprint == first.fingerprint, "the key's, whatever its id"
    assert KEY.hex() not in repr(first)
