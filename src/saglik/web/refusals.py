"""How the operator surfaces (the operator API, the console) answer a refusal of the services:
one mapping from what the services raise to a status and a message fit to show."""

from __future__ import annotations

from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from saglik.domain.errors import Conflict, InvalidInput, NotFound

STORE_UNAVAILABLE = 503


def refusal(exc: Exception) -> tuple[int, str] | None:
    """(status, message) for a refusal; None for anything else (a defect, answered 500).

    InvalidInput 422, NotFound 404, Conflict 409, whose messages name what to fix and never a
    value sent; two operators writing the same key at once (the loser's unique check passed) 409;
    a value the store cannot hold 422; a store that cannot be reached 503, nothing changed."""
    if isinstance(exc, InvalidInput):
        return 422, str(exc)
    if isinstance(exc, NotFound):
        return 404, str(exc)
    if isinstance(exc, Conflict):
        return 409, str(exc)
    if isinstance(exc, IntegrityError):
        return 409, "the change clashes with a concurrent one; read and retry"
    if isinstance(exc, DataError):
        return 422, "a value does not fit what the store can hold"
    if isinstance(exc, OperationalError):
        return STORE_UNAVAILABLE, "the store is unavailable; retry later"
    return None
