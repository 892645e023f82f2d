"""Stalled clients do not slow the others: delivery latency of reading sockets, with and without stalls.

Starts a real uvicorn process on a fresh SQLite file and opens --sockets reading clients on the
orders feed. Phase "alone": --writes paced order updates (about 40 KB of JSON each, a 100-line
order) and, per reading socket, the time from sending the REST request to receiving the event.
Phase "with stalled": the same while --stalled more sockets on the same feed have stopped reading
(a 4 KB receive buffer, never read); they fill their buffers and queue and are closed with 4008.

    .venv/bin/python bench/stalled.py --sockets 50 --stalled 50 --writes 300

Prints latency percentiles of both phases, lost events and how many stalled sockets got 4008.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import (  # noqa: E402  (the repository root is put on the path just above)
    StalledClient,
    big_order_body,
    create_company_by_command,
    furnish,
    server_env,
    token_for,
    uvicorn_server,
)


class Reader:
    """A socket that reads everything and notes when each order_updated arrived."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []

    async def read(self, url: str, connected: asyncio.Event, stop: asyncio.Event) -> None:
        async with connect(url, max_size=None, max_queue=None) as ws:
            await ws.recv()  # connection_established
            connected.set()
            while not stop.is_set():
                try:
                    text = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                if isinstance(text, str) and text.startswith('{"type":"order_updated"'):
                    self.arrivals.append(time.monotonic())


async def phase(host: str, url: str, owner: dict, order_id: str, args: argparse.Namespace) -> dict:
    readers = [Reader() for _ in range(args.sockets)]
    connected = [asyncio.Event() for _ in readers]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.read(url, c, stop)) for r, c in zip(readers, connected, strict=True)]
    await asyncio.wait_for(asyncio.gather(*(c.wait() for c in connected)), 60)
    sent_at: list[float] = []
    async with httpx2.AsyncClient(base_url=f"http://{host}", timeout=60) as http:
        for number in range(args.writes):
            sent_at.append(time.monotonic())
            response = await http.patch(f"/api/cafe/orders/{order_id}/", json={"guests": number % 2 + 1}, headers=owner)
            response.raise_for_status()
            await asyncio.sleep(max(0.0, sent_at[-1] + 1 / args.rate - time.monotonic()))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(len(r.arrivals) < args.writes for r in readers):
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*tasks)
    latencies = [
        (arrived - sent) * 1000 for reader in readers for sent, arrived in zip(sent_at, reader.arrivals, strict=False)
    ]
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "p50_ms": round(cuts[49], 1),
        "p95_ms": round(cuts[94], 1),
        "p99_ms": round(cuts[98], 1),
        "max_ms": round(max(latencies), 1),
        "lost": sum(args.writes - len(reader.arrivals) for reader in readers),
    }


def close_code(client: StalledClient) -> int | None:
    try:
        return client.read_to_the_end()[1]
    except TimeoutError:  # still open: it never overflowed its queue
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=50, help="reading sockets")
    parser.add_argument("--stalled", type=int, default=50, help="sockets that stop reading in the second phase")
    parser.add_argument("--writes", type=int, default=300, help="order updates per phase")
    parser.add_argument("--rate", type=float, default=20, help="order updates a second")
    parser.add_argument("--queue", type=int, default=100, help="SEND_QUEUE_SIZE of the server")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{folder}/stalled.db"
        owner_email = create_company_by_command(database_url)
        # Every socket is the one waiter's: lift the per-user cap on live sockets (50 by default).
        cap = str(2 * (args.sockets + args.stalled))
        env = server_env(database_url, SEND_QUEUE_SIZE=str(args.queue), SOCKET_RATE="1000", MAX_SOCKETS_PER_USER=cap)
        with uvicorn_server(env) as host, httpx2.Client(base_url=f"http://{host}") as http:
            cafe = furnish(http, owner_email)
            owner = {"Authorization": f"Bearer {token_for(http, owner_email)}"}
            order = http.post("/api/cafe/orders/", json=big_order_body(http, cafe, owner), headers=owner)
            url = f"ws://{host}/ws/cafe/orders/?token={cafe['waiter_token']}"
            alone = asyncio.run(phase(host, url, owner, order.json()["id"], args))
            stalled = [StalledClient(host, url) for _ in range(args.stalled)]
            with_stalled = asyncio.run(phase(host, url, owner, order.json()["id"], args))
            closes = [close_code(client) for client in stalled]
    result = {
        "sockets": args.sockets,
        "stalled": args.stalled,
        "writes_per_phase": args.writes,
        "alone": alone,
        "with_stalled": with_stalled,
        "stalled_closed_4008": closes.count(4008),
    }
    print(json.dumps(result))
    for name in ("alone", "with_stalled"):
        numbers = result[name]
        print(
            f"{name}: p50 {numbers['p50_ms']} ms, p95 {numbers['p95_ms']} ms, p99 {numbers['p99_ms']} ms, "
            f"max {numbers['max_ms']} ms, lost {numbers['lost']}"
        )
    print(f"stalled sockets closed with 4008: {result['stalled_closed_4008']} of {args.stalled}")
    lost = alone["lost"] + with_stalled["lost"]
    return 0 if lost == 0 and result["stalled_closed_4008"] == args.stalled else 1


if __name__ == "__main__":
    sys.exit(main())
