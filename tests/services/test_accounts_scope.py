"""ÖBS scope on service users (contract §5.3): a plate code 1–81, optionally one of that province's
districts; anything else is refused before the user is stored."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine

from saglik.services.accounts import AccountService, InvalidAccountError
from saglik.store import accounts_repo
from saglik.store.accounts_repo import UserRecord


@pytest.fixture
def institution(accounts: AccountService) -> str:
    name = f"Kurum {uuid.uuid4().hex[:12]}"
    accounts.add_institution(name)
    return name


def add(accounts: AccountService, institution: str, **scope: Any) -> str:
    username = f"u{uuid.uuid4().hex[:12]}"
    accounts.add_user(
        username=username,
        institution=institution,
        env="test",
        methods=[],
        **scope,
    )
    return username


def find(store: Engine, username: str) -> UserRecord | None:
    with store.connect() as conn:
        return accounts_repo.find_user(conn, "test", username)


@pytest.mark.parametrize(
    ("province", "district"),
    [(None, None), (6, None), (1, None), (81, None), (6, 1231), (34, 1421), (1, 1104)],
)
def test_a_valid_scope_is_stored(
    accounts: AccountService, institution: str, store: Engine, province, district
) -> None:
    username = add(accounts, institution, province_code=province, district_code=district)
    user = find(store, username)
    assert user is not None
    assert (user.province_code, user.district_code) == (province, district)


@pytest.mark.parametrize(
    ("province", "district", "message"),
    [
        (None, 1231, "a district scope needs its province (--il)"),
        (0, None, "province must be a plate code from 1 to 81"),
        (82, None, "province must be a plate code from 1 to 81"),
        (-6, None, "province must be a plate code from 1 to 81"),
        (0, 1231, "province must be a plate code from 1 to 81"),
        (6, 999_999, "unknown district code"),
        (34, 1231, "district 1231 is not in province 34"),
        (6, 1421, "district 1421 is not in province 6"),
    ],
)
def test_an_invalid_scope_is_refused_and_nothing_is_stored(
    accounts: AccountService, institution: str, store: Engine, province, district, message: str
) -> None:
    username = f"u{uuid.uuid4().hex[:12]}"
    with pytest.raises(InvalidAccountError) as caught:
        accounts.add_user(
            username=username,
            institution=institution,
            env="test",
            methods=[],
            province_code=province,
            district_code=district,
        )
    assert message in str(caught.value)
    assert find(store, username) is None


def test_an_unknown_district_points_at_the_import_command(
    accounts: AccountService, institution: str
) -> None:
    with pytest.raises(InvalidAccountError, match="saglik refdata import"):
        add(accounts, institution, province_code=6, district_code=1)
