"""Real uvicorn processes for the tests where the transport matters, and a company set up over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from starlette.types import ASGIApp
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.uri import parse_uri

from core.settings import Settings
from front_door.cli import create_company_command
from realtime.direct import KeepRawSend
from tests import frames
from tests.factory import PASSWORD, TEST_SECRET

ROOT = Path(__file__).resolve().parent.parent


def _own_ports() -> Iterator[int]:
    """This process's ports for servers: below the kernel's ephemeral range (32768 and up on Linux), where no
    outgoing connection takes one, in a block of 2,000 per pytest-xdist worker (gw0, gw1, ...), so two workers
    never hand out the same port; each starts at a random place in its block, for two runs at once."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    first = 20000 + 2000 * (int(worker) % 6 if worker.isdigit() else 0)
    offset = random.randrange(2000)
    for step in itertools.count():
        yield first + (offset + step) % 2000


_ports = _own_ports()


def free_port() -> int:
    """A port of this process's block that nothing listens on now."""
    for _ in range(2000):
        port = next(_ports)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("every port of this worker's block is taken")


@contextlib.asynccontextmanager
async def in_process_uvicorn(app: ASGIApp, **options: Any) -> AsyncIterator[int]:
    """A uvicorn server in this event loop, for `app` with the server's own send kept (KeepRawSend, as cafe_rt
    runs); yields its port, and stops it at the end."""
    port = free_port()
    config = uvicorn.Config(KeepRawSend(app), port=port, log_level="warning", lifespan="off", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, "BROADCAST_URL": "memory://", **extra}


