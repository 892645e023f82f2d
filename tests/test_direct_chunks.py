"""realtime/direct.py's chunk writer for event streams: uvicorn's own httptools response cycle over a fake
transport in each state (written, paused, client gone, closing, complete), the order it keeps with the ASGI
send, a slow reader's 4008, and the attributes it reads on a real uvicorn server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable
from typing import Any

import httpx2
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from realtime.direct import CYCLE_ATTRIBUTES, RAW_SEND, EncodedText, chunk_writer_for
from realtime.outlet import CLOSE_TOO_SLOW, Outlet, Replay
from realtime.sse_text import event_frame
from realtime.stream import HEADERS
from tests.servers import in_process_uvicorn

SHORT = '{"type":"order_created","data":{"order":{"id":"o-1"}},"event_id":7}'
LONG = '{"type":"order_updated","data":{"note":"прямо, ' + "x" * 70_000 + '"},"event_id":8}'
TAIL = b": closed 1012 the server is restarting; reconnect with Last-Event-ID\n\n"


class FakeTransport:
    """What a response cycle writes to, and whether it is closing."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def cycle_over(transport: FakeTransport, method: str = "GET") -> RequestResponseCycle:
    """uvicorn's own response cycle of one request, writing to `transport`."""
    scope: Any = {"type": "http", "method": method, "http_version": "1.1", "headers": []}
    return RequestResponseCycle(
        scope=scope,
        transport=transport,  # type: ignore[arg-type]
        flow=FlowControl(transport),  # type: ignore[arg-type]
        logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test.access"),
        access_log=False,
        default_headers=[],
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=True,
        on_response=lambda: None,
    )


async def started(method: str = "GET") -> tuple[FakeTransport, RequestResponseCycle]:
    transport = FakeTransport()
    cycle = cycle_over(transport, method)
    await cycle.send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    return transport, cycle


def body(text: str) -> Any:  # an ASGI body message, as uvicorn types it
    return {"type": "http.response.body", "body": event_frame(text), "more_body": True}


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def test_a_direct_chunk_is_the_bytes_uvicorn_writes_for_the_same_event() -> None:
    async def scenario() -> None:
        direct, cycle = await started()
        ordinary, other = await started()
        writer = chunk_writer_for(cycle.send)
        assert writer is not None
        for text in (SHORT, LONG):
            assert writer.write(EncodedText(text).chunk)
            await other.send(body(text))
        assert direct.written == ordinary.written
        assert EncodedText(SHORT).chunk == b"%x\r\n" % len(event_frame(SHORT)) + event_frame(SHORT) + b"\r\n"
        assert event_frame(SHORT).startswith(b"id: 7\nevent: order_created\ndata: {")

    asyncio.run(scenario())


def test_no_writer_before_the_response_starts_for_a_head_or_for_a_send_that_is_not_uvicorns() -> None:
    async def scenario() -> None:
        transport = FakeTransport()
        cycle = cycle_over(transport)
        assert chunk_writer_for(cycle.send) is None  # the head has not gone out
        _, head = await started("HEAD")
        assert chunk_writer_for(head.send) is None  # a HEAD response has no body

        _, cycle = await started()

        async def wrapped(message: Any) -> None:  # what a middleware hands on
            await cycle.send(message)

        assert chunk_writer_for(wrapped) is None
        assert chunk_writer_for(None) is None
        assert chunk_writer_for(cycle.send) is not None

    asyncio.run(scenario())


def test_the_writer_declines_while_the_transport_is_paused_or_closing_the_client_gone_or_the_response_done() -> None:
    async def scenario() -> None:
        chunk = EncodedText(SHORT).chunk
        transport, cycle = await started()
        writer = chunk_writer_for(cycle.send)
        assert writer is not None
        head = len(transport.written)
        cycle.flow.pause_writing()
        assert not writer.write(chunk)
        cycle.flow.resume_writing()
        assert writer.write(chunk)
        transport.closing = True
        assert not writer.write(chunk)
        transport.closing = False
        cycle.disconnected = True
        assert not writer.write(chunk)
        cycle.disconnected = False
        await cycle.send({"type": "http.response.body", "body": TAIL, "more_body": False})
        assert not writer.write(chunk)
        assert bytes(transport.written[head:]) == chunk + b"%x\r\n" % len(TAIL) + TAIL + b"\r\n0\r\n\r\n"

    asyncio.run(scenario())


