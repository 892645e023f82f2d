"""The physical limit for bench/speed.py: a bare `websockets.broadcast` fan-out server on uvloop.

`/sub` sockets are greeted with `connection_established` and held; every text message sent on a `/pub`
socket is handed as is to `websockets.broadcast` for every `/sub` socket (encoded once, written to each
socket's transport without a task or queue per client). No auth, no JSON, no database, compression off.

    .venv/bin/python bench/limit_server.py --port 8300
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve

SUBSCRIBERS: set[ServerConnection] = set()
GREETING = '{"type": "connection_established", "group": "limit"}'


async def handler(websocket: ServerConnection) -> None:
    if websocket.request is not None and websocket.request.path.startswith("/pub"):
        async for message in websocket:
            broadcast(SUBSCRIBERS, message)
        return
    SUBSCRIBERS.add(websocket)
    try:
        await websocket.send(GREETING)
        await websocket.wait_closed()
    finally:
        SUBSCRIBERS.discard(websocket)


async def main(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set_result, None)
    # ping_interval=None: no keepalive traffic during a measurement; max_queue=None: /pub is never throttled.
    async with serve(handler, host, port, compression=None, ping_interval=None, max_queue=None, backlog=4096):
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8300)
    args = parser.parse_args()
    uvloop.run(main(args.host, args.port))
