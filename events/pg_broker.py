"""A PostgreSQL broker that takes concurrent use: broadcaster 0.3.1's own runs LISTEN, UNLISTEN and NOTIFY on
one asyncpg connection with no guard, so two at once fail with "another operation is in progress" (every
request publishes, the hub subscribes companies, the supervisor probes). Here LISTEN and UNLISTEN take turns
on the listening connection, and NOTIFY goes through a small pool of its own."""

from __future__ import annotations

import asyncio

import asyncpg
from broadcaster._backends.postgres import PostgresBackend


class PostgresBroker(PostgresBackend):
    async def connect(self) -> None:
        await super().connect()
        self._listening = asyncio.Lock()
        self._notifiers: asyncpg.Pool = await asyncpg.create_pool(self._url, min_size=1, max_size=4)

    async def disconnect(self) -> None:
        try:
            await self._notifiers.close()
        finally:
            await super().disconnect()

    async def subscribe(self, channel: str) -> None:
        async with self._listening:
            await super().subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        async with self._listening:
            await super().unsubscribe(channel)

    async def publish(self, channel: str, message: str) -> None:
        await self._notifiers.execute("SELECT pg_notify($1, $2)", channel, message)