@contextmanager
def uvicorn_server(
    env: dict[str, str],
    *options: str,
    log_level: str = "warning",
    log_path: Path | None = None,
    port: int | None = None,
    processes: list[subprocess.Popen] | None = None,
) -> Iterator[str]:
    """Start `cafe_rt.py serve` as the Procfile does (with extra `options`); yields host:port once /healthz answers.

    Its output goes to `log_path` when given (for tests that read the log), else to a temporary file. A given
    `port` lets a test start the server again where its clients (a browser page) left it; `processes` gets the
    server's process, for a test that kills it."""
    port = port or free_port()
    log = log_path.open("w+b") if log_path else tempfile.TemporaryFile()
    process = subprocess.Popen(
        [
            sys.executable,
            "cafe_rt.py",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            log_level,
            *options,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    if processes is not None:
        processes.append(process)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"uvicorn did not start:\n{log.read().decode(errors='replace')}")
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def create_company_by_command(database_url: str) -> str:
    """The management command a new owner runs; returns the owner's email."""
    email = f"owner-{uuid.uuid4().hex[:8]}@test.cafe"
    result = subprocess.run(
        [
            sys.executable,
            "cafe_rt.py",
            "create-company",
            "Real Cafe",
            "--owner-email",
            email,
            "--owner-password",
            PASSWORD,
        ],
        cwd=ROOT,
        env={**os.environ, **server_env(database_url)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert set(json.loads(result.stdout)) == {"company_id", "owner_id", "owner_email"}
    return email


def create_company_in(database_url: str) -> str:
    """What `create-company` does (the command's own function, on a migrated database), in this process;
    returns the owner's email. A new Python for the command costs some 0.9 s of imports and start-up, in the
    setup of most server tests; the whole command is run by `create_company_by_command` (test_uvicorn's
    real-socket tests).
    The owner's password is hashed at this process's cost (in a test's own setup, the tests' quick one:
    conftest.py); the server checks a stored hash at the cost it names."""
    email = f"owner-{uuid.uuid4().hex[:8]}@test.cafe"
    settings = Settings(database_url=database_url, broadcast_url="memory://", jwt_secret=TEST_SECRET)
    creation = create_company_command(settings, "Real Cafe", email, PASSWORD)
    # A thread of its own: a test driving Playwright's sync API already runs an event loop in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, creation).result()
    return email


def token_for(http: httpx2.Client, email: str) -> str:
    response = http.post("/api/users/login/", json={"email": email, "password": PASSWORD})
    response.raise_for_status()
    # An app that sends the Bearer token, not a browser: the session cookies are dropped.
    http.cookies.clear()
    return response.json()["access"]


def furnish(http: httpx2.Client, owner_email: str) -> dict[str, str]:
    """A branch, a waiter, a table and a menu item, made over HTTP; returns their ids and tokens."""
    owner = {"Authorization": f"Bearer {token_for(http, owner_email)}"}
    branch = http.post("/api/branches/", json={"name": "Main", "city_id": 1}, headers=owner).json()
    waiter_email = f"waiter-{uuid.uuid4().hex[:8]}@test.cafe"
    http.post(
        "/api/users/",
        json={"email": waiter_email, "password": PASSWORD, "role": "waiter", "branch": branch["id"]},
        headers=owner,
    ).raise_for_status()
    table = http.post("/api/cafe/tables/", json={"number": 1, "places": 4, "branch": branch["id"]}, headers=owner)
    item = http.post("/api/cafe/menu-items/", json={"title": "Soup", "price": "250.00"}, headers=owner)
    return {
        "branch": branch["id"],
        "table": table.json()["id"],
        "menu_item": item.json()["id"],
        "waiter_email": waiter_email,
        "waiter_token": token_for(http, waiter_email),
    }


def big_order_body(http: httpx2.Client, cafe: dict[str, str], owner: dict[str, str]) -> dict:
    """An order body of 100 lines of a 200-character dish: its events are about 40 KB each."""
    dish = {"title": "x" * 200, "price": "1.00"}
    item = http.post("/api/cafe/menu-items/", json=dish, headers=owner)
    item.raise_for_status()
    return {"table": cafe["table"], "items": [{"menu_item": item.json()["id"], "quantity": 1}] * 100}


def wait_for_port(process: subprocess.Popen, port: int, name: str, timeout: float = 30) -> None:
    """Until `process` accepts connections on 127.0.0.1:`port`; RuntimeError if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.05)


@contextmanager
def private_redis(port: int) -> Iterator[subprocess.Popen]:
    """A Redis of this test's own, so it can be stopped without touching anyone else's."""
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(process, port, "redis-server", timeout=10)
        yield process
    finally:
        process.terminate()
        process.wait(10)


class StalledClient:
    """A WebSocket client over a plain socket with a tiny receive buffer, so it can stop reading at will."""

    def __init__(self, host: str, url: str) -> None:
        address, port = host.split(":")
        self.path = parse_uri(url).resource_name
        self.protocol = ClientProtocol(parse_uri(url), max_size=None)
        self.raw = socket.socket()
        self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.raw.settimeout(10)
        self.raw.connect((address, int(port)))
        self.protocol.send_request(self.protocol.connect())
        self.raw.sendall(b"".join(self.protocol.data_to_send()))
        self.events: list = []
        while len(self.events) < 2:  # the handshake response and connection_established
            self._read_once()

    def _read_once(self) -> bool:
        chunk = self.raw.recv(65536)
        self.protocol.receive_data(chunk)
        self.events += self.protocol.events_received()
        self.raw.sendall(b"".join(self.protocol.data_to_send()))
        return bool(chunk)

    def read_to_the_end(self) -> tuple[list[dict], int | None]:
        """Everything the server still sends, up to its close frame: (text messages, close code)."""
        while self.protocol.close_rcvd is None and self._read_once():
            pass
        self.raw.close()
        texts = [event.data.decode() for event in self.events[1:] if getattr(event, "opcode", None) == Opcode.TEXT]
        for text in texts:
            frames.received(self.path, text)
        return [json.loads(text) for text in texts], self.protocol.close_rcvd.code if self.protocol.close_rcvd else None
