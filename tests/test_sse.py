"""Server-sent events on the socket URLs, over a real `cafe_rt.py serve` and real clients of both transports."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx2
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.factory import PASSWORD
from tests.servers import (
    big_order_body,
    create_company_in,
    free_port,
    furnish,
    server_env,
    token_for,
    uvicorn_server,
)
from tests.sse import ACCEPT, Event, EventReader, event_stream

TIMEOUT = 10
QUIET = 1.0  # seconds without a frame after the last write: everything has arrived
ENV = {"SSE_PING_INTERVAL": "0.5", "MAX_SOCKETS_PER_USER": "3"}


@pytest.fixture
def served(database_url):
    owner_email = create_company_in(database_url)
    with uvicorn_server(server_env(database_url, **ENV)) as host, httpx2.Client(base_url=f"http://{host}") as http:
        cafe = furnish(http, owner_email)
        cafe["owner_token"] = token_for(http, owner_email)
        yield host, cafe


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def socket_texts(ws, timeout: float = QUIET) -> list[str]:
    """Every text frame until none comes for `timeout` seconds."""
    texts = []
    while True:
        try:
            texts.append(await asyncio.wait_for(ws.recv(), timeout))
        except TimeoutError:
            return texts


async def stream_events(stream: EventReader, timeout: float = QUIET) -> list[Event]:
    """Every event until none comes for `timeout` seconds."""
    events: list[Event] = []
    while True:
        try:
            event = await stream.next(timeout)
        except TimeoutError:
            return events
        assert event is not None, "the stream ended"
        events.append(event)


async def same_on_both(host: str, path: str, token: str, write) -> tuple[list[str], list[Event]]:
    """A WebSocket (token) and an event stream (ticket) on `path`, then `write(http)`: (socket texts, events)."""
    async with httpx2.AsyncClient(base_url=f"http://{host}", timeout=TIMEOUT) as http:
        ticket = (await http.post("/api/auth/ws-ticket", headers=bearer(token))).json()["ticket"]
        socket_url, stream_path = f"ws://{host}{path}?token={token}", f"{path}?ticket={ticket}"
        async with connect(socket_url) as ws, event_stream(http, stream_path) as sse:
            greeting, first = await asyncio.wait_for(ws.recv(), TIMEOUT), await sse.next()
            assert first is not None and first.id is None and first.data == greeting
            assert first.event == json.loads(greeting)["type"]
            await write(http)
            # Both at once: each waits QUIET seconds after its last frame.
            texts, events = await asyncio.gather(socket_texts(ws), stream_events(sse))
    assert texts, "the writes reached no socket"
    for event in events:
        message = event.message
        assert (event.id, event.event) == (str(message["event_id"]), message["type"])
    assert [event.data for event in events] == texts
    return texts, events


def test_a_cafe_feed_stream_carries_what_its_socket_does(served):
    host, cafe = served

    async def write(http: httpx2.AsyncClient) -> None:
        body = {"table": cafe["table"], "items": [{"menu_item": cafe["menu_item"], "quantity": 1}]}
        order = (await http.post("/api/cafe/orders/", json=body, headers=bearer(cafe["waiter_token"]))).json()
        # Paid and closed: a waiter may not close an order that still owes money (that is a comp).
        paid = {"method": "cash", "amount": order["total_amount"], "close": True}
        await http.post(f"/api/cafe/orders/{order['id']}/pay/", json=paid, headers=bearer(cafe["waiter_token"]))

    texts, _ = asyncio.run(same_on_both(host, "/ws/cafe/orders/", cafe["waiter_token"], write))
    kinds = [json.loads(text)["type"] for text in texts]
    assert kinds == ["order_created", "table_status_changed", "order_updated", "table_status_changed"]


def test_an_entity_stream_starts_with_its_state_and_carries_what_its_socket_does(served):
    host, cafe = served

    async def write(http: httpx2.AsyncClient) -> None:
        body = {"table": cafe["table"], "items": []}
        order = (await http.post("/api/cafe/orders/", json=body, headers=bearer(cafe["waiter_token"]))).json()
        closed = {"status": "closed"}
        await http.patch(f"/api/cafe/orders/{order['id']}/", json=closed, headers=bearer(cafe["waiter_token"]))

    texts, _ = asyncio.run(same_on_both(host, f"/ws/tables/{cafe['table']}/", cafe["waiter_token"], write))
    assert {json.loads(text)["type"] for text in texts} >= {"table_status", "table_update"}


def test_a_rooms_stream_carries_what_its_socket_does(served):
    host, cafe = served

    async def write(http: httpx2.AsyncClient) -> None:
        pickup = {"guests": 1, "items": [{"menu_item": cafe["menu_item"], "quantity": 1}]}
        (await http.post("/api/cafe/orders/", json=pickup, headers=bearer(cafe["waiter_token"]))).raise_for_status()

    texts, _ = asyncio.run(same_on_both(host, "/socket", cafe["owner_token"], write))
    assert "new-order" in [json.loads(text)["type"] for text in texts]


def test_a_rooms_stream_joins_the_rooms_of_its_query_each_as_join_room_allows(served):
    host, cafe = served
    waiter = bearer(cafe["waiter_token"])

    async def scenario() -> None:
        async with httpx2.AsyncClient(base_url=f"http://{host}", timeout=TIMEOUT) as http:
            refused = await http.get("/?rooms=admin-orders", headers={**ACCEPT, **waiter})
            assert refused.status_code == 403 and "admin-orders" in refused.json()["detail"]
            async with event_stream(http, f"/?rooms=branch-{cafe['branch']}-orders", waiter) as sse:
                connected = await sse.next()
                assert connected is not None and connected.event == "connected"
                pickup = {"guests": 1, "items": [{"menu_item": cafe["menu_item"], "quantity": 1}]}
                order = (await http.post("/api/cafe/orders/", json=pickup, headers=waiter)).json()
                events = await stream_events(sse)
        new = [event.message for event in events if event.event == "new-order"]
        assert [(message["data"]["id"], message["data"]["branchId"]) for message in new] == [
            (order["id"], cafe["branch"])
        ]

    asyncio.run(scenario())


def test_a_stream_resumes_from_last_event_id_after_a_restart_with_nothing_missing_or_doubled(tmp_path):
    database_url = f"sqlite:///{tmp_path}/restart.db"
    owner_email = create_company_in(database_url)
    env, port = server_env(database_url, **ENV), free_port()
    path = "/ws/cafe/orders/"

    async def order(http: httpx2.AsyncClient, cafe: dict) -> str:
        body = {"table": cafe["table"], "items": []}
        response = await http.post("/api/cafe/orders/", json=body, headers=bearer(cafe["waiter_token"]))
        response.raise_for_status()
        return response.json()["id"]

    async def before(host: str, cafe: dict) -> tuple[list[str], int, asyncio.Task]:
        http = httpx2.AsyncClient(base_url=f"http://{host}", timeout=TIMEOUT)
        made = [await order(http, cafe), await order(http, cafe)]
        stream = event_stream(http, path, bearer(cafe["waiter_token"]))
        sse = await stream.__aenter__()
        await sse.next()  # connection_established
        made.append(await order(http, cafe))
        seen = [event for event in await stream_events(sse) if event.event == "order_created"]
        assert [event.message["data"]["order"]["id"] for event in seen] == made[2:]

        async def to_the_end() -> list[str]:
            try:
                await sse.until_end()
                return sse.comments
            finally:
                await stream.__aexit__(None, None, None)
                await http.aclose()

        return made, int(seen[-1].id or 0), asyncio.create_task(to_the_end())

    with uvicorn_server(env, port=port) as host, httpx2.Client(base_url=f"http://{host}") as sync_http:
        cafe = furnish(sync_http, owner_email)
        loop = asyncio.new_event_loop()
        made, last_seen, ending = loop.run_until_complete(before(host, cafe))
        stopped_at = time.monotonic()
    # The stream was open through SIGTERM: the server ended it (1012) instead of waiting on it.
    assert time.monotonic() - stopped_at < 5
    comments = loop.run_until_complete(asyncio.wait_for(ending, TIMEOUT))
    assert comments[-1].startswith("closed 1012"), comments

    async def after(host: str) -> None:
        async with httpx2.AsyncClient(base_url=f"http://{host}", timeout=TIMEOUT) as http:
            missed = [await order(http, cafe), await order(http, cafe)]
            resumed = {**bearer(cafe["waiter_token"]), "Last-Event-ID": str(last_seen)}
            async with (
                event_stream(http, path, resumed) as sse,
                event_stream(http, f"{path}?last_event_id={last_seen}", bearer(cafe["waiter_token"])) as by_query,
            ):
                for stream in (sse, by_query):
                    greeting = await stream.next()
                    assert greeting is not None and greeting.event == "connection_established"
                live = await order(http, cafe)
                for stream in (sse, by_query):
                    events = await stream_events(stream)
                    ids = [int(event.id or 0) for event in events]
                    assert ids == sorted(set(ids)) and ids[0] > last_seen
                    orders = [event.message["data"]["order"] for event in events if event.event == "order_created"]
                    created = [order["id"] for order in orders]
                    assert created == [*missed, live]

    with uvicorn_server(env, port=port) as host:
        loop.run_until_complete(after(host))
    loop.close()
    assert len(set(made)) == 3


def test_a_stream_from_beyond_the_outbox_gets_resync_required(served):
    host, cafe = served

    async def scenario() -> None:
        async with httpx2.AsyncClient(base_url=f"http://{host}", timeout=TIMEOUT) as http:
            headers = {**bearer(cafe["waiter_token"]), "Last-Event-ID": str(10**12)}
            async with event_stream(http, "/ws/cafe/orders/", headers) as sse:
                greeting, resync = await sse.next(), await sse.next()
        assert greeting is not None and greeting.event == "connection_established"
        assert resync is not None and (resync.id, resync.event, resync.message) == (
            None,
            "resync_required",
            {"type": "resync_required"},
        )

    asyncio.run(scenario())


def test_an_idle_stream_gets_a_ping_comment(served):
    host, cafe = served

    async def scenario() -> None:
        async with httpx2.AsyncClient(base_url=f"http://{host}", timeout=TIMEOUT) as http:
            async with event_stream(http, "/ws/cafe/kitchen/", bearer(cafe["waiter_token"])) as sse:
                await sse.next()
                with pytest.raises(TimeoutError):
                    await sse.next(1.3)  # SSE_PING_INTERVAL is 0.5 here (15 s by default)
                assert sse.comments[:2] == ["ping", "ping"]

    asyncio.run(scenario())


def test_streams_are_in_the_metrics_counted_but_not_timed(served):
    host, cafe = served
    path = f"/ws/restaurants/{cafe['branch']}/"

    def metric(text: str, name: str, *labels: str) -> float | None:
        """The sample of `name` whose labels include `labels` (the client writes them in its own order)."""
        for line in text.splitlines():
            if line.startswith(name + "{") and all(label in line for label in labels):
                return float(line.rsplit(" ", 1)[1])
        return None

    async def scenario() -> None:
        async with httpx2.AsyncClient(base_url=f"http://{host}", timeout=TIMEOUT) as http:
            async with event_stream(http, path, bearer(cafe["owner_token"])) as sse:
                assert (await sse.next()) is not None
                during = (await http.get("/metrics")).text
            await asyncio.sleep(0.3)
            after = (await http.get("/metrics")).text
        assert metric(during, "cafe_rt_event_streams", 'dialect="entity"') == 1
        assert metric(after, "cafe_rt_event_streams", 'dialect="entity"') == 0
        route = ('route="/ws/restaurants/{restaurant_id}/"', 'method="GET"')
        assert metric(after, "cafe_rt_http_requests_total", *route, 'status="200"') == 1
        assert metric(after, "cafe_rt_http_request_seconds_count", *route) is None

    asyncio.run(scenario())


def test_a_bad_credential_is_refused_before_any_stream(served):
    host, cafe = served

    async def scenario() -> None:
        async with httpx2.AsyncClient(base_url=f"http://{host}", timeout=TIMEOUT) as http:
            ticket = (await http.post("/api/auth/ws-ticket", headers=bearer(cafe["waiter_token"]))).json()["ticket"]
            async with event_stream(http, f"/ws/cafe/tables/?ticket={ticket}") as sse:
                await sse.next()
            refusals = {
                "/ws/cafe/orders/?token=garbage": 401,
                "/ws/cafe/orders/": 401,
                f"/ws/cafe/orders/?ticket={ticket}": 401,  # a ticket is single-use
                f"/ws/orders/{cafe['table']}/?token={cafe['waiter_token']}": 404,  # no such order
            }
            for path, status in refusals.items():
                response = await http.get(path, headers=ACCEPT)
                assert (response.status_code, response.headers["content-type"]) == (status, "application/json"), path
                assert response.json()["detail"], path
                if status == 401:
                    assert response.headers["www-authenticate"] == "Bearer"

    asyncio.run(scenario())


def test_a_customer_may_not_stream_a_cafe_feed(served):
    host, cafe = served
    with httpx2.Client(base_url=f"http://{host}") as http:
        owner = bearer(cafe["owner_token"])
        email = f"customer-{time.time_ns()}@test.cafe"
        body = {"email": email, "password": PASSWORD, "role": "client", "branch": cafe["branch"]}
        http.post("/api/users/", json=body, headers=owner).raise_for_status()
        token = token_for(http, email)
        response = http.get("/ws/cafe/orders/", headers={**ACCEPT, **bearer(token)})
    assert response.status_code == 403 and response.json()["detail"]


def test_revoking_the_user_ends_its_stream(served):
    host, cafe = served

    async def scenario() -> None:
        async with httpx2.AsyncClient(base_url=f"http://{host}", timeout=TIMEOUT) as http:
            async with event_stream(http, "/ws/cafe/orders/", bearer(cafe["waiter_token"])) as sse:
                await sse.next()
                change = {"old_password": PASSWORD, "new_password": "another-password-456"}
                answer = await http.post("/api/users/me/password/", json=change, headers=bearer(cafe["waiter_token"]))
                answer.raise_for_status()
                assert await sse.until_end() == []
                assert sse.ended and sse.comments[-1].startswith("closed 4003")

    asyncio.run(scenario())


def test_with_socket_token_expiry_close_a_stream_ends_when_its_token_expires(tmp_path):
    """A stream cannot refresh its token in-band: under SOCKET_TOKEN_EXPIRY=close it ends at the expiry (4003)."""
    database_url = f"sqlite:///{tmp_path}/expiry.db"
    owner_email = create_company_in(database_url)
    env = server_env(database_url, SOCKET_TOKEN_EXPIRY="close", ACCESS_TOKEN_TTL="3")

    async def scenario(host: str, token: str) -> None:
        async with httpx2.AsyncClient(base_url=f"http://{host}", timeout=TIMEOUT) as http:
            async with event_stream(http, "/ws/cafe/orders/", bearer(token)) as sse:
                assert (await sse.next()) is not None
                started = time.monotonic()
                assert await sse.until_end() == []
                assert sse.comments[-1].startswith("closed 4003") and time.monotonic() - started < 5

    with uvicorn_server(env) as host, httpx2.Client(base_url=f"http://{host}") as http:
        asyncio.run(scenario(host, token_for(http, owner_email)))


def test_streams_count_against_the_per_user_cap_and_a_gone_one_frees_its_place_at_once(served):
    host, cafe = served
    waiter = bearer(cafe["waiter_token"])

    async def scenario() -> None:
        async with httpx2.AsyncClient(base_url=f"http://{host}", timeout=TIMEOUT) as http:
            async with event_stream(http, "/ws/cafe/orders/", waiter) as first:
                await first.next()
                async with event_stream(http, "/ws/cafe/tables/", waiter) as second:
                    await second.next()
                    async with connect(f"ws://{host}/ws/cafe/kitchen/?token={cafe['waiter_token']}") as ws:
                        await ws.recv()  # the third of MAX_SOCKETS_PER_USER=3
                        refused = await http.get("/ws/cafe/orders/", headers={**ACCEPT, **waiter})
                        assert refused.status_code == 429 and refused.json()["detail"]
                        async with connect(f"ws://{host}/ws/cafe/kitchen/?token={cafe['waiter_token']}") as extra:
                            with pytest.raises(ConnectionClosed) as closed:
                                await asyncio.wait_for(extra.recv(), TIMEOUT)
                            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
                # The second stream's client hung up: its place is free without waiting for a write or a ping.
                await asyncio.sleep(0.2)
                async with connect(f"ws://{host}/ws/cafe/kitchen/?token={cafe['waiter_token']}") as ws:
                    assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] == "connection_established"

    asyncio.run(scenario())


def test_a_stream_that_cannot_keep_up_is_ended(tmp_path):
    """A reader that stops reading: its queue fills, the stream ends (4008) once what is in flight is out."""
    database_url = f"sqlite:///{tmp_path}/stall.db"
    owner_email = create_company_in(database_url)
    patches = 160  # about 6 MB of order_updated: more than the kernel and uvicorn buffer for one stream
    with (
        uvicorn_server(server_env(database_url, SEND_QUEUE_SIZE="20")) as host,
        httpx2.Client(base_url=f"http://{host}", timeout=TIMEOUT) as http,
    ):
        cafe = furnish(http, owner_email)
        owner = bearer(token_for(http, owner_email))
        address, port = host.split(":")
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.settimeout(TIMEOUT)
        raw.connect((address, int(port)))
        path = f"/ws/cafe/orders/?token={cafe['waiter_token']}"
        raw.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
        received = raw.recv(65536)
        assert received.startswith(b"HTTP/1.1 200")
        order = http.post("/api/cafe/orders/", json=big_order_body(http, cafe, owner), headers=owner).json()
        for guests in range(patches):
            http.patch(f"/api/cafe/orders/{order['id']}/", json={"guests": guests % 2 + 1}, headers=owner)
        while not received.endswith(b"0\r\n\r\n") and (chunk := raw.recv(65536)):
            received += chunk
        raw.close()
    ids = [int(line[4:]) for line in received.split(b"\n") if line.startswith(b"id: ")]
    assert ids == sorted(set(ids)) and 0 < received.count(b"event: order_updated") < patches
    assert b": closed 4008" in received


def test_a_plain_get_of_a_socket_url_gets_426_with_a_hint(served):
    host, cafe = served
    with httpx2.Client(base_url=f"http://{host}") as http:
        for path in ("/ws/cafe/orders/", f"/ws/tables/{cafe['table']}/", "/", "/ws/", "/socket"):
            response = http.get(path, headers=bearer(cafe["waiter_token"]))
            assert (response.status_code, response.headers["upgrade"]) == (426, "websocket"), path
            assert "text/event-stream" in response.json()["detail"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_refusals_are_answers_the_openapi_document_gives(client):
    """Over the TestClient, so tests/responses.py holds each answer to /openapi.json (no stream starts here)."""
    assert client.get("/ws/cafe/orders/").status_code == 426
    assert client.get("/socket", headers={"Accept": "application/json"}).status_code == 426
    assert client.get("/ws/cafe/orders/?token=garbage", headers=ACCEPT).status_code == 401
    assert client.get("/?rooms=admin-orders", headers=ACCEPT).status_code == 401
