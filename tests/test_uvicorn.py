"""The cafe feeds over a real uvicorn process and a real WebSocket client."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import subprocess
import sys
import time

import httpx2
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import REDIS_URL, require_redis
from tests.servers import ROOT, create_company_by_command, furnish, server_env, token_for, uvicorn_server

TIMEOUT = 10


async def next_message(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


@pytest.fixture
def served(database_url):
    env = server_env(database_url)
    owner_email = create_company_by_command(database_url)
    with uvicorn_server(env) as host, httpx2.Client(base_url=f"http://{host}") as http:
        yield host, http, furnish(http, owner_email)


def test_seed_001_create_and_close_over_a_real_socket(served):
    host, http, cafe = served
    auth = {"Authorization": f"Bearer {cafe['waiter_token']}"}

    async def scenario():
        async with connect(f"ws://{host}/ws/cafe/orders/?token={cafe['waiter_token']}") as ws:
            hello = await next_message(ws)
            assert (hello["type"], hello["branch_id"]) == ("connection_established", cafe["branch"])
            await ws.send(json.dumps({"action": "ping"}))
            assert await next_message(ws) == {"type": "pong"}
            body = {"table": cafe["table"], "guests": 2, "items": [{"menu_item": cafe["menu_item"], "quantity": 2}]}
            order = (await asyncio.to_thread(http.post, "/api/cafe/orders/", json=body, headers=auth)).json()
            created, busy = await next_message(ws), await next_message(ws)
            assert (created["type"], created["data"]["order"]["id"]) == ("order_created", order["id"])
            assert (busy["type"], busy["data"]["status"], busy["data"]["status_display"]) == (
                "table_status_changed",
                "busy",
                "Занят",
            )
            paid = {"amount": order["total_amount"]}  # pay and close: the waiter's way to close
            await asyncio.to_thread(http.post, f"/api/cafe/orders/{order['id']}/pay/", json=paid, headers=auth)
            updated, free = await next_message(ws), await next_message(ws)
            assert (updated["type"], updated["data"]["order"]["status"]) == ("order_updated", "closed")
            assert (free["type"], free["data"]["status"]) == ("table_status_changed", "free")

    asyncio.run(scenario())


def test_a_real_client_reads_close_code_4003(served):
    host, _, _ = served

    async def scenario():
        async with connect(f"ws://{host}/ws/cafe/orders/?token=garbage") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003

    asyncio.run(scenario())


def test_keepalive_drops_a_client_that_never_answers_pings(tmp_path):
    """Seed 004's keepalive as the Procfile sets it (30 s there, 1 s here): uvicorn pings, silence is dropped."""
    database_url = f"sqlite:///{tmp_path}/keepalive.db"
    owner_email = create_company_by_command(database_url)
    with uvicorn_server(server_env(database_url, WS_PING_INTERVAL="1", WS_PING_TIMEOUT="1")) as host:
        with httpx2.Client(base_url=f"http://{host}") as http:
            token = token_for(http, owner_email)

        async def answering_client_stays():
            async with connect(f"ws://{host}/?token={token}") as ws:
                await next_message(ws)
                await asyncio.sleep(3)
                await ws.send(json.dumps({"type": "ping"}))
                assert await next_message(ws) == {"type": "pong"}

        asyncio.run(answering_client_stays())
        address, port = host.split(":")
        with socket.create_connection((address, int(port)), timeout=10) as raw:
            raw.sendall(
                f"GET /?token={token} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            received, started = b"", time.monotonic()
            while chunk := raw.recv(4096):  # never answers the pings: the server must hang up
                received += chunk
            assert received.startswith(b"HTTP/1.1 101")
            assert b"\x89" in received  # at least one ping frame came first
            assert time.monotonic() - started < 9


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_sequential_requests_of_one_client_are_not_held_back_by_nagle(tmp_path, loop):
    """`serve` turns on TCP_NODELAY (uvloop does it itself, asyncio only for a listener made with IPPROTO_TCP):
    with Nagle and delayed ACKs each response waited ~40 ms for the client."""
    with uvicorn_server(server_env(f"sqlite:///{tmp_path}/nodelay.db"), "--loop", loop) as host:
        address, port = host.split(":")
        connection = http.client.HTTPConnection(address, int(port), timeout=TIMEOUT)
        try:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            started = time.monotonic()
            for _ in range(20):
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                response.read()
                assert response.status == 200
            each = (time.monotonic() - started) / 20
        finally:
            connection.close()
    # ~1 ms each here; 40 ms or more when Nagle holds the response's second write back.
    assert each < 0.02, f"{each * 1000:.1f} ms per request"


def test_serve_refuses_several_workers_on_the_in_memory_broker(tmp_path):
    result = subprocess.run(
        [sys.executable, "cafe_rt.py", "serve", "--workers", "2", "--port", "0"],
        cwd=ROOT,
        env={**os.environ, **server_env(f"sqlite:///{tmp_path}/workers.db")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "needs a shared broker" in result.stderr


def test_two_workers_on_postgres_and_redis_serve_every_socket(fresh_postgres, tmp_path):
    """`serve --workers 2`: both processes start on one port, an order written through either reaches every
    socket, whichever process the kernel gave it to, and /metrics (PROMETHEUS_MULTIPROC_DIR) adds up both."""
    require_redis()
    owner_email = create_company_by_command(fresh_postgres)
    log = tmp_path / "workers.log"
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = server_env(fresh_postgres, BROADCAST_URL=REDIS_URL, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    with (
        uvicorn_server(env, "--workers", "2", log_level="info", log_path=log) as host,
        httpx2.Client(base_url=f"http://{host}") as http,
    ):
        cafe = furnish(http, owner_email)
        auth = {"Authorization": f"Bearer {cafe['waiter_token']}"}

        async def scenario() -> list[dict]:
            url = f"ws://{host}/ws/cafe/orders/?token={cafe['waiter_token']}"
            sockets = [await connect(url) for _ in range(8)]
            try:
                for ws in sockets:
                    await next_message(ws)
                body = {"table": cafe["table"], "items": [{"menu_item": cafe["menu_item"], "quantity": 1}]}
                order = (await asyncio.to_thread(http.post, "/api/cafe/orders/", json=body, headers=auth)).json()
                received = [await next_message(ws) for ws in sockets]
                assert {event["data"]["order"]["id"] for event in received} == {order["id"]}
                return received
            finally:
                for ws in sockets:
                    await ws.close()

        assert [event["type"] for event in asyncio.run(scenario())] == ["order_created"] * 8
        created = 'cafe_rt_http_requests_total{method="POST",route="/api/cafe/orders/",status="201"} 1.0'
        for _ in range(4):  # whichever worker answers, it tells the sum of both
            scraped = http.get("/metrics").text
            assert created in scraped and "cafe_rt_broker_up 1.0" in scraped
    assert log.read_text().count("Application startup complete") == 2
