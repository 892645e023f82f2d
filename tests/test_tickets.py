"""Socket tickets: POST /api/auth/ws-ticket, then ?ticket= on every socket of every dialect, once."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import httpx2
import pytest
from starlette.testclient import TestClient
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from cafe_rt import create_app
from core.errors import NotAuthenticated
from domain import tickets
from tests.factory import close_code, create_order, make_company, ok, portal
from tests.servers import create_company_in, server_env, token_for, uvicorn_server


def ticket_for(client, person) -> str:
    answer = ok(client.post("/api/auth/ws-ticket", headers=person.auth))
    assert set(answer) == {"ticket", "expires_in"} and answer["expires_in"] == 45
    return answer["ticket"]


def test_a_ticket_opens_each_dialect_once(client):
    cafe = make_company(client)
    order = create_order(client, cafe)
    first = {
        "/ws/cafe/orders/": "connection_established",
        f"/ws/orders/{order['id']}/": "order_status",
        f"/ws/restaurants/{cafe.branch_a}/": "restaurant_status",
        "/": "connected",
        "/ws/": "connected",
        "/socket": "connected",
    }
    for path, greeting in first.items():
        ticket = ticket_for(client, cafe.manager)
        with client.websocket_connect(f"{path}?ticket={ticket}") as ws:
            assert ws.receive_json()["type"] == greeting, path
        assert close_code(client, f"{path}?ticket={ticket}") == 4003, path


def test_a_ticket_is_the_user_of_the_token_that_asked_for_it(client):
    cafe = make_company(client)
    with client.websocket_connect(f"/?ticket={ticket_for(client, cafe.waiter)}") as ws:
        assert ws.receive_json() == {"type": "connected", "data": {"userId": cafe.waiter.id, "role": "waiter"}}
    # The waiter's ticket is held to the waiter's branch, like its token.
    assert close_code(client, f"/ws/restaurants/{cafe.branch_b}/?ticket={ticket_for(client, cafe.waiter)}") == 4404


def test_bad_missing_and_unauthenticated_tickets(client):
    cafe = make_company(client)
    assert client.post("/api/auth/ws-ticket").status_code == 401
    assert client.post("/api/auth/ws-ticket", headers={"Authorization": "Bearer garbage"}).status_code == 401
    assert close_code(client, "/?ticket=made-up") == 4003
    assert close_code(client, "/ws/cafe/orders/?ticket=" + "x" * 5000) == 4003
    # A ticket works without the token, and a bad ticket is not rescued by a good token.
    assert close_code(client, f"/?ticket=made-up&token={cafe.owner.token}") == 4003


def test_an_expired_ticket_closes_with_4003(settings):
    with TestClient(create_app(replace(settings, ws_ticket_ttl=1))) as client:
        cafe = make_company(client)
        answer = ok(client.post("/api/auth/ws-ticket", headers=cafe.owner.auth))
        assert answer["expires_in"] == 1
        time.sleep(1.2)
        assert close_code(client, f"/?ticket={answer['ticket']}") == 4003
        # Expired rows are cleared when the next ticket is issued.
        ok(client.post("/api/auth/ws-ticket", headers=cafe.owner.auth))
        database = client.app_state["services"].database
        left = portal(client).call(database.fetch_one, "SELECT COUNT(*) AS n FROM ws_tickets")
        assert left["n"] == 1


def test_two_sockets_racing_for_one_ticket_cannot_both_win(client):
    cafe = make_company(client)
    services = client.app_state["services"]
    for _ in range(5):
        ticket = ticket_for(client, cafe.owner)

        async def race(ticket=ticket):
            redeems = (tickets.redeem_ticket(services, ticket) for _ in range(4))
            return await asyncio.gather(*redeems, return_exceptions=True)

        outcomes = client.portal.call(race)
        winners = [outcome for outcome in outcomes if not isinstance(outcome, Exception)]
        assert len(winners) == 1 and winners[0].id == cafe.owner.id
        assert all(isinstance(outcome, NotAuthenticated) for outcome in outcomes if outcome not in winners)


def test_the_ticket_flow_over_a_real_server_on_socket(database_url):
    """What the mini-app does: ask for a ticket over HTTP, open /socket with it; the ticket is spent."""
    owner_email = create_company_in(database_url)
    with uvicorn_server(server_env(database_url)) as host, httpx2.Client(base_url=f"http://{host}") as http:
        auth = {"Authorization": f"Bearer {token_for(http, owner_email)}"}
        answer = http.post("/api/auth/ws-ticket", headers=auth)
        assert answer.status_code == 200
        ticket = answer.json()["ticket"]

        async def scenario():
            async with connect(f"ws://{host}/socket?ticket={ticket}") as ws:
                hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert (hello["type"], hello["data"]["role"]) == ("connected", "owner")
                await ws.send(json.dumps({"type": "ping"}))
                assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "pong"}
            async with connect(f"ws://{host}/socket?ticket={ticket}") as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003

        asyncio.run(scenario())


def test_a_ticket_from_one_process_opens_a_socket_on_another(fresh_postgres):
    """Two `serve` processes on one database, as behind a load balancer: any of them redeems the ticket, once."""
    owner_email = create_company_in(fresh_postgres)
    env = server_env(fresh_postgres)
    with uvicorn_server(env) as first, uvicorn_server(env) as second:
        with httpx2.Client(base_url=f"http://{first}") as http:
            auth = {"Authorization": f"Bearer {token_for(http, owner_email)}"}
            ticket = http.post("/api/auth/ws-ticket", headers=auth).json()["ticket"]

        async def scenario():
            async with connect(f"ws://{second}/socket?ticket={ticket}") as ws:
                assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connected"
            for host in (first, second):
                async with connect(f"ws://{host}/socket?ticket={ticket}") as ws:
                    with pytest.raises(ConnectionClosed) as closed:
                        await asyncio.wait_for(ws.recv(), 10)
                    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003

        asyncio.run(scenario())
