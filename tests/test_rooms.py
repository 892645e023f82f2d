"""The rooms socket of seed 004: automatic rooms, server-side join rules, customer orders, bonuses."""

from __future__ import annotations

import asyncio

import pytest
from starlette.websockets import WebSocketDisconnect

from core.auth import Actor
from domain import customer_orders
from tests.factory import add_person, create_order, make_company, ok, pay_in_full


def rooms_url(person, path: str = "/") -> str:
    return f"{path}?token={person.token}"


def add_customer(client, cafe, name: str = "guest"):
    return add_person(client, cafe.owner, name, "client", None)


def customer_order(client, cafe, customer, bonuses_used: str | None = None, branch: str | None = None) -> dict:
    body = {"branch": branch or cafe.branch_a, "items": [{"menu_item": cafe.menu["pizza"]["id"], "quantity": 2}]}
    if bonuses_used is not None:
        body["bonuses_used"] = bonuses_used
    return ok(client.post("/api/cafe/orders/", json=body, headers=customer.auth), 201)


def sentinel(client, cafe, person) -> str:
    """A write only this person's own room hears of: events before it on the socket come first."""
    if person.role == "client":
        return customer_order(client, cafe, person)["id"]
    table = "b1" if person.branch == cafe.branch_b else "a2"
    # A takeaway the staff member rings up at a table: the shop's order rooms carry pickup orders.
    data = {"table": cafe.tables[table]["id"], "items": [], "type": "pickup"}
    return ok(client.post("/api/cafe/orders/", json=data, headers=person.auth), 201)["id"]


def until_own(ws, order_id: str) -> list[dict]:
    """Messages up to the order-created of the person's own sentinel order."""
    seen: list[dict] = []
    while True:
        message = ws.receive_json()
        if message["type"] == "order-created" and message["data"]["id"] == order_id:
            return seen
        seen.append(message)


def test_connected_ping_and_automatic_rooms(client):
    cafe = make_company(client)
    for path in ("/", "/ws/", "/socket"):
        with client.websocket_connect(rooms_url(cafe.admin, path)) as ws:
            assert ws.receive_json() == {"type": "connected", "data": {"userId": cafe.admin.id, "role": "admin"}}
            ws.send_json({"type": "ping"})
            assert ws.receive_json() == {"type": "pong"}
            ws.send_text("nonsense")
            assert ws.receive_json()["type"] == "error"
            ws.send_json({"type": "join-room"})
            assert ws.receive_json() == {"type": "error", "data": {"message": "data.roomId is required."}}
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/?token=garbage") as ws:
            ws.receive_json()
    assert closed.value.code == 4003


def test_older_builds_send_payload_instead_of_data(client):
    cafe = make_company(client)
    with client.websocket_connect(rooms_url(cafe.owner, "/socket")) as ws:
        ws.receive_json()
        ws.send_json({"type": "join-room", "payload": {"roomId": "city-2-orders"}})
        assert ws.receive_json() == {"type": "room-joined", "data": {"roomId": "city-2-orders"}}
        ws.send_json({"type": "leave-room", "payload": {"roomId": "city-2-orders"}})
        assert ws.receive_json() == {"type": "room-left", "data": {"roomId": "city-2-orders"}}
        ws.send_json({"type": "join-room", "payload": {"roomId": "city-99-orders"}})
        assert ws.receive_json()["type"] == "error"
        ws.send_json({"type": "join-room", "payload": "admin-orders"})
        assert ws.receive_json() == {"type": "error", "data": {"message": "data.roomId is required."}}


