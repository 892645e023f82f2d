"""Redis as the broker: the pinned broadcaster + redis-py pair delivers, also between processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
import uuid
from dataclasses import replace

import httpx2
import pytest
from broadcaster import Broadcast
from starlette.testclient import TestClient
from websockets.asyncio.client import connect

from cafe_rt import Settings, create_app
from events.broker import connection_for
from tests.conftest import REDIS_URL, admin_sql, require_redis
from tests.factory import TEST_HOSTS, TEST_SECRET, create_order, feed_url, make_company
from tests.servers import create_company_in, free_port, furnish, private_redis, server_env, uvicorn_server

TIMEOUT = 10


def test_broadcaster_redis_backend_delivers_a_message():
    """Fails if broadcaster's redis:// backend stops receiving (as it does with redis-py 8.x)."""
    require_redis()
    channel = f"cafe_rt_test_{uuid.uuid4().hex}"

    async def roundtrip() -> str:
        async with Broadcast(REDIS_URL) as broadcast:
            async with broadcast.subscribe(channel) as subscriber:
                await broadcast.publish(channel=channel, message="hello")
                event = await asyncio.wait_for(subscriber.get(), TIMEOUT)
                return event.message

    assert asyncio.run(roundtrip()) == "hello"


@pytest.mark.parametrize("broker", ["redis", "postgres"])
def test_a_write_through_one_process_reaches_a_socket_on_another(fresh_postgres, broker):
    if broker == "redis":
        require_redis()
    broadcast_url = REDIS_URL if broker == "redis" else fresh_postgres
    # No sweep and no relay: only the broker can carry the event in time.
    env = server_env(fresh_postgres, BROADCAST_URL=broadcast_url, SWEEP_INTERVAL="3600", RELAY_INTERVAL="3600")
    owner_email = create_company_in(fresh_postgres)
    with (
        uvicorn_server(env) as reader,
        uvicorn_server(env) as writer,
        httpx2.Client(base_url=f"http://{writer}") as http,
    ):
        cafe = furnish(http, owner_email)
        auth = {"Authorization": f"Bearer {cafe['waiter_token']}"}

        async def scenario():
            async with connect(f"ws://{reader}/ws/cafe/orders/?token={cafe['waiter_token']}") as ws:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
                body = {"table": cafe["table"], "items": [{"menu_item": cafe["menu_item"], "quantity": 1}]}
                order = (await asyncio.to_thread(http.post, "/api/cafe/orders/", json=body, headers=auth)).json()
                created = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                assert (created["type"], created["data"]["order"]["id"]) == ("order_created", order["id"])
                busy = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                assert busy["type"] == "table_status_changed"
                # Too big for a NOTIFY payload: the broker carries the position, the outbox the text.
                lines = [{"menu_item": cafe["menu_item"], "quantity": 1}] * 60
                big = await asyncio.to_thread(
                    http.post, "/api/cafe/orders/", json={"table": cafe["table"], "items": lines}, headers=auth
                )
                created = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                assert (created["type"], created["data"]["order"]["id"]) == ("order_created", big.json()["id"])
                assert len(created["data"]["order"]["items"]) == 60

        asyncio.run(scenario())


def wait_for_health(client, status: int) -> dict:
    deadline = time.monotonic() + 20
    while (response := client.get("/healthz")).status_code != status:
        assert time.monotonic() < deadline, response.json()
        time.sleep(0.1)
    return response.json()


def test_the_service_survives_a_redis_restart_and_loses_nothing(settings):
    if shutil.which("redis-server") is None:
        require_redis()  # fails under CI=true, skips elsewhere: the same machines run Redis
        pytest.skip("redis-server is not installed")
    port = free_port()
    # No sweep: after the outage, only the supervisor's reconnect and catch-up can deliver.
    faulty = replace(
        settings, broadcast_url=f"redis://127.0.0.1:{port}/0", sweep_interval=3600, broker_check_interval=0.3
    )
    with private_redis(port) as redis_process:
        with TestClient(create_app(faulty)) as client:
            cafe = make_company(client)
            with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
                ws.receive_json()
                first = create_order(client, cafe, table="a2")
                assert ws.receive_json()["data"]["order"]["id"] == first["id"]
                ws.receive_json()
                redis_process.terminate()
                redis_process.wait(10)
                during = create_order(client, cafe)  # the write commits; its publish fails quietly
                down = wait_for_health(client, 503)
                assert down.pop("detail").startswith("The broker is unreachable")  # /healthz names what is down
                assert down == {"database": "ok", "broker": "down"}
                with private_redis(port):
                    assert wait_for_health(client, 200) == {"database": "ok", "broker": "ok"}
                    missed = ws.receive_json()
                    assert (missed["type"], missed["data"]["order"]["id"]) == ("order_created", during["id"])
                    ws.receive_json()
                    after = create_order(client, cafe, table="b1", by="owner")
                    live = create_order(client, cafe, table="a2")
                    assert ws.receive_json()["data"]["order"]["id"] == live["id"]
                    assert after["branch"] == cafe.branch_b


def test_the_service_survives_its_postgres_listener_being_killed(fresh_postgres, tmp_path):
    dbname = fresh_postgres.rsplit("/", 1)[1]
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/cafe.db",
        broadcast_url=fresh_postgres,
        jwt_secret=TEST_SECRET,
        allowed_hosts=TEST_HOSTS,
        sweep_interval=3600,
        relay_interval=0.5,
        broker_check_interval=0.3,
    )
    with TestClient(create_app(settings)) as client:
        cafe = make_company(client)
        with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
            ws.receive_json()
            asyncio.run(
                admin_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{dbname}' AND pid <> pg_backend_pid()"
                )
            )
            during = create_order(client, cafe)  # commits; its publish fails on the dead connection
            missed = ws.receive_json()  # after the supervisor reconnects and the relay republishes
            assert (missed["type"], missed["data"]["order"]["id"]) == ("order_created", during["id"])
            ws.receive_json()
            live = create_order(client, cafe, table="a2")
            assert ws.receive_json()["data"]["order"]["id"] == live["id"]
            assert wait_for_health(client, 200) == {"database": "ok", "broker": "ok"}


def test_the_postgres_broker_takes_concurrent_publishes_and_subscribes(fresh_postgres):
    """broadcaster's own Postgres backend fails here ("another operation is in progress"): every request
    publishes while hubs subscribe and the supervisor probes."""
    channels = [f"cafe_rt_test_{uuid.uuid4().hex[:12]}" for _ in range(3)]

    async def together() -> list[str]:
        broadcast = connection_for(fresh_postgres)
        await broadcast.connect()
        try:
            async with contextlib.AsyncExitStack() as stack:
                subscribers = await asyncio.gather(
                    *(stack.enter_async_context(broadcast.subscribe(channel)) for channel in channels)
                )
                await asyncio.gather(*(broadcast.publish(channel=channels[n % 3], message=str(n)) for n in range(30)))
                received = []
                for subscriber in subscribers:
                    for _ in range(10):
                        received.append((await asyncio.wait_for(subscriber.get(), TIMEOUT)).message)
                return received
        finally:
            await broadcast.disconnect()

    assert sorted(asyncio.run(together()), key=int) == [str(n) for n in range(30)]
