"""Redis as the broker: the pinned broadcaster + redis-py pair delivers, also between processes."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx2
import pytest
from broadcaster import Broadcast
from websockets.asyncio.client import connect

from tests.conftest import REDIS_URL, require_redis
from tests.servers import create_company_by_command, furnish, server_env, uvicorn_server

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
    owner_email = create_company_by_command(fresh_postgres)
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
