"""Enums that survive values the client does not know yet.

A service adds a status or a code-table row long before every client is upgraded; failing the
whole answer over one unknown value would turn a harmless addition into an outage. Unknown values
become pseudo-members named ``UNKNOWN_<value>`` that compare, hash and serialise like the value.
"""

from __future__ import annotations

import enum
import re
from typing import Any, Self, TypeVar

E = TypeVar("E", bound=enum.Enum)


def _pseudo_member(cls: type[E], value: Any, base: Any, name: str) -> E:
    member: Any = base.__new__(cls, value)
    member._name_ = name
    member._value_ = value
    # Cached so that the same unknown value is the same object (``is`` works, as for members).
    cached: Any = cls._value2member_map_.setdefault(value, member)
    return cached  # type: ignore[no-any-return]


class _Open:
    """The ``known`` test both open enums share."""

    _name_: str

    @property
    def known(self) -> bool:
        """Whether the value is one this client version has a name for."""
        return self._name_ in type(self).__members__  # type: ignore[attr-defined]


class OpenIntEnum(_Open, enum.IntEnum):
    """An ``IntEnum`` whose unknown integers become pseudo-members instead of ``ValueError``."""

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        return _pseudo_member(cls, value, int, f"UNKNOWN_{value}")


_TOKEN = re.compile(r"[A-Z][A-Z0-9_]*")


class OpenStrEnum(_Open, enum.StrEnum):
    """A ``StrEnum`` whose unknown strings become pseudo-members instead of ``ValueError``."""

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if not isinstance(value, str):
            return None
        name = f"UNKNOWN_{value}" if _TOKEN.fullmatch(value) else "UNKNOWN"
        return _pseudo_member(cls, value, str, name)
