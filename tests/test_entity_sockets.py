"""The entity sockets of seed 003 over a socket: connect messages, actions, automatic broadcasts."""

from __future__ import annotations

import pytest
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from routes.entity_sockets import OrderSocket
from tests.factory import create_order, make_company, ok, pay_in_full


def url(path: str, person) -> str:
    return f"{path}?token={person.token}"


def next_of(ws, event_type: str, limit: int = 10) -> dict:
    """The next message of a type, skipping others the same change also sent to this socket."""
    for _ in range(limit):
        message = ws.receive_json()
        if message.get("type") == event_type:
            return message
    raise AssertionError(f"no {event_type} in {limit} messages")


def test_order_socket_status_actions_and_role_rule(client):
    cafe = make_company(client)
    order = create_order(client, cafe)
    with (
        client.websocket_connect(url(f"/ws/orders/{order['id']}/", cafe.waiter)) as waiter_ws,
        client.websocket_connect(url(f"/ws/orders/{order['id']}/", cafe.manager)) as manager_ws,
    ):
        first = waiter_ws.receive_json()
        assert first["type"] == "order_status"
        assert set(first["data"]) == {
            "id",
            "status",
            "status_display",
            "total_amount",
            "items_count",
            "created_at",
            "confirmed_at",
            "ready_at",
            "delivered_at",
            "void",
        }
        assert (first["data"]["status"], first["data"]["items_count"], first["data"]["total_amount"]) == (
            "open",
            2,
            "1000.00",
        )
        manager_ws.receive_json()
        waiter_ws.send_json({"action": "get_status"})
        assert waiter_ws.receive_json() == first
        waiter_ws.send_json({"action": "update_status", "status": "ready"})
        assert "error" in waiter_ws.receive_json()
        manager_ws.send_json({"action": "update_status", "status": "bogus"})
        assert "error" in manager_ws.receive_json()
        manager_ws.send_json({"action": "update_status", "status": "confirmed"})
        for ws in (waiter_ws, manager_ws):
            status = ws.receive_json()
            assert (status["type"], status["data"]["status"], status["data"]["status_display"]) == (
                "order_status",
                "confirmed",
                "Confirmed",
            )
            assert status["data"]["confirmed_at"] is not None
            update = ws.receive_json()
            assert (update["type"], update["data"]["id"], update["data"]["status"]) == (
                "order_update",
                order["id"],
                "confirmed",
            )
        ok(client.patch(f"/api/cafe/orders/{order['id']}/", json={"status": "cancelled"}, headers=cafe.waiter.auth))
        assert next_of(waiter_ws, "order_status")["data"]["status"] == "cancelled"
        manager_ws.send_json({"action": "update_status", "status": "confirmed"})
        assert "cancelled" in next_of_error(manager_ws)


def next_of_error(ws) -> str:
    for _ in range(10):
        message = ws.receive_json()
        if "error" in message:
            return message["error"]
    raise AssertionError("no error reply")


def test_order_items_socket_and_order_items_rest(client):
    cafe = make_company(client)
    order = create_order(client, cafe, items=[("pizza", 1)])
    with (
        client.websocket_connect(url(f"/ws/orders/{order['id']}/items/", cafe.waiter)) as items_ws,
        client.websocket_connect(url(f"/ws/orders/{order['id']}/", cafe.waiter)) as order_ws,
    ):
        listed = items_ws.receive_json()
        assert listed["type"] == "items_list" and [item["quantity"] for item in listed["data"]["items"]] == [1]
        order_ws.receive_json()
        added = ok(
            client.post(
                "/api/cafe/order-items/",
                headers=cafe.waiter.auth,
                json={"order": order["id"], "menu_item": cafe.menu["coffee"]["id"], "quantity": 2},
            ),
            201,
        )
        assert added == {
            "id": added["id"],
            "order": order["id"],
            "menu_item": cafe.menu["coffee"]["id"],
            "menu_item_title": "Coffee",
            "quantity": 2,
            "price": "150.00",
            "total": "300.00",
            "order_total_amount": "800.00",
        }
        updated = items_ws.receive_json()
        assert updated["type"] == "items_updated"
        assert [(i["menu_item_title"], i["quantity"]) for i in updated["data"]["items"]] == [
            ("Пицца", 1),
            ("Coffee", 2),
        ]
        assert order_ws.receive_json()["type"] == "order_items_update"
        coffee = added["id"]
        smaller = ok(client.patch(f"/api/cafe/order-items/{coffee}/", json={"quantity": 1}, headers=cafe.waiter.auth))
        assert smaller["total_amount"] == "650.00"
        assert items_ws.receive_json()["data"]["total_amount"] == "650.00"
        ok(client.delete(f"/api/cafe/order-items/{coffee}/", headers=cafe.waiter.auth))
        assert [i["menu_item_title"] for i in items_ws.receive_json()["data"]["items"]] == ["Пицца"]
        items_ws.send_json({"action": "get_items"})
        assert items_ws.receive_json()["type"] == "items_list"
    tasks = ok(client.get("/api/cafe/kitchen/tasks/", headers=cafe.cook.auth))
    assert [task["status"] for task in tasks] == ["pending"]  # the removed item took its portions along
    pizza_task = next(task for task in tasks if task["status"] == "pending")
    ok(client.post(f"/api/cafe/kitchen/tasks/{pizza_task['id']}/claim/", headers=cafe.cook.auth))
    pizza = order["items"][0]["id"]
    assert client.delete(f"/api/cafe/order-items/{pizza}/", headers=cafe.waiter.auth).status_code == 409
    assert (
        client.patch(f"/api/cafe/order-items/{pizza}/", json={"quantity": 0}, headers=cafe.waiter.auth).status_code
        == 400
    )


