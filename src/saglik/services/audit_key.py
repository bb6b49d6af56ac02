"""The audit pseudonym key ring, kept outside the store it protects: with the store and its key
together, a pseudonym is turned back into its identity number by trying every 11-digit number, so
a copy of the database alone must not hold the key.

Where the ring is: ``SAGLIK_AUDIT_KEY`` (the ring itself) or ``SAGLIK_AUDIT_KEY_FILE``; with
neither, a file beside an SQLite store's file (``saglik.db.key``), so that a first ``saglik serve``
needs no setup. A PostgreSQL or in-memory store has no such place and needs one of the two.

The store records the fingerprint of every key it has used, never a key. A ring that lacks one
of them is refused before anything is pseudonymized: a store moved without its key fails to
start, rather than start a new key whose pseudonyms would never match the old ones."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from saglik.config import Settings
from saglik.domain.pseudonym import LEGACY, AuditKey, KeyRing, KeyRingError, new_ring, parse_ring
from saglik.store import state

if TYPE_CHECKING:  # changes builds its pseudonymizer from here
    from saglik.services.changes import ChangeLog

log = logging.getLogger("saglik.audit_key")

KEY_FILE_VARIABLE = "SAGLIK_AUDIT_KEY_FILE"
KEY_VARIABLE = "SAGLIK_AUDIT_KEY"
SEE = "see README, Audit pseudonym key"


class AuditKeyError(RuntimeError):
    """The ring cannot serve this store. The message names the file or the variable and what to
    do, never key material."""


@dataclass(frozen=True, slots=True)
class KeySource:
    file: Path | None
    """The key file; None when the ring is given by ``SAGLIK_AUDIT_KEY``."""
    given: KeyRing | None = None
    """The ring ``SAGLIK_AUDIT_KEY`` holds."""

    def __str__(self) -> str:
        return KEY_VARIABLE if self.file is None else f"the audit key file {self.file}"


def key_source(engine: Engine, settings: Settings) -> KeySource:
    if settings.audit_key is not None and settings.audit_key_file is not None:
        raise AuditKeyError(f"set one of {KEY_FILE_VARIABLE} and {KEY_VARIABLE}, not both")
    if settings.audit_key is not None:
        return KeySource(None, parse_ring(settings.audit_key.get_secret_value()))
    if settings.audit_key_file is not None:
        return KeySource(settings.audit_key_file)
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        return KeySource(Path(f"{database}.key"))
    kind = "an in-memory SQLite" if engine.dialect.name == "sqlite" else "a PostgreSQL"
    raise AuditKeyError(
        f"{kind} store needs {KEY_FILE_VARIABLE} (a file for its audit pseudonym key, created "
        f"on first start) or {KEY_VARIABLE}: the key is kept outside the database ({SEE})"
    )


def _read(path: Path) -> KeyRing | None:
    """The ring in ``path``; None if there is no such file."""
    try:
        with path.open("rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            raw = file.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditKeyError(f"cannot read the audit key file {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise AuditKeyError(
            f"the audit key file {path} is open to other users (mode {mode & 0o777:04o}): "
            f"make it readable by its owner only (chmod 600 {path})"
        )
    try:
        return parse_ring(raw.decode("utf-8"))
    except (UnicodeDecodeError, KeyRingError) as exc:
        reason = exc if isinstance(exc, KeyRingError) else "not text"
        raise AuditKeyError(f"the audit key file {path} is not a key ring: {reason}") from None


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_aside(path: Path, ring: KeyRing) -> Path:
    """The ring, durably written to a new file (mode 0600) beside ``path``."""
    aside = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            os.write(fd, ring.text().encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        aside.unlink(missing_ok=True)
        raise AuditKeyError(f"cannot write the audit key file {path}: {exc.strerror}") from None
    return aside


def _create(path: Path, ring: KeyRing) -> KeyRing:
    """Puts ``ring`` at ``path`` whole, unless a file is there already (a worker starting at the
    same time), whose ring is then the store's: a reader never sees a half-written file."""
    aside = _write_aside(path, ring)
    try:
        os.link(aside, path)
    except FileExistsError:
        found = _read(path)
        assert found is not None  # links are never removed
        return found
    except OSError as exc:
        raise AuditKeyError(f"cannot write the audit key file {path}: {exc.strerror}") from None
    finally:
        aside.unlink()
    _sync_dir(path.parent)
    return ring


def _replace(path: Path, ring: KeyRing) -> None:
    aside = _write_aside(path, ring)
    try:
        os.replace(aside, path)
    except OSError as exc:
        aside.unlink(missing_ok=True)
        raise AuditKeyError(f"cannot write the audit key file {path}: {exc.strerror}") from None
    _sync_dir(path.parent)


