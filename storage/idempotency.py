"""Idempotency keys: a write's answer kept per (user, method, path, key), so that a retry is harmless.

The first request claims the key (a row with no status yet, committed at once, so every process sees
it); its answer is written on the same transaction as its change (`storage/sql.Held`), so a committed
change always has its answer and a rolled-back one never does. A request that ends in a 5xx, or never
ends, lets go of its claim (or the claim goes stale after CLAIM_LEASE), and the retry runs again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from core.values import new_id, utc_now
from storage.sql import Statements

# A claim older than this with no answer belongs to a request that died with its process: a retry runs again.
CLAIM_LEASE = 30.0
MAX_KEY_LENGTH = 255

INSERT_CLAIM = """
INSERT INTO idempotency_keys (user_id, method, path, idempotency_key, fingerprint, claim, status, body, created_at)
VALUES (:user_id, :method, :path, :key, :fingerprint, :claim, NULL, NULL, :created_at)
ON CONFLICT DO NOTHING
RETURNING claim
"""
SELECT_KEY = """
SELECT fingerprint, claim, status, body, created_at FROM idempotency_keys
WHERE user_id = :user_id AND method = :method AND path = :path AND idempotency_key = :key
"""
DELETE_CLAIM = """
DELETE FROM idempotency_keys
WHERE user_id = :user_id AND method = :method AND path = :path AND idempotency_key = :key AND claim = :claim
"""
RELEASE_CLAIM = """
DELETE FROM idempotency_keys
WHERE user_id = :user_id AND method = :method AND path = :path AND idempotency_key = :key AND claim = :claim
  AND status IS NULL
"""
STORE_ANSWER = """
UPDATE idempotency_keys SET status = :status, body = :body
WHERE user_id = :user_id AND method = :method AND path = :path AND idempotency_key = :key AND claim = :claim
RETURNING claim
"""
DELETE_EXPIRED = "DELETE FROM idempotency_keys WHERE created_at < :before"


def valid_key(key: str) -> bool:
    """1-255 visible ASCII characters (0x21-0x7E)."""
    return 1 <= len(key) <= MAX_KEY_LENGTH and all("!" <= character <= "~" for character in key)


def fingerprint(body: bytes, query: bytes) -> str:
    """What a retry must repeat: the body compared as parsed JSON (key order and spacing do not count),
    and the query string."""
    try:
        canonical = (
            json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode() if body.strip() else b""
        )
    except ValueError:
        canonical = b"raw:" + body  # not JSON: the operation answers 400; a retry must send the same bytes
    return hashlib.sha256(query + b"\0" + canonical).hexdigest()


@dataclass(frozen=True)
class Scope:
    user_id: str
    method: str
    path: str
    key: str

    def values(self, **more: object) -> dict[str, object]:
        return {"user_id": self.user_id, "method": self.method, "path": self.path, "key": self.key, **more}


@dataclass(frozen=True)
class Claimed:
    claim: str


@dataclass(frozen=True)
class Stored:
    status: int
    body: str | None


class Running:
    """The first request with this key has not answered yet."""


class Mismatch:
    """The key was used with another body."""


Outcome = Claimed | Stored | Running | Mismatch


async def claim(db: Statements, scope: Scope, print_: str, ttl: float) -> Outcome:
    """Take the key for this request, or say what the first request with it left."""
    for _ in range(3):
        token = new_id()
        values = scope.values(fingerprint=print_, claim=token, created_at=utc_now())
        if await db.fetch_one(INSERT_CLAIM, values) is not None:
            return Claimed(token)
        row = await db.fetch_one(SELECT_KEY, scope.values())
        if row is None:
            continue  # let go of between the two statements: try again
        expired = row["created_at"] < utc_now(seconds_ago=ttl)
        stale = row["status"] is None and row["created_at"] < utc_now(seconds_ago=CLAIM_LEASE)
        if expired or stale:
            await db.execute(DELETE_CLAIM, scope.values(claim=row["claim"]))
            continue
        if row["fingerprint"] != print_:
            return Mismatch()
        if row["status"] is None:
            return Running()
        return Stored(row["status"], row["body"])
    return Running()


async def store(db: Statements, scope: Scope, token: str, status: int, body: str | None) -> bool:
    """Write the answer on `db` (the change's transaction); False when the claim is no longer this request's."""
    return await db.fetch_one(STORE_ANSWER, scope.values(claim=token, status=status, body=body)) is not None


async def release(db: Statements, scope: Scope, token: str) -> None:
    await db.execute(RELEASE_CLAIM, scope.values(claim=token))


async def prune(db: Statements, ttl: float) -> None:
    await db.execute(DELETE_EXPIRED, {"before": utc_now(seconds_ago=ttl)})