def test_table_socket_occupy_release_and_sessions(client):
    cafe = make_company(client)
    table = cafe.tables["a1"]
    with client.websocket_connect(url(f"/ws/tables/{table['id']}/", cafe.waiter)) as ws:
        first = ws.receive_json()
        assert first["type"] == "table_status"
        assert first["data"] | {"table_id": None} == {
            "table_id": None,
            "table_number": "1",
            "status": "free",
            "is_occupied": False,
            "is_active": True,
            "zone": None,
            "restaurant": "A",
            "session": None,
        }
        ws.send_json({"action": "occupy", "guests_count": 3})
        status, update = ws.receive_json(), ws.receive_json()
        assert (status["type"], update["type"]) == ("table_status", "table_update")
        assert status["data"]["is_occupied"] is True and status["data"]["session"]["guests_count"] == 3
        session_id = status["data"]["session"]["id"]
        ws.send_json({"action": "occupy"})
        assert "error" in ws.receive_json()
        with client.websocket_connect(url(f"/ws/tables/sessions/{session_id}/", cafe.waiter)) as session_ws:
            hello = session_ws.receive_json()
            assert (hello["type"], hello["data"]["guests_count"], hello["data"]["is_active"]) == (
                "session_status",
                3,
                True,
            )
            session_ws.send_json({"action": "update_guests_count", "guests_count": 5})
            changed = session_ws.receive_json()
            assert (changed["type"], changed["data"]["guests_count"]) == ("session_update", 5)
            assert ws.receive_json()["data"]["session"]["guests_count"] == 5
            session_ws.send_json({"action": "update_guests_count", "guests_count": "many"})
            assert "error" in session_ws.receive_json()
            order = create_order(client, cafe)
            ws.send_json({"action": "release"})
            assert next_of_error(ws)
            comp = {"status": "closed", "reason": "On the house"}
            ok(client.patch(f"/api/cafe/orders/{order['id']}/", json=comp, headers=cafe.manager.auth))
            session_ws.send_json({"action": "close_session"})
            assert session_ws.receive_json()["type"] == "session_update"
            closed = session_ws.receive_json()
            assert (closed["type"], closed["data"]["is_active"]) == ("session_status", False)
        freed = next_of(ws, "table_status")
        assert (freed["data"]["status"], freed["data"]["session"]) == ("free", None)
        ws.send_json({"action": "release"})
        assert "free" in next_of_error(ws)
    opened = ok(
        client.post(
            "/api/cafe/table-sessions/", json={"table": table["id"], "guests_count": 2}, headers=cafe.waiter.auth
        ),
        201,
    )
    assert (
        client.post("/api/cafe/table-sessions/", json={"table": table["id"]}, headers=cafe.waiter.auth).status_code
        == 409
    )
    assert ok(client.get(f"/api/cafe/tables/{table['id']}/", headers=cafe.waiter.auth))["status"] == "busy"
    ok(client.patch(f"/api/cafe/table-sessions/{opened['id']}/", json={"guests_count": 4}, headers=cafe.waiter.auth))
    ok(client.post(f"/api/cafe/table-sessions/{opened['id']}/close/", headers=cafe.waiter.auth))
    assert ok(client.get(f"/api/cafe/tables/{table['id']}/", headers=cafe.waiter.auth))["status"] == "free"


