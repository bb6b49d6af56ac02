"""The audit pseudonym key outside the store: created 0600 with a new store, required by a store
that has used it, moved out of a store made by an earlier saglik, and rotated without losing the
data subject's view of anything made under an older key."""

from __future__ import annotations

import random
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from saglik.config import Settings
from saglik.domain.clock import ManualClock
from saglik.domain.pseudonym import LEGACY, Pseudonymizer, new_ring, parse_ring
from saglik.domain.tckn import random_tckn
from saglik.services import audit_key
from saglik.services.audit_key import AuditKeyError
from saglik.services.audit_queries import AuditQueries
from saglik.services.changes import ChangeLog, store_pseudonymizer
from saglik.store import state
from saglik.store.audit_writer import AuditRecord, write_batch
from saglik.store.engine import make_engine
from saglik.store.schema import instance_state
from tests.change_support import TEST_ACTOR
from tests.store.backends import backend_of, blank_engine

_rng = random.Random()


@pytest.fixture(autouse=True)
def _no_key_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test says where its ring is (the suite's own stores use SAGLIK_AUDIT_KEY)."""
    monkeypatch.delenv("SAGLIK_AUDIT_KEY", raising=False)
    monkeypatch.delenv("SAGLIK_AUDIT_KEY_FILE", raising=False)


@pytest.fixture
def blank(store: Engine, tmp_path: Path) -> Iterator[Engine]:
    """A migrated store of its own, on the backend of this run."""
    with blank_engine(backend_of(store), tmp_path, migrated=True) as engine:
        yield engine


def by_file(path: Path) -> Settings:
    return Settings(audit_key_file=path)


def instance_values(engine: Engine) -> str:
    with engine.connect() as conn:
        return " ".join(conn.execute(select(instance_state.c.value)).scalars())


def key_material(path: Path) -> list[str]:
    return [key.secret.hex() for key in parse_ring(path.read_text()).keys]


def audit_call(engine: Engine, pseudonymizer: Pseudonymizer, tckn: str, minute: int) -> None:
    """A G2G call that touched ``tckn``, audited under ``pseudonymizer``'s current key."""
    write_batch(
        engine,
        [
            AuditRecord(
                occurred_at=datetime(2026, 6, 15, 9, minute, tzinfo=UTC),
                env="live",
                service="hes",
                method="check-employee-hes-code",
                status=200,
                outcome="ok",
                latency_ms=1.0,
                client_ip=None,
                subject_refs=(pseudonymizer.person(tckn),),
            )
        ],
    )


def subject_view(engine: Engine, clock: ManualClock, ring_of: Settings) -> AuditQueries:
    return AuditQueries(engine, ChangeLog(TEST_ACTOR, clock, store_pseudonymizer(engine, ring_of)))


def test_a_new_store_gets_a_key_file_only_its_owner_can_read(blank: Engine, tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    ring = audit_key.open_ring(blank, by_file(path))
    mode = path.stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert parse_ring(path.read_text()) == ring
    assert [k.id for k in ring.keys] == ["k1"]
    with blank.connect() as conn:
        assert state.used_audit_keys(conn) == {"k1": ring.current.fingerprint}
    assert ring.current.secret.hex() not in instance_values(blank), "the key is not in the store"
    assert audit_key.open_ring(blank, by_file(path)) == ring, "the same ring on every start"


def test_the_default_key_file_is_beside_an_sqlite_store_and_postgresql_needs_a_setting(
    blank: Engine,
) -> None:
    if backend_of(blank) == "sqlite":
        ring = audit_key.open_ring(blank, Settings())
        beside = Path(f"{blank.url.database}.key")
        assert parse_ring(beside.read_text()) == ring
        return
    with pytest.raises(AuditKeyError) as refused:
        audit_key.open_ring(blank, Settings())
    assert "needs SAGLIK_AUDIT_KEY_FILE" in str(refused.value)
    assert "or SAGLIK_AUDIT_KEY:" in str(refused.value)


def test_an_in_memory_store_needs_a_key_setting() -> None:
    engine = make_engine("sqlite://")
    try:
        with pytest.raises(AuditKeyError, match="in-memory SQLite store needs"):
            audit_key.key_source(engine, Settings())
    finally:
        engine.dispose()


def test_a_store_whose_key_file_is_missing_is_refused_and_no_new_key_is_made(
    blank: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "audit.key"
    audit_key.open_ring(blank, by_file(path))
    moved = tmp_path / "elsewhere.key"
    with pytest.raises(AuditKeyError) as refused:
        audit_key.open_ring(blank, by_file(moved))
    message = str(refused.value)
    assert str(moved) in message
    assert "k1" in message
    assert not moved.exists(), "no new key"
    with blank.connect() as conn:
        assert list(state.used_audit_keys(conn)) == ["k1"]


def test_a_store_given_another_ring_is_refused_without_showing_a_key(
    blank: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "audit.key"
    audit_key.open_ring(blank, by_file(path))
    other = new_ring()
    with pytest.raises(AuditKeyError) as refused:
        audit_key.open_ring(blank, Settings(audit_key=other.text()))
    message = str(refused.value)
    assert "SAGLIK_AUDIT_KEY" in message
    for secret in [*key_material(path), other.current.secret.hex()]:
        assert secret not in message


def test_a_key_file_open_to_other_users_is_refused(blank: Engine, tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    audit_key.open_ring(blank, by_file(path))
    path.chmod(0o640)
    with pytest.raises(AuditKeyError, match="chmod 600"):
        audit_key.open_ring(blank, by_file(path))


def test_a_file_that_is_not_a_ring_is_refused_without_quoting_it(
    blank: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "audit.key"
    path.write_text("k1:" + "ab" * 31 + "\n")  # one byte short
    path.chmod(0o600)
    with pytest.raises(AuditKeyError) as refused:
        audit_key.open_ring(blank, by_file(path))
    assert "entry 1" in str(refused.value)
    assert "abab" not in str(refused.value)


def _start_together(engine: Engine, path: Path, workers: int = 6) -> list[object]:
    """``open_ring`` from ``workers`` threads released at once, each with an engine of its own
    (like the workers of ``saglik serve --workers``); every ring or exception."""
    url = engine.url.render_as_string(hide_password=False)
    barrier = threading.Barrier(workers)
    results: list[object] = []

    def worker() -> None:
        own = make_engine(url)
        try:
            barrier.wait()
            results.append(audit_key.open_ring(own, by_file(path)))
        except Exception as exc:
            results.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_workers_starting_together_on_a_new_store_share_one_key(
    store: Engine, tmp_path: Path
) -> None:
    for attempt in range(3):  # a fresh store each time: the race is on the first start
        with blank_engine(backend_of(store), tmp_path, migrated=True) as engine:
            path = tmp_path / f"race-{attempt}.key"
            results = _start_together(engine, path)
            assert not [r for r in results if isinstance(r, Exception)], results
            assert len(results) == 6
            assert all(r == results[0] for r in results)
            assert parse_ring(path.read_text()) == results[0]
            assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_rotation_keeps_what_older_keys_made_answerable(
    blank: Engine, tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "audit.key"
    tckn = random_tckn(_rng)
    before = store_pseudonymizer(blank, by_file(path))
    audit_call(blank, before, tckn, minute=1)
    ChangeLog(TEST_ACTOR, clock, before).record_read(blank, entity="person", people=[tckn])

    new = audit_key.rotate(blank, by_file(path), ChangeLog(TEST_ACTOR, clock, before))
    assert new.id == "k2"
    assert [k.id for k in parse_ring(path.read_text()).keys] == ["k1", "k2"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    after = store_pseudonymizer(blank, by_file(path))
    assert after.person(tckn).startswith("k2:")
    assert before.person(tckn).startswith("k1:")
    audit_call(blank, after, tckn, minute=2)

    view = subject_view(blank, clock, by_file(path)).subject(identity_number=tckn)
    assert [c.occurred_at.minute for c in view.calls] == [2, 1]
    assert [(c.entity, c.subject_ref) for c in view.changes] == [("person", before.person(tckn))]
    with blank.connect() as conn:
        assert set(state.used_audit_keys(conn)) == {"k1", "k2"}


def test_a_rotation_is_in_the_change_log(blank: Engine, tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "audit.key"
    changes = ChangeLog(TEST_ACTOR, clock, store_pseudonymizer(blank, by_file(path)))
    new = audit_key.rotate(blank, by_file(path), changes)
    logged = AuditQueries(blank, changes).changes(entity="audit_key")
    assert [(c.action, c.target, c.actor) for c in logged] == [("rotate", "k2", TEST_ACTOR.name)]
    assert new.fingerprint in (logged[0].after or "")
    assert new.secret.hex() not in str(logged)


def test_a_legacy_store_key_moves_into_the_key_file_and_its_references_still_answer(
    blank: Engine, tmp_path: Path, clock: ManualClock
) -> None:
    """A store made before the key file: its key in ``instance_state``, its references without a
    key id. The first start moves the key out; rotating afterwards loses nothing."""
    legacy = bytes(range(32))
    with blank.begin() as conn:
        state.put(conn, state.LEGACY_AUDIT_KEY, legacy.hex())
    tckn = random_tckn(_rng)
    audit_call(blank, Pseudonymizer(legacy), tckn, minute=1)
    assert ":" not in Pseudonymizer(legacy).person(tckn)

    path = tmp_path / "audit.key"
    ring = audit_key.open_ring(blank, by_file(path))
    assert [(k.id, k.secret) for k in ring.keys] == [(LEGACY, legacy)]
    assert parse_ring(path.read_text()) == ring
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with blank.connect() as conn:
        assert state.get(conn, state.LEGACY_AUDIT_KEY) is None
    assert legacy.hex() not in instance_values(blank)
    old_calls = subject_view(blank, clock, by_file(path)).subject(identity_number=tckn)
    assert len(old_calls.calls) == 1

    changes = ChangeLog(TEST_ACTOR, clock, Pseudonymizer(ring))
    audit_key.rotate(blank, by_file(path), changes)
    now = store_pseudonymizer(blank, by_file(path))
    assert now.person(tckn).startswith("k1:")
    audit_call(blank, now, tckn, minute=2)
    view = subject_view(blank, clock, by_file(path)).subject(identity_number=tckn)
    assert [c.occurred_at.minute for c in view.calls] == [2, 1]


def test_a_legacy_key_joins_a_key_file_that_exists_already(blank: Engine, tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    path.write_text(new_ring().text())
    path.chmod(0o600)
    current = parse_ring(path.read_text()).current
    legacy = bytes(range(32, 64))
    with blank.begin() as conn:
        state.put(conn, state.LEGACY_AUDIT_KEY, legacy.hex())
    ring = audit_key.open_ring(blank, by_file(path))
    assert [k.id for k in ring.keys] == [LEGACY, "k1"]
    assert ring.current == current, "new references keep using the file's key"
    assert parse_ring(path.read_text()) == ring
    with blank.connect() as conn:
        assert state.get(conn, state.LEGACY_AUDIT_KEY) is None


def test_a_legacy_key_is_not_dropped_for_a_ring_given_by_the_variable(blank: Engine) -> None:
    legacy = bytes(range(32))
    with blank.begin() as conn:
        state.put(conn, state.LEGACY_AUDIT_KEY, legacy.hex())
    with pytest.raises(AuditKeyError) as refused:
        audit_key.open_ring(blank, Settings(audit_key=new_ring().text()))
    assert "SAGLIK_AUDIT_KEY_FILE" in str(refused.value)
    assert legacy.hex() not in str(refused.value)
    with blank.connect() as conn:
        assert state.get(conn, state.LEGACY_AUDIT_KEY) == legacy.hex(), "kept until moved"
        assert state.used_audit_keys(conn) == {}


def test_a_ring_in_the_variable_serves_and_cannot_be_rotated_by_saglik(
    blank: Engine, clock: ManualClock
) -> None:
    ring = new_ring().rotated()
    settings = Settings(audit_key=" ".join(ring.text().splitlines()[-2:]))
    assert audit_key.open_ring(blank, settings) == ring
    changes = ChangeLog(TEST_ACTOR, clock, Pseudonymizer(ring))
    with pytest.raises(AuditKeyError, match="k<N>:<64 hex digits>"):
        audit_key.rotate(blank, settings, changes)


def test_a_key_file_and_a_key_variable_at_once_are_refused(blank: Engine, tmp_path: Path) -> None:
    settings = Settings(audit_key_file=tmp_path / "audit.key", audit_key=new_ring().text())
    with pytest.raises(AuditKeyError, match="not both"):
        audit_key.open_ring(blank, settings)
    assert not (tmp_path / "audit.key").exists()
