"""Idempotency-Key (DESIGN.md, "Safe to retry"): a retried write is answered again, never done twice."""

from __future__ import annotations

import json
import uuid

import pytest
from starlette.testclient import TestClient

from cafe_rt import create_app
from domain import orders
from storage import idempotency
from tests.factory import Company, create_order, feed_url, make_company, ok, portal


def order_body(cafe: Company, quantity: int = 1, table: str = "a1") -> dict:
    return {"table": cafe.tables[table]["id"], "items": [{"menu_item": cafe.menu["pizza"]["id"], "quantity": quantity}]}


def keyed(person_auth: dict[str, str], key: str | bytes) -> dict:
    return {**person_auth, "Idempotency-Key": key}


def count_orders(client: TestClient, cafe: Company) -> int:
    return len(ok(client.get("/api/cafe/orders/", headers=cafe.owner.auth)))


def test_a_retried_order_is_one_order_and_one_event(client):
    cafe = make_company(client)
    key = str(uuid.uuid4())
    with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
        ws.receive_json()
        first = client.post("/api/cafe/orders/", json=order_body(cafe), headers=keyed(cafe.waiter.auth, key))
        again = client.post("/api/cafe/orders/", json=order_body(cafe), headers=keyed(cafe.waiter.auth, key))
        assert first.status_code == again.status_code == 201
        assert "idempotent-replayed" not in first.headers
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        # A different order afterwards: the feed carries the first one once, then this one.
        later = create_order(client, cafe, table="a2")
        created: list[str] = []
        while not created or created[-1] != later["id"]:
            message = ws.receive_json()
            if message["type"] == "order_created":
                created.append(message["data"]["order"]["id"])
    assert created == [first.json()["id"], later["id"]]
    assert count_orders(client, cafe) == 2


def test_the_body_is_compared_as_parsed_json_and_another_body_is_422(client):
    cafe = make_company(client)
    headers = keyed(cafe.waiter.auth, "order-1")
    body = order_body(cafe)
    first = ok(client.post("/api/cafe/orders/", json=body, headers=headers), 201)
    spaced = json.dumps(dict(reversed(list(body.items()))), indent=4)  # same JSON, other bytes
    same = client.post("/api/cafe/orders/", content=spaced, headers={**headers, "Content-Type": "application/json"})
    assert same.status_code == 201 and same.headers["idempotent-replayed"] == "true" and same.json() == first
    other = client.post("/api/cafe/orders/", json=order_body(cafe, quantity=2), headers=headers)
    assert other.status_code == 422 and "another request body" in other.json()["detail"]
    assert count_orders(client, cafe) == 1


@pytest.mark.parametrize("key", ["", "has space", "é".encode(), "x" * 256, "tab\there"])
def test_a_key_that_is_not_1_to_255_visible_ascii_is_400(client, key):
    cafe = make_company(client)
    response = client.post("/api/cafe/orders/", json=order_body(cafe), headers=keyed(cafe.waiter.auth, key))
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["detail"]
    assert count_orders(client, cafe) == 0
    assert ok(
        client.post("/api/cafe/orders/", json=order_body(cafe), headers=keyed(cafe.waiter.auth, "!" + "~" * 254)), 201
    )


def test_the_key_is_per_user_method_and_path(client):
    cafe = make_company(client)
    key = "same-key"
    mine = ok(client.post("/api/cafe/orders/", json=order_body(cafe), headers=keyed(cafe.waiter.auth, key)), 201)
    theirs = ok(client.post("/api/cafe/orders/", json=order_body(cafe), headers=keyed(cafe.manager.auth, key)), 201)
    assert mine["id"] != theirs["id"]
    # Another path with the same key and user is another request.
    changed = client.patch(f"/api/cafe/orders/{mine['id']}/", json={"guests": 3}, headers=keyed(cafe.waiter.auth, key))
    assert ok(changed)["guests"] == 3
    assert count_orders(client, cafe) == 2


