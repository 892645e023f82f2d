"""The rooms dialect's current clients (foodminiapp's admin panel and mini-app, their HEAD of March), as a script
over a real `cafe_rt.py serve`: cookies only (`credentials: "include"`), never a token in the page.

The admin panel: GET /api/auth/csrf, POST /api/auth/ws-ticket with the cookie and X-CSRF-Token, /socket?ticket=
with its Origin, `connected`, ping/pong, joins its rooms; a customer's order arrives as `new-order` in
admin-orders (a waiter's dine-in order does not); on a 401 it refreshes through POST /api/auth/refresh and
goes on; it logs out through POST /api/auth/logout.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx2
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.factory import PASSWORD
from tests.servers import create_company_in, furnish, server_env, token_for, uvicorn_server

APP = "http://127.0.0.1:5173"  # the admin panel's dev server: another origin of the same site
ELSEWHERE = "https://evil.example"


def page(host: str) -> httpx2.Client:
    """A page of APP: every request carries its Origin, and the browser's cookie jar."""
    return httpx2.Client(base_url=f"http://{host}", headers={"Origin": APP})


def sign_in(client: httpx2.Client, email: str) -> str:
    """The login, then the CSRF token as the panel fetches it (GET /api/auth/csrf, credentials included)."""
    answer = client.post("/api/auth/login/", json={"email": email, "password": PASSWORD})
    answer.raise_for_status()
    assert answer.headers["access-control-allow-origin"] == APP
    assert answer.headers["access-control-allow-credentials"] == "true"
    csrf = client.get("/api/auth/csrf").json()["csrfToken"]
    assert csrf == answer.json()["csrfToken"] == client.cookies["csrf_token"]
    return csrf


async def frames_until(ws, kind: str, timeout: float = 10) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] == kind:
            return frame


def test_the_admin_panel_and_the_mini_app_on_cookie_sessions(tmp_path):
    database_url = f"sqlite:///{tmp_path}/shop.db"
    owner_email = create_company_in(database_url)
    env = server_env(database_url, CORS_ORIGINS=APP)
    with (
        uvicorn_server(env) as host,
        page(host) as admin,
        page(host) as mini_app,
        httpx2.Client(base_url=f"http://{host}") as tools,
    ):
        cafe = furnish(tools, owner_email)
        owner = {"Authorization": f"Bearer {token_for(tools, owner_email)}"}
        customer_email = f"buyer-{uuid.uuid4().hex[:8]}@test.cafe"
        customer = {"email": customer_email, "password": PASSWORD, "role": "client", "branch": cafe["branch"]}
        tools.post("/api/users/", json=customer, headers=owner).raise_for_status()

        csrf = sign_in(admin, owner_email)
        assert admin.get("/api/auth/session").json()["user"]["email"] == owner_email
        assert admin.post("/api/auth/ws-ticket").status_code == 403, "no X-CSRF-Token"
        answer = admin.post("/api/auth/ws-ticket", headers={"X-CSRF-Token": csrf})
        assert answer.headers["access-control-allow-origin"] == APP
        ticket = answer.json()["ticket"]
        shop_csrf = sign_in(mini_app, customer_email)

        async def scenario() -> None:
            async with connect(f"ws://{host}/socket?ticket={ticket}", origin=Origin(APP)) as ws:
                hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert (hello["type"], hello["data"]["role"]) == ("connected", "owner")
                await ws.send(json.dumps({"type": "ping"}))
                assert (await frames_until(ws, "pong")) == {"type": "pong"}
                for room in ("admin-orders", "admin-broadcasts"):
                    await ws.send(json.dumps({"type": "join-room", "data": {"roomId": room}}))
                    assert await frames_until(ws, "room-joined") == {"type": "room-joined", "data": {"roomId": room}}
                # A waiter's dine-in order first: the panel must not hear of it (it would announce a pickup).
                waiter = {"Authorization": f"Bearer {cafe['waiter_token']}"}
                hall = {"table": cafe["table"], "items": [{"menu_item": cafe["menu_item"], "quantity": 1}]}
                dine_in = await asyncio.to_thread(tools.post, "/api/cafe/orders/", json=hall, headers=waiter)
                assert dine_in.json()["type"] == "dine_in"
                # The mini-app's order: cookie and CSRF header, no token.
                body = {"branch": cafe["branch"], "items": [{"menu_item": cafe["menu_item"], "quantity": 2}]}
                placed = await asyncio.to_thread(
                    mini_app.post, "/api/cafe/orders/", json=body, headers={"X-CSRF-Token": shop_csrf}
                )
                assert placed.status_code == 201, placed.text
                new = await frames_until(ws, "new-order")
                assert (new["data"]["id"], new["data"]["type"]) == (placed.json()["id"], "pickup")
                assert new["data"]["status"] == "pending"

        asyncio.run(scenario())

        # The access token expires: the browser drops its cookie (max-age = ACCESS_TOKEN_TTL), the next request
        # is a 401, and the panel refreshes through the refresh cookie.
        before = admin.cookies["access_token"]
        admin.cookies.delete("access_token")
        expired = admin.post("/api/auth/ws-ticket", headers={"X-CSRF-Token": csrf})
        assert expired.status_code == 401
        refreshed = admin.post("/api/auth/refresh")
        assert refreshed.json() == {"ok": True, "csrfToken": csrf}
        assert admin.cookies["access_token"] != before
        ticket = admin.post("/api/auth/ws-ticket", headers={"X-CSRF-Token": csrf}).json()["ticket"]

        async def reconnect() -> None:
            # A handshake authenticated by the access cookie alone works as well as a ticket.
            cookie = {"Cookie": f"access_token={admin.cookies['access_token']}"}
            async with connect(f"ws://{host}/socket", origin=Origin(APP), additional_headers=cookie) as ws:
                assert (await frames_until(ws, "connected"))["data"]["role"] == "owner"
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://{host}/socket", origin=Origin(ELSEWHERE), additional_headers=cookie):
                    pass
            assert refused.value.response.status_code == 403
            async with connect(f"ws://{host}/socket?ticket={ticket}", origin=Origin(APP)) as ws:
                assert (await frames_until(ws, "connected"))["data"]["role"] == "owner"

        asyncio.run(reconnect())

        logged_out = admin.post("/api/auth/logout")
        assert logged_out.json() == {"ok": True}
        assert "access_token" not in admin.cookies and "csrf_token" not in admin.cookies
        assert admin.get("/api/auth/session").status_code == 401
        assert admin.post("/api/auth/refresh").status_code == 400, "the refresh cookie is gone too"
