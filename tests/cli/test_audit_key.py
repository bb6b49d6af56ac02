"""``saglik audit-key`` and the key's life outside the store, with the real executable: the first
start creates ``saglik.db.key`` (0600) beside the store, a copy of the store without it cannot
start and makes no key of its own, and a rotation keeps the data subject's view whole."""

from __future__ import annotations

import json
import sqlite3
import stat
import uuid
from pathlib import Path

import pytest

from saglik.domain.pseudonym import parse_ring
from saglik.services.fixtures import hes_fixtures
from tests.cli.conftest import Invoke, Store, run_saglik
from tests.cli.test_serve import _credentials, _wait_for_stdout, serve  # noqa: F401 (fixture)
from tests.pg_support import pg_database
from tests.ports import free_port

FIXTURE = next(fx for fx in hes_fixtures() if fx.category == "Risksiz")
CHECK = "/services/g2g/test/saglik/hes/check-employee-hes-code"


@pytest.fixture(autouse=True)
def _as_the_readme_runs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key setting: an SQLite store's key is the file beside it (the suite's other stores
    share SAGLIK_AUDIT_KEY)."""
    monkeypatch.delenv("SAGLIK_AUDIT_KEY", raising=False)


def key_file(store: Store) -> Path:
    return store.path.with_name("saglik.db.key")


def store_bytes(path: Path) -> bytes:
    """The store's files as they are on disk (the database and any WAL beside it)."""
    return b"".join(p.read_bytes() for p in path.parent.glob(f"{path.name}*") if p.suffix != ".key")