def test_a_4xx_answer_is_kept_too(client):
    cafe = make_company(client)
    order = create_order(client, cafe)
    url, headers = f"/api/cafe/orders/{order['id']}/", keyed(cafe.waiter.auth, "bad-status")
    first = client.patch(url, json={"status": "nonsense"}, headers=headers)
    again = client.patch(url, json={"status": "nonsense"}, headers=headers)
    assert first.status_code == again.status_code == 400
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()


def test_a_204_is_replayed_without_a_body(client):
    cafe = make_company(client)
    order = create_order(client, cafe)
    headers = keyed(cafe.manager.auth, "delete-1")
    first = client.delete(f"/api/cafe/orders/{order['id']}/", headers=headers)
    again = client.delete(f"/api/cafe/orders/{order['id']}/", headers=headers)
    assert first.status_code == again.status_code == 204
    assert again.headers["idempotent-replayed"] == "true" and again.content == b""


def test_a_key_still_running_is_409(client):
    cafe = make_company(client)
    body = order_body(cafe)
    services = client.app_state["services"]
    # What a request in flight on another process has left in the database: its claim, no answer yet.
    scope = idempotency.Scope(cafe.waiter.id, "POST", "/api/cafe/orders/", "in-flight")
    print_ = idempotency.fingerprint(json.dumps(body).encode(), b"")
    claimed = portal(client).call(idempotency.claim, services.database, scope, print_, 3600)
    assert isinstance(claimed, idempotency.Claimed)
    busy = client.post("/api/cafe/orders/", json=body, headers=keyed(cafe.waiter.auth, "in-flight"))
    assert busy.status_code == 409 and busy.headers["retry-after"] == "1"
    assert count_orders(client, cafe) == 0
    # The first one finished without an answer (a 5xx): its claim is let go, and the retry runs.
    portal(client).call(idempotency.release, services.database, scope, claimed.claim)
    ok(client.post("/api/cafe/orders/", json=body, headers=keyed(cafe.waiter.auth, "in-flight")), 201)


def test_a_5xx_commits_nothing_and_the_retry_runs_again(settings, monkeypatch, answers_match_openapi):
    """The order is written, then the request fails: with a key its writes are rolled back with it."""
    real = orders.create_order
    failures = [RuntimeError("after the change")]

    async def failing(*args, **kwargs):
        made = await real(*args, **kwargs)
        if failures:
            raise failures.pop()
        return made

    monkeypatch.setattr(orders, "create_order", failing)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        cafe = make_company(client)
        headers = keyed(cafe.waiter.auth, "crash-1")
        with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
            ws.receive_json()
            assert client.post("/api/cafe/orders/", json=order_body(cafe), headers=headers).status_code == 500
            assert count_orders(client, cafe) == 0
            retried = client.post("/api/cafe/orders/", json=order_body(cafe), headers=headers)
            assert retried.status_code == 201 and "idempotent-replayed" not in retried.headers
            created = ws.receive_json()
            assert created["type"] == "order_created" and created["data"]["order"]["id"] == retried.json()["id"]
        assert count_orders(client, cafe) == 1
    # The one 500 is this test's own doing, not a gap in the document.
    assert [problem for problem in answers_match_openapi.mismatches if "answered 500" in problem]
    answers_match_openapi.mismatches.clear()


def test_an_expired_key_runs_again_and_is_pruned(settings):
    with TestClient(create_app(settings.__class__(**{**settings.__dict__, "idempotency_ttl": 0}))) as client:
        cafe = make_company(client)
        headers = keyed(cafe.waiter.auth, "short-lived")
        ok(client.post("/api/cafe/orders/", json=order_body(cafe), headers=headers), 201)
        again = client.post("/api/cafe/orders/", json=order_body(cafe), headers=headers)
        assert again.status_code == 201 and "idempotent-replayed" not in again.headers
        services = client.app_state["services"]
        portal(client).call(idempotency.prune, services.database, 0)
        left = portal(client).call(services.database.fetch_all, "SELECT * FROM idempotency_keys")
        assert left == []


def test_log_in_ignores_a_key_of_good_form(client):
    cafe = make_company(client)
    body = {"email": cafe.waiter.email, "password": "password-123"}
    first = ok(client.post("/api/users/login/", json=body, headers={"Idempotency-Key": "login-1"}))
    again = client.post("/api/users/login/", json=body, headers={"Idempotency-Key": "login-1"})
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers
    assert again.json()["refresh"] != first["refresh"]
    assert client.post("/api/users/login/", json=body, headers={"Idempotency-Key": " "}).status_code == 400


