"""What the foodminiapp mini-app and admin panel expect on the rooms socket beyond seed 004's text."""

from __future__ import annotations

from tests.factory import add_person, create_order, make_company, ok, pay_in_full
from tests.test_rooms import add_customer, rooms_url, sentinel, until_own


def join(ws, room_id: str) -> dict:
    ws.send_json({"type": "join-room", "data": {"roomId": room_id}})
    return ws.receive_json()


def test_branch_rooms_admit_the_branch_its_city_and_the_company_only(client):
    cafe, other = make_company(client), make_company(client, "Other")
    customer = add_customer(client, cafe)
    manager_b = add_person(client, cafe.owner, "mb", "manager", cafe.branch_b)  # city 2
    room_a, room_b = f"branch-{cafe.branch_a}-orders", f"branch-{cafe.branch_b}-orders"
    admitted = [
        (cafe.owner, room_a),
        (cafe.admin, room_b),
        (cafe.manager, room_a),
        (cafe.waiter, room_a),
        (cafe.cook, room_a),
        (cafe.waiter_b, room_b),
        (manager_b, room_b),
    ]
    for person, room_id in admitted:
        with client.websocket_connect(rooms_url(person)) as ws:
            ws.receive_json()
            assert join(ws, room_id) == {"type": "room-joined", "data": {"roomId": room_id}}, person.role
    # (who, the room it may not join, the company and table of an order it then must not hear of)
    refused = [
        (cafe.waiter, room_b, cafe, "b1"),
        (cafe.manager, room_b, cafe, "b1"),
        (manager_b, room_a, cafe, "a1"),
        (customer, room_a, cafe, "a1"),
        (other.owner, room_a, cafe, "a1"),
        (cafe.owner, f"branch-{other.branch_a}-orders", other, "a1"),
        (cafe.owner, "branch-00000000-0000-4000-8000-000000000000-orders", other, "a1"),
        (cafe.owner, "branch-x-orders", other, "a1"),
    ]
    for person, room_id, company, table in refused:
        with client.websocket_connect(rooms_url(person)) as ws:
            ws.receive_json()
            refusal = join(ws, room_id)
            assert refusal["type"] == "error" and room_id in refusal["data"]["message"], (person.role, room_id)
            order = create_order(client, company, table=table, by="owner", type="pickup")
            own_company = other if person == other.owner else cafe
            heard = until_own(ws, sentinel(client, own_company, person))
            assert order["id"] not in [m["data"].get("id") for m in heard], (person.role, room_id)
            comp = {"status": "closed", "reason": "On the house"}
            ok(client.patch(f"/api/cafe/orders/{order['id']}/", json=comp, headers=company.owner.auth))


def test_a_branch_room_carries_its_branchs_new_orders_and_status_changes(client):
    cafe = make_company(client)
    with client.websocket_connect(rooms_url(cafe.waiter)) as ws:
        ws.receive_json()
        join(ws, f"branch-{cafe.branch_a}-orders")
        create_order(client, cafe, table="b1", by="waiter_b", type="pickup")  # branch B: not for this room
        create_order(client, cafe, table="a2", by="cashier")  # dine-in: the shop's order rooms do not carry it
        order = create_order(client, cafe, table="a1", by="cashier", type="pickup")
        new = ws.receive_json()
        assert (new["type"], new["data"]["id"]) == ("new-order", order["id"])
        ok(client.patch(f"/api/cafe/orders/{order['id']}/", json={"status": "confirmed"}, headers=cafe.manager.auth))
        status = ws.receive_json()
        assert status["type"] == "order-status-updated"
        assert (status["data"]["orderId"], status["data"]["newStatus"]) == (order["id"], "confirmed")


