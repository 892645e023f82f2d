"""Refresh tokens by their jti: each is used once; presenting a used one again means it was stolen."""

from __future__ import annotations

from enum import Enum

from domain.db import new_id, utc_later, utc_now
from domain.sql import Statements

INSERT_REFRESH = """
INSERT INTO refresh_tokens (jti, user_id, expires_at, used_at) VALUES (:jti, :user_id, :expires_at, NULL)
"""
# Rows live until their token expires (a used one is still needed to recognise a replay); each new
# token of a user clears that user's expired ones, so the table stays about as big as the live tokens.
FORGET_EXPIRED = "DELETE FROM refresh_tokens WHERE user_id = :user_id AND expires_at < :now"
USE_REFRESH = """
UPDATE refresh_tokens SET used_at = :now WHERE jti = :jti AND user_id = :user_id AND used_at IS NULL
RETURNING jti
"""
SELECT_REFRESH = "SELECT used_at FROM refresh_tokens WHERE jti = :jti AND user_id = :user_id"


class Use(Enum):
    FIRST = "first"
    REPLAYED = "replayed"
    UNKNOWN = "unknown"


async def remember(db: Statements, user_id: str, ttl: int) -> str:
    """Record a new refresh token of the user; returns its jti. Run inside the caller's transaction."""
    jti = new_id()
    await db.execute(FORGET_EXPIRED, {"user_id": user_id, "now": utc_now()})
    await db.execute(INSERT_REFRESH, {"jti": jti, "user_id": user_id, "expires_at": utc_later(ttl)})
    return jti


async def use(db: Statements, jti: str, user_id: str) -> Use:
    """Mark a refresh token used; at most one caller ever gets FIRST for a jti."""
    if await db.fetch_one(USE_REFRESH, {"jti": jti, "user_id": user_id, "now": utc_now()}) is not None:
        return Use.FIRST
    if await db.fetch_one(SELECT_REFRESH, {"jti": jti, "user_id": user_id}) is not None:
        return Use.REPLAYED
    # Forgotten by a revocation (or expired and cleared): the token is dead, but nothing says it was stolen.
    return Use.UNKNOWN
