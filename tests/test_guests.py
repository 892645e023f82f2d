"""Seed 003's guests following their own order, and the REST and broadcast conventions its clients rely on."""

from __future__ import annotations

from tests.factory import add_person, close_code, create_order, make_company, ok
from tests.test_entity_sockets import next_of


def guest_order(client, cafe, guest) -> dict:
    body = {"branch": cafe.branch_a, "items": [{"menu_item": cafe.menu["pizza"]["id"], "quantity": 1}]}
    return ok(client.post("/api/cafe/orders/", json=body, headers=guest.auth), 201)


def test_a_guest_follows_its_own_order_read_only(client):
    cafe = make_company(client)
    guest = add_person(client, cafe.owner, "guest", "client", None)
    order = guest_order(client, cafe, guest)
    with (
        client.websocket_connect(f"/ws/orders/{order['id']}/?token={guest.token}") as order_ws,
        client.websocket_connect(f"/ws/orders/{order['id']}/items/?token={guest.token}") as items_ws,
    ):
        status = order_ws.receive_json()
        assert (status["type"], status["data"]["id"]) == ("order_status", order["id"])
        assert status["data"]["status"] == "pending"
        items = items_ws.receive_json()
        assert (items["type"], items["data"]["order_id"]) == ("items_list", order["id"])
        order_ws.send_json({"action": "update_status", "status": "cancelled"})
        assert set(order_ws.receive_json()) == {"error"}
        order_ws.send_json({"action": "get_status"})
        assert order_ws.receive_json() == status
        items_ws.send_json({"action": "get_items"})
        assert items_ws.receive_json() == items
        ok(client.patch(f"/api/cafe/orders/{order['id']}/", json={"status": "confirmed"}, headers=cafe.manager.auth))
        assert next_of(order_ws, "order_status")["data"]["status"] == "confirmed"
        added = {"order": order["id"], "menu_item": cafe.menu["coffee"]["id"], "quantity": 1}
        ok(client.post("/api/cafe/order-items/", json=added, headers=cafe.waiter.auth), 201)
        assert next_of(items_ws, "items_updated")["data"]["total_amount"] == "650.00"
    assert ok(client.get(f"/api/cafe/orders/{order['id']}/", headers=cafe.owner.auth))["status"] == "confirmed"


def test_a_guest_gets_4404_for_anyone_elses_order_and_4003_elsewhere(client):
    cafe, other = make_company(client), make_company(client, "Other")
    guest = add_person(client, cafe.owner, "guest", "client", None)
    neighbour = add_person(client, cafe.owner, "neighbour", "client", None)
    theirs = guest_order(client, cafe, neighbour)
    staff_order = create_order(client, cafe)
    foreign = create_order(client, other)
    for order in (theirs, staff_order, foreign):
        for suffix in ("", "items/"):
            assert close_code(client, f"/ws/orders/{order['id']}/{suffix}?token={guest.token}") == 4404
    for path in (
        f"/ws/tables/{cafe.tables['a1']['id']}/",
        f"/ws/restaurants/{cafe.branch_a}/",
        f"/ws/waiters/{cafe.waiter.id}/",
        "/ws/cafe/orders/",
    ):
        assert close_code(client, f"{path}?token={guest.token}") == 4003, path


def test_a_guest_with_a_home_branch_may_leave_branch_out(client):
    cafe = make_company(client)
    regular = add_person(client, cafe.owner, "regular", "client", cafe.branch_b)
    drifter = add_person(client, cafe.owner, "drifter", "client", None)
    items = [{"menu_item": cafe.menu["coffee"]["id"], "quantity": 1}]
    order = ok(client.post("/api/cafe/orders/", json={"items": items}, headers=regular.auth), 201)
    assert (order["branch"], order["status"], order["table"]) == (cafe.branch_b, "pending", None)
    elsewhere = {"items": items, "branch": cafe.branch_a}
    assert ok(client.post("/api/cafe/orders/", json=elsewhere, headers=regular.auth), 201)["branch"] == cafe.branch_a
    refused = client.post("/api/cafe/orders/", json={"items": items}, headers=drifter.auth)
    assert refused.status_code == 400
    assert refused.json() == {"detail": {"branch": ["This field is required: the user has no home branch."]}}
    assert ok(client.get("/api/cafe/orders/", headers=drifter.auth)) == []


def test_adding_an_item_answers_that_item_with_its_id_and_the_new_total(client):
    cafe = make_company(client)
    order = create_order(client, cafe, items=[("coffee", 1)])
    line = {"order": order["id"], "menu_item": cafe.menu["coffee"]["id"], "quantity": 2}
    first = ok(client.post("/api/cafe/order-items/", json=line, headers=cafe.waiter.auth), 201)
    second = ok(client.post("/api/cafe/order-items/", json={**line, "quantity": 3}, headers=cafe.waiter.auth), 201)
    assert (first["quantity"], first["order_total_amount"]) == (2, "450.00")
    assert (second["quantity"], second["total"], second["order_total_amount"]) == (3, "450.00", "900.00")
    assert len({order["items"][0]["id"], first["id"], second["id"]}) == 3
    # The id is the one to change that line by later.
    changed = ok(client.patch(f"/api/cafe/order-items/{second['id']}/", json={"quantity": 1}, headers=cafe.waiter.auth))
    assert [item["quantity"] for item in changed["items"]] == [1, 2, 1]
    assert changed["total_amount"] == "600.00"