def test_each_event_reaches_exactly_the_rooms_the_seed_names(client):
    cafe = make_company(client)
    customer, stranger = add_customer(client, cafe, "buyer"), add_customer(client, cafe, "stranger")
    # The manager of branch A covers city 1; one of branch B's city 2 must hear nothing of city 1.
    other_manager = add_person(client, cafe.owner, "m2", "manager", cafe.branch_b)
    with (
        client.websocket_connect(rooms_url(cafe.owner)) as admin_ws,
        client.websocket_connect(rooms_url(cafe.manager)) as city_ws,
        client.websocket_connect(rooms_url(other_manager)) as other_city_ws,
        client.websocket_connect(rooms_url(customer)) as customer_ws,
        client.websocket_connect(rooms_url(stranger)) as stranger_ws,
    ):
        for ws in (admin_ws, city_ws, other_city_ws, customer_ws, stranger_ws):
            ws.receive_json()
        order = customer_order(client, cafe, customer)
        new = admin_ws.receive_json()
        assert new["type"] == "new-order"
        assert {key: new["data"][key] for key in ("id", "order_number", "user_id", "city_id", "status", "total")} == {
            "id": order["id"],
            "order_number": "1",
            "user_id": customer.id,
            "city_id": 1,
            "status": "pending",
            "total": 1000,
        }
        assert city_ws.receive_json() == new
        created = customer_ws.receive_json()
        assert (created["type"], created["data"]["id"]) == ("order-created", order["id"])
        ok(client.patch(f"/api/cafe/orders/{order['id']}/", json={"status": "confirmed"}, headers=cafe.manager.auth))
        for ws in (admin_ws, city_ws, customer_ws):
            updated = ws.receive_json()
            assert updated["type"] == "order-status-updated"
            assert {key: updated["data"][key] for key in ("orderId", "newStatus", "oldStatus")} == {
                "orderId": order["id"],
                "newStatus": "confirmed",
                "oldStatus": "pending",
            }
            assert updated["data"]["timestamp"].endswith("Z")
        # The others heard nothing before a write of their own.
        assert until_own(stranger_ws, sentinel(client, cafe, stranger)) == []
        own = sentinel(client, cafe, other_manager)
        assert [m["data"]["id"] for m in until_own(other_city_ws, own)] == [own]  # its own city's new-order


def test_join_room_is_authorized_on_the_server(client):
    cafe = make_company(client)
    customer = add_customer(client, cafe)
    refused = [
        (customer, ["admin-orders", "admin-broadcasts", "city-1-orders", f"user-{cafe.waiter.id}", "lobby"]),
        (cafe.manager, ["admin-orders", "admin-broadcasts", "city-2-orders", f"user-{customer.id}"]),
        (cafe.waiter, ["admin-orders", "admin-broadcasts", "city-1-orders"]),
        (cafe.owner, ["city-99-orders", f"user-{cafe.waiter.id}"]),
    ]
    for person, room_ids in refused:
        with client.websocket_connect(rooms_url(person)) as ws:
            ws.receive_json()
            for room_id in room_ids:
                ws.send_json({"type": "join-room", "data": {"roomId": room_id}})
                refusal = ws.receive_json()
                assert refusal["type"] == "error" and room_id in refusal["data"]["message"], (person.role, room_id)
            # A pickup reaches admin-orders, city-1 and the cashier.
            order = create_order(client, cafe, by="cashier", type="pickup")
            own = sentinel(client, cafe, person)
            heard = [m["data"]["id"] for m in until_own(ws, own) if m["type"] == "new-order"]
            if person.role in ("manager", "owner"):  # in city-1 or admin-orders from the start
                assert heard == [order["id"], own]
            else:
                assert heard == [], person.role
    with client.websocket_connect(rooms_url(cafe.owner)) as ws:
        ws.receive_json()
        ws.send_json({"type": "join-room", "data": {"roomId": "city-2-orders"}})
        assert ws.receive_json() == {"type": "room-joined", "data": {"roomId": "city-2-orders"}}
    for person in (cafe.owner, cafe.admin):  # the admin panel's broadcast pages join it (M7)
        with client.websocket_connect(rooms_url(person)) as ws:
            ws.receive_json()
            ws.send_json({"type": "join-room", "data": {"roomId": "admin-broadcasts"}})
            assert ws.receive_json() == {"type": "room-joined", "data": {"roomId": "admin-broadcasts"}}


def test_leave_room_stops_delivery(client):
    cafe = make_company(client)
    with client.websocket_connect(rooms_url(cafe.owner)) as ws:
        ws.receive_json()
        ws.send_json({"type": "leave-room", "data": {"roomId": "admin-orders"}})
        assert ws.receive_json() == {"type": "room-left", "data": {"roomId": "admin-orders"}}
        ws.send_json({"type": "leave-room", "data": {"roomId": "admin-orders"}})
        assert ws.receive_json()["type"] == "error"
        create_order(client, cafe, type="pickup")
        assert until_own(ws, sentinel(client, cafe, cafe.owner)) == []
        ws.send_json({"type": "join-room", "data": {"roomId": "admin-orders"}})
        assert ws.receive_json()["type"] == "room-joined"
        again = create_order(client, cafe, type="pickup")
        new = ws.receive_json()
        assert (new["type"], new["data"]["id"]) == ("new-order", again["id"])


