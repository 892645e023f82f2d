"""The per-user socket cap across processes: each live socket holds a lease in Redis.

A user's leases are one sorted set (`cafe_rt:sockets:<user id>`), member = the socket's id, score = when
the lease runs out. A connect takes a lease in one round trip (a script: drop expired leases, count, add),
so two processes cannot both give out the last place. Each process renews its sockets' leases every
LEASE / 3 seconds; a process that dies without closing its sockets stops renewing, and its leases run
out within LEASE seconds. When Redis does not answer, the connect is judged by this process's own count:
a broker outage must not refuse every socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as redis

log = logging.getLogger("cafe_rt.socket_leases")

LEASE = 60.0
REDIS_SCHEMES = ("redis://", "rediss://")
KEY_PREFIX = "cafe_rt:sockets:"
# KEYS[1]: the user's set; ARGV: now, cap, member, expiry (seconds since the epoch). 1 when the lease is taken.
CLAIM = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[4] - ARGV[1]) + 1)
return 1
"""


@dataclass(frozen=True)
class Claim:
    """A connect's answer: the lease taken (`lease`), the cap reached (`full`), or neither: Redis did not answer."""

    lease: str | None = None
    full: bool = False


def lease_key(user_id: str) -> str:
    return KEY_PREFIX + user_id


class SocketLeases:
    """Leases of this process's sockets, in the Redis that carries the broker's messages."""

    def __init__(self, url: str, timeout: float = 0.5, lease: float = LEASE) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._claim = self._redis.register_script(CLAIM)
        self._lease = lease
        self._held: dict[str, str] = {}  # lease id -> user id

    async def claim(self, user_id: str, cap: int) -> Claim:
        """A place for one more socket of the user, counted over every process."""
        member = uuid.uuid4().hex
        now = time.time()
        try:
            taken = await self._claim(keys=[lease_key(user_id)], args=[now, cap, member, now + self._lease])
        except (redis.RedisError, OSError) as error:
            log.warning("socket leases unavailable, counting this process's sockets only: %s", error)
            return Claim()
        if not taken:
            return Claim(full=True)
        self._held[member] = user_id
        return Claim(lease=member)

    async def release(self, member: str) -> None:
        user_id = self._held.pop(member, None)
        if user_id is None:
            return
        with contextlib.suppress(redis.RedisError, OSError):
            await cast(Any, self._redis.zrem(lease_key(user_id), member))

    async def renew(self) -> None:
        """Push every held lease's expiry forward (one pipeline), and the sets' own expiry with it."""
        if not self._held:
            return
        expires = time.time() + self._lease
        pipe = self._redis.pipeline(transaction=False)
        for member, user_id in list(self._held.items()):
            pipe.zadd(lease_key(user_id), {member: expires}, xx=True)
            pipe.expire(lease_key(user_id), int(self._lease) + 1)
        try:
            await pipe.execute()
        except (redis.RedisError, OSError) as error:
            log.warning("socket leases not renewed: %s", error)

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._lease / 3)
                return
            await self.renew()

    async def close(self) -> None:
        """Give back every lease this process holds (a clean shutdown), then the connection."""
        for member in list(self._held):
            await self.release(member)
        with contextlib.suppress(Exception):
            await self._redis.aclose()
