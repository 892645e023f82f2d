"""Logging in, tokens, staff management, and the close codes of a refused socket."""

from __future__ import annotations

import time

import jwt
import pytest

from core.auth import hash_password, issue_tokens, verify_password
from tests.factory import PASSWORD, TEST_SECRET, close_code, login, make_company, ok


def test_login_on_both_paths_then_refresh_and_me(client):
    cafe = make_company(client)
    for path in ("/api/users/login/", "/api/auth/login/"):
        tokens = ok(client.post(path, json={"email": cafe.waiter.email.upper(), "password": PASSWORD}))
        assert set(tokens) == {"access", "refresh", "csrfToken"}
    me = ok(client.get("/api/users/me/", headers={"Authorization": f"Bearer {tokens['access']}"}))
    assert (me["id"], me["role"], me["company"], me["branch"]) == (cafe.waiter.id, "waiter", cafe.id, cafe.branch_a)
    claims = jwt.decode(tokens["access"], TEST_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["company_id"], claims["branch_id"], claims["role"]) == (
        cafe.waiter.id,
        cafe.id,
        cafe.branch_a,
        "waiter",
    )
    fresh = ok(client.post("/api/users/token/refresh/", json={"refresh": tokens["refresh"]}))
    assert ok(client.get("/api/users/me/", headers={"Authorization": f"Bearer {fresh['access']}"}))["id"] == me["id"]


def test_login_and_token_errors_are_clear(client):
    cafe = make_company(client)
    wrong = client.post("/api/users/login/", json={"email": cafe.waiter.email, "password": "nope-nope"})
    assert wrong.status_code == 401 and "detail" in wrong.json()
    unknown = client.post("/api/users/login/", json={"email": "nobody@test.cafe", "password": "whatever1"})
    assert unknown.status_code == 401 and unknown.json() == wrong.json()
    assert client.post("/api/users/login/", json={"email": 5}).status_code == 400
    assert client.post("/api/users/login/", content=b"{not json").status_code == 400
    assert client.get("/api/users/me/").status_code == 401
    assert client.get("/api/users/me/", headers={"Authorization": "Bearer garbage"}).status_code == 401
    refresh = login(client, cafe.waiter.email)["refresh"]
    assert client.get("/api/users/me/", headers={"Authorization": f"Bearer {refresh}"}).status_code == 401
    assert client.post("/api/users/token/refresh/", json={"refresh": cafe.waiter.token}).status_code == 401


def test_socket_refuses_missing_garbage_expired_and_refresh_tokens_with_4003(client):
    cafe = make_company(client)
    assert close_code(client, "/ws/cafe/orders/") == 4003
    assert close_code(client, "/ws/cafe/orders/?token=garbage") == 4003
    expired = jwt.encode(
        {
            "sub": cafe.waiter.id,
            "type": "access",
            "role": "waiter",
            "company_id": cafe.id,
            "branch_id": cafe.branch_a,
            "exp": int(time.time()) - 5,
        },
        TEST_SECRET,
        algorithm="HS256",
    )
    assert close_code(client, f"/ws/cafe/tables/?token={expired}") == 4003
    forged = jwt.encode(
        {"sub": cafe.waiter.id, "type": "access", "role": "owner", "company_id": cafe.id, "exp": int(time.time()) + 60},
        "another-secret-of-enough-length-000000",
        algorithm="HS256",
    )
    assert close_code(client, f"/ws/cafe/kitchen/?token={forged}") == 4003
    refresh = login(client, cafe.waiter.email)["refresh"]
    assert close_code(client, f"/ws/cafe/orders/?token={refresh}") == 4003


def test_socket_accepts_a_bearer_header(client):
    cafe = make_company(client)
    with client.websocket_connect("/ws/cafe/orders/", headers=cafe.waiter.auth) as ws:
        assert ws.receive_json()["type"] == "connection_established"


def test_user_without_company_gets_4004(client):
    services = client.app_state["services"]
    user = {"id": "00000000-0000-4000-8000-000000000001", "role": "waiter", "company": None, "branch": None}
    client.portal.call(
        services.database.execute,
        """
        INSERT INTO users (id, email, password_hash, role, company_id, branch_id, created_at)
        VALUES (:id, 'lonely@test.cafe', 'x', 'waiter', NULL, NULL, '2026-01-01T00:00:00.000000Z')""",
        {"id": user["id"]},
    )
    token = issue_tokens(services.tokens, user)["access"]
    assert close_code(client, f"/ws/cafe/orders/?token={token}") == 4004
    assert client.get("/api/cafe/tables/", headers={"Authorization": f"Bearer {token}"}).status_code == 403


def test_customers_cannot_open_staff_feeds(client):
    cafe = make_company(client)
    customer = ok(
        client.post(
            "/api/users/",
            headers=cafe.owner.auth,
            json={"email": "guest@test.cafe", "password": PASSWORD, "role": "client"},
        ),
        201,
    )
    token = login(client, customer["email"])["access"]
    assert close_code(client, f"/ws/cafe/orders/?token={token}") == 4003
    assert client.get("/api/cafe/kitchen/tasks/", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    assert client.get("/api/cafe/orders/", headers={"Authorization": f"Bearer {token}"}).json() == []


def test_staff_management_rules(client):
    cafe = make_company(client)
    body = {"email": "new@test.cafe", "password": PASSWORD, "role": "cook", "branch": cafe.branch_a}
    assert client.post("/api/users/", json=body, headers=cafe.waiter.auth).status_code == 403
    created = ok(client.post("/api/users/", json=body, headers=cafe.admin.auth), 201)
    assert (created["role"], created["branch"], created["company"]) == ("cook", cafe.branch_a, cafe.id)
    assert client.post("/api/users/", json=body, headers=cafe.admin.auth).status_code == 409
    owner = {"email": "boss@test.cafe", "password": PASSWORD, "role": "owner"}
    assert client.post("/api/users/", json=owner, headers=cafe.admin.auth).status_code == 403
    bad = client.post(
        "/api/users/", json={"email": "x", "password": "short", "role": "chef", "extra": 1}, headers=cafe.owner.auth
    )
    assert bad.status_code == 400
    assert set(bad.json()["detail"]) == {"email", "password", "role", "extra"}
    manager = ok(
        client.post(
            "/api/users/",
            headers=cafe.owner.auth,
            json={"email": "m2@test.cafe", "password": PASSWORD, "role": "manager", "branch": cafe.branch_b},
        ),
        201,
    )
    assert manager["city_ids"] == [2]
    assert client.post("/api/branches/", json={"name": "C", "city_id": 3}, headers=cafe.manager.auth).status_code == 403
    assert [branch["name"] for branch in ok(client.get("/api/branches/", headers=cafe.waiter.auth))] == ["A", "B"]
    assert login(client, "new@test.cafe")["access"]


@pytest.mark.real_password_cost
def test_the_service_hashes_passwords_with_scrypt_at_its_full_cost():
    """The other tests hash at a quick cost (conftest.py); the service's own is N=2**14, r=8, p=1."""
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse battery", stored) and not verify_password("correct horse batter", stored)
