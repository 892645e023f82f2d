"""The REST API's rules: validation, lifecycle conflicts, lists, kitchen and payments."""

from __future__ import annotations

from tests.factory import create_order, make_company, ok

COUNT_ORDERS = "SELECT COUNT(*) AS n FROM orders"


def test_bad_order_bodies_get_400_with_field_errors_and_change_nothing(client):
    cafe = make_company(client)
    pizza = cafe.menu["pizza"]["id"]
    cases = [
        (
            {"table": "12", "guests": "two", "items": [{"menu_item": pizza, "quantity": -1}], "tip": 5},
            {"table", "guests", "items[0].quantity", "tip"},
        ),
        ({"items": [{"menu_item": "x' OR 1=1 --", "quantity": 1}, "pizza"]}, {"items[0].menu_item", "items[1]"}),
        ({"items": {"menu_item": pizza}}, {"items"}),
        ({"guests": 10**30, "items": [{"menu_item": pizza, "quantity": True}]}, {"guests", "items[0].quantity"}),
    ]
    for body, fields in cases:
        response = client.post("/api/cafe/orders/", json=body, headers=cafe.waiter.auth)
        assert response.status_code == 400, response.text
        assert set(response.json()["detail"]) == fields
    assert client.post("/api/cafe/orders/", json=[1], headers=cafe.waiter.auth).status_code == 400
    assert client.post("/api/cafe/orders/", content=b"\xff", headers=cafe.waiter.auth).status_code == 400
    assert client.post("/api/cafe/orders/", content=b'{"guests": NaN}', headers=cafe.waiter.auth).status_code == 400
    services = client.app_state["services"]
    assert client.portal.call(services.database.fetch_one, COUNT_ORDERS)["n"] == 0
    assert ok(client.get(f"/api/cafe/tables/{cafe.tables['a1']['id']}/", headers=cafe.waiter.auth))["status"] == "free"


def test_an_order_makes_one_kitchen_task_per_portion(client):
    cafe = make_company(client)
    order = create_order(client, cafe, items=[("pizza", 2), ("coffee", 1)])
    assert order["total_amount"] == "1150.00"
    assert [(item["menu_item_title"], item["quantity"], item["price"]) for item in order["items"]] == [
        ("Пицца", 2, "500.00"),
        ("Coffee", 1, "150.00"),
    ]
    tasks = ok(client.get("/api/cafe/kitchen/tasks/", headers=cafe.cook.auth))
    assert sorted((task["menu_item_title"], task["unit_index"]) for task in tasks) == [
        ("Coffee", 1),
        ("Пицца", 1),
        ("Пицца", 2),
    ]
    for task in tasks:
        assert {"id", "status", "order", "menu_item", "table_number", "unit_index"} <= set(task)
        assert (task["status"], task["order"], task["table_number"]) == ("pending", order["id"], 1)


def test_kitchen_task_transitions_and_conflicts(client):
    cafe = make_company(client)
    create_order(client, cafe, items=[("pizza", 1)])
    task = ok(client.get("/api/cafe/kitchen/tasks/", headers=cafe.cook.auth))[0]
    url = f"/api/cafe/kitchen/tasks/{task['id']}/"
    assert client.post(url + "claim/", headers=cafe.waiter.auth).status_code == 403
    ok(client.post(url + "claim/", headers=cafe.cook.auth))
    assert ok(client.post(url + "claim/", headers=cafe.cook.auth))["status"] == "in_progress"
    assert client.post(url + "claim/", headers=cafe.manager.auth).status_code == 409
    assert client.patch(url, json={"status": "burnt"}, headers=cafe.cook.auth).status_code == 400
    assert ok(client.post(url + "ready/", headers=cafe.cook.auth))["status"] == "ready"
    assert client.post(url + "ready/", headers=cafe.cook.auth).status_code == 409
    assert client.patch(url, json={"status": "cancelled"}, headers=cafe.cook.auth).status_code == 409
    assert ok(client.get("/api/cafe/kitchen/tasks/?status=ready", headers=cafe.waiter.auth))[0]["id"] == task["id"]
    assert client.get("/api/cafe/kitchen/tasks/?status=soon", headers=cafe.cook.auth).status_code == 400
    assert client.get("/api/cafe/kitchen/tasks/not-a-uuid/", headers=cafe.cook.auth).status_code == 404
    notes = ok(client.get("/api/cafe/notifications/", headers=cafe.waiter.auth))
    assert [note["type"] for note in notes] == ["task_notification", "order_notification"]
    assert notes[0]["data"]["task_id"] == task["id"]
    acked = ok(client.post(f"/api/cafe/notifications/{notes[0]['id']}/acknowledge/", headers=cafe.waiter.auth))
    assert acked["acknowledged_at"] is not None
    unread = ok(client.get("/api/cafe/notifications/?unread=1", headers=cafe.waiter.auth))
    assert [note["id"] for note in unread] == [notes[1]["id"]]
    assert (
        client.post(f"/api/cafe/notifications/{notes[0]['id']}/acknowledge/", headers=cafe.cook.auth).status_code == 404
    )


