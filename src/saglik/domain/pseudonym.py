"""Pseudonymous subject references: a keyed HMAC, so audit rows can answer "who looked at this
person" for someone who holds the clear value, and reveal nothing to someone who does not.

The keys form a ring so that one can be replaced without losing the past: a reference is always
made with the ring's current key and starts with that key's id (``k2:`` + 40 hex digits), so the
data subject's view can recompute every reference of a value under every key it was ever made
with. The one key of a store made before keys had ids (``legacy``) keeps its references as they
were written, without a prefix."""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass, field

LEGACY = "legacy"
KEY_BYTES = 32
_ENTRY = re.compile(r"(legacy|k[1-9][0-9]{0,8}):([0-9a-fA-F]{64})")
_FINGERPRINT_INPUT = b"saglik audit key fingerprint"


class KeyRingError(ValueError):
    """A ring that cannot be used. The message says where, never what: it must not quote key
    material, which would then reach a terminal or a log."""


@dataclass(frozen=True, slots=True)
class AuditKey:
    id: str
    secret: bytes = field(repr=False)

    @property
    def prefix(self) -> str:
        return "" if self.id == LEGACY else f"{self.id}:"

    @property
    def fingerprint(self) -> str:
        """Names the key in the store without revealing it: a digest of a constant keyed with it,
        so it proves which key is which and cannot be turned back into the key."""
        return hmac.digest(self.secret, _FINGERPRINT_INPUT, "sha256").hex()[:16]


@dataclass(frozen=True, slots=True)
class KeyRing:
    keys: tuple[AuditKey, ...]
    """Oldest first; the last one is current."""

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyRingError("it holds no key")
        ids = [k.id for k in self.keys]
        if len(set(ids)) != len(ids):
            raise KeyRingError("two entries have the same id")
        if len({k.secret for k in self.keys}) != len(self.keys):
            raise KeyRingError("two entries hold the same key")
        if LEGACY in ids[1:]:
            raise KeyRingError("the legacy key can only be the first entry")

    @property
    def current(self) -> AuditKey:
        return self.keys[-1]

    def by_id(self, key_id: str) -> AuditKey | None:
        return next((k for k in self.keys if k.id == key_id), None)

    def rotated(self) -> KeyRing:
        """The ring with a new random key after the others, which becomes current."""
        numbers = [int(k.id[1:]) for k in self.keys if k.id != LEGACY]
        new = AuditKey(f"k{max(numbers, default=0) + 1}", secrets.token_bytes(KEY_BYTES))
        return KeyRing((*self.keys, new))

    def with_legacy(self, secret: bytes) -> KeyRing:
        """The ring with a store's legacy key in front: old references answer, new ones keep
        using the current key."""
        return KeyRing((AuditKey(LEGACY, secret), *self.keys))

    def text(self) -> str:
        """The ring as a key file holds it (``parse_ring`` reads it back)."""
        lines = [
            "# saglik audit pseudonym keys. Secret: whoever holds this file and a copy of the",
            "# store can tell whose data an audit row is about. Back it up apart from the store.",
            "# Never remove a line: the references made with its key would stop answering.",
            "# The last key is the current one; `saglik audit-key rotate` adds one.",
            *(f"{k.id}:{k.secret.hex()}" for k in self.keys),
        ]
        return "\n".join(lines) + "\n"


def new_ring() -> KeyRing:
    return KeyRing((AuditKey("k1", secrets.token_bytes(KEY_BYTES)),))


def parse_ring(text: str) -> KeyRing:
    """Entries ``ID:KEY`` (``k1``, ``k2``, … or ``legacy``; 64 hex digits), oldest first,
    separated by newlines, spaces or commas; ``#`` starts a comment."""
    keys = []
    position = 0
    for line in text.splitlines():
        for item in line.split("#", 1)[0].replace(",", " ").split():
            position += 1
            match = _ENTRY.fullmatch(item)
            if match is None:
                raise KeyRingError(
                    f"entry {position} is not ID:KEY (k1, k2, … or legacy; 64 hex digits)"
                )
            keys.append(AuditKey(match[1], bytes.fromhex(match[2])))
    return KeyRing(tuple(keys))


class Pseudonymizer:
    def __init__(self, keys: KeyRing | bytes) -> None:
        """A bare key is a ring of one legacy key: references without a prefix."""
        self.ring = keys if isinstance(keys, KeyRing) else KeyRing((AuditKey(LEGACY, keys),))
        self._key = self.ring.current.secret
        self._prefix = self.ring.current.prefix

    def ref(self, kind: str, value: str) -> str:
        """``kind`` separates name spaces (a code and an identity number never collide)."""
        # the one-shot form runs in OpenSSL: a third of the CPU of hmac.new(...).hexdigest();
        # hex of the 20 bytes kept (not of 32, then cut) pays for the key id's prefix
        digest = hmac.digest(self._key, f"{kind}:{value}".encode(), "sha256")
        return self._prefix + digest[:20].hex()

    def refs(self, kind: str, value: str) -> tuple[str, ...]:
        """The value's reference under every key of the ring: what a lookup must match."""
        message = f"{kind}:{value}".encode()
        return tuple(
            k.prefix + hmac.digest(k.secret, message, "sha256")[:20].hex() for k in self.ring.keys
        )

    def code(self, code: str) -> str:
        return self.ref("hes", code)

    def person(self, identity_number: str) -> str:
        return self.ref("tckn", identity_number)