class Stream:
    """An event stream's outlet over a real response cycle, as realtime/stream.py wires it; `asgi` records what
    went the ordinary way."""

    def __init__(self, cycle: RequestResponseCycle, max_queue: int = 10) -> None:
        self.cycle = cycle
        self.asgi: list[str] = []
        self.outlet = Outlet("c", {"orders"}, max_queue=max_queue)
        self.outlet.last_position = 0
        writer = chunk_writer_for(cycle.send)
        assert writer is not None
        self.outlet.start(self.send_text, self.end, self.read_replay, writer.write, chunked=True)

    def send_text(self, text: str) -> Awaitable[None]:
        self.asgi.append(text)
        return self.cycle.send(body(text))

    async def end(self, code: int) -> None:
        await self.cycle.send(
            {"type": "http.response.body", "body": f": closed {code}\n\n".encode(), "more_body": False}
        )

    async def read_replay(self, outlet: Outlet, replay: Replay) -> AsyncGenerator[str, None]:
        for position in range(replay.after + 1, replay.through + 1):
            yield event(position)


def event(position: int) -> str:
    return f'{{"type":"order_updated","data":{{}},"event_id":{position}}}'


def chunks(*texts: str) -> bytes:
    return b"".join(EncodedText(text).chunk for text in texts)


def test_a_stream_writes_direct_while_it_can_and_what_waits_goes_the_asgi_way_in_order() -> None:
    async def scenario() -> None:
        transport, cycle = await started()
        head = len(transport.written)
        stream = Stream(cycle)
        stream.outlet.deliver(1, EncodedText(event(1)))
        assert stream.asgi == [] and bytes(transport.written[head:]) == chunks(event(1))
        cycle.flow.pause_writing()  # the client reads slowly: the transport's buffer is full
        stream.outlet.deliver(2, EncodedText(event(2)))  # the ASGI send waits for the drain
        cycle.flow.resume_writing()  # writable again, but event 2 is still in the ASGI path
        stream.outlet.deliver(3, EncodedText(event(3)))  # behind it, not past it
        stream.outlet.push(": ping")
        await settle()
        assert stream.asgi == [event(2), event(3), ": ping"]
        stream.outlet.deliver(4, EncodedText(event(4)))  # nothing pending: direct again
        assert stream.asgi == [event(2), event(3), ": ping"]
        expected = chunks(event(1), event(2), event(3), ": ping", event(4))
        assert bytes(transport.written[head:]) == expected

    asyncio.run(scenario())


def test_a_stream_whose_client_reads_too_slowly_is_ended_with_4008() -> None:
    async def scenario() -> None:
        transport, cycle = await started()
        head = len(transport.written)
        stream = Stream(cycle, max_queue=2)
        cycle.flow.pause_writing()
        for position in range(1, 5):  # one in flight, two queued, the fourth overflows
            stream.outlet.deliver(position, EncodedText(event(position)))
        assert stream.outlet.closing_code == CLOSE_TOO_SLOW
        cycle.flow.resume_writing()
        await settle()
        ending = f": closed {CLOSE_TOO_SLOW}\n\n".encode()
        assert bytes(transport.written[head:]) == chunks(event(1)) + b"%x\r\n%b\r\n0\r\n\r\n" % (len(ending), ending)
        assert cycle.response_complete

    asyncio.run(scenario())


def test_a_stream_whose_transport_is_closing_goes_the_asgi_way() -> None:
    async def scenario() -> None:
        transport, cycle = await started()
        stream = Stream(cycle)
        transport.closing = True
        stream.outlet.deliver(1, EncodedText(event(1)))
        assert stream.asgi == [event(1)]

    asyncio.run(scenario())


found: dict[str, Any] = {}


async def app(scope: Any, receive: Any, send: Any) -> None:
    """Starts an event stream, writes two events through the chunk writer (when there is one), ends the ordinary way."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    cycle = getattr(scope[RAW_SEND], "__self__", None)
    found["attributes"] = [name for name in CYCLE_ATTRIBUTES if not hasattr(cycle, name)]
    writer = chunk_writer_for(scope[RAW_SEND])
    found["writer"] = writer is not None
    if writer is not None:
        assert writer.write(EncodedText(SHORT).chunk)
        assert writer.write(EncodedText(LONG).chunk)
    await send({"type": "http.response.body", "body": TAIL, "more_body": False})


def served() -> contextlib.AbstractAsyncContextManager[int]:
    return in_process_uvicorn(app, http="httptools")


def test_uvicorns_httptools_cycle_has_what_the_chunk_writer_reads_and_its_chunks_arrive() -> None:
    """Pinned: an upgrade of uvicorn that moves one of these attributes fails here (and the writer falls back)."""

    async def scenario() -> bytes:
        async with served() as port, httpx2.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/", headers={"Accept": "text/event-stream"})
            assert response.headers["transfer-encoding"] == "chunked"
            return response.content

    received = asyncio.run(scenario())
    assert found == {"attributes": [], "writer": True}
    assert received == event_frame(SHORT) + event_frame(LONG) + TAIL
