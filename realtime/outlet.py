"""One socket's side of the hub: its channels, what it was last given, and its bounded send queue."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

# Until the hub has decided where a new socket starts, nothing is delivered to it.
NOT_STARTED = 2**63
CLOSE_TOO_SLOW = 4008


@dataclass(frozen=True)
class Replay:
    """A place in the send queue where a resuming socket is sent positions (after, through] from the outbox,
    read page by page as the socket takes them, so no absence is too long to catch up on."""

    after: int
    through: int


class Outlet:
    def __init__(self, company_id: str, channels: set[str], max_queue: int) -> None:
        self.company_id = company_id
        self.channels = set(channels)
        self.last_position = NOT_STARTED
        # A channel joined after connecting carries only what comes after the join.
        self.joined_after: dict[str, int] = {}
        self.closing_code: int | None = None
        self._queue: deque[str | Replay] = deque()
        self._max_queue = max_queue
        self._wakeup = asyncio.Event()

    def push(self, text: str) -> None:
        """Queue a text frame; a socket whose queue is full is closed instead of slowing the others."""
        if self.closing_code is not None:
            return
        if len(self._queue) >= self._max_queue:
            self.close(CLOSE_TOO_SLOW)
            return
        self._queue.append(text)
        self._wakeup.set()

    def replay(self, after: int, through: int) -> None:
        self._queue.append(Replay(after, through))
        self._wakeup.set()

    def wants(self, channel: str, position: int) -> bool:
        return position > self.joined_after.get(channel, 0)

    def accepts(self, channels: tuple[str, ...], position: int) -> bool:
        return any(channel in self.channels and self.wants(channel, position) for channel in channels)

    def deliver(self, position: int, text: str) -> None:
        """Queue an event once: a socket on several of the event's channels still gets one copy."""
        if position > self.last_position:
            self.last_position = position
            self.push(text)

    def close(self, code: int) -> None:
        self.closing_code = code
        self._queue.clear()
        self._wakeup.set()

    async def next_frame(self) -> str | Replay | None:
        """The next text (or replay) to send, or None when the socket is to be closed with closing_code."""
        while not self._queue and self.closing_code is None:
            self._wakeup.clear()
            await self._wakeup.wait()
        if self.closing_code is not None:
            return None
        return self._queue.popleft()
