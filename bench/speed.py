"""Speed: cafe_rt against the physical limit (a bare `websockets.broadcast` server), in the same run.

Starts `cafe_rt.py serve` (tests/servers.py's `uvicorn_server`; a throwaway SQLite file, `memory://`) and
bench/limit_server.py (websockets' asyncio server on uvloop, `/pub` text handed as is to `broadcast`), and
measures, each a section with a JSON line per measurement:

  writes      cafe_rt, 10 feed sockets, --orders orders POSTed by 16 keep-alive HTTP/1.1 clients: orders/s,
              p50/p99 request latency, server CPU ms per order, every order on every socket
  rate        --sockets sockets, --rate writes a second for --seconds, on both servers: lost deliveries,
              p50/p99 write-to-push latency (the limit publishes frames the size of cafe_rt's order_created)
  saturation  the same sockets, 8 writers as fast as they can for --sat-seconds (the limit: 8 frames in
              flight, each until every socket has it): delivered frames/s, server CPU µs per frame
  sse         cafe_rt's rate and saturation sections again with --sockets server-sent event streams on the
              same feed instead of WebSockets (GET with Accept: text/event-stream): the same measurements
  connect     --idle sockets on a fresh server of each kind: server CPU ms per connect, time to connect all,
              RSS KiB per idle socket
  postgres    with --postgres ADMIN_URL (and --redis URL, else a private redis-server): the writes and rate
              sections on PostgreSQL + Redis with one process, then two `serve` processes on one database,
              sockets split over both, writes to the first: CPU summed over both

    .venv/bin/python bench/speed.py                      # about 4 minutes on 2 cores (6 with --postgres)
    .venv/bin/python bench/speed.py --quick              # about a minute
    .venv/bin/python bench/speed.py --postgres postgresql://root@127.0.0.1:5432/test

The client is this process on uvloop: sockets are websockets' sans-I/O ClientProtocol over asyncio.Protocol,
REST writes raw HTTP/1.1 keep-alive over asyncio streams (httpx2's AsyncClient took 0.85 ms of client CPU a
request here, these 0.13 ms, and the client shares the CPUs with the server); the client's CPU is reported.
All cafe_rt sockets use one owner token, so the bench raises MAX_SOCKETS_PER_USER (the service caps live
sockets per user at 50 by default). Prints a Markdown table and a final `speed: ...` line; exits 1 if any
delivery was lost (or any write failed, socket closed early or connect failed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import httpx2
import uvloop
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.uri import WebSocketURI, parse_uri

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.factory import TEST_SECRET  # noqa: E402
from tests.servers import (  # noqa: E402  (the repository root is put on the path just above)
    create_company_by_command,
    free_port,
    furnish,
    private_redis,
    server_env,
    token_for,
    uvicorn_server,
    wait_for_port,
)

BENCH = Path(__file__).resolve().parent
ORDERS_PATH = "/api/cafe/orders/"
FEED_PATH = "/ws/cafe/orders/"
WRITES_SOCKETS = 10
WRITES_CLIENTS = 16
SATURATION_WRITERS = 8
RATE_CONNECTIONS = 16  # keep-alive connections the paced writes take turns on
CONNECT_CONCURRENCY = 200  # handshakes in flight while opening many sockets
# One owner token for every socket: the per-user cap (50 by default) is raised for the bench.
CAFE_ENV = {"MAX_SOCKETS_PER_USER": "1000000", "ACCESS_TOKEN_TTL": "86400"}
SSE_KIND = "cafe_rt sse"  # the same server and feed, as server-sent event streams
TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------- processes


def process_cpu(pids: tuple[int, ...]) -> float:
    """utime + stime of the processes (every thread), in seconds, from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def process_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """Server CPU (of the given pids), client CPU (this process) and wall time since it was made."""

    def __init__(self, pids: tuple[int, ...]) -> None:
        self.pids = pids
        self.server = process_cpu(pids)
        self.client = client_cpu()
        self.wall = time.monotonic()

    def read(self) -> tuple[float, float, float]:
        """(server CPU s, client CPU s, wall s) spent so far."""
        return process_cpu(self.pids) - self.server, client_cpu() - self.client, time.monotonic() - self.wall


def child_pid(port: int) -> int:
    """The pid of the server this process started on `port` (uvicorn_server yields only host:port)."""
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        with contextlib.suppress(OSError):
            with open(f"/proc/{name}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                words = cmdline.read().split(b"\0")
            if parent == me and str(port).encode() in words:
                return int(name)
    raise RuntimeError(f"no child process serves port {port}")


def server_log(pid: int) -> str:
    """What the server wrote so far (uvicorn_server sends it to an unnamed temporary file, its fd 1)."""
    try:
        with open(f"/proc/{pid}/fd/1", errors="replace") as output:
            return output.read()
    except OSError:
        return ""


@dataclass
class Target:
    """A running server: which kind, where, its pids, and the path its feed sockets open."""

    kind: str
    hosts: tuple[str, ...]
    pids: tuple[int, ...]
    feed_path: str
    # "ws": WebSocket clients (Feed); "sse": server-sent event streams on the same path (StreamFeed).
    transport: str = "ws"

    def with_token(self, token: str) -> Target:
        return replace(self, feed_path=f"{FEED_PATH}?token={token}")


@contextmanager
def cafe_rt(env: dict[str, str], logs: list[str]) -> Iterator[Target]:
    """`cafe_rt.py serve` with the bench's settings; what it logs is added to `logs` when it stops."""
    with uvicorn_server({**env, **CAFE_ENV}) as host:
        target = Target("cafe_rt", (host,), (child_pid(int(host.split(":")[1])),), FEED_PATH)
        try:
            yield target
        finally:
            logs += [text for text in map(server_log, target.pids) if text.strip()]


@contextmanager
def limit_server() -> Iterator[Target]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(BENCH / "limit_server.py"), "--port", str(port)])
    try:
        wait_for_port(process, port, "bench/limit_server.py")
        yield Target("limit", (f"127.0.0.1:{port}",), (process.pid,), "/sub")
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def write_limit(database_url: str, token: str, body: bytes) -> Iterator[Target]:
    """bench/write_limit_server.py on its own database, with the ids of cafe_rt's company so the same token and
    order body work on both."""
    import jwt

    claims = jwt.decode(token, options={"verify_signature": False})
    order = json.loads(body)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(BENCH / "write_limit_server.py"),
            *("--port", str(port), "--database-url", database_url, "--secret", TEST_SECRET),
            *("--company", claims["company_id"], "--user", claims["sub"], "--branch", order["branch"]),
            *("--table", order["table"], "--menu-item", order["items"][0]["menu_item"]),
        ]
    )
    try:
        wait_for_port(process, port, "bench/write_limit_server.py")
        yield Target("write limit", (f"127.0.0.1:{port}",), (process.pid,), FEED_PATH)
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def uvicorn_floor() -> Iterator[Target]:
    """bench/uvicorn_floor_server.py: a bare Starlette socket under the same uvicorn, for the connect section."""
    port = free_port()
    process = subprocess.Popen([sys.executable, str(BENCH / "uvicorn_floor_server.py"), "--port", str(port)])
    try:
        wait_for_port(process, port, "bench/uvicorn_floor_server.py")
        yield Target("uvicorn floor", (f"127.0.0.1:{port}",), (process.pid,), FEED_PATH)
    finally:
        process.terminate()
        process.wait(10)


