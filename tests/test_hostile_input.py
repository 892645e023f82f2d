"""Property-based: whatever a client sends, no 5xx, no partial write, no socket closed for it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from cafe_rt import Settings, create_app
from tests.factory import (
    PASSWORD,
    TEST_HOSTS,
    TEST_SECRET,
    Person,
    add_person,
    create_order,
    feed_url,
    login,
    make_company,
    ok,
)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["", "0", "-1", "1.005", "' OR 1=1 --", "😀", "\x00", "00000000-0000-4000-8000-000000000000"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELDS = [
    "table",
    "guests",
    "client",
    "waiter",
    "items",
    "branch",
    "status",
    "number",
    "places",
    "zone",
    "title",
    "price",
    "name",
    "phone",
    "method",
    "amount",
    "close",
    "order",
    "menu_item",
    "quantity",
    "guests_count",
    "message",
    "level",
    "email",
    "password",
    "role",
    "city_id",
    "city_ids",
    "bonuses_used",
    "refresh",
    "is_active",
]
ACTIONS = [
    "ping",
    "get_status",
    "update_status",
    "get_items",
    "occupy",
    "release",
    "update_guests_count",
    "close_session",
    "get_tasks",
    "acknowledge",
    "refresh_token",
]
ROOM_TYPES = ["ping", "join-room", "leave-room", "refresh-token"]
MESSAGE_FIELDS = ["status", "guests_count", "notification_id", "token", "roomId", "data"]
MESSAGES = st.one_of(
    JSON,
    st.fixed_dictionaries({"action": st.sampled_from(ACTIONS)}, optional={name: JSON for name in MESSAGE_FIELDS}),
    st.fixed_dictionaries(
        {"type": st.sampled_from(ROOM_TYPES)},
        optional={"data": st.one_of(JSON, st.dictionaries(st.sampled_from(MESSAGE_FIELDS), JSON, max_size=3))},
    ),
)
BODIES = st.one_of(JSON, st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6))
# Every table a request could write: a refused request must leave all of them as they were.
STATE = (
    "SELECT * FROM companies ORDER BY id",
    "SELECT * FROM branches ORDER BY id",
    "SELECT * FROM users ORDER BY id",
    "SELECT * FROM user_cities ORDER BY user_id, city_id",
    "SELECT * FROM zones ORDER BY id",
    "SELECT * FROM cafe_tables ORDER BY id",
    "SELECT * FROM table_sessions ORDER BY id",
    "SELECT * FROM menu_items ORDER BY id",
    "SELECT * FROM clients ORDER BY id",
    "SELECT * FROM orders ORDER BY id",
    "SELECT * FROM order_items ORDER BY id",
    "SELECT * FROM kitchen_tasks ORDER BY id",
    "SELECT * FROM payments ORDER BY id",
    "SELECT * FROM notifications ORDER BY id",
    "SELECT * FROM event_counters ORDER BY company_id",
    "SELECT company_id, COUNT(*), MAX(position) FROM events GROUP BY company_id ORDER BY company_id",
    "SELECT * FROM bonus_accounts ORDER BY user_id",
    "SELECT * FROM bonus_operations ORDER BY id",
    "SELECT * FROM sync_jobs ORDER BY id",
    "SELECT * FROM refresh_tokens ORDER BY jti",
)
Endpoint = tuple[str, str, Person, dict]
ENDPOINTS = [
    "create order",
    "customer order",
    "update order",
    "pay",
    "add order item",
    "change order item",
    "create table",
    "update table",
    "create zone",
    "create menu item",
    "update menu item",
    "create client",
    "open session",
    "update session",
    "broadcast",
    "update kitchen task",
    "create user",
    "create branch",
    "login",
    "auth login",
    "refresh token",
    "logout",
    "change password",
    "update user",
]
SOCKETS = [
    "orders feed",
    "tables feed",
    "kitchen feed",
    "order",
    "order items",
    "table",
    "session",
    "waiter",
    "restaurant",
    "rooms",
]
HYPOTHESIS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    database = tmp_path_factory.mktemp("hostile") / "cafe.db"
    settings = Settings(
        database_url=f"sqlite:///{database}",
        broadcast_url="memory://",
        jwt_secret=TEST_SECRET,
        allowed_hosts=TEST_HOSTS,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        cafe = make_company(client)
        order = create_order(client, cafe)
        session = ok(
            client.post(
                "/api/cafe/table-sessions/", json={"table": cafe.tables["a2"]["id"]}, headers=cafe.manager.auth
            ),
            201,
        )
        task = ok(client.get("/api/cafe/kitchen/tasks/", headers=cafe.manager.auth))[0]
        customer = add_person(client, cafe.owner, "guest", "client", None)
        yield (
            client,
            cafe,
            order,
            session["id"],
            write_endpoints(client, cafe, customer, order, session["id"], task["id"]),
        )


def write_endpoints(client, cafe, customer, order: dict, session_id: str, task_id: str) -> dict[str, Endpoint]:
    """Every REST endpoint that takes a body, on real rows of the world: who calls it and a body it accepts."""
    manager, owner = cafe.manager, cafe.owner
    pizza, branch = cafe.menu["pizza"]["id"], cafe.branch_a
    lines = [{"menu_item": pizza, "quantity": 1}]
    # People of their own for the account endpoints: a valid body revokes their tokens, nobody else's.
    refresh = login(client, cafe.cashier.email)["refresh"]
    leaving = login(client, cafe.waiter_b.email)["refresh"]
    return {
        "create order": (
            "POST",
            "/api/cafe/orders/",
            manager,
            {"table": cafe.tables["a2"]["id"], "guests": 2, "items": lines},
        ),
        "customer order": (
            "POST",
            "/api/cafe/orders/",
            customer,
            {"branch": branch, "items": lines, "bonuses_used": "0"},
        ),
        "update order": ("PATCH", f"/api/cafe/orders/{order['id']}/", manager, {"status": "confirmed", "guests": 3}),
        "pay": (
            "POST",
            f"/api/cafe/orders/{order['id']}/pay/",
            manager,
            {"method": "card", "amount": "1.00", "close": False},
        ),
        "add order item": (
            "POST",
            "/api/cafe/order-items/",
            manager,
            {"order": order["id"], "menu_item": pizza, "quantity": 1},
        ),
        "change order item": ("PATCH", f"/api/cafe/order-items/{order['items'][0]['id']}/", manager, {"quantity": 2}),
        "create table": ("POST", "/api/cafe/tables/", manager, {"number": 9, "places": 4, "branch": branch}),
        "update table": ("PATCH", f"/api/cafe/tables/{cafe.tables['a1']['id']}/", manager, {"number": 11, "places": 6}),
        "create zone": ("POST", "/api/cafe/zones/", manager, {"title": "Terrace", "branch": branch}),
        "create menu item": ("POST", "/api/cafe/menu-items/", manager, {"title": "Tea", "price": "90.00"}),
        "update menu item": (
            "PATCH",
            f"/api/cafe/menu-items/{pizza}/",
            owner,  # a company-wide item: a manager may not change it
            {"title": "Pizza", "price": "510.00", "is_active": True},
        ),
        "create client": ("POST", "/api/cafe/clients/", manager, {"name": "Ann", "phone": "+10000000"}),
        "open session": (
            "POST",
            "/api/cafe/table-sessions/",
            manager,
            {"table": cafe.tables["a1"]["id"], "guests_count": 2},
        ),
        "update session": ("PATCH", f"/api/cafe/table-sessions/{session_id}/", manager, {"guests_count": 3}),
        "broadcast": ("POST", "/api/cafe/broadcasts/", manager, {"message": "Kitchen closes soon", "level": "warning"}),
        "update kitchen task": ("PATCH", f"/api/cafe/kitchen/tasks/{task_id}/", manager, {"status": "in_progress"}),
        "create user": (
            "POST",
            "/api/users/",
            owner,
            {"email": "new@test.cafe", "password": PASSWORD, "role": "waiter", "branch": branch},
        ),
        "create branch": ("POST", "/api/branches/", owner, {"name": "C", "city_id": 3}),
        "login": ("POST", "/api/users/login/", manager, {"email": manager.email, "password": PASSWORD}),
        "auth login": ("POST", "/api/auth/login/", manager, {"email": manager.email, "password": PASSWORD}),
        "refresh token": ("POST", "/api/users/token/refresh/", manager, {"refresh": refresh}),
        "logout": ("POST", "/api/users/logout/", manager, {"refresh": leaving}),
        "change password": (
            "POST",
            "/api/users/me/password/",
            cafe.cook,
            {"old_password": PASSWORD, "new_password": "another-password"},
        ),
        "update user": (
            "PATCH",
            f"/api/users/{cafe.waiter_b.id}/",
            owner,
            {"role": "cook", "branch": cafe.branch_b, "city_ids": [2], "is_active": True},
        ),
    }


def near(valid: dict) -> st.SearchStrategy:
    """Bodies close to a valid one: each field kept, dropped or replaced by garbage, sometimes one field more."""
    fields = {name: st.one_of(st.just(value), JSON) for name, value in valid.items()}
    return st.fixed_dictionaries({}, optional={**fields, "unexpected": JSON})


def state(client) -> list:
    database = client.app_state["services"].database

    async def read_all() -> list:
        return [[tuple(row.values()) for row in await database.fetch_all(query)] for query in STATE]

    return client.portal.call(read_all)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@settings(HYPOTHESIS, max_examples=40)
@given(data=st.data())
def test_no_body_reaches_a_500_or_writes_half(world, endpoint, data):
    client, _, _, _, endpoints = world
    assert set(endpoints) == set(ENDPOINTS)
    method, path, person, valid = endpoints[endpoint]
    body = data.draw(st.one_of(BODIES, near(valid)))
    before = state(client)
    response = client.request(method, path, json=body, headers=person.auth)
    assert response.status_code < 500, response.text
    assert response.status_code < 300 or "detail" in response.json()  # logout answers 204, no body
    # A replayed refresh token is refused and, by design, revokes every token of its user.
    if response.status_code >= 400 and "already used" not in response.text:
        assert state(client) == before


@pytest.mark.parametrize("socket", SOCKETS)
@settings(HYPOTHESIS, max_examples=30)
@given(message=MESSAGES)
def test_no_message_closes_a_socket(world, socket, message):
    client, cafe, order, session_id, _ = world
    manager = cafe.manager.token
    url = {
        "orders feed": feed_url("orders", cafe.manager),
        "tables feed": feed_url("tables", cafe.manager),
        "kitchen feed": feed_url("kitchen", cafe.manager),
        "order": f"/ws/orders/{order['id']}/?token={manager}",
        "order items": f"/ws/orders/{order['id']}/items/?token={manager}",
        "table": f"/ws/tables/{cafe.tables['a2']['id']}/?token={manager}",
        "session": f"/ws/tables/sessions/{session_id}/?token={manager}",
        "waiter": f"/ws/waiters/{cafe.waiter.id}/?token={cafe.waiter.token}",
        "restaurant": f"/ws/restaurants/{cafe.branch_a}/?token={manager}",
        "rooms": f"/?token={manager}",
    }[socket]
    ping = {"type": "ping"} if url.startswith("/?") else {"action": "ping"}
    with client.websocket_connect(url) as ws:
        ws.receive_json()
        ws.send_json(message)
        ws.send_json(ping)
        for _ in range(10):  # the reply to the message (if any), its events, then the pong
            if ws.receive_json() == {"type": "pong"}:
                break
        else:
            raise AssertionError("no pong: the socket stopped answering")
