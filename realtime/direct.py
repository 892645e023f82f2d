"""An event encoded once and written straight to each connection's transport, as websockets.broadcast does.

Under `cafe_rt.py serve`, uvicorn's websockets-sansio protocol turns every `websocket.send` into: Starlette's
send wrapper, the protocol's `send` coroutine (its `writable` wait), websockets' frame encoding, then
`transport.write`. For one event sent to 1,000 sockets that is 1,000 encodings of the same bytes, and it was
two fifths of the fan-out's CPU (py-spy). A server-to-client text frame is the same bytes for every
connection that negotiated no extension, so the hub encodes it once (`EncodedText`) and each socket that
can take it now writes it to its transport in one call (`FrameWriter`). Whenever that is not plainly safe
(the transport's buffer is full, a close was sent, the handshake is not done, an extension was negotiated,
or the server is not uvicorn's websockets-sansio: Starlette's TestClient, another ASGI server), the frame goes
through the ASGI send as before.

An event stream's event is the same: its server-sent event, framed as the HTTP/1.1 chunk uvicorn's httptools
protocol would write for it, is the same bytes for every stream (`EncodedText.chunk`), and `ChunkWriter`
writes it to the stream's transport while the response is started, not complete, the client is there and the
transport takes data; else it goes through the ASGI send (Starlette's, the middleware's and uvicorn's send
wrappers), as it did before.

This reaches into uvicorn's objects; `frame_writer_for` and `chunk_writer_for` check every attribute they use,
and tests/test_direct.py pins them, so an upgrade that moves one falls back (and fails that test) rather than
misbehaving.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from realtime.sse_text import event_frame

# Where KeepRawSend leaves the server's own `send` in a connection's scope.
RAW_SEND = "cafe_rt.raw_send"
# What FrameWriter reads on uvicorn's WebSocketsSansIOProtocol (uvicorn 0.54).
PROTOCOL_ATTRIBUTES = ("transport", "conn", "writable", "close_sent", "disconnected", "handshake_complete")
# What ChunkWriter reads on uvicorn's httptools RequestResponseCycle (uvicorn 0.54), and on its `flow`.
CYCLE_ATTRIBUTES = (
    "transport",
    "flow",
    "scope",
    "disconnected",
    "response_started",
    "response_complete",
    "chunked_encoding",
)
FLOW_ATTRIBUTES = ("write_paused",)
HTTPTOOLS_CYCLE = ("uvicorn.protocols.http.httptools_impl", "RequestResponseCycle")


def http_chunk(body: bytes) -> bytes:
    """`body` as one chunk of a chunked HTTP/1.1 body, byte for byte as uvicorn's httptools protocol writes it."""
    return b"%x\r\n%b\r\n" % (len(body), body)


class EncodedText:
    """An event's text, with its unmasked text frame and its server-sent event chunk, each encoded the first
    time a connection asks for it."""

    __slots__ = ("text", "_frame", "_chunk")

    def __init__(self, text: str) -> None:
        self.text = text
        self._frame: bytes | None = None
        self._chunk: bytes | None = None

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = Frame(Opcode.TEXT, self.text.encode()).serialize(mask=False, extensions=[])
        return self._frame

    @property
    def chunk(self) -> bytes:
        if self._chunk is None:
            self._chunk = http_chunk(event_frame(self.text))
        return self._chunk


class FrameWriter:
    """Writes encoded frames to one uvicorn websockets-sansio connection while that is safe."""

    # The connection's parts, which stay the same for its life, kept here: this runs once per socket per event.
    __slots__ = ("_protocol", "_conn", "_transport", "_writable")

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self._conn, self._transport, self._writable = protocol.conn, protocol.transport, protocol.writable

    def write(self, frame: bytes) -> bool:
        """True when the frame was written; False: send it the ordinary way (which waits or fails as it must).
        Written only after the handshake (the writer is made once the socket is accepted)."""
        if (
            self._writable.is_set()
            and not self._protocol.close_sent
            and self._conn.state is State.OPEN
            and not self._transport.is_closing()
        ):
            self._transport.write(frame)
            return True
        return False


def frame_writer_for(raw_send: Any) -> FrameWriter | None:
    """A writer when `raw_send` (the ASGI send as the server handed it over) is a websockets-sansio protocol's
    own, on a connection without extensions; else None."""
    protocol = getattr(raw_send, "__self__", None)
    if protocol is None or type(protocol).__name__ != "WebSocketsSansIOProtocol":
        return None
    if not all(hasattr(protocol, name) for name in PROTOCOL_ATTRIBUTES):
        return None
    if getattr(protocol.conn, "extensions", None) != [] or not protocol.handshake_complete:
        return None
    return FrameWriter(protocol)


class ChunkWriter:
    """Writes encoded chunks to the body of one uvicorn httptools response while that is safe."""

    __slots__ = ("_cycle", "_flow", "_transport")

    def __init__(self, cycle: Any) -> None:
        self._cycle, self._flow, self._transport = cycle, cycle.flow, cycle.transport

    def write(self, chunk: bytes) -> bool:
        """True when the chunk was written; False: send it the ordinary way (which waits for a paused transport,
        or drops it for a client that has gone, as it must). The writer is made once the response has started."""
        cycle = self._cycle
        if (
            not self._flow.write_paused
            and not cycle.disconnected
            and not cycle.response_complete
            and not self._transport.is_closing()
        ):
            self._transport.write(chunk)
            return True
        return False


def chunk_writer_for(raw_send: Any) -> ChunkWriter | None:
    """A writer when `raw_send` (the ASGI send as the server handed it over) is a uvicorn httptools response's
    own, started with a chunked body (not HEAD's); else None."""
    cycle = getattr(raw_send, "__self__", None)
    if cycle is None or (type(cycle).__module__, type(cycle).__name__) != HTTPTOOLS_CYCLE:
        return None
    if not all(hasattr(cycle, name) for name in CYCLE_ATTRIBUTES):
        return None
    if not all(hasattr(cycle.flow, name) for name in FLOW_ATTRIBUTES):
        return None
    if not cycle.response_started or cycle.chunked_encoding is not True or cycle.scope.get("method") == "HEAD":
        return None
    return ChunkWriter(cycle)


class KeepRawSend:
    """Outermost, outside Starlette's own error middleware (which wraps an HTTP response's `send`): keeps the
    server's own `send` of a socket or a request in its scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            scope[RAW_SEND] = send
        await self.app(scope, receive, send)