@pytest.mark.parametrize("content", [b"", b"   ", b"[]", b"null", b"12"])
def test_an_empty_or_non_object_order_body_is_400_and_no_order(client, content):
    cafe = make_company(client)
    for headers in (cafe.waiter.auth, keyed(cafe.waiter.auth, f"empty-{uuid.uuid4()}")):
        response = client.post("/api/cafe/orders/", content=content, headers=headers)
        assert response.status_code == 400, response.text
    assert count_orders(client, cafe) == 0


def test_writes_outside_a_change_are_held_with_the_answer_too(client):
    """A socket ticket (plain statements) and a new user (a plain transaction) are kept like changes are."""
    cafe = make_company(client)
    headers = keyed(cafe.waiter.auth, "ticket-1")
    first = ok(client.post("/api/auth/ws-ticket", headers=headers))
    again = client.post("/api/auth/ws-ticket", headers=headers)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first
    user = {
        "email": f"new-{uuid.uuid4().hex[:8]}@test.cafe",
        "password": "password-123",
        "role": "cook",
        "branch": cafe.branch_a,
    }
    made = [client.post("/api/users/", json=user, headers=keyed(cafe.owner.auth, "user-1")) for _ in range(2)]
    assert [response.status_code for response in made] == [201, 201] and made[0].json() == made[1].json()
    users = ok(client.get("/api/users/", headers=cafe.owner.auth))
    assert [entry["email"] for entry in users].count(user["email"]) == 1


def test_a_password_change_retried_with_the_revoked_token_is_401(client):
    """The answer holds new tokens: a token the change revoked never gets it again."""
    cafe = make_company(client)
    headers = keyed(cafe.waiter.auth, "pw-1")
    body = {"old_password": "password-123", "new_password": "password-456"}
    ok(client.post("/api/users/me/password/", json=body, headers=headers))
    assert client.post("/api/users/me/password/", json=body, headers=headers).status_code == 401


@pytest.mark.parametrize("path", ["/api/users/login/", "/api/users/me/", "/api/users/logout/"])
def test_an_undocumented_method_on_a_documented_path_is_405(client, path):
    cafe = make_company(client)
    assert client.patch(path, json={"role": "cook"}, headers=cafe.owner.auth).status_code == 405


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_committed_change_is_answered_2xx_when_returning_its_connection_fails(client, monkeypatch, caplog):
    """As in a PostgreSQL restart: the COMMIT went through, giving the connection back to the pool did not."""
    import asyncpg.pool

    cafe = make_company(client)
    real_release = asyncpg.pool.Pool.release

    async def release_then_fail(pool, connection, *, timeout=None):
        await real_release(pool, connection, timeout=timeout)
        raise ConnectionResetError("the connection went away while it was returned")

    monkeypatch.setattr(asyncpg.pool.Pool, "release", release_then_fail)
    made = [
        client.post("/api/cafe/orders/", json=order_body(cafe), headers=headers)
        for headers in (cafe.waiter.auth, keyed(cafe.waiter.auth, "release-fails"))
    ]
    monkeypatch.setattr(asyncpg.pool.Pool, "release", real_release)
    assert [response.status_code for response in made] == [201, 201]
    assert count_orders(client, cafe) == 2
    assert "returning a connection to the pool failed" in caplog.text


def test_a_yes_no_query_parameter_outside_its_enum_is_400(client):
    cafe = make_company(client)
    assert client.get("/api/cafe/kitchen/tasks/?mine=AAA", headers=cafe.cook.auth).status_code == 400
    assert client.get("/api/cafe/notifications/?unread=AAA", headers=cafe.waiter.auth).status_code == 400
    assert client.get("/api/cafe/kitchen/tasks/?mine=0", headers=cafe.cook.auth).status_code == 200
    assert client.get("/api/cafe/notifications/?unread=true", headers=cafe.waiter.auth).status_code == 200
