"""broadcaster's Redis backend with socket timeouts, so a broker that stops answering is noticed.

broadcaster builds its clients with redis-py's defaults: no socket timeout, so a publish to a paused or
partitioned Redis waits for ever. The publishing client gets a socket timeout (its connection is dropped
and made again on the next publish); the subscribing one only a connect timeout and keep-alive, since it
waits for messages by design (the supervisor's probe notices when it hears nothing).
"""

from __future__ import annotations

from broadcaster._backends.redis import RedisBackend
from redis import asyncio as redis

# A publish is also bounded by PUBLISH_TIMEOUT (events/outbox.py); this frees the connection behind it.
SOCKET_TIMEOUT = 2.0
CONNECT_TIMEOUT = 2.0


class TimedRedisBackend(RedisBackend):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._conn = redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=CONNECT_TIMEOUT)
        listener = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT, socket_keepalive=True)
        self._listening_client = listener
        self._pubsub = listener.pubsub()

    async def disconnect(self) -> None:
        await super().disconnect()
        await self._listening_client.aclose()