def test_order_lifecycle_and_final_statuses(client):
    cafe = make_company(client)
    order = create_order(client, cafe)
    url = f"/api/cafe/orders/{order['id']}/"
    assert ok(client.patch(url, json={"status": "confirmed"}, headers=cafe.waiter.auth))["status"] == "confirmed"
    assert client.patch(url, json={"status": "eaten"}, headers=cafe.waiter.auth).status_code == 400
    assert ok(client.patch(url, json={"status": "cancelled"}, headers=cafe.waiter.auth))["closed_at"] is not None
    assert client.patch(url, json={"status": "open"}, headers=cafe.waiter.auth).status_code == 409
    assert client.post(url + "pay/", json={"amount": "1.00"}, headers=cafe.cashier.auth).status_code == 409
    tasks = ok(client.get("/api/cafe/kitchen/tasks/", headers=cafe.cook.auth))
    assert {task["status"] for task in tasks} == {"cancelled"}
    assert client.delete(url, headers=cafe.waiter.auth).status_code == 403


def test_payments_partial_then_closing(client):
    cafe = make_company(client)
    order = create_order(client, cafe)
    url = f"/api/cafe/orders/{order['id']}/pay/"
    short = client.post(url, json={"amount": "300.00"}, headers=cafe.cashier.auth)
    assert short.status_code == 409 and "amount" in short.json()["detail"]
    part = ok(client.post(url, json={"amount": "300.00", "close": False, "method": "card"}, headers=cafe.cashier.auth))
    assert (part["status"], part["paid_amount"]) == ("open", "300.00")
    assert client.post(url, json={"amount": "1.001"}, headers=cafe.cashier.auth).status_code == 400
    assert client.post(url, json={"method": "barter", "amount": "700.00"}, headers=cafe.cashier.auth).status_code == 400
    rest = ok(client.post(url, json={"amount": "700.00"}, headers=cafe.cashier.auth))
    assert (rest["status"], rest["paid_amount"]) == ("closed", "1000.00")
    assert client.delete(f"/api/cafe/orders/{order['id']}/", headers=cafe.manager.auth).status_code == 409


def test_order_lists_filter_and_paginate(client):
    cafe = make_company(client)
    first = create_order(client, cafe, table="a1")
    second = create_order(client, cafe, table="a2")
    comp = {"status": "closed", "reason": "On the house"}
    ok(client.patch(f"/api/cafe/orders/{first['id']}/", json=comp, headers=cafe.manager.auth))
    listed = ok(client.get("/api/cafe/orders/", headers=cafe.waiter.auth))
    assert [order["id"] for order in listed] == [second["id"], first["id"]]
    assert [o["id"] for o in ok(client.get("/api/cafe/orders/?status=closed", headers=cafe.waiter.auth))] == [
        first["id"]
    ]
    by_table = ok(client.get(f"/api/cafe/orders/?table={cafe.tables['a2']['id']}", headers=cafe.waiter.auth))
    assert [order["id"] for order in by_table] == [second["id"]]
    page = ok(client.get("/api/cafe/orders/?page=1", headers=cafe.waiter.auth))
    assert (page["count"], page["next"], page["previous"], len(page["results"])) == (2, None, None, 2)
    assert client.get("/api/cafe/orders/?page=2", headers=cafe.waiter.auth).status_code == 404
    assert client.get("/api/cafe/orders/?page=zero", headers=cafe.waiter.auth).status_code == 400
    assert client.get("/api/cafe/orders/?table=1", headers=cafe.waiter.auth).status_code == 400
    assert client.get("/api/cafe/orders/?status=x", headers=cafe.waiter.auth).status_code == 400


