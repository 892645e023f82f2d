"""The cafe feeds over a real uvicorn process and a real WebSocket client."""

from __future__ import annotations

import asyncio
import json

import httpx2
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.servers import create_company_by_command, furnish, server_env, uvicorn_server

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
            await asyncio.to_thread(
                http.patch, f"/api/cafe/orders/{order['id']}/", json={"status": "closed"}, headers=auth
            )
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
            assert closed.value.rcvd.code == 4003

    asyncio.run(scenario())
