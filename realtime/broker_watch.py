"""Keeps the broker connection alive: broadcaster itself never reconnects (Redis) after a drop.

Every interval a probe message must make the round trip through the broker. Two misses in a
row and the connection is rebuilt: a new connection swapped into the one `Broker` holder
(events/broker.py), every channel in use subscribed again, and one sweep of the outbox so sockets
get what the outage kept from them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from core.metrics import BROKER_UP
from events.broker import Broker, connection_for
from realtime.hub import Hub

log = logging.getLogger("cafe_rt.broker")


class BrokerWatch:
    def __init__(self, broker: Broker, hub: Hub, probe_timeout: float = 1.0) -> None:
        self._broker = broker
        self._hub = hub
        self._probe_timeout = probe_timeout
        self._probe_channel = f"cafe_rt_probe_{uuid.uuid4().hex}"
        self._misses = 0
        self.healthy = True
        BROKER_UP.set(1)

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
        token = uuid.uuid4().hex
        try:
            async with asyncio.timeout(self._probe_timeout):
                async with self._broker.subscribe(self._probe_channel) as subscriber:
                    await self._broker.publish(self._probe_channel, token)
                    while (await subscriber.get()).message != token:
                        pass
            return True
        except Exception:
            return False

    async def _reconnect(self) -> None:
        fresh = connection_for(self._broker.url)
        try:
            await asyncio.wait_for(fresh.connect(), self._probe_timeout * 3)
        except Exception as error:
            log.warning("broker still unreachable: %s", error)
            return
        stale = self._broker.swap(fresh)
        await self._hub.resubscribe()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(stale.disconnect(), self._probe_timeout)
        log.warning("broker reconnected; channels subscribed again, catching up from the outbox")
        await self._hub.sweep()
        self._misses, self.healthy = 0, await self._probe()
        BROKER_UP.set(1 if self.healthy else 0)
