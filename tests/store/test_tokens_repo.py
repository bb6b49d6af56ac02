"""Operator tokens in the store: a name is refused twice, also when two creations race past the
check (the unique index decides, and the loser gets the same refusal, not a database error)."""

from __future__ import annotations

import secrets
import uuid

import pytest
from sqlalchemy import Engine

from saglik.store import tokens_repo
from saglik.store.accounts_repo import DuplicateError
from tests.conftest import BASE_TIME


def _digest() -> str:
    return secrets.token_hex(32)


def test_a_taken_name_is_refused(store: Engine) -> None:
    name = f"t-{uuid.uuid4().hex[:8]}"
    with store.begin() as conn:
        tokens_repo.add_token(conn, name, _digest(), BASE_TIME)
    with pytest.raises(DuplicateError, match="exists"), store.begin() as conn:
        tokens_repo.add_token(conn, name, _digest(), BASE_TIME)


def test_a_creation_that_raced_past_the_check_is_refused_as_a_duplicate(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"t-{uuid.uuid4().hex[:8]}"
    with store.begin() as conn:
        tokens_repo.add_token(conn, name, _digest(), BASE_TIME)
    # what a concurrent creation sees: the other's row was not there when it looked
    monkeypatch.setattr(tokens_repo, "_name_taken", lambda _conn, _name: False)
    digest = _digest()
    with pytest.raises(DuplicateError, match="exists") as refused, store.begin() as conn:
        tokens_repo.add_token(conn, name, digest, BASE_TIME)
    assert digest not in str(refused.value)
    assert refused.value.__cause__ is None
    assert refused.value.__suppress_context__
    with store.connect() as conn:
        assert [t.name for t in tokens_repo.list_tokens(conn)].count(name) == 1
