"""Changing a service user after creation: only what is given changes, every worker's cache is
told at once (the credentials version moves), and the change log shows before/after without
any password or hash."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select

from saglik.domain.errors import NotFound
from saglik.services.accounts import AccountService, InvalidAccountError
from saglik.store import state
from saglik.store.schema import operator_changes
from tests.conftest import Credential

MakeUser = Callable[..., Credential]
ANKARA, CANKAYA = 6, 1231


def _version(store: Engine) -> int:
    with store.connect() as conn:
        return state.versions(conn).credentials


def test_an_update_changes_only_what_is_given(
    accounts: AccountService, make_user: MakeUser
) -> None:
    user = make_user(env="live", methods=("check-hes-codes",), rate_limit="10/second")
    after = accounts.update_user("live", user.username, ip_allowlist=["10.0.0.0/8"])
    assert after.ip_allowlist == ("10.0.0.0/8",)
    assert after.methods == frozenset({"check-hes-codes"})
    assert after.rate_limit == "10/second"
    assert after.active is True


def test_rights_scope_limit_and_active_can_all_change(
    accounts: AccountService, make_user: MakeUser
) -> None:
    user = make_user(env="live", methods=("check-hes-codes",))
    after = accounts.update_user(
        "live",
        user.username,
        methods=["GetOlumByTcKimlikNoFull"],
        province_code=ANKARA,
        district_code=CANKAYA,
        rate_limit=None,
        active=False,
    )
    assert after.methods == frozenset({"GetOlumByTcKimlikNoFull"})
    assert (after.province_code, after.district_code) == (ANKARA, CANKAYA)
    assert after.rate_limit is None
    assert after.active is False


def test_a_new_province_clears_the_old_district(
    accounts: AccountService, make_user: MakeUser
) -> None:
    user = make_user(env="live", province_code=ANKARA, district_code=CANKAYA)
    after = accounts.update_user("live", user.username, province_code=34)
    assert (after.province_code, after.district_code) == (34, None)


def test_an_update_moves_the_credentials_version(
    store: Engine, accounts: AccountService, make_user: MakeUser
) -> None:
    user = make_user(env="live")
    before = _version(store)
    accounts.update_user("live", user.username, active=False)
    assert _version(store) == before + 1


def test_invalid_updates_are_refused_and_change_nothing(
    accounts: AccountService, make_user: MakeUser
) -> None:
    user = make_user(env="live", methods=("check-hes-codes",))
    for bad in (
        {"methods": ["no-such-method"]},
        {"ip_allowlist": ["not a network"]},
        {"rate_limit": "often"},
        {"district_code": 1231, "province_code": 34},
    ):
        with pytest.raises(InvalidAccountError):
            accounts.update_user("live", user.username, **bad)  # type: ignore[arg-type]
    assert accounts.user("live", user.username).methods == frozenset({"check-hes-codes"})


def test_updating_an_unknown_user_is_not_found(accounts: AccountService) -> None:
    with pytest.raises(NotFound):
        accounts.update_user("live", "nobody-here", active=False)
    with pytest.raises(NotFound):
        accounts.user("live", "nobody-here")


def test_the_change_log_shows_before_and_after_and_never_a_secret(
    store: Engine, accounts: AccountService, make_user: MakeUser
) -> None:
    user = make_user(env="live", methods=("check-hes-codes",))
    accounts.update_user("live", user.username, methods=["check-hes-code-plus"], active=False)
    accounts.reset_password(user.username, "live")
    with store.connect() as conn:
        rows = conn.execute(
            select(operator_changes)
            .where(operator_changes.c.target == user.username)
            .order_by(operator_changes.c.id)
        ).all()
    assert [r.action for r in rows] == ["add", "update", "reset-password"]
    update = rows[1]
    assert json.loads(update.before) == {"active": True, "methods": ["check-hes-codes"]}
    assert json.loads(update.after) == {"active": False, "methods": ["check-hes-code-plus"]}
    text = " ".join(str(v) for r in rows for v in r)
    assert user.password not in text
    assert "argon2" not in text


def test_institutions_are_listed_with_their_user_counts(
    accounts: AccountService, make_user: MakeUser
) -> None:
    accounts.add_institution("Kurum Listesi Deneme")
    user = make_user(env="live")
    holder = accounts.user("live", user.username).institution_name
    listed = {name: users for _id, name, _at, users in accounts.list_institutions()}
    assert listed["Kurum Listesi Deneme"] == 0
    assert listed[holder] == 1
