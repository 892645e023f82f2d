"""Hostile and forgetful clients: floods (1008), oversized frames (1009), expired tokens (4003), stalls (4008)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import replace

import httpx2
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from cafe_rt import create_app
from core.auth import issue_tokens
from tests.factory import close_code, create_order, feed_url, make_company
from tests.servers import (
    StalledClient,
    big_order_body,
    create_company_in,
    furnish,
    server_env,
    token_for,
    uvicorn_server,
)


def closing_code(ws) -> int:
    with pytest.raises(WebSocketDisconnect) as closed:
        for _ in range(1000):
            ws.receive_json()
    return closed.value.code


def test_a_flood_is_closed_with_1008(client):
    cafe = make_company(client)
    with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
        ws.receive_json()
        for _ in range(100):
            ws.send_json({"action": "ping"})
        assert closing_code(ws) == 1008


def test_sockets_per_user_are_capped_with_1008_and_a_closed_one_frees_its_place(settings):
    """MAX_SOCKETS_PER_USER: one token cannot hold hundreds of sockets; an owner's dashboard of many entity
    sockets still fits, and each socket that closes gives its place back."""
    with TestClient(create_app(replace(settings, max_sockets_per_user=5))) as client:
        cafe = make_company(client)
        order = create_order(client, cafe)
        urls = [feed_url("orders", cafe.owner), feed_url("tables", cafe.owner), feed_url("kitchen", cafe.owner)]
        urls += [f"/ws/orders/{order['id']}/?token={cafe.owner.token}", f"/?token={cafe.owner.token}"]
        with contextlib.ExitStack() as open_sockets:
            for url in urls:
                open_sockets.enter_context(client.websocket_connect(url)).receive_json()
            assert close_code(client, feed_url("orders", cafe.owner)) == 1008
            # Another user is not affected by the owner's count.
            with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
                assert ws.receive_json()["type"] == "connection_established"
        with client.websocket_connect(feed_url("orders", cafe.owner)) as ws:
            assert ws.receive_json()["type"] == "connection_established"


def test_a_legal_big_order_reaches_a_reading_kitchen_socket_whole(client):
    """MAX_PORTIONS_PER_ORDER portions in one order: every kitchen_task_created arrives, no 4008."""
    cafe = make_company(client)
    portions = client.app_state["services"].settings.max_portions_per_order
    with client.websocket_connect(feed_url("kitchen", cafe.cook)) as kitchen:
        kitchen.receive_json()
        create_order(client, cafe, items=[("pizza", 100), ("coffee", portions - 100)])
        created = [kitchen.receive_json() for _ in range(portions)]
    assert [event["type"] for event in created] == ["kitchen_task_created"] * portions
    assert len({event["data"]["task"]["id"] for event in created}) == portions


def test_sockets_outlive_their_token_by_default(settings):
    """Today's clients authenticate at connect only and never refresh in-band: no 4003 at expiry."""
    with TestClient(create_app(replace(settings, access_token_ttl=2))) as client:
        cafe = make_company(client)
        ticket = client.post("/api/auth/ws-ticket", headers=cafe.owner.auth).json()["ticket"]
        with (
            client.websocket_connect(feed_url("orders", cafe.waiter)) as feed,
            client.websocket_connect(f"/socket?ticket={ticket}") as rooms,
        ):
            feed.receive_json(), rooms.receive_json()
            time.sleep(3)  # both tokens have expired
            assert client.get("/api/users/me/", headers=cafe.waiter.auth).status_code == 401
            feed.send_json({"action": "ping"})
            assert feed.receive_json() == {"type": "pong"}
            tokens = client.app_state["services"].tokens
            fresh = issue_tokens(tokens, {"id": cafe.owner.id, "role": "owner", "company": cafe.id, "branch": None})
            body = {"branch": cafe.branch_a, "items": []}
            order = client.post("/api/cafe/orders/", json=body, headers={"Authorization": f"Bearer {fresh['access']}"})
            assert feed.receive_json()["data"]["order"]["id"] == order.json()["id"]
            assert rooms.receive_json()["type"] == "new-order"


def test_an_expired_token_closes_the_socket_unless_refreshed(settings):
    """SOCKET_TOKEN_EXPIRY=close: the behaviour before sockets outlived their token."""
    with TestClient(create_app(replace(settings, access_token_ttl=3, socket_token_expiry="close"))) as client:
        cafe = make_company(client)
        services = client.app_state["services"]
        user = {"id": cafe.waiter.id, "role": "waiter", "company": cafe.id, "branch": cafe.branch_a}
        with (
            client.websocket_connect(feed_url("orders", cafe.waiter)) as kept,
            client.websocket_connect(feed_url("tables", cafe.waiter)) as dropped,
        ):
            kept.receive_json(), dropped.receive_json()
            time.sleep(1.5)
            kept.send_json({"action": "refresh_token", "token": "garbage"})
            assert "error" in kept.receive_json()
            kept.send_json({"action": "refresh_token", "token": cafe.cook.token})
            assert kept.receive_json() == {"error": "The token belongs to another user."}
            kept.send_json({"action": "refresh_token", "token": issue_tokens(services.tokens, user)["access"]})
            assert kept.receive_json()["type"] == "token_refreshed"
            assert closing_code(dropped) == 4003  # at about 3 s
            kept.send_json({"action": "ping"})
            assert kept.receive_json() == {"type": "pong"}  # past the first token's expiry
            assert closing_code(kept) == 4003  # at about 4.5 s, when the new token expires


