"""No credential reaches a log line of a real `cafe_rt.py serve --log-level info`."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx2
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.servers import create_company_in, server_env, token_for, uvicorn_server

TICKET = "single-use-ticket-0123456789"


def test_tokens_and_tickets_never_reach_the_log(tmp_path):
    database_url = f"sqlite:///{tmp_path}/log.db"
    owner_email = create_company_in(database_url)
    log_path = tmp_path / "serve.log"
    with uvicorn_server(server_env(database_url), log_level="info", log_path=log_path) as host:
        with httpx2.Client(base_url=f"http://{host}") as http:
            token = token_for(http, owner_email)
            assert http.get(f"/api/users/me/?token={token}&x=1").status_code == 401
            assert http.get("/api/users/me/", headers={"Authorization": f"Bearer {token}"}).status_code == 200

        async def sockets() -> None:
            for query in (f"token={token}&last_event_id=0", f"ticket={TICKET}", f"access_token={token}"):
                async with connect(f"ws://{host}/ws/cafe/orders/?{query}") as ws:
                    with contextlib.suppress(ConnectionClosed):  # a ticket is refused (4003), logged all the same
                        await asyncio.wait_for(ws.recv(), 10)

        asyncio.run(sockets())
        time.sleep(0.5)
        log = log_path.read_text()
    assert "GET /api/users/me/?token=[redacted]&x=1" in log
    assert '"WebSocket /ws/cafe/orders/?token=[redacted]&last_event_id=0" [accepted]' in log
    assert "ticket=[redacted]" in log
    for secret in (token, token.split(".")[2], TICKET):
        assert secret not in log
