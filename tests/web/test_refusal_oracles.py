"""No refusal tells a right password from a wrong one (issue 11, F3 and F4; README "Refusals").

For each refusal decided before the password — an address outside the allow-list, a method not
granted, a disabled user, credentials of the other environment — a right password, a wrong one
and an unknown user get the same status, the same body, and the same time (medians within 2×),
over a real socket. The user's hash is made at the production cost (~100 ms here) so that a
path that checked the password would show.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher, Type

from saglik.services.passwords import HashCost
from saglik.store import state
from saglik.store.schema import service_users
from tests.conftest import Credential, LiveServer
from tests.web.conftest import path
from tests.web.obs_helpers import obs_get

EMPLOYEE = "check-employee-hes-code"
DATES = "GetTumOlumlerByDate"
SAMPLES = 15
PRODUCTION = HashCost()


def _production_hash(server: LiveServer, user: Credential, **changes: Any) -> None:
    """The user's password hashed at the production cost, plus any change to its row."""
    hasher = PasswordHasher(
        time_cost=PRODUCTION.time_cost,
        memory_cost=PRODUCTION.memory_kib,
        parallelism=PRODUCTION.parallelism,
        type=Type.ID,
    )
    with server.engine.begin() as conn:
        conn.execute(
            service_users.update()
            .where(service_users.c.env == user.env, service_users.c.username == user.username)
            .values(password_hash=hasher.hash(user.password), **changes)
        )
        state.bump_credentials_version(conn)


Send = Callable[[httpx.Client, tuple[str, str]], httpx.Response]


def _hes(env: str) -> Send:
    return lambda http, auth: http.post(path(env, EMPLOYEE), json={"hes_code": "X"}, auth=auth)


def _obs(env: str) -> Send:
    return lambda http, auth: obs_get(http, env, DATES, auth, {"Tarih": "2025-03-14"})


def _refused(
    server: LiveServer, http: httpx.Client, make_user: Callable[..., Credential], reason: str
) -> tuple[Credential, str]:
    """A user refused for ``reason`` and the environment to call it in."""
    if reason == "address":
        user = make_user(env="live", ip_allowlist=["203.0.113.0/24"])
    elif reason == "method":
        user = make_user(env="live", methods=("check-hes-codes",))
    else:
        user = make_user(env="live")
    _production_hash(server, user, **({"active": False} if reason == "disabled" else {}))
    return user, "test" if reason == "other-environment" else "live"


def _timed(send: Send, http: httpx.Client, auth: tuple[str, str]) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = send(http, auth)
    return time.perf_counter() - started, response


REASONS = ["address", "method", "disabled", "other-environment"]


@pytest.mark.parametrize("service", ["hes", "obs"])
@pytest.mark.parametrize("reason", REASONS)
def test_a_refusal_before_the_password_is_the_same_for_right_wrong_and_unknown(
    server: LiveServer,
    http: httpx.Client,
    make_user: Callable[..., Credential],
    reason: str,
    service: str,
) -> None:
    user, env = _refused(server, http, make_user, reason)
    send = (_hes if service == "hes" else _obs)(env)
    cases = {
        "right": user.auth,
        "wrong": (user.username, user.password[:-1] + "!"),
        "unknown": (f"nobody-{user.username}", user.password),
    }
    for auth in cases.values():  # warm: a first right password would fill a cache
        send(http, auth)
    times: dict[str, list[float]] = {case: [] for case in cases}
    answers: dict[str, set[tuple[int, bytes]]] = {case: set() for case in cases}
    for _ in range(SAMPLES):  # interleaved, so load on the machine falls on every case alike
        for case, auth in cases.items():
            took, response = _timed(send, http, auth)
            times[case].append(took)
            answers[case].add((response.status_code, response.content))
    assert answers["right"] == answers["wrong"] == answers["unknown"]
    (status, _body), *others = answers["right"]
    assert not others
    assert status == (403 if service == "hes" else 500)
    medians = {case: statistics.median(t) for case, t in times.items()}
    assert max(medians.values()) < 2 * min(medians.values()), medians


def test_a_refusal_before_the_password_never_checks_the_password(
    server: LiveServer, http: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    """At the production cost a check takes ~100 ms: none of these may take that long."""
    user, env = _refused(server, http, make_user, "address")
    took = [_timed(_hes(env), http, (user.username, f"guess-{n}"))[0] for n in range(5)]
    assert statistics.median(took) < 0.05, took