def _check(source: KeySource, ring: KeyRing, used: dict[str, str]) -> None:
    missing = sorted(
        key_id
        for key_id, fingerprint in used.items()
        if (key := ring.by_id(key_id)) is None or key.fingerprint != fingerprint
    )
    if missing:
        raise AuditKeyError(
            f"{source} does not hold the audit key {', '.join(missing)} this store's pseudonyms "
            "were made with: give it the key ring this store was used with (its backup); "
            f"a new key would leave the store's audit trail unanswerable ({SEE})"
        )


def _adopt_legacy(source: KeySource, ring: KeyRing, legacy: bytes) -> KeyRing:
    """The ring with the key a store made before the key file kept inside it."""
    if source.file is None or ring.by_id(LEGACY) is not None:
        raise AuditKeyError(
            f"this store still holds the audit key of an earlier saglik, and {source} holds "
            f"another: start once with {KEY_FILE_VARIABLE} naming a file that does not exist "
            f"yet, which moves the store's key into it ({SEE})"
        )
    adopted = ring.with_legacy(legacy)
    _replace(source.file, adopted)
    log.info("the store's legacy audit key moved into %s", source.file)
    return adopted


def open_ring(engine: Engine, settings: Settings) -> KeyRing:
    """The store's key ring, checked against every key the store has used. A new store gets a new
    key file; the key an earlier saglik kept in the store is moved into the file. Raises
    ``AuditKeyError`` rather than pseudonymize with a key the store has not used before."""
    source = key_source(engine, settings)
    with engine.connect() as conn:
        used, legacy_hex = state.audit_keys(conn)
    legacy = None if legacy_hex is None else bytes.fromhex(legacy_hex)
    ring = source.given if source.file is None else _read(source.file)
    if ring is None:
        assert source.file is not None
        if used:
            raise AuditKeyError(
                f"the audit key file {source.file} does not exist, and this store's pseudonyms "
                f"were made with the key {', '.join(sorted(used))} kept there: a store moved "
                f"without its key cannot start. Copy the key file along with the store, or name "
                f"it with {KEY_FILE_VARIABLE} ({SEE})"
            )
        first = new_ring() if legacy is None else KeyRing((AuditKey(LEGACY, legacy),))
        ring = _create(source.file, first)
        if ring is first:
            moved = "" if legacy is None else ", holding the key the store held"
            log.info("audit key file %s created%s", source.file, moved)
    if legacy is not None and all(key.secret != legacy for key in ring.keys):
        ring = _adopt_legacy(source, ring, legacy)
    _check(source, ring, used)
    if legacy is not None or ring.current.id not in used:
        with engine.begin() as conn:
            # writes first: a transaction that reads first cannot always write after on SQLite
            state.record_audit_key(conn, ring.current.id, ring.current.fingerprint)
            if legacy is not None:
                state.record_audit_key(conn, LEGACY, AuditKey(LEGACY, legacy).fingerprint)
                state.drop(conn, state.LEGACY_AUDIT_KEY)
            _check(source, ring, state.used_audit_keys(conn))
    return ring


@contextlib.contextmanager
def _rotation_lock(path: Path) -> Iterator[None]:
    """Two rotations at once would both write a key with the next id, and the store would record
    one that the surviving file does not hold."""
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError as exc:
        raise AuditKeyError(f"cannot write the audit key file {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def rotate(engine: Engine, settings: Settings, changes: ChangeLog) -> AuditKey:
    """Adds a new current key to the ring's file and returns it; the older keys stay, so every
    reference made with them still answers. Logged as a change (its id and fingerprint)."""
    source = key_source(engine, settings)
    if source.file is None:
        raise AuditKeyError(
            f"the key ring is given by {KEY_VARIABLE}, which saglik cannot change: add an entry "
            f"k<N>:<64 hex digits> at its end wherever the service runs, then restart ({SEE})"
        )
    with _rotation_lock(source.file):
        rotated = open_ring(engine, settings).rotated()
        _replace(source.file, rotated)  # the file first: a recorded key must exist somewhere
        new = rotated.current
        with engine.begin() as conn:
            state.record_audit_key(conn, new.id, new.fingerprint)
            changes.record(
                conn,
                entity="audit_key",
                action="rotate",
                target=new.id,
                after={"fingerprint": new.fingerprint},
            )
    return new


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    fingerprint: str
    current: bool
    used: bool
    """The store has recorded pseudonyms made with it (or was told it would)."""


def describe(engine: Engine, settings: Settings) -> tuple[str, list[KeyInfo]]:
    """Where the ring is, and its keys without their secrets (fingerprints tell copies apart)."""
    source = key_source(engine, settings)
    ring = open_ring(engine, settings)
    with engine.connect() as conn:
        used = state.used_audit_keys(conn)
    return str(source), [
        KeyInfo(k.id, k.fingerprint, k is ring.current, k.id in used) for k in ring.keys
    ]
