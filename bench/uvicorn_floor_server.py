"""The floor under cafe_rt's connects and idle sockets: a bare Starlette WebSocket route under the same uvicorn.

Same uvicorn settings as `cafe_rt.py serve` (uvloop, httptools, websockets-sansio, no compression, no pings
during the measurement); the route accepts, sends a greeting and waits for the disconnect. What a socket
costs here (CPU per connect, RSS per idle socket) is uvicorn's protocol object, the handshake, and
Starlette's routing and task frames: the part of cafe_rt's cost that no change inside the app can remove.

    .venv/bin/python bench/uvicorn_floor_server.py --port 8500
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

GREETING = '{"type": "connection_established", "group": "floor"}'


async def feed(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(GREETING)
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


app = Starlette(routes=[WebSocketRoute("/ws/cafe/orders/", feed)])

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8500)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_ping_interval=None,
        log_level="warning",
        backlog=4096,
    )
