"""An event's text frame encoded once and written straight to each socket's transport, as websockets.broadcast does.

Under `cafe_rt.py serve`, uvicorn's websockets-sansio protocol turns every `websocket.send` into: Starlette's
send wrapper, the protocol's `send` coroutine (its `writable` wait), websockets' frame encoding, then
`transport.write`. For one event sent to 1,000 sockets that is 1,000 encodings of the same bytes, and it was
two fifths of the fan-out's CPU (py-spy). A server-to-client text frame is the same bytes for every
connection that negotiated no extension, so the hub encodes it once (`EncodedText`) and each socket that
can take it now writes it to its transport in one call (`FrameWriter`). Whenever that is not plainly safe
(the transport's buffer is full, a close was sent, the handshake is not done, an extension was negotiated,
or the server is not uvicorn's websockets-sansio: Starlette's TestClient, another ASGI server), the frame goes
through the ASGI send as before.

This reaches into uvicorn's protocol object; `frame_writer_for` checks every attribute it uses, and
tests/test_direct.py pins them, so an upgrade that moves one falls back (and fails that test) rather than
misbehaving.
"""

from __future__ import annotations

from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State

# What FrameWriter reads on uvicorn's WebSocketsSansIOProtocol (uvicorn 0.54).
PROTOCOL_ATTRIBUTES = ("transport", "conn", "writable", "close_sent", "disconnected", "handshake_complete")


class EncodedText:
    """An event's text, and its unmasked text frame, encoded the first time a socket asks for it."""

    __slots__ = ("text", "_frame")

    def __init__(self, text: str) -> None:
        self.text = text
        self._frame: bytes | None = None

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = Frame(Opcode.TEXT, self.text.encode()).serialize(mask=False, extensions=[])
        return self._frame


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


class KeepRawSend:
    """Outermost middleware: keeps the server's own `send` of a socket in its scope, before Starlette wraps it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            scope["cafe_rt.raw_send"] = send
        await self.app(scope, receive, send)
