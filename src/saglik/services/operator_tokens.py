"""Bearer tokens for the operator API: created from the command line, shown once, stored as a
SHA-256 digest. A token carries 256 random bits, so a fast digest is enough (a slow password hash
protects low-entropy secrets) and lets every request be checked with one indexed lookup."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Engine

from saglik.domain.clock import Clock
from saglik.domain.errors import InvalidInput
from saglik.services.changes import ChangeLog
from saglik.store import tokens_repo
from saglik.store.tokens_repo import TokenRecord

PREFIX = "sgo_"
"""Makes a leaked token recognisable to secret scanners and to people."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class OperatorTokens:
    def __init__(self, engine: Engine, clock: Clock, changes: ChangeLog) -> None:
        self._engine = engine
        self._clock = clock
        self._changes = changes

    def create(self, name: str) -> str:
        """Returns the token; only its digest is kept, so it cannot be shown again."""
        name = name.strip()
        if not name or len(name) > 100 or not all(c.isalnum() or c in "-_." for c in name):
            raise InvalidInput("token name must be 1-100 letters, digits, '-', '_' or '.'")
        token = PREFIX + secrets.token_urlsafe(32)
        with self._engine.begin() as conn:
            tokens_repo.add_token(conn, name, _digest(token), self._clock.now())
            self._changes.record(conn, entity="operator_token", action="create", target=name)
        return token

    def revoke(self, name: str) -> None:
        with self._engine.begin() as conn:
            tokens_repo.revoke(conn, name, self._clock.now())
            self._changes.record(conn, entity="operator_token", action="revoke", target=name)

    def list(self) -> list[TokenRecord]:
        with self._engine.connect() as conn:
            return tokens_repo.list_tokens(conn)

    def holder(self, token: str) -> str | None:
        """The name of the active token presented, or None (unknown, revoked, malformed)."""
        if not token.startswith(PREFIX) or len(token) > 200:
            return None
        with self._engine.connect() as conn:
            return tokens_repo.active_name(conn, _digest(token))