def test_waiter_socket_notifications_and_acknowledge_on_every_socket(client):
    cafe = make_company(client)
    waiter_url = url(f"/ws/waiters/{cafe.waiter.id}/", cafe.waiter)
    with (
        client.websocket_connect(waiter_url) as phone,
        client.websocket_connect(waiter_url) as tablet,
        client.websocket_connect(url(f"/ws/waiters/{cafe.waiter.id}/", cafe.manager)) as manager_ws,
    ):
        for ws in (phone, tablet, manager_ws):
            assert ws.receive_json() == {
                "type": "tasks_list",
                "data": {"waiter_id": cafe.waiter.id, "notifications": []},
            }
        order = create_order(client, cafe, items=[("coffee", 1)])
        note = phone.receive_json()
        assert note["type"] == "order_notification"
        assert {key: note["data"][key] for key in ("order_id", "table_number", "items_count")} == {
            "order_id": order["id"],
            "table_number": "1",
            "items_count": 1,
        }
        assert note["data"]["message"] == "New order for table 1"
        assert tablet.receive_json() == note and manager_ws.receive_json() == note
        task = ok(client.get("/api/cafe/kitchen/tasks/", headers=cafe.cook.auth))[0]
        ok(client.post(f"/api/cafe/kitchen/tasks/{task['id']}/ready/", headers=cafe.cook.auth))
        ready = phone.receive_json()
        assert (ready["type"], ready["data"]["task_id"], ready["data"]["menu_item"]) == (
            "task_notification",
            task["id"],
            "Coffee",
        )
        tablet.receive_json()
        pay_in_full(client, order["id"], cafe.cashier)
        paid = phone.receive_json()
        assert (paid["type"], paid["data"]["amount"], paid["data"]["method"]) == (
            "payment_notification",
            "150.00",
            "card",
        )
        tablet.receive_json()
        phone.send_json({"action": "get_tasks"})
        pending = phone.receive_json()["data"]["notifications"]
        assert [n["type"] for n in pending] == ["payment_notification", "task_notification", "order_notification"]
        manager_ws.send_json({"action": "acknowledge", "notification_id": note["data"]["notification_id"]})
        phone.send_json({"action": "acknowledge", "notification_id": note["data"]["notification_id"]})
        for ws in (phone, tablet):
            acked = ws.receive_json()
            assert acked == {
                "type": "notification_acknowledged",
                "data": {"notification_id": note["data"]["notification_id"]},
                "event_id": acked["event_id"],
            }
        phone.send_json({"action": "acknowledge", "notification_id": note["data"]["notification_id"]})
        assert "already" in phone.receive_json()["error"]
        phone.send_json({"action": "acknowledge", "notification_id": "nope"})
        assert "error" in phone.receive_json()
        tablet.send_json({"action": "get_tasks"})
        assert len(tablet.receive_json()["data"]["notifications"]) == 2


def test_waiter_socket_is_for_the_waiter_and_its_managers(client):
    cafe = make_company(client)
    for person in (cafe.waiter_b, cafe.cook):
        with pytest.raises(WebSocketDisconnect) as closed:
            with client.websocket_connect(url(f"/ws/waiters/{cafe.waiter.id}/", person)) as ws:
                ws.receive_json()
        assert closed.value.code == 4404
    with client.websocket_connect(url(f"/ws/waiters/{cafe.waiter.id}/", cafe.owner)) as ws:
        assert ws.receive_json()["type"] == "tasks_list"