def test_rooms_socket_refreshes_with_its_own_spelling(client):
    cafe = make_company(client)
    with client.websocket_connect(f"/?token={cafe.owner.token}") as ws:
        ws.receive_json()
        ws.send_json({"type": "refresh-token", "data": {"token": cafe.owner.token}})
        assert ws.receive_json()["type"] == "token-refreshed"


def test_an_oversized_frame_is_closed_with_1009(tmp_path):
    """The served default, WS_MAX_SIZE=65536."""
    database_url = f"sqlite:///{tmp_path}/limits.db"
    owner_email = create_company_in(database_url)
    with uvicorn_server(server_env(database_url)) as host:
        with httpx2.Client(base_url=f"http://{host}") as http:
            access = token_for(http, owner_email)

        async def scenario():
            async with connect(f"ws://{host}/?token={access}", max_size=None) as ws:
                await asyncio.wait_for(ws.recv(), 10)
                await ws.send(json.dumps({"type": "ping", "pad": "x" * 70_000}))
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

        asyncio.run(scenario())


def test_a_client_that_stops_reading_is_closed_with_4008_and_the_others_get_everything(tmp_path):
    database_url = f"sqlite:///{tmp_path}/stall.db"
    owner_email = create_company_in(database_url)
    patches = 160  # about 6 MB of order_updated: more than the kernel and uvicorn buffer for one socket
    with (
        uvicorn_server(server_env(database_url, SEND_QUEUE_SIZE="20")) as host,
        httpx2.Client(base_url=f"http://{host}") as http,
    ):
        cafe = furnish(http, owner_email)
        owner = {"Authorization": f"Bearer {token_for(http, owner_email)}"}
        big_order = big_order_body(http, cafe, owner)
        url = f"ws://{host}/ws/cafe/orders/?token={cafe['waiter_token']}"
        stalled = StalledClient(host, url)

        async def reading_client_gets_every_event() -> list[int]:
            seen: list[int] = []
            async with connect(url, max_size=None) as ws:
                await ws.recv()

                async def read() -> None:
                    while len(seen) < patches + 2:  # order_created, table busy, the updates
                        seen.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["event_id"])

                reader = asyncio.create_task(read())
                order = (await asyncio.to_thread(http.post, "/api/cafe/orders/", json=big_order, headers=owner)).json()
                for guests in range(patches):
                    path = f"/api/cafe/orders/{order['id']}/"
                    response = await asyncio.to_thread(http.patch, path, json={"guests": guests % 2 + 1}, headers=owner)
                    assert response.status_code == 200
                await reader
            return seen

        everything = asyncio.run(reading_client_gets_every_event())
        assert everything == sorted(set(everything))

        before_close, code = stalled.read_to_the_end()
        assert code == 4008
        got = [message["event_id"] for message in before_close if "event_id" in message]
        assert got == everything[: len(got)] and len(got) < len(everything)

        async def resume_gets_the_rest() -> list[int]:
            rest: list[int] = []
            async with connect(f"{url}&last_event_id={got[-1]}", max_size=None) as ws:
                while not rest or rest[-1] < everything[-1]:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if "event_id" in message:
                        rest.append(message["event_id"])
            return rest

        assert got + asyncio.run(resume_gets_the_rest()) == everything


def established(server_port: int, client_port: int) -> bool:
    """Whether the server's side of a loopback connection is still open (read from /proc/net/tcp)."""
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            local, remote, state = line.split()[1:4]
            if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
                return state == "01"
    return False


def test_a_client_that_never_reads_again_is_cut_after_stalled_timeout(tmp_path):
    """Flushing to a peer that takes nothing never ends; TCP_USER_TIMEOUT on the served socket ends it."""
    database_url = f"sqlite:///{tmp_path}/dead.db"
    owner_email = create_company_in(database_url)
    env = server_env(database_url, SEND_QUEUE_SIZE="50", STALLED_TIMEOUT="2")  # pings every 30 s: too late here
    with uvicorn_server(env) as host, httpx2.Client(base_url=f"http://{host}") as http:
        cafe = furnish(http, owner_email)
        owner = {"Authorization": f"Bearer {token_for(http, owner_email)}"}
        big_order = big_order_body(http, cafe, owner)
        stalled = StalledClient(host, f"ws://{host}/ws/cafe/orders/?token={cafe['waiter_token']}")
        server_port, client_port = int(host.split(":")[1]), stalled.raw.getsockname()[1]
        assert established(server_port, client_port)
        order = http.post("/api/cafe/orders/", json=big_order, headers=owner).json()
        for guests in range(200):  # about 8 MB: more than the kernel takes, so uvicorn holds the rest
            http.patch(f"/api/cafe/orders/{order['id']}/", json={"guests": guests % 2 + 1}, headers=owner)
        deadline = time.monotonic() + 20
        while established(server_port, client_port):
            assert time.monotonic() < deadline, "the stalled connection is still open"
            time.sleep(0.2)
        stalled.raw.close()
