"""The floor the real service is measured against: a raw ASGI app, no framework, doing the same work
as ``check-employee-hes-code`` on the same store, and nothing else (no audit, no logs).

Per request: Basic credentials checked against a verified-credential dict (keyed digest of the
credential, Argon2id verified once on a miss, like the real cache), the body parsed as JSON, one
indexed lookup of the code joined to its person with the open-risk ``EXISTS`` subquery, masks, and a
JSON answer (or the 400 problem for an unknown / cancelled / expired code).

    HES_BENCH_DB=benchmarks/data/hes_1m.db \\
      uvicorn raw_baseline:app --app-dir benchmarks --loop uvloop --http httptools --workers 1
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets
import sqlite3
from datetime import UTC, datetime
from typing import Any

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


class RawHes:
    def __init__(self, db: str) -> None:
        self._db = sqlite3.connect(db, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._hasher = PasswordHasher()
        self._key = secrets.token_bytes(32)
        self._verified: dict[bytes, int] = {}

    def _user(self, authorization: bytes | None) -> int | None:
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
        row = self._db.execute(
            "SELECT id, password_hash FROM service_users WHERE env = ? AND username = ? AND active",
            (ENV, username),
        ).fetchone()
        if not sep or row is None:
            return None
        try:
            self._hasher.verify(row[1], password)
        except (VerificationError, InvalidHashError):
            return None
        self._verified[digest] = row[0]
        return int(row[0])

    def answer(self, body: bytes) -> tuple[int, bytes]:
        try:
            code = json.loads(body)["hes_code"]
        except (ValueError, TypeError, KeyError):
            return 400, BAD_REQUEST
        if not isinstance(code, str):
            return 400, BAD_REQUEST
        if CODE.fullmatch(code) is None:
            return 400, NOT_FOUND
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        row = self._db.execute(QUERY, (now, now, ENV, code.upper())).fetchone()
        if row is None:
            return 400, NOT_FOUND
        expires, cancelled, identity, first, last, at_risk = row
        if cancelled is not None and cancelled <= now:
            return 400, NOT_FOUND
        if expires <= now:
            return 400, EXPIRED
        result = {
            "expiration_date": f"{expires[:10]}T{expires[11:19]}Z",
            "current_health_status": "RISKY" if at_risk else "RISKLESS",
            "masked_firstname": _mask(first),
            "masked_identity_number": "********" + identity[-3:],
            "masked_lastname": _mask(last),
        }
        return 200, json.dumps(result, ensure_ascii=False).encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self._db.close()
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
            if self._user(authorization) is None:
                status, payload = 401, UNAUTHORIZED
            else:
                status, payload = self.answer(body)
        headers = [*JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


app = RawHes(os.environ.get("HES_BENCH_DB", "benchmarks/data/hes_1m.db"))
