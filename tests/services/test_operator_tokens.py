"""Operator API tokens: shown once, kept only as a digest, refused once revoked."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from sqlalchemy import Engine, select

from saglik.domain.clock import ManualClock
from saglik.domain.errors import Conflict, InvalidInput, NotFound
from saglik.services.operator_tokens import OperatorTokens
from saglik.store.schema import operator_changes, operator_tokens
from tests.change_support import change_log


@pytest.fixture
def tokens(store: Engine, clock: ManualClock) -> OperatorTokens:
    return OperatorTokens(store, clock, change_log(store, clock))


def _unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def test_a_created_token_identifies_its_holder(tokens: OperatorTokens) -> None:
    name = _unique("ops")
    token = tokens.create(name)
    assert token.startswith("sgo_")
    assert len(token) > 40
    assert tokens.holder(token) == name


def test_only_the_digest_is_stored(store: Engine, tokens: OperatorTokens) -> None:
    name = _unique("ops")
    token = tokens.create(name)
    with store.connect() as conn:
        stored = conn.execute(
            select(operator_tokens.c.token_hash).where(operator_tokens.c.name == name)
        ).scalar_one()
        logged = conn.execute(select(operator_changes)).all()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert token not in " ".join(str(v) for row in logged for v in row)


def test_a_revoked_token_is_refused(tokens: OperatorTokens) -> None:
    name = _unique("ops")
    token = tokens.create(name)
    tokens.revoke(name)
    assert tokens.holder(token) is None
    assert [t.revoked_at is not None for t in tokens.list() if t.name == name] == [True]
    with pytest.raises(NotFound):
        tokens.revoke(name)


@pytest.mark.parametrize("presented", ["", "sgo_", "sgo_wrong", "Bearer x", "sgo_" + "a" * 300])
def test_unknown_or_malformed_tokens_identify_nobody(
    tokens: OperatorTokens, presented: str
) -> None:
    tokens.create(_unique("ops"))
    assert tokens.holder(presented) is None


def test_names_are_unique_and_plain(tokens: OperatorTokens) -> None:
    name = _unique("ops")
    tokens.create(name)
    with pytest.raises(Conflict):
        tokens.create(name)
    for bad in ("", "two words", "x" * 101, "a/b"):
        with pytest.raises(InvalidInput):
            tokens.create(bad)
