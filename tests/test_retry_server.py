"""Safe to retry, over real `cafe_rt.py serve` processes: a retried order across two processes, a paused
broker, a database cut behind a TCP proxy, and SIGTERM with a request in flight."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import http.client
import json
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
import pytest
import redis
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import POSTGRES_ADMIN_URL, REDIS_URL, require_redis
from tests.servers import (
    create_company_in,
    free_port,
    furnish,
    private_redis,
    server_env,
    uvicorn_server,
)

TIMEOUT = 15


def order_body(cafe: dict[str, str], quantity: int = 1) -> dict:
    return {"table": cafe["table"], "items": [{"menu_item": cafe["menu_item"], "quantity": quantity}]}


def waiter(cafe: dict[str, str], key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {cafe['waiter_token']}"}
    return {**headers, "Idempotency-Key": key} if key else headers


async def orders_created(ws, until: str) -> list[str]:
    """The ids of every order_created the socket gets, up to and with `until`."""
    created: list[str] = []
    while until not in created:
        message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if message.get("type") == "order_created":
            created.append(message["data"]["order"]["id"])
    return created


def test_a_retried_order_is_one_order_and_one_event_across_two_processes(fresh_postgres):
    require_redis()
    env = server_env(fresh_postgres, BROADCAST_URL=REDIS_URL)
    owner_email = create_company_in(fresh_postgres)
    with uvicorn_server(env) as host_a, uvicorn_server(env) as host_b:
        with httpx2.Client(base_url=f"http://{host_a}") as a, httpx2.Client(base_url=f"http://{host_b}") as b:
            cafe = furnish(a, owner_email)

            async def scenario() -> None:
                async with connect(f"ws://{host_b}/ws/cafe/orders/?token={cafe['waiter_token']}") as ws:
                    await ws.recv()
                    key = str(uuid.uuid4())
                    first = await asyncio.to_thread(
                        a.post, "/api/cafe/orders/", json=order_body(cafe), headers=waiter(cafe, key)
                    )
                    again = await asyncio.to_thread(
                        b.post, "/api/cafe/orders/", json=order_body(cafe), headers=waiter(cafe, key)
                    )
                    assert first.status_code == again.status_code == 201
                    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
                    # The same key sent to both at once: one runs, the other waits its turn (409) or is replayed.
                    key = str(uuid.uuid4())
                    with concurrent.futures.ThreadPoolExecutor(2) as pool:
                        both = list(
                            pool.map(
                                lambda http: http.post(
                                    "/api/cafe/orders/", json=order_body(cafe, 2), headers=waiter(cafe, key)
                                ),
                                (a, b),
                            )
                        )
                    assert sorted(r.status_code for r in both) in ([201, 201], [201, 409]), [r.text for r in both]
                    made = {r.json()["id"] for r in both if r.status_code == 201}
                    assert len(made) == 1
                    later = await asyncio.to_thread(
                        a.post, "/api/cafe/orders/", json=order_body(cafe, 3), headers=waiter(cafe)
                    )
                    created = await orders_created(ws, later.json()["id"])
                    assert created == [first.json()["id"], *made, later.json()["id"]]

            asyncio.run(scenario())
            listed = a.get("/api/cafe/orders/", headers=waiter(cafe)).json()
            assert len(listed) == 3


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_a_paused_broker_does_not_hold_the_answer_and_the_event_arrives_after(tmp_path):
    port = free_port()
    database_url = f"sqlite:///{tmp_path}/cafe.db"
    env = server_env(database_url, BROADCAST_URL=f"redis://127.0.0.1:{port}/0", RELAY_INTERVAL="0.5")
    owner_email = create_company_in(database_url)
    with private_redis(port), uvicorn_server(env) as host, httpx2.Client(base_url=f"http://{host}", timeout=20) as http:
        cafe = furnish(http, owner_email)

        async def scenario() -> None:
            async with connect(f"ws://{host}/ws/cafe/orders/?token={cafe['waiter_token']}") as ws:
                await ws.recv()
                pauser = redis.Redis(port=port)
                try:
                    pauser.execute_command("CLIENT", "PAUSE", "8000")
                    started = time.monotonic()
                    answer = await asyncio.to_thread(
                        http.post, "/api/cafe/orders/", json=order_body(cafe), headers=waiter(cafe)
                    )
                    took = time.monotonic() - started
                finally:
                    pauser.close()
                assert answer.status_code == 201, answer.text
                assert took < 1.5, f"the answer waited {took:.2f} s for a paused broker"
                assert await orders_created(ws, answer.json()["id"]) == [answer.json()["id"]]

        asyncio.run(scenario())


class Proxy:
    """A TCP proxy in front of PostgreSQL that the test can cut (every connection dropped, none accepted)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def _run(self, coroutine) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    async def _open(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    def open(self) -> None:
        self._run(self._open())

    def cut(self) -> None:
        self._run(self._cut())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@contextmanager
def proxied(database_url: str) -> Iterator[tuple[Proxy, str]]:
    host_port = POSTGRES_ADMIN_URL.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    proxy = Proxy((host, int(port or 5432)))
    proxy.open()
    try:
        yield proxy, database_url.replace(host_port, f"127.0.0.1:{proxy.port}")
    finally:
        proxy.close()


def request(connection: http.client.HTTPConnection, method: str, path: str, body: object, headers: dict[str, str]):
    payload = json.dumps(body).encode() if body is not None else None
    connection.request(method, path, body=payload, headers={**headers, "Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()


def test_a_database_cut_is_503_with_retry_after_on_the_same_connection(fresh_postgres):
    owner_email = create_company_in(fresh_postgres)
    with proxied(fresh_postgres) as (proxy, through_proxy):
        env = server_env(through_proxy)
        with uvicorn_server(env) as host, httpx2.Client(base_url=f"http://{host}") as rest:
            cafe = furnish(rest, owner_email)
            address, port = host.split(":")
            connection = http.client.HTTPConnection(address, int(port), timeout=TIMEOUT)
            connection.connect()
            the_socket = connection.sock
            answers: list[tuple[int, dict[str, str], bytes]] = []

            def write(number: int) -> int:
                key = None if number % 2 else f"cut-{number}"
                answer = request(connection, "POST", "/api/cafe/orders/", order_body(cafe), waiter(cafe, key))
                answers.append(answer)
                assert connection.sock is the_socket, "the keep-alive connection was closed"
                return answer[0]

            assert [write(n) for n in range(3)] == [201] * 3
            proxy.cut()
            during = [write(n) for n in range(3, 9)]
            assert set(during) == {503}, during
            for _status, headers, body in answers[3:]:
                assert int(headers["retry-after"]) > 0
                assert "database" in json.loads(body)["detail"]
            health = request(connection, "GET", "/healthz", None, {})
            assert health[0] == 503 and "database" in json.loads(health[2])["detail"]

            async def handshake() -> int:
                try:
                    async with connect(f"ws://{host}/ws/cafe/orders/?token={cafe['waiter_token']}"):
                        return 101
                except InvalidStatus as refused:
                    return refused.response.status_code

            assert asyncio.run(handshake()) == 503
            proxy.open()
            deadline = time.monotonic() + TIMEOUT
            while write(100) != 201:
                assert time.monotonic() < deadline, answers[-1]
                time.sleep(0.2)
            assert connection.sock is the_socket
            # Every answered 201 is an order, and nothing answered otherwise is.
            assert all(status in (201, 503) for status, _, _ in answers), [a[:1] for a in answers]
            listed = rest.get("/api/cafe/orders/", headers=waiter(cafe)).json()
            assert sorted(order["id"] for order in listed) == sorted(
                json.loads(body)["id"] for status, _, body in answers if status == 201
            )
            connection.close()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_sigterm_lets_a_request_in_flight_finish_and_closes_sockets_with_1012(tmp_path):
    """A write held by a paused broker (up to PUBLISH_TIMEOUT) is in flight at SIGTERM: it is answered, the
    socket is closed with 1012, and the process exits within SHUTDOWN_TIMEOUT."""
    database_url = f"sqlite:///{tmp_path}/cafe.db"
    port, redis_port = free_port(), free_port()
    env = server_env(database_url, SHUTDOWN_TIMEOUT="5", BROADCAST_URL=f"redis://127.0.0.1:{redis_port}/0")
    owner_email = create_company_in(database_url)
    processes: list[subprocess.Popen] = []
    with private_redis(redis_port), uvicorn_server(env, port=port, processes=processes):
        process = processes[0]
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as http:
            cafe = furnish(http, owner_email)

            async def scenario() -> tuple[int, int | None]:
                async with connect(f"ws://127.0.0.1:{port}/ws/cafe/orders/?token={cafe['waiter_token']}") as ws:
                    await ws.recv()
                    with redis.Redis(port=redis_port) as pauser:
                        pauser.execute_command("CLIENT", "PAUSE", "3000")
                    write = asyncio.create_task(
                        asyncio.to_thread(http.post, "/api/cafe/orders/", json=order_body(cafe), headers=waiter(cafe))
                    )
                    await asyncio.sleep(0.4)  # the write has committed and waits for the paused broker
                    started = time.monotonic()
                    process.send_signal(signal.SIGTERM)
                    answer = await write
                    with contextlib.suppress(Exception):
                        while True:
                            await asyncio.wait_for(ws.recv(), TIMEOUT)
                    assert time.monotonic() - started < 8
                    return answer.status_code, ws.close_code

            assert asyncio.run(scenario()) == (201, 1012)
        # uvicorn ends by raising the signal it handled again, after its graceful shutdown.
        assert process.wait(10) in (0, -signal.SIGTERM)