def copy_store(store: Store, to: Path) -> Path:
    """A consistent copy of the SQLite store (what a backup or ``scp`` of the file gives)."""
    to.mkdir()
    copy = to / "saglik.db"
    with sqlite3.connect(store.path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return copy


def test_the_first_start_creates_the_key_file_beside_the_store_for_its_owner_only(
    serve,  # noqa: F811 - the fixture imported above
    store_file: Store,
    tmp_path: Path,
) -> None:
    served = serve()
    _wait_for_stdout(served, "listening on")
    assert served.stop() == 0
    path = key_file(store_file)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = parse_ring(path.read_text())
    assert [k.id for k in ring.keys] == ["k1"]
    for key in ring.keys:
        assert key.secret not in store_bytes(store_file.path)
        assert key.secret.hex().encode() not in store_bytes(store_file.path)
        assert key.secret.hex() not in served.out + served.err

    shown = run_saglik(["audit-key", "show", "--json"], env_url=store_file.url, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    listed = json.loads(shown.stdout)
    assert listed["source"] == f"the audit key file {path}"
    assert listed["keys"] == [
        {"id": "k1", "fingerprint": ring.current.fingerprint, "current": True, "used": True}
    ]
    assert ring.current.secret.hex() not in shown.stdout


def test_a_copy_of_the_store_without_its_key_cannot_start_and_makes_no_key(
    store_file: Store, tmp_path: Path
) -> None:
    made = run_saglik(["institution", "add", "Kurum"], env_url=store_file.url, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    copy = copy_store(store_file, tmp_path / "copy")
    url = f"sqlite:///{copy}"
    missing = copy.with_name("saglik.db.key")

    done = run_saglik(["serve", "--port", str(free_port())], env_url=url, cwd=copy.parent)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    line = done.stderr.strip()
    assert line.startswith("error: ")
    assert "\n" not in line
    assert f"the audit key file {missing} does not exist" in " ".join(line.split())
    assert "listening" not in done.stdout
    assert "password" not in done.stdout
    assert not missing.exists(), "no new key"

    change = run_saglik(["institution", "add", "Başka"], env_url=url, cwd=copy.parent)
    assert change.returncode == 2
    assert "does not exist" in change.stderr
    assert not missing.exists()

    # moved together with its key (or told where the key is), the copy works
    original = {"SAGLIK_AUDIT_KEY_FILE": str(key_file(store_file))}
    shown = run_saglik(["audit-key", "show"], env_url=url, cwd=copy.parent, extra_env=original)
    assert shown.returncode == 0, shown.stderr


def test_rotation_keeps_the_calls_made_under_the_old_key_in_the_subject_view(
    serve,  # noqa: F811 - the fixture imported above
    store_file: Store,
    tmp_path: Path,
) -> None:
    first = serve()
    _wait_for_stdout(first, "listening on")
    sandbox = _credentials(first.out)
    with first.client(auth=sandbox) as client:
        assert client.post(CHECK, json={"hes_code": FIXTURE.code}).status_code == 200
    assert first.stop() == 0

    rotated = run_saglik(["audit-key", "rotate"], env_url=store_file.url, cwd=tmp_path)
    assert rotated.returncode == 0, rotated.stderr
    assert "new current audit key k2" in rotated.stdout
    ring = parse_ring(key_file(store_file).read_text())
    assert [k.id for k in ring.keys] == ["k1", "k2"]
    assert stat.S_IMODE(key_file(store_file).stat().st_mode) == 0o600

    second = serve()
    _wait_for_stdout(second, "listening on")
    with second.client(auth=sandbox) as client:
        assert client.post(CHECK, json={"hes_code": FIXTURE.code}).status_code == 200
    assert second.stop() == 0

    for option, value in (("--code", FIXTURE.code), ("--tc", FIXTURE.identity_number)):
        view = run_saglik(
            ["audit", "subject", option, value, "--json"], env_url=store_file.url, cwd=tmp_path
        )
        assert view.returncode == 0, view.stderr
        calls = json.loads(view.stdout)["calls"]
        assert [c["method"] for c in calls] == ["check-employee-hes-code"] * 2, calls

    changes = run_saglik(
        ["audit", "changes", "--entity", "audit_key", "--json"],
        env_url=store_file.url,
        cwd=tmp_path,
    )
    logged = [json.loads(line) for line in changes.stdout.splitlines()]
    assert [(c["action"], c["target"]) for c in logged] == [("rotate", "k2")]
    assert logged[0]["actor"].startswith("cli:")


def test_a_postgresql_store_takes_its_key_from_the_variable(tmp_path: Path) -> None:
    with pg_database(f"saglik_key_{uuid.uuid4().hex[:12]}") as url:
        args = ["institution", "add", "Kurum"]
        refused = run_saglik(args, env_url=url, cwd=tmp_path, extra_env={"SAGLIK_AUDIT_KEY": ""})
        assert refused.returncode == 2
        message = " ".join(refused.stderr.split())
        assert "a PostgreSQL store needs SAGLIK_AUDIT_KEY_FILE" in message
        assert list(tmp_path.iterdir()) == [], "no key file anywhere"

        ring = "k1:" + uuid.uuid4().hex * 2
        given = {"SAGLIK_AUDIT_KEY": ring}
        added = run_saglik(args, env_url=url, cwd=tmp_path, extra_env=given)
        assert added.returncode == 0, added.stderr
        other = {"SAGLIK_AUDIT_KEY": "k1:" + uuid.uuid4().hex * 2}
        wrong = run_saglik(["audit-key", "show"], env_url=url, cwd=tmp_path, extra_env=other)
        assert wrong.returncode == 2
        assert "does not hold the audit key k1" in " ".join(wrong.stderr.split())
        assert ring[3:] not in wrong.stderr
        assert other["SAGLIK_AUDIT_KEY"][3:] not in wrong.stderr


def test_rotation_refuses_a_ring_given_by_the_variable(cli: Invoke, monkeypatch) -> None:
    monkeypatch.setenv("SAGLIK_AUDIT_KEY", "k1:" + uuid.uuid4().hex * 2)
    result = cli("audit-key", "rotate")
    assert result.exit_code == 2
    assert "SAGLIK_AUDIT_KEY" in result.stderr
