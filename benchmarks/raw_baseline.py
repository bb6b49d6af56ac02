"""The floor the real service is measured against: a raw ASGI app, no framework, doing the same work
as ``check-employee-hes-code`` on the same store, and nothing else (no audit, no logs).

Per request: Basic credentials checked against a verified-credential dict (keyed digest of the
credential, Argon2id verified once on a miss, like the real cache), the body parsed as JSON, one
indexed lookup of the code joined to its person with the open-risk ``EXISTS`` subquery, masks, and a
JSON answer (or the 400 problem for an unknown / cancelled / expired code).

The store is the SQLite file ``HES_BENCH_DB`` or, when ``HES_BENCH_DATABASE_URL`` is set, that
PostgreSQL database (``pg_store.py``'s copy of the same store). On PostgreSQL the lookup is the
same statement with psycopg 3, in autocommit (psycopg prepares it after five runs), reached as
``HES_BENCH_PG_ACCESS`` says:

- ``inline`` (the default here; ``run_hes.py`` / ``run_obs.py`` pass ``conns-4``): one sync
  connection, the call made on the event loop, exactly as the SQLite floor reads its file; the
  loop waits for each round trip;
- ``conns-P``: P ``psycopg.AsyncConnection``s lent in arrival order, awaited, so the loop serves
  other requests during a round trip: the fastest way ``pg_access.py`` measured, so the floor the
  runners use.

    HES_BENCH_DB=benchmarks/data/hes_1m.db \\
      uvicorn raw_baseline:app --app-dir benchmarks --loop uvloop --http httptools --workers 1
    HES_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/saglik_bench \\
      uvicorn raw_baseline:app --app-dir benchmarks --loop uvloop --http httptools --workers 1
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import hashlib
import json
import os
import re
import secrets
import sqlite3
from datetime import UTC, datetime
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ENV = "live"
PATH = "/services/g2g/saglik/hes/check-employee-hes-code"
CODE = re.compile(r"[A-Za-z0-9]{10}")

QUERY = """
SELECT c.expires_at, c.cancelled_at, p.identity_number, p.first_name, p.last_name,
       EXISTS (SELECT 1 FROM risk_periods r
               WHERE r.person_id = p.id AND r.started_at <= ?
                 AND (r.ended_at IS NULL OR r.ended_at > ?)) AS at_risk
FROM hes_codes c JOIN persons p ON p.id = c.person_id
WHERE c.env = ? AND c.code = ?
"""
USER_QUERY = "SELECT id, password_hash FROM service_users WHERE env = ? AND username = ? AND active"
PG_QUERY = QUERY.replace("?", "%s")
PG_USER_QUERY = USER_QUERY.replace("?", "%s")
Row = tuple[Any, ...]

JSON_HEADERS = [(b"content-type", b"application/json")]
UNAUTHORIZED = json.dumps(
    {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "message": "error.http.401",
    }
).encode()


def _problem(key: str, title: str) -> bytes:
    return json.dumps(
        {
            "entityName": "hesCode",
            "errorKey": key,
            "type": "https://hescode.saglik.gov.tr/problem/problem-with-message",
            "title": title,
            "status": 400,
            "message": f"error.{key}",
            "params": "hesCode",
        }
    ).encode()


NOT_FOUND = _problem("hescodenotfound", "Hes code not found!")
EXPIRED = _problem("hescodehasbeenexpired", "Hes code has been expired!")
BAD_REQUEST = json.dumps({"title": "Bad Request", "status": 400}).encode()


def _mask(name: str) -> str:
    return " ".join(word[:2] + "****" for word in name.split(" ") if word)


class SqliteStore:
    """The SQLite file; times are compared and formatted in SQLAlchemy's text storage form."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")

    def now(self) -> Any:
        return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    @staticmethod
    def stamp(expires: Any) -> str:
        return f"{expires[:10]}T{expires[11:19]}Z"

    async def user(self, username: str) -> Row | None:
        row: Row | None = self._db.execute(USER_QUERY, (ENV, username)).fetchone()
        return row

    async def code(self, now: Any, code: str) -> Row | None:
        row: Row | None = self._db.execute(QUERY, (now, now, ENV, code)).fetchone()
        return row

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        self._db.close()


