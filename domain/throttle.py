"""Login throttling that cannot be turned against the user: failed passwords counted in the database.

Three counts: the (account, address) pair locks after LOGIN_MAX_FAILURES, the address after
LOGIN_MAX_FAILURES_PER_ADDRESS, and the account as a whole never locks: from LOGIN_MAX_FAILURES on it
only slows (1, 2, 4 ... up to LOGIN_MAX_DELAY seconds between attempts), so a stranger's guesses cannot
keep the right password out for longer than that delay.

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

from core.errors import NotAuthenticated, Throttled
from core.values import utc_later, utc_now

if TYPE_CHECKING:
    from core.settings import Settings
    from events.services import Services

UPSERT_ATTEMPT = """
INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES (:key, 1, :now, NULL)
ON CONFLICT (key) DO UPDATE SET
  failures = CASE WHEN login_throttle.window_start < :window_floor THEN 1 ELSE login_throttle.failures + 1 END,
  window_start = CASE WHEN login_throttle.window_start < :window_floor THEN :now ELSE login_throttle.window_start END
RETURNING failures, locked_until
"""
# The account-wide count never locks: an attempt passes once the delay the account's failures earned has run
# out, and passing takes the slot (a burst of parallel guesses gets one through, not all). Its window slides:
# window_start is the last attempt, so a slow guesser never starts afresh. No row answered: the gate is shut.
CLAIM_ACCOUNT_SLOT = """
INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES (:key, 1, :now, NULL)
ON CONFLICT (key) DO UPDATE SET
  failures = CASE WHEN login_throttle.window_start < :window_floor THEN 1 ELSE login_throttle.failures + 1 END,
  window_start = :now
WHERE login_throttle.locked_until IS NULL OR login_throttle.locked_until <= :now
RETURNING failures
"""
SELECT_GATE = "SELECT locked_until FROM login_throttle WHERE key = :key"
LOCK = "UPDATE login_throttle SET locked_until = :until WHERE key = :key"
CLEAR = "DELETE FROM login_throttle WHERE key = :key"
FORGIVE = "UPDATE login_throttle SET failures = failures - 1 WHERE key = :key AND failures > 0"
PRUNE = """
DELETE FROM login_throttle WHERE window_start < :window_floor AND (locked_until IS NULL OR locked_until < :now)
"""
TOO_MANY = "Too many failed logins; try again later."


@dataclass(frozen=True)
class LoginLimits:
    """LOGIN_MAX_FAILURES, LOGIN_LOCKOUT, LOGIN_MAX_FAILURES_PER_ADDRESS and LOGIN_MAX_DELAY (core/settings.py)."""

    max_failures: int
    lockout: float
    max_failures_per_address: int
    max_delay: float

    @classmethod
    def of(cls, settings: Settings) -> LoginLimits:
        return cls(
            settings.login_max_failures,
            settings.login_lockout,
            settings.login_max_failures_per_address,
            settings.login_max_delay,
        )

    def delay(self, account_failures: int) -> float:
        """Seconds the next attempt on an account waits after its `account_failures`-th failure in a row."""
        if account_failures < self.max_failures:
            return 0.0
        return min(self.max_delay, 2.0 ** min(account_failures - self.max_failures, 32))


@dataclass(frozen=True)
class Counter:
    key: str
    limit: int
    failures: int = 0


def account_key(email: str) -> str:
    # Hashed: people type passwords into the email field, and this table must not keep them.
    return "account:" + _digest(email)


def pair_key(email: str, address: str | None) -> str:
    return f"pair:{_digest(email)}:{address or ''}"


def _digest(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


def _seconds_until(moment: str) -> int:
    until = datetime.strptime(moment, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return max(1, math.ceil((until - datetime.now(UTC)).total_seconds()))


@asynccontextmanager
async def login_attempt(
    services: Services, email: str, address: str | None, failure: type[Exception] = NotAuthenticated
) -> AsyncIterator[None]:
    """Count one password attempt (a login, or a password change's old password); 429 (Throttled) while refused.

    Refused: the (account, address) pair or the address is locked, or the account's delay has not run out.
    The block checks the password and raises `failure` when it is wrong: that locks a pair (or address) that
    reached its limit. A success clears the pair's and the account's counts."""
    limits = LoginLimits.of(services.settings)
    account = account_key(email)
    counters = [Counter(pair_key(email, address), limits.max_failures)]
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
        if not retry_after:
            claimed = await db.fetch_one(CLAIM_ACCOUNT_SLOT, {"key": account, "now": now, "window_floor": floor})
            if claimed is None:
                gate = await db.fetch_one(SELECT_GATE, {"key": account})
                retry_after = _seconds_until(gate["locked_until"]) if gate and gate["locked_until"] else 1
                # Waiting out an account's delay is not a failure of this pair: retrying must not lock it.
                for counter in counters:
                    await db.execute(FORGIVE, {"key": counter.key})
            elif delay := limits.delay(claimed["failures"]):
                await db.execute(LOCK, {"key": account, "until": utc_later(delay)})
    if retry_after:
        raise Throttled(TOO_MANY, retry_after)
    try:
        yield
    except failure:
        async with db.transaction():
            for counter in counters:
                if counter.failures >= counter.limit:
                    await db.execute(LOCK, {"key": counter.key, "until": utc_later(limits.lockout)})
            await db.execute(PRUNE, {"window_floor": floor, "now": now})
        raise
    async with db.transaction():
        for key in (account, counters[0].key):
            await db.execute(CLEAR, {"key": key})
        for counter in counters[1:]:
            await db.execute(FORGIVE, {"key": counter.key})