def test_the_restaurant_socket_hears_every_table_turn_busy_and_free(client):
    cafe = make_company(client)
    table = cafe.tables["a1"]
    with (
        client.websocket_connect(f"/ws/restaurants/{cafe.branch_a}/?token={cafe.waiter.token}") as restaurant_ws,
        client.websocket_connect(f"/ws/restaurants/{cafe.branch_b}/?token={cafe.owner.token}") as other_branch_ws,
        client.websocket_connect(f"/ws/tables/{table['id']}/?token={cafe.waiter.token}") as table_ws,
    ):
        restaurant_ws.receive_json(), other_branch_ws.receive_json(), table_ws.receive_json()
        order = create_order(client, cafe, table="a1")
        busy = next_of(restaurant_ws, "table_status")
        assert busy == next_of(table_ws, "table_status")  # the table socket's payload, the same event
        assert (busy["data"]["table_id"], busy["data"]["status"], busy["data"]["is_occupied"]) == (
            table["id"],
            "busy",
            True,
        )
        ok(client.patch(f"/api/cafe/orders/{order['id']}/", json={"status": "cancelled"}, headers=cafe.manager.auth))
        free = next_of(restaurant_ws, "table_status")
        assert (free["data"]["table_id"], free["data"]["status"]) == (table["id"], "free")
        table_ws.send_json({"action": "occupy", "guests_count": 2})  # a session holds it busy too
        assert next_of(restaurant_ws, "table_status")["data"]["status"] == "busy"
        table_ws.send_json({"action": "release"})
        assert next_of(restaurant_ws, "table_status")["data"]["status"] == "free"
        # Branch B's restaurant heard nothing of branch A's table; its first message is its own table's.
        create_order(client, cafe, table="b1", by="waiter_b")
        assert next_of(other_branch_ws, "table_status")["data"]["table_id"] == cafe.tables["b1"]["id"]


def until(ws, last) -> list[dict]:
    """Messages up to and including the first for which `last` is true."""
    seen = [ws.receive_json()]
    while not last(seen[-1]):
        seen.append(ws.receive_json())
    return seen


def new_status(ws, order_id: str) -> str:
    message = until(ws, lambda m: m["type"] == "order-status-updated" and m["data"]["orderId"] == order_id)[-1]
    return message["data"]["newStatus"]


def ready_everything(client, cafe) -> None:
    for task in ok(client.get("/api/cafe/kitchen/tasks/?status=pending", headers=cafe.cook.auth)):
        ok(client.post(f"/api/cafe/kitchen/tasks/{task['id']}/ready/", headers=cafe.cook.auth))


def test_new_portions_send_a_ready_order_back_to_preparing_in_every_dialect(client):
    cafe = make_company(client)
    customer = add_person(client, cafe.owner, "guest", "client", cafe.branch_a)
    order = guest_order(client, cafe, customer)
    ready_everything(client, cafe)
    first_ready = ok(client.get(f"/api/cafe/orders/{order['id']}/", headers=cafe.owner.auth))
    assert first_ready["status"] == "ready" and first_ready["ready_at"]
    with (
        client.websocket_connect(f"/?token={customer.token}") as rooms_ws,
        client.websocket_connect(f"/ws/cafe/orders/?token={cafe.waiter.token}") as feed_ws,
        client.websocket_connect(f"/ws/orders/{order['id']}/?token={cafe.waiter.token}") as order_ws,
    ):
        rooms_ws.receive_json(), feed_ws.receive_json(), order_ws.receive_json()
        line = {"order": order["id"], "menu_item": cafe.menu["coffee"]["id"], "quantity": 1}
        added = ok(client.post("/api/cafe/order-items/", json=line, headers=cafe.waiter.auth), 201)
        # A later write each socket hears marks the end of what the addition sent it: a missing event fails, not hangs.
        ok(client.patch(f"/api/cafe/orders/{order['id']}/", json={"guests": 7}, headers=cafe.waiter.auth))
        sentinel = guest_order(client, cafe, customer)
        heard = until(rooms_ws, lambda m: m["type"] == "order-created" and m["data"]["id"] == sentinel["id"])
        moves = [m["data"] for m in heard if m["type"] == "order-status-updated"]
        assert [(move["oldStatus"], move["newStatus"]) for move in moves] == [("ready", "preparing")]
        feed = until(feed_ws, lambda m: m["type"] == "order_created" and m["data"]["order"]["id"] == sentinel["id"])
        assert [m["data"]["order"]["status"] for m in feed if m["type"] == "order_updated"][0] == "preparing"
        entity = until(order_ws, lambda m: m["type"] == "order_update" and m["data"]["guests"] == 7)
        statuses = [(m["data"]["status"], m["data"]["ready_at"]) for m in entity if m["type"] == "order_status"]
        assert statuses == [("preparing", None)]
        ready_everything(client, cafe)
        assert new_status(rooms_ws, order["id"]) == "ready"
        again = ok(client.get(f"/api/cafe/orders/{order['id']}/", headers=cafe.owner.auth))
        assert again["status"] == "ready" and again["ready_at"] > first_ready["ready_at"]
        # More portions of an item do the same; a change that adds none leaves it ready.
        ok(client.patch(f"/api/cafe/order-items/{added['id']}/", json={"quantity": 2}, headers=cafe.waiter.auth))
        assert new_status(rooms_ws, order["id"]) == "preparing"
        ready_everything(client, cafe)
        assert new_status(rooms_ws, order["id"]) == "ready"
    ok(client.patch(f"/api/cafe/order-items/{added['id']}/", json={"quantity": 2}, headers=cafe.waiter.auth))
    assert ok(client.get(f"/api/cafe/orders/{order['id']}/", headers=cafe.owner.auth))["status"] == "ready"