# ---------------------------------------------------------------------------------------------- client


class Tally:
    """What the sockets of one phase receive: each distinct frame text is parsed once, then counted.

    A frame's key is its `data.order.id` when it is an `order_created` (the limit's frames have the same
    shape), else None. `on_complete(key)` is called when every socket has had that frame.
    """

    def __init__(self, sockets: int, on_complete: Callable[[str], None] | None = None) -> None:
        self.sockets = sockets
        self.on_complete = on_complete
        self.parsed: dict[bytes, list] = {}

    def key(self, data: bytes) -> str | None:
        entry = self.parsed.get(data)
        if entry is None:
            event = json.loads(data)
            key = event["data"]["order"]["id"] if event.get("type") == "order_created" else None
            entry = self.parsed[data] = [key, 0]
        entry[1] += 1
        if entry[1] == self.sockets and entry[0] is not None and self.on_complete is not None:
            self.on_complete(entry[0])
        return entry[0]

    def frame_bytes(self) -> int:
        """The size of an order_created frame seen in this phase."""
        return max((len(data) for data, (key, _) in self.parsed.items() if key is not None), default=0)


class Feed(asyncio.Protocol):
    """One lean client socket: websockets' sans-I/O ClientProtocol over an asyncio transport.

    The first text frame is the greeting; after it every text frame is counted, and each order's key and
    arrival time are kept.
    """

    def __init__(self, uri: WebSocketURI, tally: Tally) -> None:
        self.host = f"{uri.host}:{uri.port}"
        self.protocol = ClientProtocol(uri, max_size=None)
        self.tally = tally
        self.greeted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.closed_early = False
        self.close_code: int | None = None
        self.reset(tally)

    def reset(self, tally: Tally) -> None:
        self.tally = tally
        self.frames = 0
        self.keys: list[str] = []
        self.times = array("d")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.protocol.send_request(self.protocol.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    if self.greeted.done():
                        self.frames += 1
                        key = self.tally.key(bytes(event.data))
                        if key is not None:
                            self.keys.append(key)
                            self.times.append(now)
                    else:
                        self.greeted.set_result(None)
                elif event.opcode is Opcode.CLOSE:
                    self.close_code = Close.parse(event.data).code if event.data else 1005
                    self._fail(f"closed by the server with {self.close_code}")
            elif isinstance(event, Response) and event.status_code != 101:
                self._fail(f"handshake answered {event.status_code}")
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost ({exc})")

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.greeted.cancel()
            self.transport.close()

    def _fail(self, why: str) -> None:
        if not self.greeted.done():
            self.greeted.set_exception(ConnectionError(why))
        elif self.transport is not None and not self.transport.is_closing():
            self.closed_early = True

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk and self.transport is not None:
                self.transport.write(chunk)


class StreamFeed(Feed):
    """One lean event-stream client: a raw HTTP/1.1 GET with `Accept: text/event-stream`, its chunked body
    taken apart by hand, each event's `data:` counted as a socket's text frame is (the greeting first)."""

    def __init__(self, host: str, path: str, tally: Tally) -> None:  # not Feed's: no WebSocket protocol here
        self.host = host
        self.path = path
        self.greeted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.closed_early = False
        self.close_code: int | None = None
        self._raw = bytearray()
        self._body = bytearray()
        self._state = "head"
        self._left = 0
        self.reset(tally)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        request = f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nAccept: text/event-stream\r\n\r\n"
        transport.write(request.encode())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self._raw += data
        self._dechunk()
        body = self._body
        while (end := body.find(b"\n\n")) >= 0:
            block = bytes(body[:end])
            del body[: end + 2]
            if block.startswith(b":"):  # a comment: a ping, or why the server ended the stream
                if block.startswith(b": closed "):
                    self.close_code = int(block.split()[2])
                continue
            data_line = block[block.find(b"data: ") + 6 :]
            if self.greeted.done():
                self.frames += 1
                key = self.tally.key(data_line)
                if key is not None:
                    self.keys.append(key)
                    self.times.append(now)
            else:
                self.greeted.set_result(None)

    def _dechunk(self) -> None:
        raw = self._raw
        while raw:
            if self._state == "head":
                end = raw.find(b"\r\n\r\n")
                if end < 0:
                    return
                if raw[9:12] != b"200":
                    self._fail(f"answered {bytes(raw[9:12]).decode()}")
                    return
                del raw[: end + 4]
                self._state = "size"
            elif self._state == "size":
                end = raw.find(b"\r\n")
                if end < 0:
                    return
                self._left = int(bytes(raw[:end]).split(b";")[0], 16)
                del raw[: end + 2]
                if self._left == 0:  # the last chunk: the server ended the stream
                    self._fail(f"stream ended ({self.close_code})")
                    return
                self._state = "data"
            elif self._state == "data":
                taken = raw[: self._left]
                self._body += taken
                del raw[: len(taken)]
                self._left -= len(taken)
                if self._left == 0:
                    self._state = "crlf"
            else:
                if len(raw) < 2:
                    return
                del raw[:2]
                self._state = "size"


async def open_feeds(target: Target, count: int, tally: Tally) -> tuple[list[Feed], int]:
    """`count` sockets (or streams) on the target's feed (alternating over its hosts), each greeted: (feeds, failed)."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    uris = [parse_uri(f"ws://{host}{target.feed_path}") for host in target.hosts]

    def client(uri: WebSocketURI) -> Feed:
        if target.transport == "sse":
            return StreamFeed(f"{uri.host}:{uri.port}", target.feed_path, tally)
        return Feed(uri, tally)

    async def one(index: int) -> Feed:
        uri = uris[index % len(uris)]
        async with gate:
            _, feed = await loop.create_connection(lambda: client(uri), uri.host, uri.port)
            try:
                await asyncio.wait_for(feed.greeted, 60)
            except BaseException:
                feed.close()
                raise
            return feed

    results = await asyncio.gather(*(one(index) for index in range(count)), return_exceptions=True)
    feeds = [result for result in results if isinstance(result, Feed)]
    failures = [result for result in results if not isinstance(result, Feed)]
    if failures:
        log(f"{len(failures)} of {count} connects to {target.kind} failed, e.g. {failures[0]!r}")
    return feeds, len(failures)


async def close_feeds(feeds: list[Feed]) -> None:
    for feed in feeds:
        feed.close()
    await asyncio.sleep(0.2)


class Http:
    """One keep-alive HTTP/1.1 connection over asyncio streams, enough for uvicorn's JSON answers.

    uvicorn closes a keep-alive connection idle for 5 s, so one idle for 4 s is opened again first.
    """

    def __init__(self, host: str, token: str) -> None:
        self.host = host
        self.head = f"Host: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n".encode()
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0.0

    async def ready(self) -> None:
        """Connected, and not about to be closed for idling."""
        if self.writer is None or time.monotonic() - self.used > 4:
            self.close()
            address, port = self.host.split(":")
            self.reader, self.writer = await asyncio.open_connection(address, int(port))
            self.used = time.monotonic()

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        await self.ready()
        assert self.reader is not None and self.writer is not None  # ready() connected them
        self.writer.write(
            b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n" % (path.encode(), self.head, len(body)) + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        answer = await self.reader.readexactly(length)
        self.used = time.monotonic()
        return int(head[9:12]), answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class OrderWriter:
    """Orders POSTed to cafe_rt over a pool of keep-alive connections; notes when each was sent."""

    def __init__(self, connections: list[Http], body: bytes) -> None:
        self.connections = connections
        self.pool: asyncio.Queue[Http] = asyncio.Queue()
        for connection in connections:
            self.pool.put_nowait(connection)
        self.body = body
        self.reset()

    def reset(self, window: int | None = None) -> None:
        """A new phase (`window` is the limit's; writes to cafe_rt wait on their answer only)."""
        self.sent: dict[str, float] = {}
        self.request_s: list[float] = []
        self.errors = 0

    def done(self, key: str) -> None:
        """Every socket got the order `key`."""

    async def write(self) -> None:
        connection = await self.pool.get()
        try:
            await connection.ready()  # a connect is not part of the write's latency
            started = time.monotonic()
            status, answer = await connection.post(ORDERS_PATH, self.body)
            self.request_s.append(time.monotonic() - started)
        except (OSError, asyncio.IncompleteReadError) as error:
            connection.close()
            status, answer = 0, repr(error).encode()
        finally:
            self.pool.put_nowait(connection)
        if status == 201:
            self.sent[json.loads(answer)["id"]] = started
        else:
            self.errors += 1
            log(f"POST {ORDERS_PATH} answered {status}: {answer[:200]!r}")

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


class Publisher:
    """Frames published to the limit server on one /pub socket, each the size of cafe_rt's order_created.

    With a window, at most that many frames are in flight: a write waits until every socket had an earlier
    one (`done`, the Tally's on_complete), so the limit is driven as fast as it delivers, never past it
    (`websockets.broadcast` has no backpressure: it would only fill its buffers).
    """

    def __init__(self, websocket, frame_bytes: int) -> None:
        self.websocket = websocket
        self.frame_bytes = frame_bytes
        self.number = 0
        self.reset()

    def reset(self, window: int | None = None) -> None:
        self.window = asyncio.Semaphore(window) if window else None
        self.sent: dict[str, float] = {}
        self.request_s: list[float] = []
        self.errors = 0

    def done(self, key: str) -> None:
        if self.window is not None:
            self.window.release()

    async def write(self) -> None:
        if self.window is not None:
            await asyncio.wait_for(self.window.acquire(), 60)
        self.number += 1
        key = f"limit-{self.number:012d}"
        head = f'{{"type":"order_created","data":{{"order":{{"id":"{key}"}}}},"pad":"'
        text = head + "x" * max(0, self.frame_bytes - len(head) - 2) + '"}'
        started = time.monotonic()
        await self.websocket.send(text)
        self.sent[key] = started


# ------------------------------------------------------------------------------------------- deliveries


@dataclass
class Deliveries:
    frames: int
    delivered: int
    lost: int
    duplicated: int
    closed_early: int
    latencies_ms: list[float]
    last_arrival: float
    lost_by_host: dict[str, int]


def deliveries(feeds: list[Feed], sent: dict[str, float]) -> Deliveries:
    """Per socket: which of the sent orders it got (lost, duplicated) and each one's write-to-push latency."""
    latencies = array("d")
    duplicated = delivered = 0
    last = 0.0
    lost_by_host = dict.fromkeys((feed.host for feed in feeds), 0)
    for feed in feeds:
        seen: set[str] = set()
        for key, arrived in zip(feed.keys, feed.times, strict=True):
            if key in seen:
                duplicated += 1
                continue
            seen.add(key)
            if key in sent:
                delivered += 1
                latencies.append((arrived - sent[key]) * 1000)
                last = max(last, arrived)
        lost_by_host[feed.host] += len(sent) - len(seen.intersection(sent))
    codes = [feed.close_code for feed in feeds if feed.closed_early]
    if codes:
        log(f"{len(codes)} sockets were closed early, close codes {sorted(set(codes), key=str)}")
    return Deliveries(
        frames=sum(feed.frames for feed in feeds),
        delivered=delivered,
        lost=sum(lost_by_host.values()),
        duplicated=duplicated,
        closed_early=len(codes),
        latencies_ms=sorted(latencies),
        last_arrival=last,
        lost_by_host=lost_by_host,
    )


async def settle(feeds: list[Feed], expected: int, timeout: float) -> None:
    """Wait until every open socket holds `expected` orders, or the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(len(feed.keys) >= expected or feed.closed_early for feed in feeds):
            return
        await asyncio.sleep(0.05)


def percentile(ordered: list[float], share: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)


# ---------------------------------------------------------------------------------------------- results


@dataclass
class WritesResult:
    section: str
    target: str
    sockets: int
    clients: int
    orders: int
    seconds: float
    orders_per_s: float
    request_p50_ms: float | None  # None: nothing arrived
    request_p99_ms: float | None  # None: nothing arrived
    server_cpu_ms_per_order: float
    client_cpu_ms_per_order: float
    frame_bytes: int
    lost: int
    errors: int


@dataclass
class RateResult:
    section: str
    target: str
    processes: int
    sockets: int
    rate: float
    writes: int
    writes_per_s: float
    deliveries: int
    lost: int
    lost_by_process: list[int]
    p50_ms: float | None  # None: nothing arrived
    p99_ms: float | None  # None: nothing arrived
    max_ms: float | None  # None: nothing arrived
    server_cpu_ms_per_write: float
    server_cpu_us_per_frame: float
    client_cpu_s: float
    seconds: float
    errors: int


@dataclass
class SaturationResult:
    section: str
    target: str
    sockets: int
    writers: int
    writes: int
    frames: int
    seconds: float
    frames_per_s: float
    server_cpu_us_per_frame: float
    client_cpu_us_per_frame: float
    lost: int
    errors: int


@dataclass
class ConnectResult:
    section: str
    target: str
    sockets: int
    failed: int
    connect_s: float
    server_cpu_ms_per_connect: float
    client_cpu_ms_per_connect: float
    rss_before_kib: int
    rss_after_kib: int
    rss_kib_per_socket: float
    errors: int = 0
    lost: int = 0


def emit(result) -> None:
    print(json.dumps(asdict(result)), flush=True)


# --------------------------------------------------------------------------------------------- sections


async def writes_section(target: Target, token: str, body: bytes, orders: int, settle_s: float) -> WritesResult:
    """10 feed sockets; `orders` orders from 16 concurrent keep-alive clients; every order on every socket."""
    tally = Tally(WRITES_SOCKETS)
    feeds, failed = await open_feeds(target, WRITES_SOCKETS, tally)
    writer = OrderWriter([Http(target.hosts[0], token) for _ in range(WRITES_CLIENTS)], body)
    todo = iter(range(orders))

    async def client() -> None:
        for _ in todo:
            await writer.write()

    meter = Meter(target.pids)
    await asyncio.gather(*(client() for _ in range(WRITES_CLIENTS)))
    write_s = time.monotonic() - meter.wall
    await settle(feeds, len(writer.sent), settle_s)
    server_s, client_s, _ = meter.read()
    got = deliveries(feeds, writer.sent)
    writer.close()
    await close_feeds(feeds)
    requests = sorted(seconds * 1000 for seconds in writer.request_s)
    done = max(1, len(writer.sent))
    return WritesResult(
        section="writes",
        target=target.kind,
        sockets=len(feeds),
        clients=WRITES_CLIENTS,
        orders=len(writer.sent),
        seconds=round(write_s, 2),
        orders_per_s=round(len(writer.sent) / write_s, 1),
        request_p50_ms=percentile(requests, 0.50),
        request_p99_ms=percentile(requests, 0.99),
        server_cpu_ms_per_order=round(server_s * 1000 / done, 2),
        client_cpu_ms_per_order=round(client_s * 1000 / done, 2),
        frame_bytes=tally.frame_bytes(),
        lost=got.lost + got.duplicated,
        errors=writer.errors + failed + got.closed_early,
    )


async def rate_section(
    target: Target, feeds: list[Feed], writer: OrderWriter | Publisher, rate: float, seconds: float, settle_s: float
) -> RateResult:
    """Writes paced at `rate` a second (each started on time, not after the previous one ended)."""
    writer.reset()
    tally = Tally(len(feeds), writer.done)
    for feed in feeds:
        feed.reset(tally)
    count = max(1, int(rate * seconds))
    meter = Meter(target.pids)
    tasks = []
    for number in range(count):
        delay = meter.wall + number / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(writer.write()))
    await asyncio.gather(*tasks)
    write_s = time.monotonic() - meter.wall
    await settle(feeds, len(writer.sent), settle_s)
    server_s, client_s, wall_s = meter.read()
    got = deliveries(feeds, writer.sent)
    return RateResult(
        section="rate",
        target=target.kind,
        processes=len(target.pids),
        sockets=len(feeds),
        rate=rate,
        writes=len(writer.sent),
        writes_per_s=round(len(writer.sent) / write_s, 1),
        deliveries=got.delivered,
        lost=got.lost + got.duplicated,
        lost_by_process=[got.lost_by_host.get(host, 0) for host in target.hosts],
        p50_ms=percentile(got.latencies_ms, 0.50),
        p99_ms=percentile(got.latencies_ms, 0.99),
        max_ms=percentile(got.latencies_ms, 1.0),
        server_cpu_ms_per_write=round(server_s * 1000 / max(1, len(writer.sent)), 2),
        server_cpu_us_per_frame=round(server_s * 1e6 / max(1, got.frames), 1),
        client_cpu_s=round(client_s, 2),
        seconds=round(wall_s, 2),
        errors=writer.errors + got.closed_early,
    )


async def saturation_section(
    target: Target, feeds: list[Feed], writer: OrderWriter | Publisher, seconds: float, settle_s: float
) -> SaturationResult:
    """8 writers as fast as they can for `seconds`; frames/s from the first write to the last frame."""
    writer.reset(SATURATION_WRITERS)
    tally = Tally(len(feeds), writer.done)
    for feed in feeds:
        feed.reset(tally)
    meter = Meter(target.pids)
    deadline = meter.wall + seconds

    async def loop() -> None:
        while time.monotonic() < deadline:
            try:
                await writer.write()
            except TimeoutError:  # the limit's window never opened again: a frame did not reach every socket
                writer.errors += 1
                return

    await asyncio.gather(*(loop() for _ in range(SATURATION_WRITERS)))
    await settle(feeds, len(writer.sent), settle_s)
    server_s, client_s, _ = meter.read()
    got = deliveries(feeds, writer.sent)
    span = max(1e-6, got.last_arrival - meter.wall)
    return SaturationResult(
        section="saturation",
        target=target.kind,
        sockets=len(feeds),
        writers=SATURATION_WRITERS,
        writes=len(writer.sent),
        frames=got.frames,
        seconds=round(span, 2),
        frames_per_s=round(got.delivered / span),
        server_cpu_us_per_frame=round(server_s * 1e6 / max(1, got.frames), 1),
        client_cpu_us_per_frame=round(client_s * 1e6 / max(1, got.frames), 1),
        lost=got.lost + got.duplicated,
        errors=writer.errors + got.closed_early,
    )


async def connect_section(target: Target, count: int) -> ConnectResult:
    """`count` sockets on a fresh server: CPU and time to connect them all, then RSS per idle socket."""
    await asyncio.sleep(1)
    rss_before = process_rss_kib(target.pids[0])
    meter = Meter(target.pids)
    feeds, failed = await open_feeds(target, count, Tally(count))
    server_s, client_s, wall_s = meter.read()
    await asyncio.sleep(1)
    rss_after = process_rss_kib(target.pids[0])
    closed = sum(feed.closed_early for feed in feeds)
    await close_feeds(feeds)
    return ConnectResult(
        section="connect",
        target=target.kind,
        sockets=len(feeds),
        failed=failed,
        connect_s=round(wall_s, 2),
        server_cpu_ms_per_connect=round(server_s * 1000 / max(1, len(feeds)), 3),
        client_cpu_ms_per_connect=round(client_s * 1000 / max(1, len(feeds)), 3),
        rss_before_kib=rss_before,
        rss_after_kib=rss_after,
        rss_kib_per_socket=round((rss_after - rss_before) / max(1, len(feeds)), 1),
        errors=failed + closed,
    )


# ------------------------------------------------------------------------------------------------- runs


def company(database_url: str, host: str) -> tuple[str, bytes]:
    """A new company (create-company), a branch, table and menu item: the owner's token and an order body."""
    owner_email = create_company_by_command(database_url)
    with httpx2.Client(base_url=f"http://{host}") as http:
        cafe = furnish(http, owner_email)
        token = token_for(http, owner_email)
    body = {
        "branch": cafe["branch"],
        "table": cafe["table"],
        "guests": 2,
        "items": [{"menu_item": cafe["menu_item"], "quantity": 1}],
    }
    return token, json.dumps(body).encode()


async def fan_out(target: Target, writer: OrderWriter | Publisher, args: argparse.Namespace) -> list:
    """The rate and saturation sections on one set of --sockets sockets."""
    feeds, failed = await open_feeds(target, args.sockets, Tally(args.sockets))
    try:
        log(f"{target.kind}: {len(feeds)} sockets, {args.rate} writes/s for {args.seconds} s")
        rate = await rate_section(target, feeds, writer, args.rate, args.seconds, args.settle)
        rate.errors += failed
        emit(rate)
        if args.sat_seconds <= 0:
            return [rate]
        log(f"{target.kind}: {len(feeds)} sockets, {SATURATION_WRITERS} writers for {args.sat_seconds} s")
        saturation = await saturation_section(target, feeds, writer, args.sat_seconds, args.settle)
        emit(saturation)
        return [rate, saturation]
    finally:
        await close_feeds(feeds)


async def sqlite_runs(args: argparse.Namespace, folder: str, logs: list[str]) -> list:
    """Every section on SQLite + memory:// and on the limit server."""
    database_url = f"sqlite:///{folder}/speed.db"
    env = server_env(database_url)
    results: list = []
    with cafe_rt(env, logs) as server:
        token, body = company(database_url, server.hosts[0])
        target = server.with_token(token)
        log(f"cafe_rt: writes, {args.orders} orders from {WRITES_CLIENTS} clients, {WRITES_SOCKETS} sockets")
        writes = await writes_section(target, token, body, args.orders, args.settle)
        emit(writes)
        results.append(writes)
        writer = OrderWriter([Http(target.hosts[0], token) for _ in range(RATE_CONNECTIONS)], body)
        try:
            results += await fan_out(target, writer, args)
            results += await fan_out(replace(target, kind=SSE_KIND, transport="sse"), writer, args)
        finally:
            writer.close()
    with write_limit(f"sqlite:///{folder}/write_limit.db", token, body) as limit:
        log(f"write limit: writes, {args.orders} orders from {WRITES_CLIENTS} clients, {WRITES_SOCKETS} sockets")
        results.append(await writes_section(limit, token, body, args.orders, args.settle))
        emit(results[-1])
    with limit_server() as limit:
        async with connect(f"ws://{limit.hosts[0]}/pub", compression=None) as pub:
            results += await fan_out(limit, Publisher(pub, writes.frame_bytes), args)
    if args.idle > 0:
        with cafe_rt(env, logs) as server:
            log(f"cafe_rt: connect {args.idle} sockets to a fresh server")
            results.append(await connect_section(server.with_token(token), args.idle))
            emit(results[-1])
        with limit_server() as limit:
            log(f"limit: connect {args.idle} sockets to a fresh server")
            results.append(await connect_section(limit, args.idle))
            emit(results[-1])
        with uvicorn_floor() as floor:
            log(f"uvicorn floor: connect {args.idle} sockets to a fresh server")
            results.append(await connect_section(floor, args.idle))
            emit(results[-1])
    return results


@asynccontextmanager
async def postgres_database(admin_url: str) -> AsyncIterator[str]:
    """A throwaway database next to the admin URL's, dropped afterwards."""
    import asyncpg

    name = f"cafe_rt_speed_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        try:
            yield f"{admin_url.rpartition('/')[0]}/{name}"
        finally:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@contextmanager
def redis_broker(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    if shutil.which("redis-server") is None:
        raise SystemExit("speed: --postgres needs --redis URL or a redis-server to start")
    port = free_port()
    with private_redis(port):
        yield f"redis://127.0.0.1:{port}/0"


async def postgres_runs(args: argparse.Namespace, logs: list[str]) -> list:
    """Writes and the rate section on PostgreSQL + Redis: one process, then two on one database and broker."""
    async with contextlib.AsyncExitStack() as stack:
        database_url = await stack.enter_async_context(postgres_database(args.postgres))
        env = server_env(database_url, BROADCAST_URL=stack.enter_context(redis_broker(args.redis)))
        server = stack.enter_context(cafe_rt(env, logs))
        token, body = company(database_url, server.hosts[0])
        first = replace(server.with_token(token), kind="cafe_rt pg")
        log(f"cafe_rt on PostgreSQL: writes, {args.orders} orders")
        results: list = [await writes_section(first, token, body, args.orders, args.settle)]
        emit(results[0])
        writer = OrderWriter([Http(first.hosts[0], token) for _ in range(RATE_CONNECTIONS)], body)
        stack.callback(writer.close)
        results.append(await split_rate(first, writer, args))
        other = stack.enter_context(cafe_rt(env, logs))
        both = replace(first, hosts=first.hosts + other.hosts, pids=first.pids + other.pids)
        results.append(await split_rate(both, writer, args))
    async with postgres_database(args.postgres) as limit_url:
        with write_limit(limit_url, token, body) as limit:
            log(f"write limit on PostgreSQL: writes, {args.orders} orders")
            limit = replace(limit, kind="write limit pg")
            results.append(await writes_section(limit, token, body, args.orders, args.settle))
            emit(results[-1])
    return results


async def split_rate(target: Target, writer: OrderWriter, args: argparse.Namespace) -> RateResult:
    """The rate section with the sockets alternating over the target's processes, every write to the first."""
    log(
        f"{target.kind}, {len(target.pids)} process(es): {args.sockets} sockets, {args.rate} writes/s, {args.seconds} s"
    )
    feeds, failed = await open_feeds(target, args.sockets, Tally(args.sockets))
    try:
        result = await rate_section(target, feeds, writer, args.rate, args.seconds, args.settle)
    finally:
        await close_feeds(feeds)
    result.section = "postgres"
    result.errors += failed
    emit(result)
    return result


# ---------------------------------------------------------------------------------------------- summary


def find(results: list, section: str, target: str):
    return next((result for result in results if result.section == section and result.target == target), None)


def value(results: list, section: str, target: str, attribute: str):
    result = find(results, section, target)
    return None if result is None else getattr(result, attribute)


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}x"


# (label, section, attribute) of each row with both servers; {n} is the section's socket count
COMPARED = [
    ("rate {n}x{rate}/s: writes/s achieved", "rate", "writes_per_s"),
    ("rate {n}x{rate}/s: p50 ms", "rate", "p50_ms"),
    ("rate {n}x{rate}/s: p99 ms", "rate", "p99_ms"),
    ("rate {n}x{rate}/s: max ms", "rate", "max_ms"),
    ("rate {n}x{rate}/s: server CPU µs/frame", "rate", "server_cpu_us_per_frame"),
    ("rate {n}x{rate}/s: client CPU s", "rate", "client_cpu_s"),
    ("rate {n}x{rate}/s: lost", "rate", "lost"),
    ("saturation {n}: writes", "saturation", "writes"),
    ("saturation {n}: frames/s", "saturation", "frames_per_s"),
    ("saturation {n}: server CPU µs/frame", "saturation", "server_cpu_us_per_frame"),
    ("saturation {n}: client CPU µs/frame", "saturation", "client_cpu_us_per_frame"),
    ("saturation {n}: lost", "saturation", "lost"),
    ("connect {n}: seconds for all", "connect", "connect_s"),
    ("connect {n}: server CPU ms/socket", "connect", "server_cpu_ms_per_connect"),
    ("connect {n}: client CPU ms/socket", "connect", "client_cpu_ms_per_connect"),
    ("connect {n}: idle RSS KiB/socket", "connect", "rss_kib_per_socket"),
    ("connect {n}: failed", "connect", "failed"),
]


WRITES_COMPARED = [
    ("orders/s", "orders_per_s"),
    ("request p50 ms", "request_p50_ms"),
    ("request p99 ms", "request_p99_ms"),
    ("server CPU ms/order", "server_cpu_ms_per_order"),
    ("client CPU ms/order", "client_cpu_ms_per_order"),
    ("lost", "lost"),
]


def writes_rows(results: list, mine: str, limit: str, where: str) -> list[str]:
    """The writes section against the write limit (bench/write_limit_server.py) of the same run."""
    writes = find(results, "writes", mine)
    if writes is None:
        return []
    head = f"writes on {where} ({writes.sockets} sockets, {writes.clients} clients)"
    lines = []
    for label, attribute in WRITES_COMPARED:
        a, b = getattr(writes, attribute), value(results, "writes", limit, attribute)
        lines.append(f"| {head}: {label} | {a} | {'-' if b is None else b} | {ratio(a, b)} |")
    return lines


# The rows that compare cafe_rt's WebSockets with its server-sent event streams.
STREAMED = [
    ("rate {n}x{rate}/s: p50 ms", "rate", "p50_ms"),
    ("rate {n}x{rate}/s: p99 ms", "rate", "p99_ms"),
    ("rate {n}x{rate}/s: server CPU µs/frame", "rate", "server_cpu_us_per_frame"),
    ("rate {n}x{rate}/s: lost", "rate", "lost"),
    ("saturation {n}: frames/s", "saturation", "frames_per_s"),
    ("saturation {n}: server CPU µs/frame", "saturation", "server_cpu_us_per_frame"),
    ("saturation {n}: lost", "saturation", "lost"),
]


def table(results: list) -> list[str]:
    lines = ["| measurement | cafe_rt | limit | cafe_rt / limit |", "|---|---|---|---|"]
    lines += writes_rows(results, "cafe_rt", "write limit", "SQLite")
    lines += writes_rows(results, "cafe_rt pg", "write limit pg", "PostgreSQL + Redis")
    for label, section, attribute in COMPARED:
        mine = find(results, section, "cafe_rt")
        if mine is None:
            continue
        a, b = getattr(mine, attribute), value(results, section, "limit", attribute)
        name = label.format(n=mine.sockets, rate=f"{getattr(mine, 'rate', 0):g}")
        lines.append(f"| {name} | {a} | {'-' if b is None else b} | {ratio(a, b)} |")
    floor = find(results, "connect", "uvicorn floor")
    mine = find(results, "connect", "cafe_rt")
    if floor and mine:
        lines += [
            "",
            "| connect, against a bare Starlette socket under the same uvicorn | cafe_rt | uvicorn floor | ratio |",
            "|---|---|---|---|",
        ]
        for label, attribute in (
            ("server CPU ms/socket", "server_cpu_ms_per_connect"),
            ("idle RSS KiB/socket", "rss_kib_per_socket"),
        ):
            a, b = getattr(mine, attribute), getattr(floor, attribute)
            lines.append(f"| {label} | {a} | {b} | {ratio(a, b)} |")
    if find(results, "rate", SSE_KIND):
        lines += ["", "| measurement | WebSocket | server-sent events | sse / ws |", "|---|---|---|---|"]
        for label, section, attribute in STREAMED:
            ws, sse = find(results, section, "cafe_rt"), find(results, section, SSE_KIND)
            if ws is None or sse is None:
                continue
            a, b = getattr(ws, attribute), getattr(sse, attribute)
            name = label.format(n=sse.sockets, rate=f"{getattr(sse, 'rate', 0):g}")
            lines.append(f"| {name} | {a} | {b} | {ratio(b, a)} |")
    postgres = [result for result in results if result.target == "cafe_rt pg"]
    if postgres:
        lines += [
            "",
            "| PostgreSQL + Redis | writes/s | server CPU ms/write | server CPU µs/frame | p50 / p99 ms | lost |",
        ]
        lines.append("|---|---|---|---|---|---|")
    for result in postgres:
        if isinstance(result, WritesResult):
            lines.append(
                f"| writes, 1 process, {result.sockets} sockets | {result.orders_per_s} | "
                f"{result.server_cpu_ms_per_order} | - | {result.request_p50_ms} / {result.request_p99_ms} (request) | "
                f"{result.lost} |"
            )
        else:
            lines.append(
                f"| {result.sockets} sockets at {result.rate:g}/s, {result.processes} process(es), writes to the "
                f"first | {result.writes_per_s} | {result.server_cpu_ms_per_write} | "
                f"{result.server_cpu_us_per_frame} | {result.p50_ms} / {result.p99_ms} | "
                f"{result.lost} ({' + '.join(map(str, result.lost_by_process))}) |"
            )
    split = {result.processes: result for result in postgres if isinstance(result, RateResult)}
    if len(split) == 2:
        one, two = split[1], split[2]
        lines.append(
            f"| 2 processes / 1 process | - | {ratio(two.server_cpu_ms_per_write, one.server_cpu_ms_per_write)} | "
            f"{ratio(two.server_cpu_us_per_frame, one.server_cpu_us_per_frame)} | - | - |"
        )
    return lines


def quotient(results: list, section: str, mine: str, limit: str, attribute: str) -> float | None:
    a, b = value(results, section, mine, attribute), value(results, section, limit, attribute)
    return None if a is None or not b else a / b


def two_processes(results: list, attribute: str) -> float | None:
    split = {
        result.processes: result
        for result in results
        if isinstance(result, RateResult) and result.section == "postgres"
    }
    if len(split) < 2 or not getattr(split[1], attribute):
        return None
    return getattr(split[2], attribute) / getattr(split[1], attribute)


def sustained(results: list) -> float | None:
    rate = find(results, "rate", "cafe_rt")
    return None if rate is None else rate.writes_per_s / rate.rate


# (target, how it is measured from the results, "<=" or ">=", goal, unit): issue 21's targets, all in one run.
TARGETS: list[tuple[str, Callable[[list], float | None], str, float, str]] = [
    (
        "SQLite: server CPU per order / the write limit's",
        lambda r: quotient(r, "writes", "cafe_rt", "write limit", "server_cpu_ms_per_order"),
        "<=",
        2.0,
        "x",
    ),
    ("SQLite: request p99 at 16 clients", lambda r: value(r, "writes", "cafe_rt", "request_p99_ms"), "<=", 50, " ms"),
    (
        "PostgreSQL + Redis: orders/s (2.5x the 146.6 of 2026-11-30's run)",
        lambda r: value(r, "writes", "cafe_rt pg", "orders_per_s"),
        ">=",
        366.5,
        "",
    ),
    (
        "PostgreSQL + Redis: server CPU per order / the write limit's",
        lambda r: quotient(r, "writes", "cafe_rt pg", "write limit pg", "server_cpu_ms_per_order"),
        "<=",
        2.5,
        "x",
    ),
    (
        "fan-out: delivered frames/s / the limit's",
        lambda r: quotient(r, "saturation", "cafe_rt", "limit", "frames_per_s"),
        ">=",
        0.8,
        "x",
    ),
    (
        "fan-out: server CPU per frame / the limit's",
        lambda r: quotient(r, "saturation", "cafe_rt", "limit", "server_cpu_us_per_frame"),
        "<=",
        1.2,
        "x",
    ),
    ("rate section: writes/s sustained / asked", sustained, ">=", 0.98, "x"),
    (
        "rate section: p99 write-to-push / the limit's",
        lambda r: quotient(r, "rate", "cafe_rt", "limit", "p99_ms"),
        "<=",
        2.0,
        "x",
    ),
    (
        "connect: server CPU per socket / the limit's",
        lambda r: quotient(r, "connect", "cafe_rt", "limit", "server_cpu_ms_per_connect"),
        "<=",
        1.5,
        "x",
    ),
    (
        "idle memory per socket / the limit's",
        lambda r: quotient(r, "connect", "cafe_rt", "limit", "rss_kib_per_socket"),
        "<=",
        1.6,
        "x",
    ),
    (
        "two processes / one: server CPU per frame",
        lambda r: two_processes(r, "server_cpu_us_per_frame"),
        "<=",
        1.2,
        "x",
    ),
    (
        "two processes / one: server CPU per write",
        lambda r: two_processes(r, "server_cpu_ms_per_write"),
        "<=",
        1.2,
        "x",
    ),
]


def targets(results: list) -> list[str]:
    """Every target with what this run measured, and whether it holds."""
    lines = ["| target | measured | goal | holds |", "|---|---|---|---|"]
    for label, measure, comparison, goal, unit in TARGETS:
        measured = measure(results)
        if measured is None:
            lines.append(f"| {label} | not measured | {comparison} {goal:g}{unit} | - |")
            continue
        holds = measured <= goal if comparison == "<=" else measured >= goal
        lines.append(
            f"| {label} | {measured:.2f}{unit} | {comparison} {goal:g}{unit} | {'yes' if holds else '**no**'} |"
        )
    return lines


def verdict(results: list) -> tuple[str, int, int]:
    """The final line, total lost, total errors."""
    lost = sum(result.lost for result in results)
    errors = sum(result.errors for result in results)

    def versus(section: str, attribute: str) -> str:
        return ratio(value(results, section, "cafe_rt", attribute), value(results, section, "limit", attribute))

    writes = find(results, "writes", "cafe_rt")
    rate = find(results, "rate", "cafe_rt")
    sat_ws = value(results, "saturation", "cafe_rt", "frames_per_s")
    cpu_ws = value(results, "saturation", "cafe_rt", "server_cpu_us_per_frame")
    parts = [
        f"orders/s {writes.orders_per_s} (cpu {writes.server_cpu_ms_per_order} ms/order)",
        f"frames/s {versus('saturation', 'frames_per_s')} limit",
        f"cpu/frame {versus('saturation', 'server_cpu_us_per_frame')} limit",
        f"p99@{rate.sockets}x{rate.rate:g}/s {rate.p99_ms} ms vs limit {value(results, 'rate', 'limit', 'p99_ms')} ms",
        f"connect {value(results, 'connect', 'cafe_rt', 'server_cpu_ms_per_connect')} ms/socket",
        f"idle {value(results, 'connect', 'cafe_rt', 'rss_kib_per_socket')} KiB/socket",
        f"sse frames/s {ratio(value(results, 'saturation', SSE_KIND, 'frames_per_s'), sat_ws)} ws, "
        f"cpu/frame {ratio(value(results, 'saturation', SSE_KIND, 'server_cpu_us_per_frame'), cpu_ws)} ws",
        f"lost {lost}",
    ]
    if errors:
        parts.append(f"errors {errors}")
    return "speed: " + " | ".join(parts), lost, errors


# ------------------------------------------------------------------------------------------------- main


def raise_open_files() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a minute: smaller counts, shorter phases")
    parser.add_argument("--orders", type=int, help="orders in the writes section (2000; quick 300)")
    parser.add_argument("--sockets", type=int, default=1000, help="sockets of the rate and saturation sections")
    parser.add_argument("--rate", type=float, default=50, help="writes a second in the rate section")
    parser.add_argument("--seconds", type=float, help="length of the rate section (60; quick 10)")
    parser.add_argument("--sat-seconds", type=float, help="length of the saturation section (20; quick 5; 0: skip)")
    parser.add_argument("--idle", type=int, help="sockets of the connect section (5000; quick 1000; 0: skip)")
    parser.add_argument("--settle", type=float, default=60, help="seconds to wait for deliveries after writes")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server: adds the PostgreSQL sections")
    parser.add_argument("--redis", help="Redis URL for the PostgreSQL sections (default: a private redis-server)")
    args = parser.parse_args(argv)
    defaults = {"orders": (2000, 300), "seconds": (60, 10), "sat_seconds": (20, 5), "idle": (5000, 1000)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


async def run(args: argparse.Namespace) -> tuple[list, list[str]]:
    logs: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        results = await sqlite_runs(args, folder, logs)
    if args.postgres:
        results += await postgres_runs(args, logs)
    return results, logs


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    open_files = raise_open_files()
    if args.idle + 200 > open_files:
        raise SystemExit(f"speed: --idle {args.idle} needs more open files than RLIMIT_NOFILE allows ({open_files})")
    started = time.monotonic()
    results, logs = uvloop.run(run(args))
    lines = table(results)
    final, lost, errors = verdict(results)
    print()
    print(
        f"cafe_rt `serve` (uvicorn, uvloop) on SQLite + memory:// (and PostgreSQL + Redis when asked); every "
        f"socket uses one owner token (MAX_SOCKETS_PER_USER={CAFE_ENV['MAX_SOCKETS_PER_USER']} for the bench; "
        f"the service allows 50 per user by default). Limit: bench/limit_server.py. Client: this process, "
        f"{os.cpu_count()} CPUs shared. {round(time.monotonic() - started)} s."
    )
    print()
    print("\n".join(lines))
    print()
    print("\n".join(targets(results)))
    for text in logs:
        print(f"\ncafe_rt logged:\n{text[-3000:]}")
    print()
    print(final)
    return 1 if lost or errors else 0


if __name__ == "__main__":
    sys.exit(main())
