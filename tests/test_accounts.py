"""The account lifecycle: password change, staff changes, rotating refresh tokens, logout, and revocation."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import httpx2
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from cafe_rt import create_app
from tests.conftest import REDIS_URL, require_redis
from tests.factory import PASSWORD, close_code, feed_url, login, make_company, ok
from tests.servers import create_company_in, furnish, server_env, token_for, uvicorn_server


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me_status(client: TestClient, token: str) -> int:
    return client.get("/api/users/me/", headers=bearer(token)).status_code


def test_password_change_revokes_every_old_token_and_answers_new_ones(client):
    cafe = make_company(client)
    session = login(client, cafe.waiter.email)
    body = {"old_password": PASSWORD, "new_password": "a-new-password-1"}
    fresh = ok(client.post("/api/users/me/password/", json=body, headers=cafe.waiter.auth))
    assert set(fresh) == {"access", "refresh"}
    assert me_status(client, cafe.waiter.token) == 401
    assert me_status(client, session["access"]) == 401
    assert client.get("/api/cafe/tables/", headers=cafe.waiter.auth).json() == {"detail": "Token has been revoked."}
    assert client.post("/api/users/token/refresh/", json={"refresh": session["refresh"]}).status_code == 401
    assert me_status(client, fresh["access"]) == 200
    assert client.post("/api/users/login/", json={"email": cafe.waiter.email, "password": PASSWORD}).status_code == 401
    assert login(client, cafe.waiter.email, "a-new-password-1")["access"]
    assert me_status(client, cafe.cook.token) == 200  # nobody else is touched


def test_password_change_refuses_a_wrong_old_or_weak_new_password_and_changes_nothing(client):
    cafe = make_company(client)
    wrong = client.post(
        "/api/users/me/password/",
        json={"old_password": "not-the-password", "new_password": "a-new-password-1"},
        headers=cafe.waiter.auth,
    )
    assert (wrong.status_code, wrong.json()) == (400, {"detail": {"old_password": ["Wrong password."]}})
    weak = client.post(
        "/api/users/me/password/", json={"old_password": PASSWORD, "new_password": "short"}, headers=cafe.waiter.auth
    )
    assert (weak.status_code, weak.json()) == (400, {"detail": {"new_password": ["At least 8 characters."]}})
    missing = client.post("/api/users/me/password/", json={"new_password": 5}, headers=cafe.waiter.auth)
    assert missing.status_code == 400 and set(missing.json()["detail"]) == {"old_password", "new_password"}
    assert client.post("/api/users/me/password/", json={}).status_code == 401
    assert me_status(client, cafe.waiter.token) == 200
    assert login(client, cafe.waiter.email)["access"]


def test_an_owner_changes_a_waiter_into_a_cook_of_another_branch_and_its_tokens_die(client):
    cafe = make_company(client)
    session = login(client, cafe.waiter.email)
    change = {"role": "cook", "branch": cafe.branch_b}
    changed = ok(client.patch(f"/api/users/{cafe.waiter.id}/", json=change, headers=cafe.owner.auth))
    assert (changed["role"], changed["branch"], changed["is_active"]) == ("cook", cafe.branch_b, True)
    assert me_status(client, cafe.waiter.token) == 401
    assert me_status(client, session["access"]) == 401
    assert client.post("/api/users/token/refresh/", json={"refresh": session["refresh"]}).status_code == 401
    again = ok(client.get("/api/users/me/", headers=bearer(login(client, cafe.waiter.email)["access"])))
    assert (again["role"], again["branch"]) == ("cook", cafe.branch_b)
    # Cities are a change of standing too; an unchanged body changes (and revokes) nothing.
    manager = ok(client.patch(f"/api/users/{cafe.manager.id}/", json={"city_ids": [1, 2]}, headers=cafe.admin.auth))
    assert manager["city_ids"] == [1, 2] and me_status(client, cafe.manager.token) == 401
    same = {"role": "cashier", "branch": cafe.branch_a, "is_active": True}
    assert ok(client.patch(f"/api/users/{cafe.cashier.id}/", json=same, headers=cafe.owner.auth))["role"] == "cashier"
    assert me_status(client, cafe.cashier.token) == 200


def test_staff_changes_stay_in_the_company_and_follow_the_role_rules(client):
    cafe = make_company(client)
    other = make_company(client, "Other")
    cook = f"/api/users/{cafe.cook.id}/"
    assert client.patch(f"/api/users/{other.waiter.id}/", json={"role": "cook"}, headers=cafe.owner.auth).json() == {
        "detail": "User not found."
    }
    assert (
        client.patch(f"/api/users/{other.waiter.id}/", json={"role": "cook"}, headers=cafe.owner.auth).status_code
        == 404
    )
    assert client.patch("/api/users/not-a-uuid/", json={"role": "cook"}, headers=cafe.owner.auth).status_code == 404
    assert client.patch(cook, json={"branch": other.branch_a}, headers=cafe.owner.auth).status_code == 404
    for person in ("manager", "waiter", "cook"):
        assert client.patch(cook, json={"is_active": False}, headers=cafe.people[person].auth).status_code == 403
    assert (
        client.patch(f"/api/users/{cafe.owner.id}/", json={"role": "admin"}, headers=cafe.admin.auth).status_code == 403
    )
    assert client.patch(cook, json={"role": "owner"}, headers=cafe.admin.auth).status_code == 403
    bad = client.patch(cook, json={"role": "chef", "is_active": "no", "city_ids": [0], "x": 1}, headers=cafe.owner.auth)
    assert bad.status_code == 400 and set(bad.json()["detail"]) == {"role", "is_active", "city_ids", "x"}
    unbound = client.patch(cook, json={"branch": None}, headers=cafe.owner.auth)
    assert (unbound.status_code, unbound.json()) == (
        400,
        {"detail": {"branch": ["This field is required for this role."]}},
    )
    assert me_status(client, cafe.cook.token) == 200  # none of the refused changes revoked anything
    assert me_status(client, other.waiter.token) == 200
    listed = {user["id"]: user for user in ok(client.get("/api/users/", headers=cafe.owner.auth))}
    assert (listed[cafe.cook.id]["role"], listed[cafe.cook.id]["branch"]) == ("cook", cafe.branch_a)


def test_the_company_always_keeps_an_active_owner(client):
    cafe = make_company(client)
    owner = f"/api/users/{cafe.owner.id}/"
    for change in ({"role": "admin"}, {"is_active": False}):
        refused = client.patch(owner, json=change, headers=cafe.owner.auth)
        assert (refused.status_code, refused.json()) == (
            409,
            {"detail": "The company must keep at least one active owner."},
        )
    assert me_status(client, cafe.owner.token) == 200
    second = ok(client.patch(f"/api/users/{cafe.admin.id}/", json={"role": "owner"}, headers=cafe.owner.auth))
    assert second["role"] == "owner"
    assert ok(client.patch(owner, json={"role": "admin"}, headers=cafe.owner.auth))["role"] == "admin"
    assert me_status(client, cafe.owner.token) == 401
    second_token = login(client, cafe.admin.email)["access"]
    last = client.patch(f"/api/users/{cafe.admin.id}/", json={"is_active": False}, headers=bearer(second_token))
    assert last.status_code == 409


def test_a_deactivated_user_is_out_at_once_and_can_be_let_back_in(client):
    cafe = make_company(client)
    session = login(client, cafe.waiter.email)
    waiter = f"/api/users/{cafe.waiter.id}/"
    assert ok(client.patch(waiter, json={"is_active": False}, headers=cafe.admin.auth))["is_active"] is False
    assert me_status(client, session["access"]) == 401
    refused = client.post("/api/users/login/", json={"email": cafe.waiter.email, "password": PASSWORD})
    assert (refused.status_code, refused.json()) == (
        401,
        {"detail": "No active account found with the given credentials."},
    )
    assert client.post("/api/users/token/refresh/", json={"refresh": session["refresh"]}).status_code == 401
    assert close_code(client, feed_url("orders", cafe.waiter)) == 4003
    assert ok(client.patch(waiter, json={"is_active": True}, headers=cafe.admin.auth))["is_active"] is True
    assert me_status(client, login(client, cafe.waiter.email)["access"]) == 200
    assert me_status(client, session["access"]) == 401  # reactivation gives back no old token


def test_refresh_rotates_and_a_replayed_refresh_token_revokes_every_token(settings):
    # No grace window: every second use is a replay (tests/test_browser_sessions.py covers the window).
    with TestClient(create_app(replace(settings, refresh_reuse_grace=0))) as client:
        refresh_rotates_and_a_replay_revokes(client)


def refresh_rotates_and_a_replay_revokes(client):
    cafe = make_company(client)
    phone, laptop = login(client, cafe.waiter.email), login(client, cafe.waiter.email)
    rotated = ok(client.post("/api/users/token/refresh/", json={"refresh": phone["refresh"]}))
    assert set(rotated) == {"access", "refresh"} and rotated["refresh"] != phone["refresh"]
    assert me_status(client, rotated["access"]) == 200
    again = ok(client.post("/api/users/token/refresh/", json={"refresh": rotated["refresh"]}))
    assert me_status(client, laptop["access"]) == 200  # rotation alone revokes nothing
    replayed = client.post("/api/users/token/refresh/", json={"refresh": phone["refresh"]})
    assert replayed.status_code == 401
    assert "already used" in replayed.json()["detail"]
    for tokens in (phone, laptop, rotated, again):
        assert me_status(client, tokens["access"]) == 401
    for tokens in (laptop, again):
        assert client.post("/api/users/token/refresh/", json={"refresh": tokens["refresh"]}).status_code == 401
    assert me_status(client, login(client, cafe.waiter.email)["access"]) == 200


def test_logout_everywhere_revokes_every_token_of_the_user(client):
    cafe = make_company(client)
    phone, laptop = login(client, cafe.waiter.email), login(client, cafe.waiter.email)
    assert client.post("/api/users/logout/", json={"refresh": phone["refresh"]}).status_code == 204
    for tokens in (phone, laptop):
        assert me_status(client, tokens["access"]) == 401
        assert client.post("/api/users/token/refresh/", json={"refresh": tokens["refresh"]}).status_code == 401
    assert me_status(client, cafe.waiter.token) == 401
    assert client.post("/api/users/logout/", json={"refresh": laptop["refresh"]}).status_code == 401
    assert client.post("/api/users/logout/", json={"refresh": phone["access"]}).status_code == 401
    assert client.post("/api/users/logout/", json={}).status_code == 400
    assert me_status(client, cafe.cook.token) == 200


def test_every_revocation_emits_one_user_revoked_event_on_the_users_channel(client):
    cafe = make_company(client)
    services = client.app_state["services"]
    query = "SELECT type, channels, payload FROM events WHERE company_id = :company_id AND type = 'user_revoked'"

    def revocations() -> list[tuple[str, dict]]:
        rows = client.portal.call(services.database.fetch_all, query, {"company_id": cafe.id})
        return [(row["channels"], json.loads(row["payload"])) for row in rows]

    body = {"old_password": PASSWORD, "new_password": "a-new-password-1"}
    ok(client.post("/api/users/me/password/", json=body, headers=cafe.waiter.auth))
    ok(client.patch(f"/api/users/{cafe.cook.id}/", json={"is_active": False}, headers=cafe.owner.auth))
    assert (
        client.post("/api/users/logout/", json={"refresh": login(client, cafe.cashier.email)["refresh"]}).status_code
        == 204
    )
    got = revocations()
    assert [channels for channels, _ in got] == [
        f"revoked_{cafe.waiter.id}",
        f"revoked_{cafe.cook.id}",
        f"revoked_{cafe.cashier.id}",
    ]
    assert [(payload["type"], payload["user"]) for _, payload in got] == [
        ("user_revoked", cafe.waiter.id),
        ("user_revoked", cafe.cook.id),
        ("user_revoked", cafe.cashier.id),
    ]


def test_a_socket_cannot_connect_with_a_revoked_token(client):
    cafe = make_company(client)
    with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
        assert ws.receive_json()["type"] == "connection_established"
    ok(client.patch(f"/api/users/{cafe.waiter.id}/", json={"role": "cook"}, headers=cafe.owner.auth))
    for url in (feed_url("orders", cafe.waiter), f"/ws/waiters/{cafe.waiter.id}/?token={cafe.waiter.token}"):
        assert close_code(client, url) == 4003
    assert close_code(client, f"/?token={cafe.waiter.token}") == 4003


def test_a_refreshed_token_must_fit_the_socket_it_extends(settings):
    with TestClient(create_app(replace(settings, access_token_ttl=4))) as client:
        cafe = make_company(client)
        with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
            ws.receive_json()
            ok(client.patch(f"/api/users/{cafe.waiter.id}/", json={"role": "cashier"}, headers=cafe.owner.auth))
            demoted = login(client, cafe.waiter.email)["access"]
            ws.send_json({"action": "refresh_token", "token": demoted})
            # Without the hub closing it first, the socket says no; in no case is it extended.
            try:
                answer = ws.receive_json()
                assert answer == {
                    "error": "The token does not fit this socket (role, branch or cities changed); reconnect."
                }
                ws.send_json({"action": "refresh_token", "token": cafe.waiter.token})
                assert ws.receive_json() == {"error": "Token has been revoked."}
                started = time.monotonic()
                with pytest.raises(WebSocketDisconnect) as closed:
                    for _ in range(100):
                        ws.receive_json()
                assert closed.value.code == 4003 and time.monotonic() - started < 6
            except WebSocketDisconnect as closed_at_once:
                assert closed_at_once.code == 4003


def test_a_password_change_closes_the_users_open_sockets_with_4003(database_url):
    owner_email = create_company_in(database_url)
    with uvicorn_server(server_env(database_url)) as host, httpx2.Client(base_url=f"http://{host}") as http:
        cafe = furnish(http, owner_email)
        token = cafe["waiter_token"]
        owner = token_for(http, owner_email)

        async def scenario() -> None:
            async with (
                connect(f"ws://{host}/ws/cafe/orders/?token={token}") as feed,
                connect(f"ws://{host}/?token={token}") as rooms,
                connect(f"ws://{host}/ws/cafe/orders/?token={owner}") as bystander,
            ):
                for ws in (feed, rooms, bystander):
                    await asyncio.wait_for(ws.recv(), 10)
                body = {"old_password": PASSWORD, "new_password": "a-new-password-1"}
                changed = await asyncio.to_thread(
                    http.post, "/api/users/me/password/", json=body, headers=bearer(token)
                )
                assert changed.status_code == 200
                for ws in (feed, rooms):
                    with pytest.raises(ConnectionClosed) as closed:
                        while True:
                            await asyncio.wait_for(ws.recv(), 2)
                    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003
                await bystander.send(json.dumps({"action": "ping"}))
                assert json.loads(await asyncio.wait_for(bystander.recv(), 2)) == {"type": "pong"}

        asyncio.run(scenario())


def two_processes(database_url: str, broker: str) -> dict[str, str]:
    if broker == "redis":
        require_redis()
    # No sweep and no relay: only the broker can carry the revocation in time.
    broadcast_url = REDIS_URL if broker == "redis" else database_url
    return server_env(database_url, BROADCAST_URL=broadcast_url, SWEEP_INTERVAL="3600", RELAY_INTERVAL="3600")


def test_a_revocation_through_one_process_is_refused_by_another_at_once(fresh_postgres):
    env = two_processes(fresh_postgres, "postgres")
    owner_email = create_company_in(fresh_postgres)
    with (
        uvicorn_server(env) as first,
        uvicorn_server(env) as second,
        httpx2.Client(base_url=f"http://{first}") as one,
        httpx2.Client(base_url=f"http://{second}") as other,
    ):
        token = furnish(one, owner_email)["waiter_token"]
        assert other.get("/api/users/me/", headers=bearer(token)).status_code == 200
        body = {"old_password": PASSWORD, "new_password": "a-new-password-1"}
        assert one.post("/api/users/me/password/", json=body, headers=bearer(token)).status_code == 200
        assert other.get("/api/users/me/", headers=bearer(token)).status_code == 401


@pytest.mark.parametrize("broker", ["redis", "postgres"])
def test_a_revocation_through_one_process_closes_the_sockets_on_another(fresh_postgres, broker):
    env = two_processes(fresh_postgres, broker)
    owner_email = create_company_in(fresh_postgres)
    with (
        uvicorn_server(env) as reader,
        uvicorn_server(env) as writer,
        httpx2.Client(base_url=f"http://{writer}") as http,
    ):
        token = furnish(http, owner_email)["waiter_token"]
        owner = token_for(http, owner_email)
        me = http.get("/api/users/me/", headers=bearer(token)).json()["id"]

        async def scenario() -> None:
            async with connect(f"ws://{reader}/ws/waiters/{me}/?token={token}") as ws:
                await asyncio.wait_for(ws.recv(), 10)
                fired = await asyncio.to_thread(
                    http.patch, f"/api/users/{me}/", json={"is_active": False}, headers=bearer(owner)
                )
                assert fired.status_code == 200
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await asyncio.wait_for(ws.recv(), 2)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003

        asyncio.run(scenario())
