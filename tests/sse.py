"""A server-sent events client for the tests and benchmarks: httpx2's streaming response, read event by event."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx2

from tests import frames

ACCEPT = {"Accept": "text/event-stream"}


@dataclass
class Event:
    id: str | None
    event: str | None
    data: str

    @property
    def message(self) -> Any:
        return json.loads(self.data)


class EventReader:
    """Events of one stream in arrival order; comments (`: ping`, `: closed ...`) are kept apart, in order.

    A task reads the response, so a `next` that times out loses nothing (cancelling the line iterator itself
    would end it)."""

    def __init__(self, response: httpx2.Response, path: str) -> None:
        self.response = response
        self.path = path
        self.comments: list[str] = []
        self.ended = False
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def next(self, timeout: float = 10) -> Event | None:
        """The next event, or None when the server ended the stream."""
        if self.ended and self._events.empty():
            return None
        return await asyncio.wait_for(self._events.get(), timeout)

    async def _read(self) -> None:
        fields: dict[str, list[str]] = {}
        try:
            async for line in self.response.aiter_lines():
                if not line:
                    if "data" in fields:
                        data = "\n".join(fields["data"])
                        frames.received(self.path, data)
                        position, kind = fields.get("id", [None])[-1], fields.get("event", [None])[-1]
                        self._events.put_nowait(Event(position, kind, data))
                    fields = {}
                elif line.startswith(":"):
                    self.comments.append(line[1:].strip())
                else:
                    name, _, value = line.partition(":")
                    fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)
        finally:
            self.ended = True
            self._events.put_nowait(None)

    async def until_end(self, timeout: float = 10) -> list[Event]:
        """Every event still to come, up to the end of the stream."""
        events = []
        while (event := await self.next(timeout)) is not None:
            events.append(event)
        return events

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx2.HTTPError):
            await self._reader


@asynccontextmanager
async def event_stream(
    http: httpx2.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> AsyncIterator[EventReader]:
    """GET `path` as an event stream; the response must be 200 text/event-stream."""
    request = http.build_request("GET", path, headers={**ACCEPT, **(headers or {})})
    response = await http.send(request, stream=True)
    try:
        assert response.status_code == 200, (response.status_code, (await response.aread())[:300])
        assert response.headers["content-type"] == "text/event-stream"
        reader = EventReader(response, path)
        try:
            yield reader
        finally:
            await reader.close()
    finally:
        await response.aclose()
