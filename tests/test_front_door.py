"""The front door of a real `cafe_rt.py serve`: body and head sizes, and how long a request may take to arrive."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx2
import pytest
from websockets.asyncio.client import connect

from tests.servers import create_company_in, server_env, token_for, uvicorn_server

REQUEST_TIMEOUT = 1.5


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("front")
    database_url = f"sqlite:///{folder}/front.db"
    owner_email = create_company_in(database_url)
    log_path = folder / "serve.log"
    with uvicorn_server(server_env(database_url, REQUEST_TIMEOUT=str(REQUEST_TIMEOUT)), log_path=log_path) as host:
        yield host, owner_email, log_path


def raw_connection(host: str) -> socket.socket:
    address, port = host.split(":")
    return socket.create_connection((address, int(port)), timeout=10)


def read_response(connection: socket.socket) -> tuple[int, dict]:
    """The status and JSON body of the next response."""
    received = b""
    while b"\r\n\r\n" not in received and (chunk := connection.recv(65536)):
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length"))
    while len(body) < length and (chunk := connection.recv(65536)):
        body += chunk
    return int(head.split(b" ")[1]), json.loads(body)


def send_until_answered(connection: socket.socket, chunk: bytes, limit: int) -> int:
    """Send `chunk` again and again until the server answers (returns the bytes sent) or `limit` is reached."""
    sent = 0
    connection.setblocking(False)
    try:
        while sent < limit:
            try:
                if connection.recv(1, socket.MSG_PEEK):
                    break
            except BlockingIOError:
                pass
            try:
                sent += connection.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
            except (BrokenPipeError, ConnectionResetError):
                break
    finally:
        connection.setblocking(True)
    return sent


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(served):
    host, _, _ = served
    with raw_connection(host) as connection:
        connection.sendall(
            b"POST /api/users/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 209715200\r\n\r\n" + b" " * 65536
        )
        status, body = read_response(connection)
    assert status == 413
    assert "larger than" in body["detail"]


def test_a_chunked_body_is_cut_at_the_limit(served):
    host, _, _ = served
    piece = b" " * 65536
    with raw_connection(host) as connection:
        connection.sendall(
            b"POST /api/users/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sent = send_until_answered(connection, b"%x\r\n%s\r\n" % (len(piece), piece), 16 * 1024 * 1024)
        assert sent < 16 * 1024 * 1024, "the server read 16 MB without answering"
        status, body = read_response(connection)
    assert status == 413
    assert "larger than" in body["detail"]


def test_a_body_under_the_limit_is_still_read(served):
    host, _, _ = served
    with httpx2.Client(base_url=f"http://{host}") as http:
        response = http.post("/api/users/login/", json={"email": "a@b.c", "password": "x" * 200_000})
    assert response.status_code == 400
    assert "password" in response.json()["detail"]


@pytest.mark.parametrize("head", [b"GET /healthz?token=", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "])
def test_an_endless_request_head_is_refused(served, head: bytes):
    host, _, _ = served
    with raw_connection(host) as connection:
        connection.sendall(head)
        sent = send_until_answered(connection, b"a" * 65536, 16 * 1024 * 1024)
        assert sent < 16 * 1024 * 1024, "the server read a 16 MB head without answering"
        status, body = read_response(connection)
    assert status == 431
    assert body == {"detail": "The request head is too large."}


def test_an_idle_connection_is_closed(served):
    host, _, _ = served
    started = time.monotonic()
    with raw_connection(host) as connection:
        assert connection.recv(1) == b""
    assert time.monotonic() - started < REQUEST_TIMEOUT + 3


@pytest.mark.parametrize(
    "head",
    [
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        b"GET /?token=x HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
    ],
)
def test_a_request_head_that_never_ends_gets_408(served, head: bytes):
    host, _, _ = served
    started = time.monotonic()
    with raw_connection(host) as connection:
        connection.sendall(head)
        status, body = read_response(connection)
    assert (status, body) == (408, {"detail": "The request took too long to arrive."})
    assert time.monotonic() - started < REQUEST_TIMEOUT + 3


def test_a_body_that_never_ends_is_cut(served):
    host, _, log_path = served
    started = time.monotonic()
    with raw_connection(host) as connection:
        connection.sendall(b"POST /api/users/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
        while connection.recv(65536):
            pass
    assert time.monotonic() - started < REQUEST_TIMEOUT + 3
    time.sleep(0.2)
    assert "Traceback" not in log_path.read_text()  # the handler waiting for the body is no server error


def test_keep_alive_and_open_sockets_outlive_the_request_timeout(served):
    host, owner_email, _ = served
    with httpx2.Client(base_url=f"http://{host}") as http:
        token = token_for(http, owner_email)
        time.sleep(REQUEST_TIMEOUT / 2)
        assert http.get("/healthz").status_code == 200

    async def socket_stays() -> None:
        async with connect(f"ws://{host}/?token={token}") as ws:
            await asyncio.wait_for(ws.recv(), 10)
            await asyncio.sleep(REQUEST_TIMEOUT + 1)
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "pong"}

    asyncio.run(socket_stays())
