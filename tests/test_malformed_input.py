"""Input that breaks parsers rather than rules: deep nesting, huge exponents, lone surrogates, odd digits."""

from __future__ import annotations

import asyncio
import json

import httpx2
import pytest
from starlette.testclient import TestClient
from websockets.asyncio.client import connect

from tests.factory import create_order, feed_url, make_company
from tests.servers import create_company_in, furnish, server_env, uvicorn_server

DEEP = "[" * 1000 + "]" * 1000
JSON = {"Content-Type": "application/json"}
TIMEOUT = 10


def assert_refused(response, needle: str = "") -> None:
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert needle in json.dumps(detail, ensure_ascii=False), detail


def test_deeply_nested_json_is_a_400_also_on_login(client: TestClient):
    company = make_company(client)
    assert_refused(client.post("/api/users/login/", content=DEEP, headers=JSON), "nested deeper")
    assert_refused(client.post("/api/users/login/", content='{"email": ' + DEEP + "}", headers=JSON))
    assert_refused(client.post("/api/cafe/menu-items/", content=DEEP, headers={**JSON, **company.owner.auth}))


@pytest.mark.parametrize("price", ["1e400", "1e308", 1e308, "-1e400", "99999999999999999999.00"])
def test_huge_money_is_a_400(client: TestClient, price):
    company = make_company(client)
    response = client.post("/api/cafe/menu-items/", json={"title": "Gold", "price": price}, headers=company.owner.auth)
    assert_refused(response, "price")


def test_huge_payment_is_a_400(client: TestClient):
    company = make_company(client)
    order = create_order(client, company)
    for amount in ("1e400", 1e308):
        response = client.post(
            f"/api/cafe/orders/{order['id']}/pay/",
            json={"method": "cash", "amount": amount},
            headers=company.owner.auth,
        )
        assert_refused(response, "amount")


@pytest.mark.parametrize(
    "body",
    [
        '{"title": "\\ud800", "price": "1.00"}',
        '{"title": "ok \\udfff tail", "price": "1.00"}',
        '{"\\ud800": 1, "title": "x", "price": "1.00"}',
        '{"title": "x", "price": "1.00", "branch": ["\\ud800"]}',
    ],
)
def test_lone_surrogate_is_a_400(client: TestClient, body: str):
    company = make_company(client)
    response = client.post("/api/cafe/menu-items/", content=body, headers={**JSON, **company.owner.auth})
    assert_refused(response, "surrogate")


def test_lone_surrogate_on_login_is_a_400(client: TestClient):
    make_company(client)
    for body in ('{"email": "a@b.c", "password": "\\ud800\\ud800x"}', '{"email": "\\udc00@b.c", "password": "x"}'):
        assert_refused(client.post("/api/users/login/", content=body, headers=JSON), "surrogate")


def test_a_paired_surrogate_escape_is_fine(client: TestClient):
    company = make_company(client)
    response = client.post(
        "/api/cafe/menu-items/",
        content='{"title": "\\ud83d\\ude00", "price": "1.00"}',
        headers={**JSON, **company.owner.auth},
    )
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "😀"


def test_a_unicode_digit_page_is_a_400(client: TestClient):
    company = make_company(client)
    assert_refused(client.get("/api/cafe/orders/?page=²", headers=company.owner.auth), "page")


def test_a_unicode_digit_last_event_id_connects_as_without_it(client: TestClient):
    company = make_company(client)
    with client.websocket_connect(feed_url("orders", company.waiter, last_event_id="²")) as ws:
        assert ws.receive_json()["type"] == "connection_established"
        ws.send_json({"action": "ping"})
        assert ws.receive_json() == {"type": "pong"}


@pytest.fixture
def served(tmp_path):
    database_url = f"sqlite:///{tmp_path}/malformed.db"
    owner_email = create_company_in(database_url)
    with uvicorn_server(server_env(database_url)) as host, httpx2.Client(base_url=f"http://{host}") as http:
        yield host, furnish(http, owner_email)


def error_text(message: dict) -> str | None:
    """The error of either dialect's error frame, or None for any other message."""
    if message.get("type") == "error":
        return message["data"]["message"]
    return message.get("error")


async def until(ws, wanted) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if wanted(message):
            return message


def test_every_socket_kind_answers_bad_frames_and_keeps_working(served):
    """Over uvicorn: a deep frame once dropped the connection, an echoed surrogate silently killed the pump, and a
    binary frame was closed with 1003."""
    host, cafe = served
    token = cafe["waiter_token"]
    sockets = {
        f"/ws/cafe/orders/?token={token}": ("action", {"type": "pong"}),
        f"/ws/restaurants/{cafe['branch']}/?token={token}": ("action", {"type": "pong"}),
        f"/ws/tables/{cafe['table']}/?token={token}": ("action", {"type": "pong"}),
        f"/?token={token}": ("type", {"type": "pong"}),
    }

    async def scenario(path: str, key: str, pong: dict) -> None:
        async with connect(f"ws://{host}{path}") as ws:
            await ws.send(json.dumps({key: "ping"}))
            await until(ws, lambda message: message == pong)
            for frame, reason in (
                (DEEP, "nested deeper"),
                (json.dumps({key: "?"}).replace("?", "\\ud800"), "surrogate"),
                (json.dumps({key: "ping", "data": {"roomId": "?"}}).replace("?", "\\udfff"), "surrogate"),
                (json.dumps({key: "ping"}).encode(), "Binary frames"),  # once closed with 1003
            ):
                await ws.send(frame)
                refused = await until(ws, lambda message: error_text(message) is not None)
                text = error_text(refused)
                assert text is not None and reason in text, (path, refused)
                await ws.send(json.dumps({key: "ping"}))
                assert await until(ws, lambda message: message == pong or error_text(message) is not None) == pong

    for path, (key, pong) in sockets.items():
        asyncio.run(scenario(path, key, pong))