def test_new_order_carries_type_branch_and_created_at_and_status_updates_branch_id(client):
    cafe = make_company(client)
    customer = add_customer(client, cafe)
    pizza = cafe.menu["pizza"]["id"]
    with client.websocket_connect(rooms_url(cafe.owner)) as ws:
        ws.receive_json()
        at_table = create_order(client, cafe, table="a1")
        takeaway = ok(client.post("/api/cafe/orders/", json={"branch": cafe.branch_b}, headers=cafe.owner.auth), 201)
        body = {"branch": cafe.branch_a, "items": [{"menu_item": pizza, "quantity": 1}]}
        pickup = ok(client.post("/api/cafe/orders/", json=body, headers=customer.auth), 201)
        delivery = ok(client.post("/api/cafe/orders/", json={**body, "type": "delivery"}, headers=customer.auth), 201)
        assert at_table["type"] == "dine_in"  # stored, and kept off the shop's order rooms
        expected = [
            (takeaway, "pickup", cafe.branch_b, "B"),
            (pickup, "pickup", cafe.branch_a, "A"),
            (delivery, "delivery", cafe.branch_a, "A"),
        ]
        for order, kind, branch_id, name in expected:
            new = ws.receive_json()
            if new["type"] == "order-created":  # the owner's own takeaway order, to its user room
                new = ws.receive_json()
            assert (new["type"], new["data"]["id"]) == ("new-order", order["id"])
            data = new["data"]
            assert (data["type"], data["branchId"]) == (kind, branch_id)
            assert data["branch"] == {"id": branch_id, "name": name}
            assert data["created_at"] == order["created_at"]
        ok(client.patch(f"/api/cafe/orders/{pickup['id']}/", json={"status": "confirmed"}, headers=cafe.owner.auth))
        status = ws.receive_json()
        assert (status["type"], status["data"]["branchId"]) == ("order-status-updated", cafe.branch_a)
    refused = client.post("/api/cafe/orders/", json={**body, "type": "dine_in"}, headers=customer.auth)
    assert refused.status_code == 400 and set(refused.json()["detail"]) == {"type"}


def test_a_finished_order_is_completed_on_the_rooms_socket_and_closed_elsewhere(client):
    cafe = make_company(client)
    order = create_order(client, cafe, table="a1", type="pickup")
    with (
        client.websocket_connect(rooms_url(cafe.owner)) as rooms_ws,
        client.websocket_connect(f"/ws/cafe/orders/?token={cafe.waiter.token}") as feed_ws,
        client.websocket_connect(f"/ws/orders/{order['id']}/?token={cafe.waiter.token}") as order_ws,
    ):
        rooms_ws.receive_json(), feed_ws.receive_json(), order_ws.receive_json()
        pay_in_full(client, order["id"], cafe.cashier)
        status = rooms_ws.receive_json()
        assert status["type"] == "order-status-updated"
        assert (status["data"]["newStatus"], status["data"]["oldStatus"]) == ("completed", "open")
        updated = feed_ws.receive_json()
        assert (updated["type"], updated["data"]["order"]["status"]) == ("order_updated", "closed")
        entity = order_ws.receive_json()
        assert (entity["type"], entity["data"]["status"], entity["data"]["status_display"]) == (
            "order_status",
            "closed",
            "Closed",
        )
    assert ok(client.get(f"/api/cafe/orders/{order['id']}/", headers=cafe.owner.auth))["status"] == "closed"


def test_menu_updated_reaches_every_rooms_socket_of_the_company(client):
    cafe, other = make_company(client), make_company(client, "Other")
    customer = add_customer(client, cafe)
    with (
        client.websocket_connect(rooms_url(customer, "/socket")) as customer_ws,
        client.websocket_connect(rooms_url(cafe.waiter)) as waiter_ws,
        client.websocket_connect(rooms_url(other.owner)) as outsider_ws,
    ):
        for ws in (customer_ws, waiter_ws, outsider_ws):
            ws.receive_json()
        tea = {"title": "Tea", "price": "90"}
        created = ok(client.post("/api/cafe/menu-items/", json=tea, headers=cafe.owner.auth), 201)
        local = {"title": "Borscht", "price": "300", "branch": cafe.branch_b}
        branch_item = ok(client.post("/api/cafe/menu-items/", json=local, headers=cafe.owner.auth), 201)
        ok(client.patch(f"/api/cafe/menu-items/{created['id']}/", json={"price": "95"}, headers=cafe.owner.auth))
        ok(client.patch(f"/api/cafe/menu-items/{created['id']}/", json={"is_active": False}, headers=cafe.owner.auth))
        expected = [
            {"branchId": None, "menuItemId": created["id"]},
            {"branchId": cafe.branch_b, "menuItemId": branch_item["id"]},
            {"branchId": None, "menuItemId": created["id"]},
            {"branchId": None, "menuItemId": created["id"]},
        ]
        for ws in (customer_ws, waiter_ws):
            for data in expected:
                message = ws.receive_json()
                assert (message["type"], message["data"]) == ("menu-updated", data)
        # A refused change announces nothing; the other company hears nothing at all.
        bad = client.patch(f"/api/cafe/menu-items/{created['id']}/", json={"price": "x"}, headers=cafe.owner.auth)
        assert bad.status_code == 400
        heard = until_own(outsider_ws, sentinel(client, other, other.owner))
        assert [message["type"] for message in heard] == ["new-order"]  # its own sentinel, in admin-orders
        assert until_own(customer_ws, sentinel(client, cafe, customer)) == []
