"""Login throttling: failed logins counted per account and per client address, in the database.

The counts live in `login_throttle` (not in memory) so every process of a deployment sees the same
ones. An attempt is counted before its password is checked and forgiven when it succeeds, so a burst
of parallel guesses cannot all pass the check before the first failure is written.

Writes here are plain short transactions, not `services.change(...)`: the rows belong to no company
(an unknown email has none), emit no event, and must not queue behind a company's event counter lock.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from domain.db import utc_later, utc_now
from domain.errors import NotAuthenticated, Throttled

if TYPE_CHECKING:
    from domain.services import Services

UPSERT_ATTEMPT = """
INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES (:key, 1, :now, NULL)
ON CONFLICT (key) DO UPDATE SET
  failures = CASE WHEN login_throttle.window_start < :window_floor THEN 1 ELSE login_throttle.failures + 1 END,
  window_start = CASE WHEN login_throttle.window_start < :window_floor THEN :now ELSE login_throttle.window_start END
RETURNING failures, locked_until
"""
LOCK = "UPDATE login_throttle SET locked_until = :until WHERE key = :key"
CLEAR = "DELETE FROM login_throttle WHERE key = :key"
FORGIVE = "UPDATE login_throttle SET failures = failures - 1 WHERE key = :key AND failures > 0"
PRUNE = """
DELETE FROM login_throttle WHERE window_start < :window_floor AND (locked_until IS NULL OR locked_until < :now)
"""
TOO_MANY = "Too many failed logins; try again later."


@dataclass(frozen=True)
class LoginLimits:
    max_failures: int = 10
    lockout: float = 900.0
    # Staff of a whole cafe log in from one address: high enough for their typos, low enough to stop a spray.
    max_failures_per_address: int = 100


@dataclass(frozen=True)
class Counter:
    key: str
    limit: int
    failures: int = 0


def account_key(email: str) -> str:
    # Hashed: people type passwords into the email field, and this table must not keep them.
    return "account:" + hashlib.sha256(email.encode()).hexdigest()


def _seconds_until(moment: str) -> int:
    until = datetime.strptime(moment, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return max(1, math.ceil((until - datetime.now(UTC)).total_seconds()))


@asynccontextmanager
async def login_attempt(services: Services, email: str, address: str | None) -> AsyncIterator[None]:
    """Count one login attempt; 429 (Throttled) while the account or the address is locked.

    The block checks the password and raises NotAuthenticated when it is wrong: that failure locks the
    account (or address) that reached its limit. A success clears the account's count."""
    limits = services.login_limits
    counters = [Counter(account_key(email), limits.max_failures)]
    if address:
        counters.append(Counter(f"address:{address}", limits.max_failures_per_address))
    db = services.database
    now, floor = utc_now(), utc_now(seconds_ago=limits.lockout)
    retry_after = 0
    async with db.transaction():
        for index, counter in enumerate(counters):
            row = await db.fetch_one(UPSERT_ATTEMPT, {"key": counter.key, "now": now, "window_floor": floor})
            assert row is not None  # an upsert returns its row
            counters[index] = Counter(counter.key, counter.limit, row["failures"])
            if row["locked_until"] is not None and row["locked_until"] > now:
                retry_after = max(retry_after, _seconds_until(row["locked_until"]))
            elif row["failures"] > counter.limit:  # attempts in parallel that raced past the limit
                await db.execute(LOCK, {"key": counter.key, "until": utc_later(limits.lockout)})
                retry_after = max(retry_after, math.ceil(limits.lockout))
    if retry_after:
        raise Throttled(TOO_MANY, retry_after)
    try:
        yield
    except NotAuthenticated:
        async with db.transaction():
            for counter in counters:
                if counter.failures >= counter.limit:
                    await db.execute(LOCK, {"key": counter.key, "until": utc_later(limits.lockout)})
            await db.execute(PRUNE, {"window_floor": floor, "now": now})
        raise
    async with db.transaction():
        await db.execute(CLEAR, {"key": counters[0].key})
        for counter in counters[1:]:
            await db.execute(FORGIVE, {"key": counter.key})
