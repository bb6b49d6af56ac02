"""HES code shape.

The service does not repair what clients send: a code with dashes, spaces or any other shape, an
empty or blank one included, is simply not found (contract §4.3). Only ASCII lower case is folded
to upper case before lookup.
"""

from __future__ import annotations

import re
import secrets
import string

CODE_LENGTH = 10
_LOOKUP_SHAPE = re.compile(r"[A-Za-z0-9]{10}")
_GENERATED_SHAPE = re.compile(r"[A-Z][0-9][A-Z][0-9]{7}")


def lookup_key(sent: str) -> str | None:
    """The form a sent code is looked up by, or ``None`` if it cannot be a code at all."""
    if _LOOKUP_SHAPE.fullmatch(sent) is None:
        return None
    return sent.upper()


def is_generated_shape(code: str) -> bool:
    return _GENERATED_SHAPE.fullmatch(code) is not None


def generate_code() -> str:
    """Letter, digit, letter, seven digits (the observed shape), from the OS CSPRNG."""
    letters = string.ascii_uppercase
    return (
        secrets.choice(letters)
        + secrets.choice(string.digits)
        + secrets.choice(letters)
        + "".join(secrets.choice(string.digits) for _ in range(7))
    )


def display(code: str) -> str:
    """``XXXX-XXXX-XX``, the way a person is shown the code (never the way it is sent)."""
    return f"{code[0:4]}-{code[4:8]}-{code[8:10]}"
