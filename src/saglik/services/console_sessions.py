"""Signing in to the operator console: an operator token is exchanged for a session.

The session, not the token, is what the browser holds afterwards: the token is typed once and
never stored in the browser. A session ends when the operator signs out, when it has been idle for
``idle``, when it is older than ``lifetime``, and when the token that opened it is revoked.

Wrong tokens count against the client address in the same guessing throttle as wrong G2G
passwords (``domain/throttle.py``): one counter per address for every secret guessed here, which
``saglik user unlock --address`` clears.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from saglik.domain import throttle
from saglik.domain.clock import Clock
from saglik.services.changes import Actor, ChangeLog
from saglik.services.operator_tokens import OperatorTokens
from saglik.services.throttle import GuessThrottle
from saglik.store import console_sessions_repo as repo

TOUCH_EVERY = timedelta(minutes=1)
"""A session's last use is written at most this often: a page and its partial updates make one
write, not one each, and the idle timeout is exact to within this."""


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    operator: str
    """The name of the operator token that opened it: the actor of every change made in it."""
    csrf: str


@dataclass(frozen=True, slots=True)
class Opened:
    session_id: str
    """The cookie's value; only its digest is kept."""
    session: ConsoleSession


class SignInLockedError(Exception):
    """Too many wrong tokens from this address: nothing is checked until ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__("too many failed sign-ins from this address")
        self.until = until


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _keys(client_ip: str | None) -> throttle.Keys:
    address = throttle.address_key(client_ip)
    return throttle.Keys(user=address, address=address, user_lock_applies=False)


class ConsoleSessions:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        tokens: OperatorTokens,
        guesses: GuessThrottle,
        change_log: Callable[[Actor], ChangeLog],
        *,
        idle: timedelta,
        lifetime: timedelta,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._tokens = tokens
        self._guesses = guesses
        self._change_log = change_log
        self.idle = idle
        self.lifetime = lifetime

    def sign_in(self, token: str, client_ip: str | None) -> Opened | None:
        """A new session for a valid token; None for any other (counted as a guess). Raises
        ``SignInLockedError`` while the address is locked, before the token is looked at."""
        keys = _keys(client_ip)
        locked = self._guesses.stored_lock(keys)
        if locked is not None:
            raise SignInLockedError(locked)
        name = self._tokens.holder(token.strip())
        if name is None:
            self._guesses.failed(keys)
            return None
        session_id = secrets.token_urlsafe(32)
        session = ConsoleSession(operator=name, csrf=secrets.token_urlsafe(32))
        now = self._clock.now()
        with self._engine.begin() as conn:
            repo.remove_idle(conn, now - self.idle, now - self.lifetime)
            repo.add(conn, _digest(session_id), repo.token_id(conn, name), session.csrf, now)
            self._change_log(Actor(f"token:{name}")).record(
                conn, entity="console_session", action="sign-in"
            )
        return Opened(session_id, session)

    def current(self, session_id: str) -> ConsoleSession | None:
        """The live session the cookie names, its last use noted; None once it has ended."""
        if not session_id or len(session_id) > 100:
            return None
        id_hash = _digest(session_id)
        now = self._clock.now()
        with self._engine.connect() as conn:
            found = repo.live(conn, id_hash)
        if found is None:
            return None
        if now - found.last_seen_at >= self.idle or now - found.created_at >= self.lifetime:
            with self._engine.begin() as conn:
                repo.remove(conn, id_hash)
            return None
        if now - found.last_seen_at >= TOUCH_EVERY:
            with self._engine.begin() as conn:
                repo.touch(conn, id_hash, now)
        return ConsoleSession(operator=found.token_name, csrf=found.csrf)

    def sign_out(self, session_id: str, session: ConsoleSession) -> None:
        with self._engine.begin() as conn:
            if repo.remove(conn, _digest(session_id)):
                self._change_log(Actor(f"token:{session.operator}")).record(
                    conn, entity="console_session", action="sign-out"
                )
