"""Fan-out of committed events to this process's sockets, in position order, exactly once.

The broker carries each committed change once, on its company's channel; the hub subscribes to the
companies it has sockets for and routes every event to its sockets by the event's channels, here in
the process (joining a room is local). Positions are gapless per company and in commit order, so the
hub keeps one cursor per company: the next positions are delivered as they arrive; a jump means
events are missing here (a lost or late message), and they are read from the outbox before going on,
as are changes too big for the broker. A periodic sweep does the same for companies whose broker
messages were lost altogether.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterable
from dataclasses import dataclass, field
from typing import cast

from broadcaster import Event

from core.loops import every
from core.metrics import COMMIT_TO_SOCKET, EVENTS_DELIVERED
from events.broker import Broker
from events.outbox import Envelope, company_broker_channel, parse_envelope, read_counter, read_range
from realtime.direct import EncodedText
from realtime.outlet import NOT_STARTED, Outlet, Replay
from storage.sql import Database

log = logging.getLogger("cafe_rt.hub")
RESYNC_REQUIRED = json.dumps({"type": "resync_required"})
REPLAY_PAGE = 500
# An event on `revoked_<user id>` closes every socket of that user (its tokens were revoked).
REVOKED_PREFIX = "revoked_"
SUBSCRIBE_TIMEOUT = 5.0
CLOSE_REVOKED = 4003


@dataclass
class _Company:
    cursor: int | None = None
    pruned_through: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    outlets: set[Outlet] = field(default_factory=set)
    routes: dict[str, set[Outlet]] = field(default_factory=dict)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    listener: asyncio.Task[None] | None = None


class Hub:
    def __init__(self, broker: Broker, database: Database, sweep_interval: float = 2.0) -> None:
        self._broker = broker
        self._database = database
        self._sweep_interval = sweep_interval
        self._companies: dict[str, _Company] = {}
        self._users: dict[str, set[Outlet]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(every(self._sweep_interval, self._stopping, self.sweep, "outbox sweep"))

    async def stop(self) -> None:
        self._stopping.set()
        tasks = [company.listener for company in self._companies.values()] + [self._sweeper]
        for task in tasks:
            if task is not None:
                task.cancel()
        for task in tasks:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._companies.clear()
        self._users.clear()

    async def resubscribe(self) -> None:
        """Subscribe every company again, on the connection the broker holds now (the sweep covers the moment
        between)."""
        for company_id, company in self._companies.items():
            if company.listener is not None:
                company.listener.cancel()
            company.listener = asyncio.create_task(self._listen(company_id, company))

    def sockets_of(self, user_id: str) -> int:
        return len(self._users.get(user_id, ()))

    async def attach(self, outlet: Outlet, resume_after: int | None = None) -> None:
        """Register a socket before its handshake completes; when resuming, queue a replay of what it missed.

        A socket that starts from now reads nothing from the database once its company's cursor is known here.
        """
        company = self._companies.get(outlet.company_id)
        if company is None:
            company = self._companies[outlet.company_id] = _Company()
            company.listener = asyncio.create_task(self._listen(outlet.company_id, company))
        company.outlets.add(outlet)
        for channel in outlet.channels:
            company.routes.setdefault(channel, set()).add(outlet)
        if outlet.user_id is not None:
            self._users.setdefault(outlet.user_id, set()).add(outlet)
        # A broker that does not answer must not hold the handshake: the sweep delivers meanwhile.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(company.subscribed.wait(), SUBSCRIBE_TIMEOUT)
        async with company.lock:
            # A resume from a position this hub has not seen yet needs the database's word on it.
            if company.cursor is None or (resume_after is not None and resume_after > company.cursor):
                await self._catch_up_to_now(outlet.company_id, company)
            assert company.cursor is not None
            if resume_after is None:
                outlet.last_position = company.cursor
            elif not company.pruned_through <= resume_after <= company.cursor:
                outlet.push(RESYNC_REQUIRED)
                outlet.last_position = company.cursor
            else:
                # The replay checks the prune again page by page: another process may have pruned since.
                outlet.replay(resume_after, company.cursor)
                outlet.last_position = company.cursor

    async def replay(self, outlet: Outlet, replay: Replay) -> AsyncGenerator[str, None]:
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

    def join(self, outlet: Outlet, channel: str) -> None:
        """Add a channel to an attached socket: it gets that channel's events from now on, none before."""
        if channel in outlet.channels:
            return
        company = self._companies[outlet.company_id]
        outlet.joined_after[channel] = company.cursor if company.cursor is not None else NOT_STARTED
        outlet.channels.add(channel)
        company.routes.setdefault(channel, set()).add(outlet)

    def leave(self, outlet: Outlet, channel: str) -> None:
        if channel in outlet.channels:
            outlet.channels.discard(channel)
            outlet.joined_after.pop(channel, None)
            company = self._companies.get(outlet.company_id)
            if company is not None:
                self._unroute(company, channel, outlet)

    @staticmethod
    def _unroute(company: _Company, channel: str, outlet: Outlet) -> None:
        outlets = company.routes.get(channel)
        if outlets is not None:
            outlets.discard(outlet)
            if not outlets:
                del company.routes[channel]

    async def detach(self, outlet: Outlet) -> None:
        if outlet.user_id is not None:
            mine = self._users.get(outlet.user_id)
            if mine is not None:
                mine.discard(outlet)
                if not mine:
                    del self._users[outlet.user_id]
        company = self._companies.get(outlet.company_id)
        if company is None:
            return
        for channel in outlet.channels:
            self._unroute(company, channel, outlet)
        company.outlets.discard(outlet)
        if not company.outlets:
            del self._companies[outlet.company_id]
            if company.listener is not None:
                company.listener.cancel()

    async def _listen(self, company_id: str, company: _Company) -> None:
        try:
            async with self._broker.subscribe(company_broker_channel(company_id)) as subscriber:
                company.subscribed.set()
                # broadcaster 0.3.1 annotates Subscriber.__aiter__ as "AsyncGenerator | None"; it yields Events.
                async for event in cast("AsyncIterable[Event]", subscriber):
                    await self._receive(company_id, company, event.message)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The sweep still delivers from the outbox; never leave a connecting socket waiting.
            log.warning("subscription to company %s failed", company_id, exc_info=True)
        finally:
            company.subscribed.set()

    async def _receive(self, company_id: str, company: _Company, message: object) -> None:
        if isinstance(message, Envelope):
            envelope = message  # from this process, through memory://
        else:
            try:
                envelope = parse_envelope(str(message))
            except ValueError:
                log.warning("dropped a malformed broker message")
                return
        async with company.lock:
            cursor = company.cursor
            if cursor is None or envelope.last <= cursor:
                return
            if envelope.entries is not None and envelope.first <= cursor + 1:
                for offset in range(cursor + 1 - envelope.first, len(envelope.entries)):
                    channels, text = envelope.entries[offset]
                    self._fan_out(company, envelope.first + offset, channels, text)
                company.cursor = envelope.last
            else:
                await self._catch_up(company_id, company, envelope.last)
            COMMIT_TO_SOCKET.observe(max(0.0, time.time() - envelope.committed_at))

    async def _catch_up(self, company_id: str, company: _Company, through: int) -> None:
        """Deliver every event after the cursor up to `through` from the outbox, in order."""
        assert company.cursor is not None
        for position, channels, text in await read_range(self._database, company_id, company.cursor, through):
            self._fan_out(company, position, channels, text)
        company.cursor = through

    async def _catch_up_to_now(self, company_id: str, company: _Company) -> None:
        """With the company's lock held: deliver whatever the outbox has past the cursor (or start the cursor)."""
        last, company.pruned_through = await read_counter(self._database, company_id)
        if company.cursor is None:
            company.cursor = last
        elif last > company.cursor:
            await self._catch_up(company_id, company, last)

    def _fan_out(self, company: _Company, position: int, channels: tuple[str, ...], text: str) -> None:
        event = EncodedText(text)
        for channel in channels:
            if channel.startswith(REVOKED_PREFIX):
                self._close_user(company, channel[len(REVOKED_PREFIX) :], text)
                continue
            outlets = company.routes.get(channel)
            if outlets:
                delivered = 0
                for outlet in tuple(outlets):
                    if outlet.deliver(position, event, channel):
                        delivered += 1
                EVENTS_DELIVERED.inc(delivered)

    def _close_user(self, company: _Company, user_id: str, text: str) -> None:
        """Close the user's sockets opened with a token older than the revocation (4003)."""
        try:
            version = int(json.loads(text).get("version", 2**63))
        except (ValueError, TypeError, AttributeError):
            version = 2**63
        for outlet in tuple(self._users.get(user_id, ())):
            if outlet in company.outlets and outlet.token_version < version:
                outlet.close(CLOSE_REVOKED)

    async def sweep(self) -> None:
        """Catch every company up with the outbox: whatever the broker lost is delivered now."""
        for company_id, company in list(self._companies.items()):
            async with company.lock:
                await self._catch_up_to_now(company_id, company)
