"""Load without loss: many sockets, thousands of writes, reconnects with resume, one broker restart.

Starts a real uvicorn process (and, with --broker redis, a private redis-server that is
stopped and started again mid-run), opens --sockets clients on the orders feed (a --sse share
of them server-sent event streams, the rest WebSockets), makes --writes orders through REST
while about a tenth of the clients drop and resume (?last_event_id= on a socket, Last-Event-ID
on a stream), then checks that every client saw every order exactly once and in order.

    .venv/bin/python bench/loss.py --sockets 200 --writes 5000

Prints sent, delivered, lost, duplicated and out-of-order counts; exits 1 on any loss.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx2
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.factory import PASSWORD  # noqa: E402
from tests.servers import (  # noqa: E402  (the repository root is put on the path just above)
    create_company_by_command,
    free_port,
    private_redis,
    server_env,
    token_for,
    uvicorn_server,
)
from tests.sse import EventReader, event_stream  # noqa: E402


class Follower:
    """One socket's view: every order_created it got, in arrival order, across reconnects."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.last_event_id: int | None = None
        self.orders: list[str] = []
        self.positions: list[int] = []
        self.reconnects = 0
        self.drop = asyncio.Event()

    async def follow(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        while not stop.is_set():
            resume = "" if self.last_event_id is None else f"&last_event_id={self.last_event_id}"
            try:
                async with connect(self.url + resume, max_queue=None, open_timeout=30) as ws:
                    await ws.recv()  # connection_established
                    if ready is not None:
                        ready.set()
                        ready = None
                    await self._read(ws, stop)
            except (ConnectionClosed, OSError, TimeoutError):
                pass
            self.reconnects += 1
            await asyncio.sleep(0.05)

    async def _read(self, ws, stop: asyncio.Event) -> None:
        while not stop.is_set() and not self.drop.is_set():
            try:
                text = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            self.record(json.loads(text))
        self.drop.clear()

    def record(self, event: dict) -> None:
        if "event_id" in event:
            self.last_event_id = event["event_id"]
            self.positions.append(event["event_id"])
        if event.get("type") == "order_created":
            self.orders.append(event["data"]["order"]["id"])


class StreamFollower(Follower):
    """The same view over server-sent events: the Bearer header, and Last-Event-ID to resume."""

    def __init__(self, host: str, path: str, token: str) -> None:
        super().__init__(f"http://{host}{path}")
        self.host, self.path, self.token = host, path, token

    async def follow(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        timeout = httpx2.Timeout(30, read=None)  # a stream is idle between events (a ping every 15 s)
        async with httpx2.AsyncClient(base_url=f"http://{self.host}", timeout=timeout) as http:
            while not stop.is_set():
                headers = {"Authorization": f"Bearer {self.token}"}
                if self.last_event_id is not None:
                    headers["Last-Event-ID"] = str(self.last_event_id)
                try:
                    async with event_stream(http, self.path, headers) as stream:
                        await stream.next(30)  # connection_established
                        if ready is not None:
                            ready.set()
                            ready = None
                        await self._read_stream(stream, stop)
                except (httpx2.HTTPError, OSError, TimeoutError, AssertionError):
                    pass
                self.reconnects += 1
                await asyncio.sleep(0.05)

    async def _read_stream(self, stream: EventReader, stop: asyncio.Event) -> None:
        while not stop.is_set() and not self.drop.is_set():
            try:
                event = await stream.next(0.5)
            except TimeoutError:
                continue
            if event is None:  # the server ended the stream
                return
            self.record(event.message)
        self.drop.clear()


async def run(host: str, waiter_token: str, args: argparse.Namespace, redis_port: int | None) -> dict:
    url = f"ws://{host}/ws/cafe/orders/?token={waiter_token}"
    streams = round(args.sockets * args.sse)
    followers: list[Follower] = [StreamFollower(host, "/ws/cafe/orders/", waiter_token) for _ in range(streams)]
    followers += [Follower(url) for _ in range(args.sockets - streams)]
    stop = asyncio.Event()
    readies = [asyncio.Event() for _ in followers]
    tasks = [asyncio.create_task(f.follow(stop, ready)) for f, ready in zip(followers, readies, strict=True)]
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), 120)

    sent: list[str] = []
    auth = {"Authorization": f"Bearer {waiter_token}"}
    limits = httpx2.Limits(max_connections=args.writers)
    async with httpx2.AsyncClient(base_url=f"http://{host}", limits=limits, timeout=60) as http:
        queue = iter(range(args.writes))

        async def writer() -> None:
            for _ in queue:
                response = await http.post("/api/cafe/orders/", json={"guests": 1, "items": []}, headers=auth)
                response.raise_for_status()
                sent.append(response.json()["id"])

        async def chaos() -> None:
            restarted = False
            while len(sent) < args.writes:
                await asyncio.sleep(0.2)
                for follower in random.sample(followers, max(1, args.sockets // 10)):
                    follower.drop.set()
                if redis_port is not None and not restarted and len(sent) > args.writes // 3:
                    restarted = True
                    await asyncio.to_thread(restart_redis, redis_port)

        started = time.monotonic()
        await asyncio.gather(*(writer() for _ in range(args.writers)), chaos())
        write_seconds = time.monotonic() - started

    expected = set(sent)
    deadline = time.monotonic() + args.settle
    while time.monotonic() < deadline and any(set(f.orders) != expected for f in followers):
        await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)

    order_of = {order_id: index for index, order_id in enumerate(sent)}
    return {
        "sockets": args.sockets,
        "event_streams": streams,
        "sent": len(sent),
        "delivered": sum(len(f.orders) for f in followers),
        "lost": sum(len(expected - set(f.orders)) for f in followers),
        "duplicated": sum(len(f.positions) - len(set(f.positions)) for f in followers),
        "out_of_order": sum(
            sum(1 for a, b in zip(f.positions, f.positions[1:], strict=False) if b <= a) for f in followers
        ),
        "reconnects": sum(f.reconnects for f in followers),
        "broker_restarts": broker_restarts,
        "writes_per_second": round(len(sent) / write_seconds, 1),
        "unknown_orders": sum(1 for f in followers for o in f.orders if o not in order_of),
    }


_redis: dict[int, ExitStack] = {}
broker_restarts = 0


def restart_redis(port: int) -> None:
    """Stop the private Redis and start it again on the same port: a broker restart."""
    global broker_restarts
    broker_restarts += 1
    _redis.pop(port).close()
    time.sleep(1)
    stack = ExitStack()
    stack.enter_context(private_redis(port))
    _redis[port] = stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=200, help="clients: WebSockets and event streams")
    parser.add_argument("--sse", type=float, default=0.25, help="the share of clients that are event streams")
    parser.add_argument("--writes", type=int, default=5000)
    parser.add_argument("--writers", type=int, default=8, help="concurrent REST writers")
    parser.add_argument("--broker", choices=("redis", "memory"), default="redis")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--settle", type=float, default=60, help="seconds to wait for stragglers")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        database_url = args.database_url or f"sqlite:///{folder}/bench.db"
        redis_port = free_port() if args.broker == "redis" else None
        # Every socket is the one waiter's: lift the per-user cap on live sockets (50 by default).
        extra = {
            "SOCKET_RATE": "1000",
            "SEND_QUEUE_SIZE": "1000",
            "BROKER_CHECK_INTERVAL": "0.5",
            "MAX_SOCKETS_PER_USER": str(args.sockets * 2),
        }
        if redis_port is not None:
            stack = ExitStack()
            stack.enter_context(private_redis(redis_port))
            _redis[redis_port] = stack
            extra["BROADCAST_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        try:
            owner_email = create_company_by_command(database_url)
            with uvicorn_server(server_env(database_url, **extra)) as host:
                with httpx2.Client(base_url=f"http://{host}") as http:
                    waiter_token = prepare(http, owner_email)
                result = asyncio.run(run(host, waiter_token, args, redis_port))
        finally:
            for stack in _redis.values():
                stack.close()
    print(json.dumps(result))
    print(
        f"{result['sockets']} clients ({result['event_streams']} server-sent event streams): "
        f"sent {result['sent']}, delivered {result['delivered']}, lost {result['lost']}, "
        f"duplicated {result['duplicated']}, out of order {result['out_of_order']}"
    )
    return 0 if result["lost"] == result["duplicated"] == result["out_of_order"] == 0 else 1


def prepare(http: httpx2.Client, owner_email: str) -> str:
    """A branch and a waiter; returns the waiter's access token."""
    owner = {"Authorization": f"Bearer {token_for(http, owner_email)}"}
    branch = http.post("/api/branches/", json={"name": "Bench", "city_id": 1}, headers=owner).json()
    email = f"bench-waiter-{time.time_ns()}@bench.cafe"
    body = {"email": email, "password": PASSWORD, "role": "waiter", "branch": branch["id"]}
    http.post("/api/users/", json=body, headers=owner).raise_for_status()
    return token_for(http, email)


if __name__ == "__main__":
    sys.exit(main())
