"""Keeps the broker connection alive: broadcaster itself never reconnects (Redis) after a drop.

Every interval a probe message must make the round trip through the broker. Two misses in a
row and the connection is rebuilt: a new Broadcast, every channel in use subscribed again, and
one sweep of the outbox so sockets get what the outage kept from them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from domain.metrics import BROKER_UP
from domain.services import Services
from realtime.hub import Hub
from realtime.pg_broker import broker_for

log = logging.getLogger("cafe_rt.broker")


class BrokerSupervisor:
    def __init__(self, services: Services, hub: Hub, url: str, interval: float, probe_timeout: float = 1.0) -> None:
        self._services = services
        self._hub = hub
        self._url = url
        self._interval = interval
        self._probe_timeout = probe_timeout
        self._probe_channel = f"cafe_rt_probe_{uuid.uuid4().hex}"
        self._misses = 0
        self.healthy = True
        BROKER_UP.set(1)

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._interval)
                return  # stopping was set during the pause
            await self.check()

    async def check(self) -> None:
        if await self._probe():
            self._misses, self.healthy = 0, True
            BROKER_UP.set(1)
            return
        self._misses += 1
        if self._misses >= 2:
            self.healthy = False
            BROKER_UP.set(0)
            await self._reconnect()

    async def _probe(self) -> bool:
        broadcast = self._services.broadcast
        token = uuid.uuid4().hex
        try:
            async with asyncio.timeout(self._probe_timeout):
                async with broadcast.subscribe(self._probe_channel) as subscriber:
                    await broadcast.publish(channel=self._probe_channel, message=token)
                    while (await subscriber.get()).message != token:
                        pass
            return True
        except Exception:
            return False

    async def _reconnect(self) -> None:
        fresh = broker_for(self._url)
        try:
            await asyncio.wait_for(fresh.connect(), self._probe_timeout * 3)
        except Exception as error:
            log.warning("broker still unreachable: %s", error)
            return
        stale, self._services.broadcast = self._services.broadcast, fresh
        await self._hub.rebind(fresh)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(stale.disconnect(), self._probe_timeout)
        log.warning("broker reconnected; channels subscribed again, catching up from the outbox")
        await self._hub.sweep()
        self._misses, self.healthy = 0, await self._probe()
        BROKER_UP.set(1 if self.healthy else 0)
