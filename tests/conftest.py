"""Fixtures: a fresh database per test (SQLite file, and PostgreSQL when it answers), a fresh app."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, cast

import asyncpg
import httpx2
import pytest
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.types import Message
from websockets.asyncio.client import ClientConnection

from cafe_rt import Settings, create_app
from core import auth
from tests import frames, responses
from tests.factory import TEST_HOSTS, TEST_SECRET

POSTGRES_ADMIN_URL = os.environ.get("CAFE_RT_TEST_POSTGRES", "postgresql://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CAFE_RT_TEST_REDIS", "redis://127.0.0.1:6379/0")
SERVICES_REQUIRED = os.environ.get("CI") == "true"
_reachable: dict[str, bool] = {}


def _check(name: str, probe: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Skip a test whose service is down, or fail it when CI requires the service."""
    if name not in _reachable:
        try:
            asyncio.run(probe())
            _reachable[name] = True
        except (TimeoutError, OSError, asyncpg.PostgresError, ConnectionError):
            _reachable[name] = False
    if not _reachable[name]:
        message = f"{name} is not reachable"
        if SERVICES_REQUIRED:
            pytest.fail(f"{message}, and CI=true requires it")
        pytest.skip(message)


async def _probe_postgres() -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
    await connection.close()


async def _probe_redis() -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        # redis-py types its commands for the sync and async clients at once; the async one's ping is awaitable.
        await cast(Awaitable[bool], client.ping())
    except redis.ConnectionError as error:
        raise ConnectionError(str(error)) from error
    finally:
        await client.aclose()


def require_postgres() -> None:
    _check("PostgreSQL", _probe_postgres)


def require_redis() -> None:
    _check("Redis", _probe_redis)


async def admin_sql(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def postgres_url(name: str) -> str:
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """A PostgreSQL database of this test's own, dropped afterwards."""
    require_postgres()
    name = f"cafe_rt_test_{uuid.uuid4().hex[:16]}"
    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url(name)
    finally:
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/cafe.db"
    return request.getfixturevalue("fresh_postgres")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        broadcast_url="memory://",
        jwt_secret=TEST_SECRET,
        allowed_hosts=TEST_HOSTS,
        relay_interval=0.5,
        sweep_interval=0.5,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def quick_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt at the service's cost (N=2**14) takes some 60 ms a hash and as long a check, and a factory company
    makes seven people and logs them in: a third of a short test. The tests check what hashing does, not how long
    it takes, so in this process a new hash costs N=2**4; a stored hash names its own cost, so checking one is
    the same code either way. Servers the tests start as processes keep the real cost, and a test marked
    `real_password_cost` (test_auth.py checks the service's own) gets it here too."""
    if request.node.get_closest_marker("real_password_cost") is None:
        monkeypatch.setattr(auth, "SCRYPT_N", 2**4)


@pytest.fixture(autouse=True)
def frames_match_asyncapi(monkeypatch: pytest.MonkeyPatch) -> Iterator[frames.FrameChecker]:
    """Every text frame any test receives must be a message /asyncapi.json gives its socket."""
    checker = frames.active = frames.frame_checker()
    test_receive = WebSocketTestSession.receive
    real_recv = ClientConnection.recv

    def receive(session: WebSocketTestSession) -> Message:
        message = test_receive(session)
        if message["type"] == "websocket.send" and message.get("text") is not None:
            frames.received(session.scope["path"], message["text"])
        return message

    async def recv(connection: ClientConnection, decode: bool | None = None) -> str | bytes:
        data = await real_recv(connection, decode)
        if isinstance(data, str):
            frames.received(connection.request.path if connection.request else "", data)
        return data

    monkeypatch.setattr(WebSocketTestSession, "receive", receive)
    monkeypatch.setattr(ClientConnection, "recv", recv)
    try:
        yield checker
    finally:
        frames.active = None
    # Also caught when a test or a helper swallowed the AssertionError the frame raised.
    assert not checker.mismatches, "frames that match no message of /asyncapi.json:\n" + "\n".join(checker.mismatches)


@pytest.fixture(autouse=True)
def answers_match_openapi(monkeypatch: pytest.MonkeyPatch) -> Iterator[responses.ResponseChecker]:
    """Every REST answer any test gets over the TestClient must be one /openapi.json gives its operation."""
    checker = responses.response_checker()
    test_request = TestClient.request

    def request(client: TestClient, *args: Any, **kwargs: Any) -> httpx2.Response:
        response = test_request(client, *args, **kwargs)
        sent, content_type = response.request, response.headers.get("content-type")
        checker.check(sent.method, sent.url.path, response.status_code, response.content, content_type)
        return response

    monkeypatch.setattr(TestClient, "request", request)
    yield checker
    assert not checker.mismatches, "answers that contradict /openapi.json:\n" + "\n".join(checker.mismatches)
