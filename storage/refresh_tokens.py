"""Refresh tokens by their jti: each is used once; presenting a used one again means it was stolen,
unless it comes back within the grace window (two tabs, a retried request): then it gets the same pair."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum

from core.values import new_id, utc_later, utc_now
from storage.sql import Statements

INSERT_REFRESH = """
INSERT INTO refresh_tokens (jti, user_id, expires_at, used_at) VALUES (:jti, :user_id, :expires_at, NULL)
"""
# Rows live until their token expires (a used one is still needed to recognise a replay); each new
# token of a user clears that user's expired ones, so the table stays about as big as the live tokens.
FORGET_EXPIRED = "DELETE FROM refresh_tokens WHERE user_id = :user_id AND expires_at < :now"
# Marked used and given its successor in one statement: of two racing rotations exactly one matches, and
# the other (which waits for the row) then reads the successor it may share.
USE_REFRESH = """
UPDATE refresh_tokens SET used_at = :now, replaced_by = :next_jti, rotated_at = :rotated_at
WHERE jti = :jti AND user_id = :user_id AND used_at IS NULL
RETURNING jti
"""
SELECT_REFRESH = "SELECT used_at, replaced_by, rotated_at FROM refresh_tokens WHERE jti = :jti AND user_id = :user_id"


class Use(Enum):
    FIRST = "first"
    # Used already, but so recently that it is the same client again: it gets the same successor.
    AGAIN = "again"
    REPLAYED = "replayed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Rotation:
    use: Use
    # The successor's jti and the second it was issued (FIRST and AGAIN): together they name the new pair.
    jti: str | None = None
    issued_at: int | None = None


async def remember(db: Statements, user_id: str, ttl: int, jti: str | None = None) -> str:
    """Record a new refresh token of the user; returns its jti. Run inside the caller's transaction."""
    jti = jti or new_id()
    await db.execute(FORGET_EXPIRED, {"user_id": user_id, "now": utc_now()})
    await db.execute(INSERT_REFRESH, {"jti": jti, "user_id": user_id, "expires_at": utc_later(ttl)})
    return jti


async def rotate(db: Statements, jti: str, user_id: str, ttl: int, grace: float) -> Rotation:
    """Use up a refresh token and record its successor; at most one caller ever gets FIRST for a jti.
    Run inside the caller's transaction."""
    successor, now = new_id(), int(time.time())
    used = {"jti": jti, "user_id": user_id, "now": utc_now(), "next_jti": successor, "rotated_at": now}
    if await db.fetch_one(USE_REFRESH, used) is not None:
        await remember(db, user_id, ttl, successor)
        return Rotation(Use.FIRST, successor, now)
    row = await db.fetch_one(SELECT_REFRESH, {"jti": jti, "user_id": user_id})
    if row is None:
        # Forgotten by a revocation (or expired and cleared): the token is dead, but nothing says it was stolen.
        return Rotation(Use.UNKNOWN)
    # rotated_at is the successor's whole-second `iat`: measured from it, the window is never longer than `grace`.
    if row["replaced_by"] is not None and row["rotated_at"] is not None and time.time() - row["rotated_at"] < grace:
        return Rotation(Use.AGAIN, row["replaced_by"], row["rotated_at"])
    return Rotation(Use.REPLAYED)


async def is_current(db: Statements, jti: str, user_id: str) -> bool:
    """Whether the refresh token is known and not rotated yet."""
    row = await db.fetch_one(SELECT_REFRESH, {"jti": jti, "user_id": user_id})
    return row is not None and row["used_at"] is None