class PgStore:
    """The PostgreSQL copy; times are naive UTC ``datetime``s (``timestamp without time zone``,
    as the service stores them)."""

    def __init__(self, url: str, access: str) -> None:
        self._url = url
        kind, _, size = access.partition("-")
        if kind not in ("inline", "conns"):
            raise ValueError(f"HES_BENCH_PG_ACCESS: inline or conns-P, not {access!r}")
        self._size = int(size) if kind == "conns" else 0
        self._sync: psycopg.Connection[Row] | None = None
        self._free: list[psycopg.AsyncConnection[Row]] = []
        self._waiters: collections.deque[asyncio.Future[psycopg.AsyncConnection[Row]]] = (
            collections.deque()
        )
        self._all: list[psycopg.AsyncConnection[Row]] = []

    def now(self) -> Any:
        return datetime.now(UTC).replace(tzinfo=None)

    @staticmethod
    def stamp(expires: Any) -> str:
        return str(expires.strftime("%Y-%m-%dT%H:%M:%SZ"))

    async def open(self) -> None:
        if not self._size:
            self._sync = psycopg.connect(self._url, autocommit=True)
        for _ in range(self._size):
            conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
            self._all.append(conn)
            self._give(conn)

    async def _take(self) -> psycopg.AsyncConnection[Row]:
        """Connections are lent in arrival order (``pg_access.py``'s ``HandOff``: an
        ``asyncio.Queue`` lets a late asker overtake a woken waiter, which lengthens the tail)."""
        if self._free and not self._waiters:
            return self._free.pop()
        waiter: asyncio.Future[psycopg.AsyncConnection[Row]] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiters.append(waiter)
        return await waiter

    def _give(self, conn: psycopg.AsyncConnection[Row]) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._free.append(conn)

    async def _one(self, query: str, params: tuple[Any, ...]) -> Row | None:
        if self._sync is not None:
            return self._sync.execute(query, params).fetchone()
        conn = await self._take()
        try:
            cursor = await conn.execute(query, params)
            return await cursor.fetchone()
        finally:
            self._give(conn)

    async def user(self, username: str) -> Row | None:
        return await self._one(PG_USER_QUERY, (ENV, username))

    async def code(self, now: Any, code: str) -> Row | None:
        return await self._one(PG_QUERY, (now, now, ENV, code))

    async def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
        for conn in self._all:
            await conn.close()


class RawHes:
    def __init__(self, store: SqliteStore | PgStore) -> None:
        self._store = store
        self._hasher = PasswordHasher()
        self._key = secrets.token_bytes(32)
        self._verified: dict[bytes, int] = {}

    async def _user(self, authorization: bytes | None) -> int | None:
        if not authorization or authorization[:6].lower() != b"basic ":
            return None
        token = authorization[6:].strip()
        digest = hashlib.blake2b(ENV.encode() + b"\0" + token, key=self._key).digest()
        user = self._verified.get(digest)
        if user is not None:
            return user
        try:
            username, sep, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        row = await self._store.user(username)
        if not sep or row is None:
            return None
        try:
            self._hasher.verify(row[1], password)
        except (VerificationError, InvalidHashError):
            return None
        self._verified[digest] = row[0]
        return int(row[0])

    async def answer(self, body: bytes) -> tuple[int, bytes]:
        try:
            code = json.loads(body)["hes_code"]
        except (ValueError, TypeError, KeyError):
            return 400, BAD_REQUEST
        if not isinstance(code, str):
            return 400, BAD_REQUEST
        if CODE.fullmatch(code) is None:
            return 400, NOT_FOUND
        store = self._store
        now = store.now()
        row = await store.code(now, code.upper())
        if row is None:
            return 400, NOT_FOUND
        expires, cancelled, identity, first, last, at_risk = row
        if cancelled is not None and cancelled <= now:
            return 400, NOT_FOUND
        if expires <= now:
            return 400, EXPIRED
        result = {
            "expiration_date": store.stamp(expires),
            "current_health_status": "RISKY" if at_risk else "RISKLESS",
            "masked_identity_number": "********" + identity[-3:],
            "masked_firstname": _mask(first),
            "masked_lastname": _mask(last),
        }
        return 200, json.dumps(result, ensure_ascii=False).encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await self._store.open()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self._store.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["path"] == "/healthz":
            status, payload = 200, b'{"status":"ok"}'
        elif scope["method"] != "POST" or scope["path"] != PATH:
            status, payload = 404, b'{"status":404}'
        else:
            authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
            if await self._user(authorization) is None:
                status, payload = 401, UNAUTHORIZED
            else:
                status, payload = await self.answer(body)
        headers = [*JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _store() -> SqliteStore | PgStore:
    url = os.environ.get("HES_BENCH_DATABASE_URL")
    if url:
        return PgStore(url, os.environ.get("HES_BENCH_PG_ACCESS", "inline"))
    return SqliteStore(os.environ.get("HES_BENCH_DB", "benchmarks/data/hes_1m.db"))


app = RawHes(_store())
