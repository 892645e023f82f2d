"""uvicorn's httptools protocol with the two limits it lacks: the size of a request head, and its time;
and, on shutdown, the end of the service's event streams.

httptools buffers a header or a URL until it ends, however long, and uvicorn starts no timer before
a request's first response: a peer could grow the process's memory with one endless header, or hold
a connection forever by sending nothing or a byte now and then. `serve` uses this protocol instead.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# A head (request line and headers) may be this big; a token in the query is well under 1 KiB.
MAX_HEAD_BYTES = 64 * 1024


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    request_timeout: float = 10.0
    max_head_bytes: int = MAX_HEAD_BYTES
    _deadline: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _in_head = True

    # As uvicorn's own override: asyncio's BaseProtocol says BaseTransport, a TCP server hands a Transport.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(b"431 Request Header Fields Too Large", "The request head is too large.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0
        self._arm()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def shutdown(self) -> None:
        # uvicorn waits for every response to complete, and a server-sent event stream never does by itself:
        # end this process's streams (the first call does; each completes its response), as sockets get 1012.
        streams = self.app_state.get("streams")
        if streams is not None:
            streams.end_all()
        super().shutdown()

    def handle_websocket_upgrade(self) -> None:
        # The client's part of the handshake is complete; the WebSocket protocol takes the connection.
        self._in_head = False
        self._disarm()
        super().handle_websocket_upgrade()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._in_head and self._head_bytes:
            self._refuse(b"408 Request Timeout", "The request took too long to arrive.")
        else:
            # Nothing sent yet, or a body still trickling in while the app waits for it: hang up.
            self.transport.close()

    def _refuse(self, status: bytes, detail: str) -> None:
        self._disarm()
        body = json.dumps({"detail": detail}).encode()
        head = b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        self.transport.write(head % (status, len(body)) + body)
        self.transport.close()
