"""POS sync against a local HTTP server: success, a 500, a timeout, and a restart in between."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from starlette.testclient import TestClient

from cafe_rt import create_app
from tests.factory import create_order, make_company, ok, portal

SELECT_JOBS = "SELECT status, attempts, last_error FROM sync_jobs ORDER BY created_at"


class PosServer:
    """A POS stand-in that answers as told: a status code, or silence until released."""

    def __init__(self) -> None:
        self.answer = 200
        self.received: list[dict] = []
        self.release = threading.Event()
        pos = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                pos.received.append(body)
                if pos.answer == "hang":
                    pos.release.wait(10)
                    return
                self.send_response(pos.answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/pos"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pos() -> Iterator[PosServer]:
    server = PosServer()
    yield server
    server.close()


@pytest.fixture
def sync_settings(settings, pos):
    return replace(settings, sync_webhook_url=pos.url, sync_max_attempts=2, sync_retry_base=0.1, sync_timeout=0.5)


def wait_until(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def next_sync(ws) -> dict:
    while True:
        message = ws.receive_json()
        if message["type"].startswith("sync-"):
            return message


def test_sync_success_then_500_then_timeout(sync_settings, pos):
    with TestClient(create_app(sync_settings)) as client:
        cafe = make_company(client)
        with client.websocket_connect(f"/?token={cafe.owner.token}") as admin_ws:
            admin_ws.receive_json()
            order = create_order(client, cafe)
            success = next_sync(admin_ws)
            assert success["type"] == "sync-success"
            assert {key: success["data"][key] for key in ("entity", "entityId")} == {
                "entity": "order",
                "entityId": order["id"],
            }
            assert pos.received[0]["event"] == "created" and pos.received[0]["order"]["id"] == order["id"]

            pos.answer = 500
            ok(client.patch(f"/api/cafe/orders/{order['id']}/", json={"status": "confirmed"}, headers=cafe.waiter.auth))
            failure = next_sync(admin_ws)
            assert (failure["type"], failure["data"]["entityId"], failure["data"]["error"]) == (
                "sync-error",
                order["id"],
                "HTTP 500",
            )
            assert len(pos.received) == 3  # one try and one retry

            pos.answer = "hang"
            ok(client.patch(f"/api/cafe/orders/{order['id']}/", json={"status": "ready"}, headers=cafe.waiter.auth))
            timeout = next_sync(admin_ws)
            assert (timeout["type"], timeout["data"]["error"]) == ("sync-error", "No answer within 0.5 s")
        services = client.app_state["services"]
        jobs = portal(client).call(services.database.fetch_all, SELECT_JOBS)
        assert [(job["status"], job["attempts"]) for job in jobs] == [("success", 1), ("failed", 2), ("failed", 2)]


def test_a_request_never_waits_for_the_pos(sync_settings, pos):
    pos.answer = "hang"
    with TestClient(create_app(replace(sync_settings, sync_timeout=5))) as client:
        cafe = make_company(client)
        order = create_order(client, cafe)  # returns while the POS still holds the worker's request
        assert order["status"] == "open"
        assert not pos.release.is_set()
        pos.release.set()


def test_pending_syncs_survive_a_restart(sync_settings, pos):
    pos.answer = 500
    patient = replace(sync_settings, sync_max_attempts=100, sync_retry_base=0.2)
    with TestClient(create_app(patient)) as client:
        cafe = make_company(client)
        order = create_order(client, cafe)
        wait_until(lambda: pos.received)
    pos.answer = 200
    with TestClient(create_app(patient)) as client:
        services = client.app_state["services"]
        wait_until(lambda: portal(client).call(services.database.fetch_all, SELECT_JOBS)[0]["status"] == "success")
        # Resuming from the start replays the whole history, the sync result included.
        with client.websocket_connect(f"/?token={cafe.owner.token}&last_event_id=0") as admin_ws:
            admin_ws.receive_json()
            success = next_sync(admin_ws)
            assert (success["type"], success["data"]["entityId"]) == ("sync-success", order["id"])
    assert pos.received[-1]["entityId"] == order["id"]
