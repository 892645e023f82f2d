"""The broker connection in use: one holder that everything publishing or subscribing keeps.

broadcaster never reconnects after a drop, so the supervisor (realtime/broker_watch.py) makes a new
connection and swaps it in here; whoever holds the `Broker` uses the new one from then on, and the
hub subscribes its channels again.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from broadcaster import Broadcast
from broadcaster._base import Subscriber

from core.values import normalize_database_url
from events.pg_broker import PostgresBroker
from events.redis_broker import TimedRedisBackend

# PostgreSQL's NOTIFY takes payloads under 8000 bytes; Redis and memory:// take any size.
MAX_NOTIFY_TEXT = 7000
UNBOUNDED_TEXT = 1_000_000


def connection_for(url: str) -> Broadcast:
    """A new, unconnected broker connection for `url` (redis://, postgres://, memory://), PostgreSQL's made safe
    for concurrent use."""
    url = normalize_database_url(url)
    if url.startswith("postgresql://"):
        return Broadcast(backend=PostgresBroker(url))
    if url.startswith(("redis://", "rediss://")):
        return Broadcast(backend=TimedRedisBackend(url))
    return Broadcast(url)


def reaches_one_process(url: str) -> bool:
    """memory:// (the embedded default) carries events within this process only."""
    return normalize_database_url(url).startswith("memory")


class Broker:
    def __init__(self, url: str) -> None:
        self.url = normalize_database_url(url)
        self.connection = connection_for(self.url)
        # The largest envelope text this broker takes.
        self.max_text = MAX_NOTIFY_TEXT if self.url.startswith("postgresql://") else UNBOUNDED_TEXT
        # memory:// hands a message to this process's subscribers as the object it is: nothing to encode.
        self.in_process = reaches_one_process(self.url)

    async def connect(self) -> None:
        await self.connection.connect()

    async def disconnect(self) -> None:
        await self.connection.disconnect()

    async def publish(self, channel: str, message: object) -> None:
        """`message` is text, except on an in-process broker (`in_process`), which may carry any object."""
        await self.connection.publish(channel=channel, message=message)

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[Subscriber]:
        return self.connection.subscribe(channel)

    def swap(self, fresh: Broadcast) -> Broadcast:
        """Put a connected `fresh` connection in use; returns the stale one, for the caller to close."""
        stale, self.connection = self.connection, fresh
        return stale
