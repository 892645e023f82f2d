"""MAX_SOCKETS_PER_USER over every process: with Redis as the broker, each live socket holds a lease there."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import httpx2
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from realtime.socket_leases import SocketLeases
from tests.conftest import REDIS_URL, require_redis
from tests.servers import create_company_in, furnish, server_env, token_for, uvicorn_server


def test_leases_cap_a_user_and_run_out_when_not_renewed():
    require_redis()

    async def scenario() -> None:
        first, second = SocketLeases(REDIS_URL, lease=0.5), SocketLeases(REDIS_URL, lease=0.5)
        user, other = uuid.uuid4().hex, uuid.uuid4().hex
        try:
            taken = [await first.claim(user, 2), await second.claim(user, 2)]
            assert all(claim.lease for claim in taken)
            assert (await first.claim(user, 2)).full and (await second.claim(user, 2)).full
            assert (await second.claim(other, 2)).lease  # another user's count is its own
            lease = taken[0].lease
            assert lease is not None
            await first.release(lease)
            assert (await second.claim(user, 2)).lease  # a given-back place is free at once
            assert (await first.claim(user, 2)).full
            await asyncio.sleep(0.3)
            await second.renew()  # second keeps its two; nothing renews the rest
            await asyncio.sleep(0.3)
            assert (await first.claim(user, 2)).full
            await asyncio.sleep(0.3)  # second's renewed leases have run out too now
            assert (await first.claim(user, 2)).lease
        finally:
            await first.close()
            await second.close()

    asyncio.run(scenario())


def test_without_redis_a_connect_is_judged_by_its_own_process():
    async def scenario() -> None:
        leases = SocketLeases("redis://127.0.0.1:1/0", timeout=0.2)  # nothing listens there
        claim = await leases.claim(uuid.uuid4().hex, 1)
        assert (claim.lease, claim.full) == (None, False)
        await leases.close()

    asyncio.run(scenario())


async def opened(host: str, token: str) -> ClientConnection:
    ws = await connect(f"ws://{host}/ws/cafe/orders/?token={token}")
    hello = await asyncio.wait_for(ws.recv(), 10)
    assert "connection_established" in hello
    return ws


async def refused_code(host: str, token: str) -> int | None:
    async with connect(f"ws://{host}/ws/cafe/orders/?token={token}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_the_cap_holds_across_two_processes_on_postgres_and_redis(fresh_postgres: str):
    require_redis()
    owner_email = create_company_in(fresh_postgres)
    env = server_env(fresh_postgres, BROADCAST_URL=REDIS_URL, MAX_SOCKETS_PER_USER="3")
    with uvicorn_server(env) as one, uvicorn_server(env) as two, httpx2.Client(base_url=f"http://{one}") as http:
        owner, waiter = token_for(http, owner_email), furnish(http, owner_email)["waiter_token"]

        async def scenario() -> None:
            async with contextlib.AsyncExitStack() as stack:
                held = [await opened(one, owner), await opened(one, owner), await opened(two, owner)]
                for ws in held:
                    stack.push_async_callback(ws.close)
                assert await refused_code(two, owner) == 1008
                assert await refused_code(one, owner) == 1008
                # Another user is not affected (the positive control of the rule).
                stack.push_async_callback((await opened(two, waiter)).close)
                await held[0].close()  # a closed socket gives its place back, to either process
                deadline = time.monotonic() + 5
                while True:
                    try:
                        stack.push_async_callback((await opened(two, owner)).close)
                        break
                    except (AssertionError, ConnectionClosed):
                        assert time.monotonic() < deadline, "the closed socket's place never came back"
                        await asyncio.sleep(0.05)
                assert await refused_code(one, owner) == 1008

        asyncio.run(scenario())
