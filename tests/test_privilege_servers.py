"""Least privilege over two real `serve` processes on PostgreSQL with Redis: a comp is refused to a waiter on
one and recorded from a manager on the other, the feed of either hears it with its reason; the login
throttle locks a pair and only slows the account, whichever process is asked."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx2
from websockets.asyncio.client import connect

from tests.conftest import REDIS_URL, require_redis
from tests.factory import PASSWORD
from tests.servers import create_company_in, furnish, server_env, token_for, uvicorn_server


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_comp_is_a_managers_and_every_process_hears_its_reason(fresh_postgres: str):
    require_redis()
    owner_email = create_company_in(fresh_postgres)
    env = server_env(fresh_postgres, BROADCAST_URL=REDIS_URL)
    with (
        uvicorn_server(env) as one,
        uvicorn_server(env) as two,
        httpx2.Client(base_url=f"http://{one}") as first,
        httpx2.Client(base_url=f"http://{two}") as second,
    ):
        cafe = furnish(first, owner_email)
        owner = bearer(token_for(first, owner_email))
        manager_email = f"manager-{uuid.uuid4().hex[:8]}@test.cafe"
        body = {"email": manager_email, "password": PASSWORD, "role": "manager", "branch": cafe["branch"]}
        first.post("/api/users/", json=body, headers=owner).raise_for_status()
        manager, waiter = bearer(token_for(second, manager_email)), bearer(cafe["waiter_token"])
        order_body = {"table": cafe["table"], "items": [{"menu_item": cafe["menu_item"], "quantity": 2}]}
        order = first.post("/api/cafe/orders/", json=order_body, headers=waiter).json()
        path = f"/api/cafe/orders/{order['id']}/"

        async def scenario() -> dict:
            async with connect(f"ws://{one}/ws/cafe/orders/?token={cafe['waiter_token']}") as feed:
                assert json.loads(await asyncio.wait_for(feed.recv(), 10))["type"] == "connection_established"
                refused = await asyncio.to_thread(
                    second.patch, path, json={"status": "closed", "reason": "x"}, headers=waiter
                )
                assert refused.status_code == 403 and "is a comp" in refused.json()["detail"]
                comp = {"status": "closed", "reason": "Cold soup"}
                comped = await asyncio.to_thread(second.patch, path, json=comp, headers=manager)
                assert comped.status_code == 200, comped.text
                # The refused attempt emitted nothing: the first event the feed hears is the comp.
                heard = json.loads(await asyncio.wait_for(feed.recv(), 10))
                assert (heard["type"], heard["data"]["order"]["status"]) == ("order_updated", "closed")
                return heard["data"]["order"]["void"]

        void = asyncio.run(scenario())
        assert (void["kind"], void["reason"], void["amount"]) == ("comp", "Cold soup", "500.00")
        report = first.get("/api/cafe/orders/?voided=comp", headers=manager).json()
        assert [entry["id"] for entry in report] == [order["id"]]
        assert first.get("/api/cafe/orders/?voided=comp", headers=waiter).status_code == 403


def test_the_pair_locks_and_the_account_only_slows_on_every_process(fresh_postgres: str):
    """Addresses come from X-Forwarded-For, which `serve` trusts from 127.0.0.1 (FORWARDED_ALLOW_IPS)."""
    owner_email = create_company_in(fresh_postgres)
    env = server_env(fresh_postgres, LOGIN_MAX_FAILURES="3", LOGIN_MAX_DELAY="2")
    with (
        uvicorn_server(env) as one,
        uvicorn_server(env) as two,
        httpx2.Client(base_url=f"http://{one}") as first,
        httpx2.Client(base_url=f"http://{two}") as second,
    ):

        def login(http: httpx2.Client, address: str, password: str) -> httpx2.Response:
            body = {"email": owner_email, "password": password}
            return http.post("/api/users/login/", json=body, headers={"X-Forwarded-For": address})

        for http in (first, second, first):
            assert login(http, "198.51.100.1", "guess").status_code == 401
        locked = login(second, "198.51.100.1", PASSWORD)
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 800
        # The owner elsewhere: at most the account's short wait, then in.
        answer = login(first, "203.0.113.5", PASSWORD)
        if answer.status_code == 429:
            wait = int(answer.headers["Retry-After"])
            assert wait <= 2
            time.sleep(wait + 0.05)
            answer = login(second, "203.0.113.5", PASSWORD)
        assert answer.status_code == 200, answer.text