def test_bonuses_are_earned_spent_and_never_overdrawn(client):
    cafe = make_company(client)
    customer = add_customer(client, cafe)
    with client.websocket_connect(rooms_url(customer)) as ws:
        ws.receive_json()
        assert (
            client.post(
                "/api/cafe/orders/",
                json={
                    "branch": cafe.branch_a,
                    "items": [{"menu_item": cafe.menu["coffee"]["id"], "quantity": 1}],
                    "bonuses_used": "1.00",
                },
                headers=customer.auth,
            ).status_code
            == 409
        )
        order = customer_order(client, cafe, customer)
        assert ws.receive_json()["type"] == "order-created"
        pay_in_full(client, order["id"], cafe.cashier)
        assert ws.receive_json()["type"] == "order-status-updated"
        earned = ws.receive_json()
        assert earned["type"] == "bonus-updated"
        assert earned["data"]["balance"] == 50 and earned["data"]["operation"] == {
            "type": "earned",
            "amount": 50,
            "orderId": order["id"],
        }
        mine = ok(client.get("/api/bonuses/me/", headers=customer.auth))
        assert mine["balance"] == "50.00" and [op["type"] for op in mine["operations"]] == ["earned"]
        too_much = client.post(
            "/api/cafe/orders/",
            headers=customer.auth,
            json={
                "branch": cafe.branch_a,
                "items": [{"menu_item": cafe.menu["pizza"]["id"], "quantity": 1}],
                "bonuses_used": "60.00",
            },
        )
        assert too_much.status_code == 409
        over_total = client.post(
            "/api/cafe/orders/",
            headers=customer.auth,
            json={
                "branch": cafe.branch_a,
                "items": [{"menu_item": cafe.menu["coffee"]["id"], "quantity": 1}],
                "bonuses_used": "150.01",
            },
        )
        assert over_total.status_code == 400
        spent = customer_order(client, cafe, customer, bonuses_used="20.50")
        assert (spent["bonuses_used"], spent["total_amount"]) == ("20.50", "1000.00")
        assert ws.receive_json()["type"] == "order-created"
        used = ws.receive_json()
        assert used["data"]["balance"] == 29.5 and used["data"]["operation"]["type"] == "used"
        paid = pay_in_full(client, spent["id"], cafe.cashier)
        assert (paid["paid_amount"], paid["bonuses_earned"]) == ("979.50", "48.97")
    assert ok(client.get("/api/bonuses/me/", headers=customer.auth))["balance"] == "78.47"
    assert [o["id"] for o in ok(client.get("/api/cafe/orders/", headers=customer.auth))] == [spent["id"], order["id"]]
    other = add_customer(client, cafe, "other")
    assert client.get(f"/api/cafe/orders/{order['id']}/", headers=other.auth).status_code == 404
    assert client.post("/api/cafe/orders/", json={"items": []}, headers=customer.auth).status_code == 400


def test_two_concurrent_spends_cannot_overdraw(client):
    cafe = make_company(client)
    customer = add_customer(client, cafe)
    first = customer_order(client, cafe, customer)
    pay_in_full(client, first["id"], cafe.cashier)
    assert ok(client.get("/api/bonuses/me/", headers=customer.auth))["balance"] == "50.00"
    services = client.app_state["services"]
    actor = Actor(customer.id, "client", cafe.id, None)
    body = {
        "branch": cafe.branch_a,
        "items": [{"menu_item": cafe.menu["pizza"]["id"], "quantity": 1}],
        "bonuses_used": "30.00",
    }

    async def both():
        return await asyncio.gather(
            customer_orders.create_order(services, actor, body),
            customer_orders.create_order(services, actor, body),
            return_exceptions=True,
        )

    results = client.portal.call(both)
    assert sorted(type(result).__name__ for result in results) == ["Conflict", "dict"]
    assert ok(client.get("/api/bonuses/me/", headers=customer.auth))["balance"] == "20.00"
    assert len(ok(client.get("/api/cafe/orders/", headers=customer.auth))) == 2