def test_clients_menu_and_zones(client):
    cafe = make_company(client)
    guest = ok(
        client.post("/api/cafe/clients/", json={"name": "Анна", "phone": "+7999"}, headers=cafe.waiter.auth), 201
    )
    order = create_order(client, cafe, client=guest["id"])
    assert [o["id"] for o in ok(client.get(f"/api/cafe/clients/{guest['id']}/orders/", headers=cafe.waiter.auth))] == [
        order["id"]
    ]
    assert [c["id"] for c in ok(client.get("/api/cafe/clients/?search=анн", headers=cafe.waiter.auth))] == [guest["id"]]
    assert (
        client.post(
            "/api/cafe/menu-items/", json={"title": "Tea", "price": "-1"}, headers=cafe.manager.auth
        ).status_code
        == 400
    )
    assert (
        client.post("/api/cafe/menu-items/", json={"title": "Tea", "price": "1"}, headers=cafe.waiter.auth).status_code
        == 403
    )
    retired = ok(
        client.patch(
            f"/api/cafe/menu-items/{cafe.menu['coffee']['id']}/", json={"is_active": False}, headers=cafe.owner.auth
        )
    )
    assert retired["is_active"] is False
    refused = client.post(
        "/api/cafe/orders/",
        headers=cafe.waiter.auth,
        json={"table": cafe.tables["a1"]["id"], "items": [{"menu_item": retired["id"], "quantity": 1}]},
    )
    assert refused.status_code == 400 and "items[0].menu_item" in refused.json()["detail"]
    zone = ok(client.post("/api/cafe/zones/", json={"title": "Terrace"}, headers=cafe.manager.auth), 201)
    assert zone["branch"] == cafe.branch_a
    table = ok(
        client.post(
            "/api/cafe/tables/", json={"number": 3, "places": 2, "zone": zone["id"]}, headers=cafe.manager.auth
        ),
        201,
    )
    assert (table["zone"], table["status"]) == (zone["id"], "free")
    assert (
        client.post("/api/cafe/tables/", json={"number": 3, "places": 2}, headers=cafe.manager.auth).status_code == 409
    )
    assert (
        client.post(
            "/api/cafe/tables/", json={"number": 4, "places": 2, "status": "busy"}, headers=cafe.manager.auth
        ).status_code
        == 400
    )
    owner_zone = client.post("/api/cafe/zones/", json={"title": "Roof"}, headers=cafe.owner.auth)
    assert owner_zone.status_code == 400 and "branch" in owner_zone.json()["detail"]


def test_unknown_paths_and_methods_answer_json(client):
    assert client.get("/api/cafe/nothing/").json() == {"detail": "Not Found"}
    response = client.put("/api/cafe/orders/")
    assert response.status_code == 405 and "detail" in response.json()
    assert client.get("/healthz").json() == {"database": "ok", "broker": "ok"}


def test_a_wrong_method_is_405_allowing_every_method_of_the_path(client):
    """One route per path, its methods served by one HTTPEndpoint: the 405's Allow names them all (a route per
    method would name only the first route's)."""
    for path, allowed in [
        ("/api/cafe/orders/", {"GET", "HEAD", "POST"}),
        ("/api/cafe/order-items/00000000-0000-4000-8000-000000000000/", {"PATCH", "DELETE"}),
        ("/api/cafe/orders/00000000-0000-4000-8000-000000000000/", {"GET", "HEAD", "PATCH", "DELETE"}),
    ]:
        response = client.put(path)
        assert response.status_code == 405 and "detail" in response.json()
        assert set(response.headers["allow"].split(", ")) == allowed, path
