"""Two companies on one service: neither sees the other's events, and the other's ids are 404."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.factory import create_order, feed_url, make_company, ok, pay_in_full


def test_a_socket_receives_nothing_from_another_company(client):
    ours, theirs = make_company(client, "Ours"), make_company(client, "Theirs")
    with (
        client.websocket_connect(feed_url("orders", ours.owner)) as owner_ws,
        client.websocket_connect(feed_url("tables", ours.waiter)) as tables_ws,
        client.websocket_connect(feed_url("kitchen", ours.cook)) as kitchen_ws,
    ):
        for ws in (owner_ws, tables_ws, kitchen_ws):
            ws.receive_json()
        foreign = create_order(client, theirs)
        ok(client.post("/api/cafe/tables/", json={"number": 7, "places": 2}, headers=theirs.manager.auth), 201)
        pay_in_full(client, foreign["id"], theirs.cashier)
        own = create_order(client, ours, items=[("coffee", 1)])
        first = owner_ws.receive_json()
        assert first["type"] == "order_created" and first["data"]["order"]["id"] == own["id"]
        assert first["data"]["company_id"] == ours.id
        assert tables_ws.receive_json()["data"]["table_id"] == ours.tables["a1"]["id"]
        assert kitchen_ws.receive_json()["data"]["order_id"] == own["id"]


def test_another_companys_ids_are_not_found(client):
    ours, theirs = make_company(client, "Ours"), make_company(client, "Theirs")
    order = create_order(client, theirs)
    task = ok(client.get("/api/cafe/kitchen/tasks/", headers=theirs.cook.auth))[0]
    client_row = ok(
        client.post("/api/cafe/clients/", json={"name": "X", "phone": "1"}, headers=theirs.waiter.auth), 201
    )
    owner, manager, cook = ours.owner.auth, ours.manager.auth, ours.cook.auth
    table_id = theirs.tables["a1"]["id"]
    not_found = [
        client.get(f"/api/cafe/tables/{table_id}/", headers=owner),
        client.patch(f"/api/cafe/tables/{table_id}/", json={"places": 9}, headers=owner),
        client.get(f"/api/cafe/orders/{order['id']}/", headers=owner),
        client.patch(f"/api/cafe/orders/{order['id']}/", json={"status": "closed"}, headers=owner),
        client.post(f"/api/cafe/orders/{order['id']}/pay/", json={"amount": "1.00"}, headers=owner),
        client.delete(f"/api/cafe/orders/{order['id']}/", headers=manager),
        client.post("/api/cafe/orders/", json={"table": table_id, "items": []}, headers=owner),
        client.post(
            "/api/cafe/orders/",
            headers=owner,
            json={
                "table": ours.tables["a1"]["id"],
                "items": [{"menu_item": theirs.menu["pizza"]["id"], "quantity": 1}],
            },
        ),
        client.post(
            "/api/cafe/orders/", json={"table": ours.tables["a1"]["id"], "client": client_row["id"]}, headers=owner
        ),
        client.post(
            "/api/cafe/orders/", json={"table": ours.tables["a1"]["id"], "waiter": theirs.waiter.id}, headers=owner
        ),
        client.post(f"/api/cafe/kitchen/tasks/{task['id']}/claim/", headers=cook),
        client.post(f"/api/cafe/kitchen/tasks/{task['id']}/ready/", headers=cook),
        client.patch(f"/api/cafe/kitchen/tasks/{task['id']}/", json={"status": "ready"}, headers=cook),
        client.get(f"/api/cafe/clients/{client_row['id']}/orders/", headers=owner),
        client.get(f"/api/cafe/tables/?branch_id={theirs.branch_a}", headers=owner),
        client.post("/api/cafe/tables/", json={"number": 5, "places": 2, "branch": theirs.branch_a}, headers=owner),
        client.post(
            "/api/users/",
            headers=owner,
            json={"email": "spy@test.cafe", "password": "password-123", "role": "waiter", "branch": theirs.branch_a},
        ),
    ]
    assert [response.status_code for response in not_found] == [404] * len(not_found)
    assert ok(client.get(f"/api/cafe/orders/{order['id']}/", headers=theirs.owner.auth))["status"] == "open"
    assert ok(client.get(f"/api/cafe/tables/{table_id}/", headers=theirs.owner.auth))["places"] == 4
    assert [task["status"] for task in ok(client.get("/api/cafe/kitchen/tasks/", headers=theirs.cook.auth))] == [
        "pending",
        "pending",
    ]
    assert ok(client.get("/api/cafe/orders/", headers=ours.owner.auth)) == []
    assert ok(client.get("/api/cafe/kitchen/tasks/", headers=ours.cook.auth)) == []


def test_owner_cannot_open_another_companys_branch_feed(client):
    ours, theirs = make_company(client, "Ours"), make_company(client, "Theirs")
    for branch in (theirs.branch_a, "not-a-uuid"):
        with pytest.raises(WebSocketDisconnect) as closed:
            with client.websocket_connect(feed_url("orders", ours.owner, branch_id=branch)) as ws:
                ws.receive_json()
        assert closed.value.code == 4404


def test_branch_staff_see_only_their_branch(client):
    cafe = make_company(client)
    b_order = create_order(client, cafe, table="b1", by="waiter_b")
    assert client.get(f"/api/cafe/orders/{b_order['id']}/", headers=cafe.waiter.auth).status_code == 404
    assert (
        client.post("/api/cafe/orders/", json={"table": cafe.tables["b1"]["id"]}, headers=cafe.waiter.auth).status_code
        == 404
    )
    assert (
        client.post(
            "/api/cafe/zones/", json={"title": "Z", "branch": cafe.branch_b}, headers=cafe.manager.auth
        ).status_code
        == 403
    )
    assert [order["id"] for order in ok(client.get("/api/cafe/orders/", headers=cafe.waiter.auth))] == []
    assert [order["id"] for order in ok(client.get("/api/cafe/orders/", headers=cafe.owner.auth))] == [b_order["id"]]
    tables = ok(client.get("/api/cafe/tables/", headers=cafe.waiter.auth))
    assert {table["id"] for table in tables} == {cafe.tables["a1"]["id"], cafe.tables["a2"]["id"]}