def test_restaurant_sockets_follow_the_branch(client):
    cafe = make_company(client)
    branch = cafe.branch_a
    with (
        client.websocket_connect(url(f"/ws/restaurants/{branch}/", cafe.manager)) as restaurant,
        client.websocket_connect(url(f"/ws/restaurants/{branch}/notifications/", cafe.waiter)) as notes,
    ):
        hello = restaurant.receive_json()
        assert hello == {
            "type": "restaurant_status",
            "data": {
                "restaurant_id": branch,
                "restaurant": "A",
                "city_id": 1,
                "tables": {"busy": 0, "free": 2},
                "open_orders": 0,
                "kitchen": {"pending": 0, "in_progress": 0},
            },
        }
        order = create_order(client, cafe, items=[("pizza", 2)])
        new = restaurant.receive_json()
        assert (new["type"], new["data"]["order_id"], new["data"]["items_count"]) == ("new_order", order["id"], 2)
        busy = restaurant.receive_json()
        assert (busy["type"], busy["data"]["table_number"], busy["data"]["status"]) == ("table_status", "1", "busy")
        assert notes.receive_json()["type"] == "order_notification"
        restaurant.send_json({"action": "get_status"})
        summary = restaurant.receive_json()["data"]
        assert (summary["tables"], summary["open_orders"], summary["kitchen"]["pending"]) == (
            {"busy": 1, "free": 1},
            1,
            2,
        )
        for task in ok(client.get("/api/cafe/kitchen/tasks/", headers=cafe.cook.auth)):
            ok(client.post(f"/api/cafe/kitchen/tasks/{task['id']}/ready/", headers=cafe.cook.auth))
        ready = restaurant.receive_json()
        assert (ready["type"], ready["data"]["order_id"], ready["data"]["table_number"]) == (
            "order_ready",
            order["id"],
            "1",
        )
        pay_in_full(client, order["id"], cafe.cashier)
        free = restaurant.receive_json()
        assert (free["type"], free["data"]["table_number"], free["data"]["status"]) == ("table_status", "1", "free")
        done = restaurant.receive_json()
        assert (done["type"], done["data"]["amount"], done["data"]["status"]) == (
            "payment_completed",
            "1000.00",
            "closed",
        )
        assert notes.receive_json()["type"] == "payment_notification"
        sent = ok(
            client.post(
                "/api/cafe/broadcasts/",
                json={"message": "Kitchen closes in 10", "level": "warning"},
                headers=cafe.manager.auth,
            ),
            201,
        )
        said = restaurant.receive_json()
        assert said["type"] == "broadcast" and said["data"]["message"] == "Kitchen closes in 10"
        alert = notes.receive_json()
        assert (alert["type"], alert["data"]["level"]) == ("alert", "warning")
        assert sent["branches"] == [branch]
    assert client.post("/api/cafe/broadcasts/", json={"message": "hi"}, headers=cafe.waiter.auth).status_code == 403
    alerts = [n for n in ok(client.get("/api/cafe/notifications/", headers=cafe.waiter.auth)) if n["type"] == "alert"]
    assert [a["data"]["message"] for a in alerts] == ["Kitchen closes in 10"]
    assert ok(client.get("/api/cafe/notifications/", headers=cafe.waiter_b.auth)) == []


def test_another_companys_entities_close_with_4404(client):
    ours, theirs = make_company(client, "Ours"), make_company(client, "Theirs")
    order = create_order(client, theirs)
    session = ok(
        client.post("/api/cafe/table-sessions/", json={"table": theirs.tables["a2"]["id"]}, headers=theirs.waiter.auth),
        201,
    )
    paths = [
        f"/ws/orders/{order['id']}/",
        f"/ws/orders/{order['id']}/items/",
        f"/ws/tables/{theirs.tables['a1']['id']}/",
        f"/ws/tables/sessions/{session['id']}/",
        f"/ws/waiters/{theirs.waiter.id}/",
        f"/ws/restaurants/{theirs.branch_a}/",
        f"/ws/restaurants/{theirs.branch_a}/notifications/",
        "/ws/orders/00000000-0000-4000-8000-000000000000/",
        "/ws/tables/not-a-uuid/",
    ]
    cases = [(path, ours.owner) for path in paths] + [(f"/ws/restaurants/{ours.branch_b}/", ours.waiter)]
    for path, person in cases:
        with pytest.raises(WebSocketDisconnect) as closed:
            with client.websocket_connect(url(path, person)) as ws:
                ws.receive_json()
        assert closed.value.code == 4404, path
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect(f"/ws/orders/{order['id']}/") as ws:
            ws.receive_json()
    assert closed.value.code == 4003


def test_bad_actions_get_errors_and_keep_the_socket(client):
    cafe = make_company(client)
    with client.websocket_connect(url(f"/ws/restaurants/{cafe.branch_a}/", cafe.waiter)) as ws:
        ws.receive_json()
        for bad in ("{", "42", '{"action": 7}', '{"action": "update_status"}', '{"no": "action"}'):
            ws.send_text(bad)
            assert set(ws.receive_json()) == {"error"}
        ws.send_json({"action": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_a_socket_that_fails_while_connecting_leaves_nothing_in_the_hub(client, monkeypatch):
    """A fault after the socket registered with the hub (its first state could not be read) unregisters it: it
    must not stay counted against its user's cap of live sockets, nor keep its company subscribed."""
    cafe = make_company(client)
    order = create_order(client, cafe)
    hub = client.app_state["hub"]

    async def database_went_away(self):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(OrderSocket, "send_state", database_went_away)
    for _ in range(3):
        # An outage during the handshake is refused with HTTP 503 before accept (DESIGN.md, "Safe to retry").
        with pytest.raises(WebSocketDenialResponse) as refused:
            with client.websocket_connect(f"/ws/orders/{order['id']}/?token={cafe.owner.token}") as ws:
                ws.receive_json()
        assert refused.value.status_code == 503 and refused.value.headers["retry-after"]
    assert hub.sockets_of(cafe.owner.id) == 0
