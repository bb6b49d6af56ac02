"""Turkish text rules.

Python's ``str.upper`` maps ``i`` to ``I`` and leaves ``ı`` alone, which is wrong for Turkish
(``i`` → ``İ``, ``ı`` → ``I``). Every name that enters the system goes through
:func:`normalize_name` so comparing, slicing, hashing and storing all see one form.
"""

from __future__ import annotations

import unicodedata

_TR_UPPER = str.maketrans({"i": "İ", "ı": "I"})
_TR_LOWER = str.maketrans({"I": "ı", "İ": "i"})


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def tr_upper(text: str) -> str:
    """Turkish upper case of NFC text (``i`` → ``İ``, ``ı`` → ``I``)."""
    return nfc(nfc(text).translate(_TR_UPPER).upper())


def tr_lower(text: str) -> str:
    """Turkish lower case of NFC text (``I`` → ``ı``, ``İ`` → ``i``)."""
    return nfc(nfc(text).translate(_TR_LOWER).lower())


def normalize_name(text: str) -> str:
    """The stored and compared form of a name: NFC, trimmed, single spaces, Turkish upper case."""
    return tr_upper(" ".join(nfc(text).split()))


def normalize_foreign_name(text: str) -> str:
    """A name as a foreign passport writes it: NFC, single spaces, plain (non-Turkish) upper case,
    so ``Schmidt`` is ``SCHMIDT``, never ``SCHMİDT``."""
    return nfc(" ".join(nfc(text).split()).upper())


def mask_name(name: str) -> str:
    """The live service's mask: each word's first two letters then ``****`` (``ÖM**** FA****``).

    Slicing happens after NFC so a precomposed ``Ö`` counts as one letter, never half of one.
    """
    return " ".join(word[:2] + "****" for word in normalize_name(name).split(" ") if word)


def mask_identity_number(identity_number: str) -> str:
    """Eight stars then the last three digits, as the live service shows it."""
    return "********" + identity_number[-3:]
