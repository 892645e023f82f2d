"""realtime/direct.py against the real uvicorn: the protocol attributes it reads, and frames a client can read."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from websockets.asyncio.client import connect

from realtime.direct import PROTOCOL_ATTRIBUTES, EncodedText, frame_writer_for
from tests.servers import in_process_uvicorn

found: dict[str, Any] = {}
# Frames of the rooms socket (at "/"), so that the suite's check of every frame against /asyncapi.json holds.
PONG = '{"type":"pong"}'
SHORT = '{"type":"error","data":{"message":"direct"}}'
LONG = '{"type":"error","data":{"message":"прямо, ' + "x" * 70_000 + '"}}'


async def app(scope: Any, receive: Any, send: Any) -> None:
    """Accepts, then writes two frames through the direct writer (when there is one) and one the ordinary way."""
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.accept"})
    protocol = getattr(scope["cafe_rt.raw_send"], "__self__", None)
    found["attributes"] = [name for name in PROTOCOL_ATTRIBUTES if not hasattr(protocol, name)]
    writer = frame_writer_for(scope["cafe_rt.raw_send"])
    found["writer"] = writer is not None
    if writer is not None:
        assert writer.write(EncodedText(SHORT).frame)
        assert writer.write(EncodedText(LONG).frame)  # a 16-bit and a 64-bit length
    await send({"type": "websocket.send", "text": PONG})
    while (await receive())["type"] != "websocket.disconnect":
        pass


def served(**options: Any) -> contextlib.AbstractAsyncContextManager[int]:
    return in_process_uvicorn(app, ws="websockets-sansio", **options)


def test_uvicorns_protocol_has_what_the_direct_writer_reads_and_its_frames_arrive() -> None:
    """Pinned: an upgrade of uvicorn that moves one of these attributes fails here (and the writer falls back)."""

    async def scenario() -> list[str]:
        async with served(ws_per_message_deflate=False) as port:
            async with connect(f"ws://127.0.0.1:{port}/", compression=None, max_size=None) as ws:
                return [str(await ws.recv()) for _ in range(3)]

    received = asyncio.run(scenario())
    assert found == {"attributes": [], "writer": True}
    assert received == [SHORT, LONG, PONG]


def test_a_connection_with_permessage_deflate_gets_no_direct_writer() -> None:
    async def scenario() -> list[str]:
        async with served(ws_per_message_deflate=True) as port:
            async with connect(f"ws://127.0.0.1:{port}/", compression="deflate") as ws:
                return [str(await ws.recv())]

    assert asyncio.run(scenario()) == [PONG]
    assert found["writer"] is False
