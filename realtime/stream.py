"""Server-sent events on every socket URL: the same client, channels, texts and resume as the WebSocket.

`EventStream(SocketClass)` answers `GET` with `Accept: text/event-stream` at a socket's URL. It makes the
dialect's own client (realtime/socket.py's `HubClient`), so the authentication, the authorization, the
channels, the greeting or state and the resume are the socket's: the client registers with the hub before
the response starts, and a refusal is an HTTP status with `{"detail": ...}`. From then on the hub feeds
the stream's outlet like any socket's (one bounded queue, 4008 for a slow reader, 4003 on revocation),
and each text it is given goes out as one event: `id:` (its `event_id`), `event:` (its `type`), `data:`.
A close code ends the response. Read-only: actions stay on the WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from core.metrics import EVENT_STREAMS
from realtime.direct import RAW_SEND, chunk_writer_for
from realtime.outlet import Outlet
from realtime.socket import CLOSE_BAD_TOKEN, HubClient, Rejected
from realtime.sse_text import PING, PING_FRAME, event_frame

MEDIA_TYPE = "text/event-stream"
HEADERS = [
    (b"content-type", MEDIA_TYPE.encode()),
    (b"cache-control", b"no-cache"),
    # nginx buffers a proxied response unless told not to; an event must not wait for the buffer to fill.
    (b"x-accel-buffering", b"no"),
]
CLOSE_GOING_AWAY = 1012
ENDINGS = {
    CLOSE_BAD_TOKEN: "4003 the token was revoked or expired",
    4008: "4008 the client could not keep up; reconnect with Last-Event-ID",
    CLOSE_GOING_AWAY: "1012 the server is restarting; reconnect with Last-Event-ID",
}
UPGRADE_HINT = (
    "This is a socket URL: open it with a WebSocket client, or follow it as server-sent events with "
    "GET and Accept: text/event-stream (curl -N -H 'Accept: text/event-stream')."
)


def wants_event_stream(accept: str) -> bool:
    """Whether an Accept header asks for text/event-stream (and not with q=0)."""
    for part in accept.lower().split(","):
        media_type, *parameters = (piece.strip() for piece in part.split(";"))
        if media_type == MEDIA_TYPE:
            refused = ("q=0", "q=0.0", "q=0.00", "q=0.000")
            return not any(parameter.replace(" ", "") in refused for parameter in parameters)
    return False


class OpenStreams:
    """This process's event streams, so that a shutdown can end them: a stream never ends by itself, and
    uvicorn waits for every response to complete (front_door/http_guard.py calls `end_all`)."""

    def __init__(self) -> None:
        self._outlets: set[Outlet] = set()
        self.closing = False

    def add(self, outlet: Outlet) -> None:
        self._outlets.add(outlet)

    def discard(self, outlet: Outlet) -> None:
        self._outlets.discard(outlet)

    def __len__(self) -> int:
        return len(self._outlets)

    def end_all(self) -> None:
        if self.closing:
            return
        self.closing = True
        for outlet in tuple(self._outlets):
            outlet.close(CLOSE_GOING_AWAY)


async def _until_gone(receive: Receive) -> None:
    """Returns when the client has gone, or the response is complete (uvicorn then says http.disconnect too)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class EventStream:
    """The ASGI app of a socket URL's GET: server-sent events from the dialect's `client`, or 426 with a hint."""

    def __init__(self, client: type[HubClient]) -> None:
        self.client = client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if not wants_event_stream(request.headers.get("accept", "")):
            upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
            await JSONResponse({"detail": UPGRADE_HINT}, status_code=426, headers=upgrade)(scope, receive, send)
            return
        streams: OpenStreams = request.state.streams
        if streams.closing:
            detail = {"detail": "The server is restarting; try again."}
            await JSONResponse(detail, status_code=503, headers={"Retry-After": "1"})(scope, receive, send)
            return
        client = self.client(scope, receive, send)
        try:
            outlet = await client.subscribe(request)
        except Rejected as rejected:
            headers = {"WWW-Authenticate": "Bearer"} if rejected.status == 401 else None
            await JSONResponse({"detail": rejected.detail}, status_code=rejected.status, headers=headers)(
                scope, receive, send
            )
            return
        hub = client.hub(request)
        streams.add(outlet)
        expiry: asyncio.TimerHandle | None = None
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            if request.method == "HEAD":
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return

            def write(text: str) -> Awaitable[None]:
                body = PING_FRAME if text == PING else event_frame(text)
                return send({"type": "http.response.body", "body": body, "more_body": True})

            async def end(code: int) -> None:
                ending = ENDINGS.get(code, str(code))
                body = f": closed {ending}\n\n".encode()
                await send({"type": "http.response.body", "body": body, "more_body": False})

            # Each event's chunk straight to the transport while it takes it (realtime/direct.py), after the
            # response's head went out the ordinary way.
            writer = chunk_writer_for(scope.get(RAW_SEND))
            outlet.start(write, end, hub.replay, None if writer is None else writer.write, chunked=True)
            EVENT_STREAMS.labels(client.dialect).inc()
            try:
                settings = request.state.settings
                if settings.socket_token_expiry == "close":
                    # A stream cannot refresh its token in-band: it ends at expiry, and the client reconnects.
                    loop = asyncio.get_running_loop()
                    delay = max(0.0, client.actor.expires_at - time.time())
                    expiry = loop.call_at(loop.time() + delay, outlet.close, CLOSE_BAD_TOKEN)
                await self._serve(outlet, receive, settings.sse_ping_interval)
            finally:
                EVENT_STREAMS.labels(client.dialect).dec()
        finally:
            if expiry is not None:
                expiry.cancel()
            streams.discard(outlet)
            await client.forget(hub, outlet)

    @staticmethod
    async def _serve(outlet: Outlet, receive: Receive, ping_interval: float) -> None:
        """Until the client goes or the stream is ended (a close code): a comment every `ping_interval` seconds
        keeps proxies from cutting an idle stream."""
        gone = asyncio.ensure_future(_until_gone(receive))
        try:
            while not gone.done():
                await asyncio.wait((gone,), timeout=ping_interval)
                if not gone.done():
                    outlet.push(PING)
        finally:
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gone
