"""CORS_ORIGINS: preflights and headers for REST, and the same list for WebSocket handshakes."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import httpx2
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from cafe_rt import create_app
from tests.factory import make_company
from tests.servers import create_company_in, furnish, server_env, token_for, uvicorn_server

APP = "https://app.example"
ELSEWHERE = "https://evil.example"


def preflight(client, origin: str):
    return client.options(
        "/api/auth/ws-ticket",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )


def test_preflight_from_a_listed_and_an_unlisted_origin(settings):
    with TestClient(create_app(replace(settings, cors_origins=(APP, "http://localhost:5173")))) as client:
        cafe = make_company(client)
        allowed = preflight(client, APP)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == APP
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        assert "POST" in allowed.headers["access-control-allow-methods"]
        refused = preflight(client, ELSEWHERE)
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers
        me = client.get("/api/users/me/", headers={**cafe.owner.auth, "Origin": APP})
        assert (me.status_code, me.headers["access-control-allow-origin"]) == (200, APP)
        other = client.get("/api/users/me/", headers={**cafe.owner.auth, "Origin": ELSEWHERE})
        assert "access-control-allow-origin" not in other.headers


def test_a_socket_from_an_unlisted_origin_is_refused(settings):
    with TestClient(create_app(replace(settings, cors_origins=(APP,)))) as client:
        cafe = make_company(client)
        for path in ("/socket", "/ws/cafe/orders/", f"/ws/restaurants/{cafe.branch_a}/"):
            url = f"{path}?token={cafe.owner.token}"
            with client.websocket_connect(url, headers={"Origin": APP}) as ws:
                assert "type" in ws.receive_json()
            with client.websocket_connect(url) as ws:  # apps and curl send no Origin
                assert "type" in ws.receive_json()
            # A page the service serves itself (the board) connects from the host it connects to.
            with client.websocket_connect(url, headers={"Origin": "http://testserver"}) as ws:
                assert "type" in ws.receive_json()
            with pytest.raises(WebSocketDenialResponse) as refused:
                with client.websocket_connect(url, headers={"Origin": ELSEWHERE}):
                    pass
            assert refused.value.status_code == 403
            assert refused.value.json() == {"detail": "This origin may not open sockets here."}


def test_without_cors_origins_no_cors_and_only_the_services_own_pages_open_sockets(client):
    cafe = make_company(client)
    assert "access-control-allow-origin" not in preflight(client, APP).headers
    me = client.get("/api/users/me/", headers={**cafe.owner.auth, "Origin": APP})
    assert "access-control-allow-origin" not in me.headers
    url = f"/socket?token={cafe.owner.token}"
    for origin in (ELSEWHERE, APP, "null"):
        with pytest.raises(WebSocketDenialResponse) as refused:
            with client.websocket_connect(url, headers={"Origin": origin}):
                pass
        assert refused.value.status_code == 403, origin
    # The positive controls: the service's own origin (testserver is in ALLOWED_HOSTS here), and no Origin.
    for headers in ({"Origin": "http://testserver"}, {"Origin": "https://testserver:8443"}, {}):
        with client.websocket_connect(url, headers=headers) as ws:
            assert ws.receive_json()["type"] == "connected"


def test_a_page_on_another_origin_logs_in_gets_a_ticket_and_follows_an_order_on_socket(tmp_path):
    """As a browser would: preflight, log in, ask for a ticket, open /socket, all with the page's Origin."""
    database_url = f"sqlite:///{tmp_path}/cors.db"
    owner_email = create_company_in(database_url)
    with (
        uvicorn_server(server_env(database_url, CORS_ORIGINS=f"{APP}, http://localhost:5173")) as host,
        httpx2.Client(base_url=f"http://{host}", headers={"Origin": APP}) as http,
    ):
        assert preflight(http, APP).headers["access-control-allow-origin"] == APP
        cafe = furnish(http, owner_email)
        waiter = {"Authorization": f"Bearer {cafe['waiter_token']}"}
        access = token_for(http, owner_email)
        answer = http.post("/api/auth/ws-ticket", headers={"Authorization": f"Bearer {access}"})
        assert answer.headers["access-control-allow-origin"] == APP
        ticket = answer.json()["ticket"]

        async def scenario():
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://{host}/socket?ticket={ticket}", origin=Origin(ELSEWHERE)):
                    pass
            assert refused.value.response.status_code == 403
            # The refused handshake did not spend the ticket.
            async with connect(f"ws://{host}/socket?ticket={ticket}", origin=Origin(APP)) as ws:
                hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert (hello["type"], hello["data"]["role"]) == ("connected", "owner")
                body = {
                    "table": cafe["table"],
                    "items": [{"menu_item": cafe["menu_item"], "quantity": 1}],
                    "type": "pickup",
                }
                order = (await asyncio.to_thread(http.post, "/api/cafe/orders/", json=body, headers=waiter)).json()
                new = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert (new["type"], new["data"]["id"], new["data"]["type"]) == ("new-order", order["id"], "pickup")
                closed = {"status": "closed", "reason": "On the house"}  # a comp: the owner's decision
                owner = {"Authorization": f"Bearer {access}"}
                await asyncio.to_thread(http.patch, f"/api/cafe/orders/{order['id']}/", json=closed, headers=owner)
                status = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert (status["type"], status["data"]["newStatus"]) == ("order-status-updated", "completed")

        asyncio.run(scenario())
