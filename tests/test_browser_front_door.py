"""ALLOWED_HOSTS and browser origins over a real `cafe_rt.py serve`: a foreign Host is 400 (a DNS-rebinding
handshake too), a foreign Origin 403, and each with the positive control beside it."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx2
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.factory import PASSWORD
from tests.servers import create_company_in, server_env, token_for, uvicorn_server
from tests.sse import ACCEPT, event_stream


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hosts")
    database_url = f"sqlite:///{folder}/hosts.db"
    owner_email = create_company_in(database_url)
    # The defaults: ALLOWED_HOSTS localhost, 127.0.0.1, [::1]; no CORS_ORIGINS.
    with uvicorn_server(server_env(database_url)) as host, httpx2.Client(base_url=f"http://{host}") as http:
        yield host, owner_email, token_for(http, owner_email)


def handshake_status(host: str, path: str, headers: dict[str, str]) -> int:
    """The status a raw WebSocket handshake is answered with (any Host header, which clients will not send)."""
    address, port = host.split(":")
    head = [f"GET {path} HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"]
    head += ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", *(f"{name}: {value}" for name, value in headers.items())]
    with socket.create_connection((address, int(port)), timeout=10) as connection:
        connection.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        return int(connection.recv(4096).split(b" ", 2)[1])


def test_a_foreign_host_is_400_and_redirects_stay_on_the_service(served):
    host, _, token = served
    auth = {"Authorization": f"Bearer {token}"}
    with httpx2.Client(base_url=f"http://{host}") as http:
        foreign = http.get("/api/users/me/", headers={**auth, "Host": "evil.example"})
        assert foreign.status_code == 400
        redirect = http.get("/api/users/me", headers={**auth, "Host": "evil.example"}, follow_redirects=False)
        assert redirect.status_code == 400, "no 307 to http://evil.example/..."
        # The positive controls: the service's own names.
        for name in (host, f"localhost:{host.split(':')[1]}"):
            assert http.get("/api/users/me/", headers={**auth, "Host": name}).status_code == 200, name
        redirect = http.get("/api/users/me", headers=auth, follow_redirects=False)
        assert (redirect.status_code, redirect.headers["location"]) == (307, "/api/users/me/")
    # DNS rebinding: the attacker's name resolves to the service, so Host and Origin are both the attacker's.
    path = f"/socket?token={token}"
    rebinding = {"Host": f"evil.example:{host.split(':')[1]}", "Origin": f"http://evil.example:{host.split(':')[1]}"}
    assert handshake_status(host, path, rebinding) == 400
    assert handshake_status(host, path, {"Host": host, "Origin": f"http://{host}"}) == 101


def test_a_foreign_origin_may_not_open_a_socket_by_default(served):
    host, _, token = served

    async def scenario() -> None:
        for origin in ("https://evil.example", "http://localhost.evil.example", "null"):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://{host}/socket?token={token}", origin=Origin(origin)):
                    pass
            assert refused.value.response.status_code == 403, origin
        # The board's own origin (ALLOWED_HOSTS), and a client that sends no Origin (wscat, an app): connected.
        for own in (Origin(f"http://{host}"), None):
            async with connect(f"ws://{host}/socket?token={token}", origin=own) as ws:
                assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connected"

    asyncio.run(scenario())


def test_cookies_are_secure_behind_a_trusted_proxy_that_says_https(served):
    host, owner_email, _ = served
    with httpx2.Client(base_url=f"http://{host}") as http:
        login = {"email": owner_email, "password": PASSWORD}
        plain = http.post("/api/auth/login/", json=login)
        assert all("secure" not in cookie.lower() for cookie in plain.headers.get_list("set-cookie"))
        http.cookies.clear()
        # 127.0.0.1 is uvicorn's default FORWARDED_ALLOW_IPS: the proxy's word counts.
        proxied = http.post("/api/auth/login/", json=login, headers={"X-Forwarded-Proto": "https"})
        cookies = proxied.headers.get_list("set-cookie")
        assert len(cookies) == 3 and all("; secure" in cookie.lower() for cookie in cookies)


def test_an_event_stream_takes_the_session_cookie_from_the_services_own_page_only(served):
    """Streams reuse the sockets' authentication: the access cookie counts, and a foreign page may not use it."""
    host, owner_email, _ = served

    async def scenario() -> None:
        async with httpx2.AsyncClient(base_url=f"http://{host}", timeout=10) as http:
            login = {"email": owner_email, "password": PASSWORD}
            (await http.post("/api/auth/login/", json=login)).raise_for_status()
            own = {"Origin": f"http://{host}"}
            async with event_stream(http, "/ws/cafe/orders/", headers=own) as stream:
                first = await stream.next()
                assert first is not None and first.event == "connection_established"
            foreign = await http.get("/ws/cafe/orders/", headers={**ACCEPT, "Origin": "https://evil.example"})
            assert foreign.status_code == 403

    asyncio.run(scenario())
