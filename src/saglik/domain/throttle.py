"""How wrong passwords slow guessing (README "Guessing"): counted per username and per client
address, each count locking its key for an exponentially growing, capped time.

A lock never lasts past ``MAX_LOCK`` after the last failure, so no address — in particular one in
the user's allow-list — is ever locked out for good; a count forgets failures older than
``WINDOW``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

FREE_FAILURES = 5
"""Failures within ``WINDOW`` that lock nothing: a mistyped password or a rotation in progress."""
FIRST_LOCK = timedelta(seconds=1)
MAX_LOCK = timedelta(minutes=15)
WINDOW = timedelta(hours=1)


def user_key(env: str, username: str) -> str:
    return f"user:{env}:{username}"


def address_key(client_ip: str | None) -> str:
    return f"addr:{client_ip or '-'}"


def lock_for(failures: int) -> timedelta:
    """The lock after the ``failures``-th failure in a row: none for the first FREE_FAILURES,
    then 1 s, 2 s, 4 s … up to MAX_LOCK."""
    beyond = failures - FREE_FAILURES
    if beyond <= 0:
        return timedelta(0)
    return min(MAX_LOCK, FIRST_LOCK * (1 << min(beyond - 1, 30)))


def counted_failures(previous: int, last_failure_at: datetime | None, now: datetime) -> int:
    """The count after one more failure now: earlier ones older than WINDOW are forgotten."""
    if last_failure_at is None or now - last_failure_at > WINDOW:
        return 1
    return previous + 1


@dataclass(frozen=True, slots=True)
class Keys:
    """The counts one authentication attempt touches."""

    user: str
    address: str
    user_lock_applies: bool
    """False for a caller inside the user's own allow-list: failures elsewhere (someone guessing
    this username from another address) must not lock out the institution's own hosts, which
    are held back only by their address's own count."""

    def checked(self) -> tuple[str, ...]:
        return (self.user, self.address) if self.user_lock_applies else (self.address,)
