"""Property-based: whatever a client sends, no 5xx, no partial write, no socket closed for it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from cafe_rt import Settings, create_app
from tests.factory import TEST_SECRET, create_order, feed_url, make_company

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
]
BODIES = st.one_of(JSON, st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6))
COUNTS = """
SELECT (SELECT COUNT(*) FROM orders) + (SELECT COUNT(*) FROM order_items) + (SELECT COUNT(*) FROM kitchen_tasks)
     + (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM cafe_tables) + (SELECT COUNT(*) FROM users) AS n
"""
HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    database = tmp_path_factory.mktemp("hostile") / "cafe.db"
    app = create_app(Settings(database_url=f"sqlite:///{database}", broadcast_url="memory://", jwt_secret=TEST_SECRET))
    with TestClient(app) as client:
        cafe = make_company(client)
        order = create_order(client, cafe)
        yield client, cafe, order


def rows(client) -> int:
    services = client.app_state["services"]
    return client.portal.call(services.database.fetch_one, COUNTS)["n"]


@HYPOTHESIS
@given(body=BODIES, target=st.integers(min_value=0, max_value=13))
def test_no_body_reaches_a_500_or_writes_half(world, body, target):
    client, cafe, order = world
    task = f"/api/cafe/kitchen/tasks/{'00000000-0000-4000-8000-000000000000'}/"
    method, path = [
        ("POST", "/api/cafe/orders/"),
        ("PATCH", f"/api/cafe/orders/{order['id']}/"),
        ("POST", f"/api/cafe/orders/{order['id']}/pay/"),
        ("POST", "/api/cafe/order-items/"),
        ("POST", "/api/cafe/tables/"),
        ("POST", "/api/cafe/zones/"),
        ("POST", "/api/cafe/menu-items/"),
        ("POST", "/api/cafe/clients/"),
        ("POST", "/api/cafe/table-sessions/"),
        ("POST", "/api/cafe/broadcasts/"),
        ("POST", "/api/users/"),
        ("POST", "/api/branches/"),
        ("POST", "/api/users/login/"),
        ("PATCH", task),
    ][target]
    person = cafe.owner if "users" in path or "branches" in path else cafe.manager
    before = rows(client)
    response = client.request(method, path, json=body, headers=person.auth)
    assert response.status_code < 500, response.text
    assert "detail" in response.json() or response.status_code < 300
    if response.status_code >= 400:
        assert rows(client) == before


@HYPOTHESIS
@given(message=JSON, socket=st.sampled_from(["cafe", "order", "table", "rooms"]))
def test_no_message_closes_a_socket(world, message, socket):
    client, cafe, order = world
    url = {
        "cafe": feed_url("orders", cafe.manager),
        "order": f"/ws/orders/{order['id']}/?token={cafe.manager.token}",
        "table": f"/ws/tables/{cafe.tables['a2']['id']}/?token={cafe.manager.token}",
        "rooms": f"/?token={cafe.manager.token}",
    }[socket]
    ping = {"type": "ping"} if socket == "rooms" else {"action": "ping"}
    with client.websocket_connect(url) as ws:
        ws.receive_json()
        ws.send_json(message)
        ws.send_json(ping)
        for _ in range(10):  # the reply to the message (if any), its events, then the pong
            if ws.receive_json() == {"type": "pong"}:
                break
        else:
            raise AssertionError("no pong: the socket stopped answering")
