"""Turning what a person typed, pasted or scanned into the code the service looks up.

The service repairs nothing (a code with dashes is simply *not found*), so the client does it:
people see ``XXXX-XXXX-XX``, phones paste en dashes and non-breaking spaces, keyboards in a
Turkish locale upper-case ``i`` to ``İ``, and a scanned HES QR code carries ``TCKN|CODE``.
What still cannot be a code is refused here, before a request spends the caller's rate limit.
"""

from __future__ import annotations

import re
import unicodedata

from saglik.client.errors import InvalidCode

CODE_LENGTH = 10
_CODE = re.compile(r"[A-Z0-9]{10}")
_TCKN = re.compile(r"[0-9]{11}")
_TURKISH_I = str.maketrans({"İ": "I", "ı": "I"})


def _is_separator(char: str) -> bool:
    # Dash punctuation (hyphen, en/em dash, …), the minus sign, and any white space, including
    # the zero-width and non-breaking kinds that copy-paste brings along.
    return (
        char.isspace()
        or unicodedata.category(char) in {"Pd", "Cf", "Zs"}
        or char in {"\u2212", "_"}
    )


def normalize_code(text: str) -> str:
    """The 10-character upper-case code in ``text``, or :class:`InvalidCode`.

    Accepts ``A1S1-0001-S1``, ``a1s1 0001 s1``, ``A1S10001S1`` and a HES QR payload
    ``12345678901|A1S10001S1``. The message of the refusal never repeats the input, which may be
    a QR payload with a T.C. Kimlik No in it.
    """
    if not isinstance(text, str):
        raise InvalidCode(f"a HES code must be text, not {type(text).__name__}")
    candidate = text
    if "|" in candidate:
        parts = candidate.split("|")
        if len(parts) != 2 or _TCKN.fullmatch(parts[0].strip()) is None:
            raise InvalidCode("not a HES QR payload: expected 11 digits, '|', then the code")
        candidate = parts[1]
    compact = "".join(c for c in candidate if not _is_separator(c))
    folded = compact.translate(_TURKISH_I)
    # Upper-case only ASCII: "ß".upper() is "SS", which could make nine characters look like ten.
    code = folded.upper() if folded.isascii() else folded
    if _CODE.fullmatch(code) is None:
        shown = len(compact)
        raise InvalidCode(
            "not a HES code: expected 10 letters A-Z or digits (XXXX-XXXX-XX), "
            f"got {shown} character{'s' if shown != 1 else ''} after removing dashes and spaces"
            + ("" if folded.isascii() else ", some outside A-Z/0-9")
        )
    return code


def is_code(text: str) -> bool:
    """Whether :func:`normalize_code` would accept ``text``."""
    try:
        normalize_code(text)
    except InvalidCode:
        return False
    return True


def display_code(code: str) -> str:
    """``XXXX-XXXX-XX``, the way people are shown a code (never the way it is sent)."""
    normal = normalize_code(code)
    return f"{normal[0:4]}-{normal[4:8]}-{normal[8:10]}"


__all__ = ["CODE_LENGTH", "display_code", "is_code", "normalize_code"]
