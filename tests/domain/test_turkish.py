"""Turkish text (contract §7, §4.5): casing, NFC, whitespace, masks."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saglik.domain.tckn import complete_tckn
from saglik.domain.turkish import (
    mask_identity_number,
    mask_name,
    nfc,
    normalize_name,
    tr_lower,
    tr_upper,
)

TR_LOWER = "abcçdefgğhıijklmnoöprsştuüvyz"
TR_UPPER = "ABCÇDEFGĞHIİJKLMNOÖPRSŞTUÜVYZ"
WHITESPACE = " \t\n\r\u00a0\u2003\u3000"


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


turkish_words = st.text(alphabet=TR_LOWER + TR_UPPER, min_size=1, max_size=12)
separators = st.text(alphabet=WHITESPACE, min_size=1, max_size=4)


@st.composite
def turkish_names(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A name as a person might type it (any case, any whitespace, NFC or NFD) and its words."""
    words = draw(st.lists(turkish_words, min_size=1, max_size=4))
    seps = [draw(separators) for _ in words]
    lead, trail = draw(st.sampled_from(["", " ", "\t "])), draw(st.sampled_from(["", " \n"]))
    typed = lead + "".join(w + s for w, s in zip(words, seps, strict=True)).rstrip() + trail
    form = draw(st.sampled_from(["NFC", "NFD"]))
    return unicodedata.normalize(form, typed), words


# --- casing ------------------------------------------------------------------------------------


def test_dotted_and_dotless_i_upper_case_the_turkish_way() -> None:
    assert tr_upper("i") == "İ"
    assert tr_upper("ı") == "I"
    assert tr_upper("istanbul ılgaz") == "İSTANBUL ILGAZ"


def test_dotted_and_dotless_i_lower_case_the_turkish_way() -> None:
    assert tr_lower("I") == "ı"
    assert tr_lower("İ") == "i"
    assert tr_lower("IĞDIR İZMİR") == "ığdır izmir"


def test_the_whole_alphabet_maps_letter_for_letter() -> None:
    assert tr_upper(TR_LOWER) == TR_UPPER
    assert tr_lower(TR_UPPER) == TR_LOWER


@settings(deadline=None)
@given(st.text(alphabet=TR_LOWER))
def test_tr_lower_undoes_tr_upper_on_turkish_letters(text: str) -> None:
    assert tr_lower(tr_upper(text)) == text


@settings(deadline=None)
@given(st.text(alphabet=TR_UPPER))
def test_tr_upper_undoes_tr_lower_on_turkish_letters(text: str) -> None:
    assert tr_upper(tr_lower(text)) == text


@settings(deadline=None)
@given(st.text(alphabet=TR_LOWER + TR_UPPER))
def test_casing_gives_nfc_for_nfd_input(text: str) -> None:
    assert tr_upper(nfd(text)) == tr_upper(text) == nfc(tr_upper(text))
    assert tr_lower(nfd(text)) == tr_lower(text) == nfc(tr_lower(text))


def test_nfd_dotted_capital_i_lower_cases_to_plain_i() -> None:
    assert tr_lower(nfd("İ")) == "i"


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  ayşe \t\n gül  ", "AYŞE GÜL"),
        ("ışık", "IŞIK"),
        ("fatma\u00a0gökçe", "FATMA GÖKÇE"),
        ("", ""),
    ],
)
def test_normalize_name_examples(typed: str, stored: str) -> None:
    assert normalize_name(typed) == stored


@settings(deadline=None)
@given(st.text())
def test_normalize_name_is_idempotent(text: str) -> None:
    once = normalize_name(text)
    assert normalize_name(once) == once


@settings(deadline=None)
@given(st.text())
def test_normalize_name_gives_the_same_result_for_nfc_and_nfd_input(text: str) -> None:
    assert normalize_name(nfd(text)) == normalize_name(nfc(text))
    assert unicodedata.is_normalized("NFC", normalize_name(text))


@settings(deadline=None)
@given(st.text())
def test_normalize_name_collapses_whitespace_to_single_spaces(text: str) -> None:
    stored = normalize_name(text)
    assert stored == stored.strip()
    assert "  " not in stored
    assert not any(c.isspace() and c != " " for c in stored)


@settings(deadline=None)
@given(turkish_names())
def test_normalize_name_keeps_the_words_in_turkish_upper_case(name: tuple[str, list[str]]) -> None:
    typed, words = name
    assert normalize_name(typed).split(" ") == [tr_upper(w) for w in words]


# --- masks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("Ömer Faruk", "ÖM**** FA****"),
        ("GÖKÇE", "GÖ****"),
        (nfd("GÖKÇE"), "GÖ****"),
        (nfd("Şükrü"), "ŞÜ****"),
        ("işık", "İŞ****"),
        ("ılgaz", "IL****"),
        ("  ayşe   gül ", "AY**** GÜ****"),
        ("A", "A****"),
        ("Mehmet Ali", "ME**** AL****"),
    ],
)
def test_mask_name_examples(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@settings(deadline=None)
@given(turkish_names())
def test_mask_name_masks_each_word_to_its_first_two_letters(name: tuple[str, list[str]]) -> None:
    typed, words = name
    masked = mask_name(typed)
    parts = masked.split(" ")
    assert len(parts) == len(words)
    for part, word in zip(parts, words, strict=True):
        assert part == tr_upper(word)[:2] + "****"


@settings(deadline=None)
@given(turkish_names())
def test_mask_name_never_splits_a_precomposed_letter(name: tuple[str, list[str]]) -> None:
    typed, _ = name
    masked = mask_name(typed)
    assert unicodedata.is_normalized("NFC", masked)
    assert not any(unicodedata.combining(c) for c in masked)


@settings(deadline=None)
@given(st.integers(100_000_000, 999_999_999).map(str).map(complete_tckn))
def test_mask_identity_number_shows_eight_stars_and_the_last_three_digits(number: str) -> None:
    masked = mask_identity_number(number)
    assert masked == "********" + number[-3:]
    assert len(masked) == 11
    assert number[:8] not in masked


def test_mask_identity_number_example() -> None:
    assert mask_identity_number("10000000146") == "********146"
