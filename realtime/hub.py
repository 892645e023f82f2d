"""Fan-out of committed events to this process's sockets, in position order, exactly once.

One broadcaster subscription per channel that has a local socket. Positions are gapless per
company and in commit order, so the hub keeps one cursor per company: the next position is
delivered as it arrives; a jump means events are missing here (another channel, a lost or late
message), and they are read from the outbox before going on. A periodic sweep does the same for
companies whose broker messages were lost altogether.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from broadcaster import Broadcast
from databases import Database

from domain.outbox import broker_channel, parse_envelope, read_counter, read_range
from realtime.outlet import NOT_STARTED, Outlet, Replay

log = logging.getLogger("cafe_rt.hub")
RESYNC_REQUIRED = json.dumps({"type": "resync_required"})
REPLAY_PAGE = 500


@dataclass
class _Channel:
    company_id: str
    outlets: set[Outlet] = field(default_factory=set)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None


@dataclass
class _Company:
    cursor: int | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    outlets: set[Outlet] = field(default_factory=set)


class Hub:
    def __init__(self, broadcast: Broadcast, database: Database, sweep_interval: float = 2.0) -> None:
        self._broadcast = broadcast
        self._database = database
        self._sweep_interval = sweep_interval
        self._channels: dict[str, _Channel] = {}
        self._companies: dict[str, _Company] = {}
        self._sweeper: asyncio.Task | None = None

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        tasks = [state.task for state in self._channels.values() if state.task] + [self._sweeper]
        for task in tasks:
            if task is not None:
                task.cancel()
        for task in tasks:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._channels.clear()
        self._companies.clear()

    async def rebind(self, broadcast: Broadcast) -> None:
        """Move every channel in use to a new broker connection."""
        self._broadcast = broadcast
        for channel, state in self._channels.items():
            if state.task is not None:
                state.task.cancel()
            state.ready = asyncio.Event()
            state.task = asyncio.create_task(self._listen(channel, state))

    async def attach(self, outlet: Outlet, resume_after: int | None = None) -> None:
        """Register a socket before its handshake completes; when resuming, queue a replay of what it missed."""
        company = self._companies.setdefault(outlet.company_id, _Company())
        company.outlets.add(outlet)
        for channel in outlet.channels:
            await self._subscribe(channel, outlet)
        async with company.lock:
            last, pruned_through = await read_counter(self._database, outlet.company_id)
            if company.cursor is None:
                company.cursor = last
            if resume_after is None:
                outlet.last_position = last
            elif not pruned_through <= resume_after <= last:
                outlet.push(RESYNC_REQUIRED)
                outlet.last_position = last
            else:
                outlet.replay(resume_after, company.cursor)
                outlet.last_position = company.cursor
            if last > company.cursor:
                await self._catch_up(outlet.company_id, company, last)

    async def replay(self, outlet: Outlet, replay: Replay) -> AsyncIterator[str]:
        """The texts of a replay that the socket's channels carry, read from the outbox a page at a time."""
        after = replay.after
        while after < replay.through:
            through = min(after + REPLAY_PAGE, replay.through)
            rows = await read_range(self._database, outlet.company_id, after, through)
            # Read after the rows: a prune that took some of them has raised pruned_through by now.
            _, pruned_through = await read_counter(self._database, outlet.company_id)
            if pruned_through > after:
                yield RESYNC_REQUIRED
                return
            for position, channels, text in rows:
                if outlet.accepts(channels, position):
                    yield text
            after = through

    async def join(self, outlet: Outlet, channel: str) -> None:
        """Add a channel to an attached socket: it gets that channel's events from now on, none before."""
        if channel in outlet.channels:
            return
        outlet.joined_after[channel] = NOT_STARTED
        outlet.channels.add(channel)
        await self._subscribe(channel, outlet)
        company = self._companies[outlet.company_id]
        async with company.lock:
            outlet.joined_after[channel] = await self._catch_up_to_now(outlet.company_id, company)

    def leave(self, outlet: Outlet, channel: str) -> None:
        if channel in outlet.channels:
            outlet.channels.discard(channel)
            outlet.joined_after.pop(channel, None)
            self._unsubscribe(channel, outlet)

    def _unsubscribe(self, channel: str, outlet: Outlet) -> None:
        state = self._channels.get(channel)
        if state is None:
            return
        state.outlets.discard(outlet)
        if not state.outlets:
            del self._channels[channel]
            if state.task is not None:
                state.task.cancel()

    async def detach(self, outlet: Outlet) -> None:
        for channel in outlet.channels:
            self._unsubscribe(channel, outlet)
        company = self._companies.get(outlet.company_id)
        if company is not None:
            company.outlets.discard(outlet)
            if not company.outlets:
                del self._companies[outlet.company_id]

    async def _subscribe(self, channel: str, outlet: Outlet) -> None:
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = _Channel(outlet.company_id)
            state.task = asyncio.create_task(self._listen(channel, state))
        state.outlets.add(outlet)
        await state.ready.wait()

    async def _listen(self, channel: str, state: _Channel) -> None:
        try:
            async with self._broadcast.subscribe(broker_channel(channel)) as subscriber:
                state.ready.set()
                async for event in subscriber:
                    await self._receive(state.company_id, event.message)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The sweep still delivers from the outbox; never leave a connecting socket waiting.
            log.warning("subscription to %s failed", channel, exc_info=True)
        finally:
            state.ready.set()

    async def _receive(self, company_id: str, envelope: str) -> None:
        try:
            position, channels, text = parse_envelope(envelope)
        except ValueError:
            log.warning("dropped a malformed broker message")
            return
        company = self._companies.get(company_id)
        if company is None:
            return
        async with company.lock:
            if company.cursor is None or position <= company.cursor:
                return
            if position == company.cursor + 1 and text:
                self._fan_out(position, channels, text)
                company.cursor = position
            else:
                await self._catch_up(company_id, company, position)

    async def _catch_up(self, company_id: str, company: _Company, through: int) -> None:
        """Deliver every event after the cursor up to `through` from the outbox, in order."""
        for position, channels, text in await read_range(self._database, company_id, company.cursor, through):
            self._fan_out(position, channels, text)
        company.cursor = through

    async def _catch_up_to_now(self, company_id: str, company: _Company) -> int:
        """With the company's lock held: deliver whatever the outbox has past the cursor; returns its last."""
        last, _ = await read_counter(self._database, company_id)
        if company.cursor is not None and last > company.cursor:
            await self._catch_up(company_id, company, last)
        return last

    def _fan_out(self, position: int, channels: tuple[str, ...], text: str) -> None:
        for channel in channels:
            state = self._channels.get(channel)
            if state is not None:
                for outlet in list(state.outlets):
                    if outlet.wants(channel, position):
                        outlet.deliver(position, text)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            try:
                await self.sweep()
            except Exception:
                log.warning("outbox sweep failed", exc_info=True)

    async def sweep(self) -> None:
        """Catch every company up with the outbox: whatever the broker lost is delivered now."""
        for company_id, company in list(self._companies.items()):
            async with company.lock:
                await self._catch_up_to_now(company_id, company)
