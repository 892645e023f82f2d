"""Fixtures: a fresh database per test (SQLite file, and PostgreSQL when it answers), a fresh app."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator

import asyncpg
import pytest
from starlette.testclient import TestClient

from cafe_rt import Settings, create_app
from tests.factory import TEST_SECRET

POSTGRES_ADMIN_URL = os.environ.get("CAFE_RT_TEST_POSTGRES", "postgresql://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CAFE_RT_TEST_REDIS", "redis://127.0.0.1:6379/0")
SERVICES_REQUIRED = os.environ.get("CI") == "true"
_reachable: dict[str, bool] = {}


def _check(name: str, probe: Callable[[], object]) -> None:
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
        await client.ping()
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
        relay_interval=0.5,
        sweep_interval=0.5,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client
