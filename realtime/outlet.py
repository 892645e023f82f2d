"""One socket's side of the hub: its channels, what it was last given, and how frames reach it.

A frame is written to the socket at once, in the hub's own call, while the socket keeps up (nothing
queued, nothing in flight): no task wakes up per socket per event. Only a socket that has to wait
(its client reads slowly, or it is replaying a backlog) gets a send task, which drains a bounded queue;
a socket whose queue is full is closed (4008) instead of slowing the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

from core.metrics import SLOW_CLIENT_CLOSES
from realtime.direct import EncodedText
from realtime.eager import run_eagerly

# Until the hub has decided where a new socket starts, nothing is delivered to it.
NOT_STARTED = 2**63
CLOSE_TOO_SLOW = 4008
CLOSE_SERVER_ERROR = 1011


@dataclass(frozen=True)
class Replay:
    """A place in the send queue where a resuming socket is sent positions (after, through] from the outbox,
    read page by page as the socket takes them, so no absence is too long to catch up on."""

    after: int
    through: int


SendText = Callable[[str], Awaitable[None]]
Close = Callable[[int], Awaitable[None]]
ReadReplay = Callable[["Outlet", Replay], AsyncGenerator[str, None]]
WriteFrame = Callable[[bytes], bool]


class Outlet:
    __slots__ = (
        "company_id",
        "channels",
        "user_id",
        "token_version",
        "last_position",
        "joined_after",
        "closing_code",
        "_queue",
        "_max_queue",
        "_send_text",
        "_close",
        "_read_replay",
        "_write_frame",
        "_chunked",
        "_sender",
    )

    def __init__(self, company_id: str, channels: set[str], max_queue: int) -> None:
        self.company_id = company_id
        self.channels = set(channels)
        self.user_id: str | None = None
        self.token_version = 0
        self.last_position = NOT_STARTED
        # A channel joined after connecting carries only what comes after the join.
        self.joined_after: dict[str, int] = {}
        self.closing_code: int | None = None
        # Made only when a frame has to wait: an empty deque costs ~600 bytes, on every idle socket.
        self._queue: deque[str | Replay] | None = None
        self._max_queue = max_queue
        self._send_text: SendText | None = None
        self._close: Close | None = None
        self._read_replay: ReadReplay | None = None
        self._write_frame: WriteFrame | None = None
        self._chunked = False
        self._sender: asyncio.Task[None] | None = None

    def start(
        self,
        send_text: SendText,
        close: Close,
        read_replay: ReadReplay,
        write_frame: WriteFrame | None = None,
        *,
        chunked: bool = False,
    ) -> None:
        """The socket is accepted: send what was queued before (a greeting, a state: at once, like any frame;
        a replay through the sender), and from now on send as frames come. `write_frame`, where the server
        allows it (realtime/direct.py), writes an event's encoded frame straight to the connection: its
        WebSocket frame, or with `chunked` (an event stream) its server-sent event as an HTTP chunk."""
        self._send_text, self._close, self._read_replay = send_text, close, read_replay
        self._write_frame, self._chunked = write_frame, chunked
        while self._queue and self._sender is None and self.closing_code is None:
            frame = self._queue[0]
            if isinstance(frame, Replay):
                break
            self._queue.popleft()
            self._send_now(frame)
        if not self._queue:
            self._queue = None
        if (self._queue or self.closing_code is not None) and self._sender is None:
            self._start_sender(None)

    @property
    def _direct(self) -> bool:
        return self._send_text is not None and self._sender is None and not self._queue

    def _enqueue(self, frame: str | Replay) -> None:
        if self._queue is None:
            self._queue = deque()
        self._queue.append(frame)

    def push(self, text: str) -> None:
        """Send a text frame, or queue it behind what is waiting; a full queue closes the socket (4008)."""
        if self.closing_code is not None:
            return
        if self._direct:
            self._send_now(text)
            return
        if self._queue is not None and len(self._queue) >= self._max_queue:
            self.close(CLOSE_TOO_SLOW)
            return
        self._enqueue(text)
        if self._send_text is not None and self._sender is None:
            self._start_sender(None)

    def _send_now(self, text: str) -> None:
        """Write a frame in this call; if the socket cannot take it at once, a sender finishes it and goes on."""
        assert self._send_text is not None
        try:
            # ASGI types `send` as returning an Awaitable; uvicorn's is a coroutine function, which
            # run_eagerly steps by hand.
            waiting = run_eagerly(self._send_text(text))  # type: ignore[arg-type]
        except Exception:
            self._gone()
            return
        if waiting is not None:
            self._watch(waiting)

    def replay(self, after: int, through: int) -> None:
        self._enqueue(Replay(after, through))
        if self._send_text is not None and self._sender is None:
            self._start_sender(None)

    def wants(self, channel: str, position: int) -> bool:
        return position > self.joined_after.get(channel, 0)

    def accepts(self, channels: tuple[str, ...], position: int) -> bool:
        return any(channel in self.channels and self.wants(channel, position) for channel in channels)

    def deliver(self, position: int, event: EncodedText, channel: str | None = None) -> bool:
        """Send an event once: a socket on several of the event's channels still gets one copy. With `channel`
        (the event's, as the hub fans it out), not if the socket joined that channel after the event."""
        if position <= self.last_position or self.closing_code is not None:
            return False
        # wants() inline: this runs once per socket per event, and most sockets joined nothing late.
        if channel is not None and self.joined_after and position <= self.joined_after.get(channel, 0):
            return False
        self.last_position = position
        # The frame encoded once for every socket, written in this call; else the ordinary send (or queue).
        # (A writer is set only once started, so `_direct` here is: no sender and nothing queued.)
        write = self._write_frame
        if (
            write is None
            or self._sender is not None
            or self._queue
            or not write(event.chunk if self._chunked else event.frame)
        ):
            self.push(event.text)
        return True

    def close(self, code: int) -> None:
        """Close the socket with `code` once the frame in flight is out; what is queued is dropped."""
        if self.closing_code is not None:
            return
        if code == CLOSE_TOO_SLOW:
            SLOW_CLIENT_CLOSES.inc()
        self.closing_code = code
        self._queue = None
        if self._send_text is not None and self._sender is None:
            self._start_sender(None)

    async def stop(self) -> None:
        """The socket is gone: stop sending to it."""
        self.closing_code = self.closing_code or 1000
        self._queue = None
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sender

    def _gone(self) -> None:
        """A send failed: the client has gone; its disconnect will detach the socket."""
        self.closing_code = self.closing_code or 1006
        self._queue = None

    def _watch(self, waiting: asyncio.Task[None]) -> None:
        """A send had to wait: what comes next queues behind it, and a sender takes over once it is out."""
        self._start_sender(waiting)

    def _start_sender(self, waiting: asyncio.Task[None] | None) -> None:
        # A context of its own: the sender must not inherit whatever the pushing task had open (a transaction).
        loop = asyncio.get_running_loop()
        self._sender = loop.create_task(self._send_queued(waiting), context=contextvars.Context())

    async def _send_queued(self, waiting: asyncio.Task[None] | None) -> None:
        assert self._send_text is not None and self._close is not None and self._read_replay is not None
        try:
            if waiting is not None:
                await waiting
            while self.closing_code is None and self._queue:
                frame = self._queue.popleft()
                if not self._queue:
                    self._queue = None
                if isinstance(frame, Replay):
                    # Sent straight from the outbox: a long backlog waits on the client, not in the queue.
                    async with contextlib.aclosing(self._read_replay(self, frame)) as texts:
                        async for text in texts:
                            if self.closing_code is not None:
                                break
                            await self._send_text(text)
                else:
                    await self._send_text(frame)
            if self.closing_code is not None and self.closing_code != 1006:
                await self._close(self.closing_code)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The client is gone, or our side failed (the outbox could not be read for a replay): either
            # way the socket must not stay open and silent; a live client gets 1011 and reconnects.
            self._gone()
            with contextlib.suppress(Exception):
                await self._close(CLOSE_SERVER_ERROR)
        finally:
            self._sender = None
