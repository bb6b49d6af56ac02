"""``saglik serve`` as a real process on a loopback port: first start, restarts, shutdown, logs.

Every process is bounded in time and killed (with its workers) in a ``finally``.
"""

from __future__ import annotations

import base64
import json
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from saglik.services.fixtures import hes_fixtures
from saglik.services.refdata import read_districts
from saglik.store import migrate
from tests.cli.conftest import SAGLIK, Store, run_saglik
from tests.ports import free_port
from tests.process_support import Served, spawn
from tests.redis_support import redis_url

START_TIMEOUT = 60.0
HES_TEST = "/services/g2g/test/saglik/hes"
FIXTURE_CODES = {fx.category: fx.code for fx in hes_fixtures()}
DISTRICTS = {code: name for code, _plate, name in read_districts()}
RISKSIZ = FIXTURE_CODES["Risksiz"]


def _spawn(store: Store, cwd: Path, *args: str, env: dict[str, str] | None = None) -> Served:
    port = free_port()
    command = [SAGLIK, "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    return spawn(command, port=port, env={"SAGLIK_DATABASE_URL": store.url, **(env or {})}, cwd=cwd)


def _wait_ready(served: Served, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    with served.client(timeout=2) as client:
        while time.monotonic() < deadline:
            if served.proc.poll() is not None:
                served.join_readers()
                pytest.fail(f"saglik serve exited early ({served.proc.returncode}):\n{served.err}")
            try:
                if client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    pytest.fail(f"saglik serve was not ready within {timeout} s:\n{served.err}")


@pytest.fixture
def serve(store_file: Store, tmp_path: Path) -> Iterator:
    """``serve(*args)`` starts ``saglik serve`` on the test's store and waits until it is ready."""
    started: list[Served] = []

    def start(*args: str, wait: bool = True, env: dict[str, str] | None = None) -> Served:
        served = _spawn(store_file, tmp_path, *args, env=env)
        started.append(served)
        if wait:
            _wait_ready(served)
        return served

    try:
        yield start
    finally:
        for served in started:
            served.kill()


def _credentials(stdout: str) -> tuple[str, str]:
    assert stdout.count("username: sandbox") == 1, stdout
    passwords = re.findall(r"^\s*password: (\S+)\s*$", stdout, re.MULTILINE)
    assert len(passwords) == 1, stdout
    password = passwords[0]
    assert len(password) >= 20
    assert stdout.count(password) == 1, "printed once"
    return "sandbox", password


def _wait_for_stdout(served: Served, needle: str, timeout: float = 10) -> None:
    """The banner is printed before the server starts; it must not sit in a buffer."""
    deadline = time.monotonic() + timeout
    while needle not in served.out:
        if time.monotonic() > deadline:
            pytest.fail(f"{needle!r} never reached stdout: {served.out!r}")
        time.sleep(0.05)


def _wait_for_log(served: Served, msg: str, count: int, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while served.err.count(f'"msg": "{msg}"') < count:
        if time.monotonic() > deadline or served.proc.poll() is not None:
            pytest.fail(f"{msg!r} not logged {count} times:\n{served.err}")
        time.sleep(0.05)


def _json_lines(stderr: str) -> list[dict]:
    entries = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"a log line that is not JSON: {line!r}")
        assert {"ts", "level", "logger", "msg"} <= entry.keys(), entry
        entries.append(entry)
    return entries


def _assert_nothing_personal(stderr: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in stderr, f"{secret!r} reached the log"
    for fx in hes_fixtures():
        assert fx.identity_number not in stderr
        assert fx.code not in stderr
        assert fx.code.lower() not in stderr


def test_first_start_serves_the_sandbox_and_stops_cleanly(
    serve, store_file: Store, tmp_path: Path
) -> None:
    # What an integrator does: take a code from the table, then query it.
    table = run_saglik(["hes", "test-codes", "--json"], env_url=store_file.url, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    risksiz = {row["category"]: row["hes_code"] for row in json.loads(table.stdout)}["Risksiz"]

    served = serve()
    _wait_for_stdout(served, "username: sandbox")
    username, password = _credentials(served.out)
    assert f"listening on {served.base_url}  (docs: {served.base_url}/docs)\n" in served.out
    assert f"console: {served.base_url}/console  (token: saglik token create NAME)\n" in served.out
    engine = store_file.engine()
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()

    with served.client(auth=(username, password)) as client:
        reply = client.post(f"{HES_TEST}/check-employee-hes-code", json={"hes_code": risksiz})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["current_health_status"] == "RISKLESS"
        assert list(body) == [
            "expiration_date",
            "current_health_status",
            "masked_identity_number",
            "masked_firstname",
            "masked_lastname",
        ]

        plus = client.post(
            f"{HES_TEST}/check-hes-code-plus",
            json={"hes_code": FIXTURE_CODES["Aşı & Bağışıklık & PCR Test Sonucu"]},
        )
        assert plus.status_code == 200, plus.text
        assert plus.json()["is_vaccinated"] is True
        assert plus.json()["is_immune"] is True

        risky = client.post(
            f"{HES_TEST}/check-employee-hes-code", json={"hes_code": FIXTURE_CODES["Riskli"]}
        )
        assert risky.json()["current_health_status"] == "RISKY"

        missing = client.post(
            f"{HES_TEST}/check-employee-hes-code", json={"hes_code": "ZQ9Z123456"}
        )
        assert missing.status_code == 400
        assert missing.json()["errorKey"] == "hescodenotfound"

        # District names are there from the first start: the districts ship with saglik.
        names = {}
        for form_no, referans_no in (("9000000011", "TSTA7K2M"), ("9000000055", "TSTE2H7J")):
            found = client.get(
                "/services/g2g/test/saglik/OBS/GetOlumByFormNoBasic",
                params={"FormNo": form_no, "ReferansNo": referans_no},
            ).json()
            assert found["State"] == 1, found
            names[form_no] = (found["Result"]["OlumIlceAdi"], found["Result"]["IkametIlceAdi"])
        assert names == {
            "9000000011": ("Çankaya", "Çankaya"),
            "9000000055": (DISTRICTS[2039], DISTRICTS[1104]),
        }
        assert DISTRICTS[1104] == "Seyhan"

        # The sandbox user is a test-environment user: never a live one.
        live = client.post(
            "/services/g2g/saglik/hes/check-employee-hes-code", json={"hes_code": RISKSIZ}
        )
        assert live.status_code == 403  # an unknown user there

    wrong = httpx.post(
        f"{served.base_url}{HES_TEST}/check-employee-hes-code",
        json={"hes_code": RISKSIZ},
        auth=(username, password + "x"),
        timeout=10,
    )
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")

    with served.client() as client:
        health = client.get("/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})

    assert served.stop(signal.SIGTERM) == 0
    entries = _json_lines(served.err)
    messages = [e["msg"] for e in entries]
    assert "shut down cleanly" in messages
    assert any(m.startswith("empty store: migrating") for m in messages)
    assert any(e["logger"] == "saglik.access" and e.get("status") == 200 for e in entries)
    assert "Traceback" not in served.err
    basic = base64.b64encode(f"{username}:{password}".encode()).decode()
    _assert_nothing_personal(served.err, password, basic, "ZQ9Z123456")
    assert password not in served.out.replace(f"password: {password}", "")


def test_a_second_start_prints_no_password_and_the_first_still_works(
    serve, store_file: Store
) -> None:
    first = serve()
    _wait_for_stdout(first, "username: sandbox")
    username, password = _credentials(first.out)
    assert first.stop() == 0

    second = serve()
    _wait_for_stdout(second, "listening on")
    assert "password" not in second.out
    assert "username" not in second.out
    assert password not in second.out + second.err

    with second.client(auth=(username, password)) as client:
        reply = client.post(f"{HES_TEST}/check-employee-hes-code", json={"hes_code": RISKSIZ})
        assert reply.status_code == 200, reply.text
    assert second.stop() == 0
    assert "empty store" not in second.err
    assert "shut down cleanly" in second.err


def test_sigint_also_stops_cleanly(serve) -> None:
    served = serve()
    assert served.stop(signal.SIGINT) == 0
    assert "shut down cleanly" in served.err


def test_a_store_added_to_by_the_cli_is_served(serve, store_file: Store, tmp_path: Path) -> None:
    """``saglik user add`` before the first start: the operator's own test user, no sandbox one."""

    def saglik(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = run_saglik(args, env_url=store_file.url, cwd=tmp_path, input=stdin)
        assert done.returncode == 0, done.stderr
        return done

    saglik("institution", "add", "Kurum")
    secret = "operator-chosen-secret"
    saglik(
        "user", "add", "kurum-test", "--institution", "Kurum", "--env", "test",
        "--method", "check-employee-hes-code", "--password-stdin", stdin=secret + "\n",
    )  # fmt: skip

    served = serve()
    _wait_for_stdout(served, "listening on")
    assert "password" not in served.out
    with served.client(auth=("kurum-test", secret)) as client:
        ok = client.post(f"{HES_TEST}/check-employee-hes-code", json={"hes_code": RISKSIZ})
        assert ok.status_code == 200, ok.text
        denied = client.post(f"{HES_TEST}/check-hes-code-plus", json={"hes_code": RISKSIZ})
        assert denied.status_code == 403
    assert served.stop() == 0
    _assert_nothing_personal(served.err, secret)


@pytest.mark.parametrize("revision", ["0000behind", "ffffffffffff"])
def test_a_store_written_by_a_newer_version_is_refused(
    store_file: Store, tmp_path: Path, revision: str
) -> None:
    engine = store_file.engine()
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    finally:
        engine.dispose()

    done = run_saglik(
        ["serve", "--port", str(free_port())], env_url=store_file.url, cwd=tmp_path, timeout=30
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "a newer saglik wrote it" in done.stderr
    assert revision in done.stderr
    assert "listening" not in done.stdout
    assert "password" not in done.stdout


def test_a_port_in_use_fails_without_a_traceback(store_file: Store, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_saglik(
            ["serve", "--port", str(port)], env_url=store_file.url, cwd=tmp_path, timeout=60
        )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "address already in use" in done.stderr.lower()


def test_many_workers_without_a_shared_rate_limit_storage_are_refused(serve) -> None:
    """Each worker would count a user's limit on its own: a 10/minute user would get 20."""
    served = serve("--workers", "2", wait=False)
    assert served.proc.wait(timeout=START_TIMEOUT) == 2
    served.join_readers()
    assert "SAGLIK_RATE_LIMIT_STORAGE=redis://" in served.err
    assert "Traceback" not in served.err
    assert "username:" not in served.out  # refused before the store was touched


def test_two_workers_answer_and_stop(serve) -> None:
    served = serve("--workers", "2", env={"SAGLIK_RATE_LIMIT_STORAGE": redis_url()})
    _wait_for_stdout(served, "username: sandbox")
    for worker in (1, 2):  # both started, their lifespan start-up done, not just one
        _wait_for_log(served, f"Started worker-{worker}", 1)
    username, password = _credentials(served.out)
    with served.client(auth=(username, password)) as client:
        for code in (RISKSIZ, FIXTURE_CODES["Aşı"], FIXTURE_CODES["Riskli"]) * 4:
            reply = client.post(f"{HES_TEST}/check-employee-hes-code", json={"hes_code": code})
            assert reply.status_code == 200, reply.text
        bulk = client.post(
            f"{HES_TEST}/check-hes-codes", json=[{"hes_code": c} for c in FIXTURE_CODES.values()]
        )
        assert bulk.status_code == 200, bulk.text
        assert set(bulk.json()["success_map"]) | set(bulk.json()["unsuccess_map"]) == set(
            FIXTURE_CODES.values()
        )
    assert served.stop(signal.SIGTERM, timeout=15) == 0
    assert served.err.count("shut down cleanly") == 2, served.err
    _json_lines(served.err)
    _assert_nothing_personal(served.err, password)
