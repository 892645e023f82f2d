"""The cafe feeds of seeds 000-002 over a socket: every scenario of seed 001 and the group rules."""

from __future__ import annotations

from tests.factory import create_order, feed_url, make_company, ok, pay_in_full

# Closing an unpaid order is a comp: a manager's decision, with its reason.
ON_THE_HOUSE = {"status": "closed", "reason": "On the house"}


def test_connection_established_names_the_branch_group(client):
    cafe = make_company(client)
    for feed in ("orders", "tables", "kitchen"):
        with client.websocket_connect(feed_url(feed, cafe.waiter)) as ws:
            assert ws.receive_json() == {
                "type": "connection_established",
                "company_id": cafe.id,
                "branch_id": cafe.branch_a,
                "group": f"cafe_{feed}_{cafe.id}_{cafe.branch_a}",
            }


def test_ping_gets_pong_and_bad_messages_keep_the_socket(client):
    cafe = make_company(client)
    with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
        ws.receive_json()
        ws.send_json({"action": "ping"})
        assert ws.receive_json() == {"type": "pong"}
        ws.send_text("not json")
        assert "error" in ws.receive_json()
        ws.send_text("[1, 2]")
        assert "error" in ws.receive_json()
        ws.send_json({"action": "dance"})
        assert "error" in ws.receive_json()
        ws.send_json({"action": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_order_created_then_table_busy_on_orders_feed(client):
    cafe = make_company(client)
    with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
        ws.receive_json()
        order = create_order(client, cafe)
        created = ws.receive_json()
        assert created["type"] == "order_created"
        assert created["data"] == {"order": order, "company_id": cafe.id, "branch_id": cafe.branch_a}
        for field in (
            "id",
            "number",
            "table",
            "client",
            "waiter",
            "guests",
            "status",
            "total_amount",
            "items",
            "created_at",
        ):
            assert field in created["data"]["order"]
        assert order["status"] == "open" and order["total_amount"] == "1000.00"
        busy = ws.receive_json()
        assert busy["type"] == "table_status_changed"
        table = cafe.tables["a1"]
        assert busy["data"]["table"] == table | {"status": "busy", "status_display": "Занят"}
        assert {key: busy["data"][key] for key in ("table_id", "table_number", "status", "status_display")} == {
            "table_id": table["id"],
            "table_number": 1,
            "status": "busy",
            "status_display": "Занят",
        }
        assert (busy["data"]["company_id"], busy["data"]["branch_id"]) == (cafe.id, cafe.branch_a)
        assert busy["event_id"] > created["event_id"]


def test_closing_an_order_frees_the_table(client):
    cafe = make_company(client)
    order = create_order(client, cafe)
    with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
        ws.receive_json()
        closed = ok(client.patch(f"/api/cafe/orders/{order['id']}/", json=ON_THE_HOUSE, headers=cafe.manager.auth))
        updated = ws.receive_json()
        assert updated["type"] == "order_updated"
        assert updated["data"]["order"] == closed and closed["status"] == "closed"
        free = ws.receive_json()
        assert free["type"] == "table_status_changed"
        assert (free["data"]["status"], free["data"]["status_display"]) == ("free", "Свободен")
    table = ok(client.get(f"/api/cafe/tables/{cafe.tables['a1']['id']}/", headers=cafe.waiter.auth))
    assert table["status"] == "free"


def test_tables_feed_tracks_status_and_table_changes(client):
    cafe = make_company(client)
    with client.websocket_connect(feed_url("tables", cafe.waiter)) as ws:
        ws.receive_json()
        order = create_order(client, cafe)
        assert (ws.receive_json()["type"],) == ("table_status_changed",)
        ok(client.patch(f"/api/cafe/orders/{order['id']}/", json={"status": "cancelled"}, headers=cafe.waiter.auth))
        freed = ws.receive_json()
        assert (freed["type"], freed["data"]["status"]) == ("table_status_changed", "free")
        table = ok(client.post("/api/cafe/tables/", json={"number": 9, "places": 2}, headers=cafe.manager.auth), 201)
        created = ws.receive_json()
        assert created["type"] == "table_created"
        assert created["data"] == {"table": table, "company_id": cafe.id, "branch_id": cafe.branch_a}
        changed = ok(client.patch(f"/api/cafe/tables/{table['id']}/", json={"places": 6}, headers=cafe.manager.auth))
        updated = ws.receive_json()
        assert updated["type"] == "table_updated" and updated["data"]["table"] == changed
        assert changed["places"] == 6


def test_a_table_stays_busy_while_another_order_holds_it(client):
    cafe = make_company(client)
    first = create_order(client, cafe)
    second = create_order(client, cafe)
    with client.websocket_connect(feed_url("orders", cafe.manager)) as ws:
        ws.receive_json()
        ok(client.delete(f"/api/cafe/orders/{first['id']}/", headers=cafe.manager.auth), 204)
        assert ws.receive_json()["type"] == "order_deleted"
        ok(client.patch(f"/api/cafe/orders/{second['id']}/", json={"guests": 3}, headers=cafe.waiter.auth))
        assert ws.receive_json()["type"] == "order_updated"  # no table_status_changed before it
        assert (
            ok(client.get(f"/api/cafe/tables/{cafe.tables['a1']['id']}/", headers=cafe.waiter.auth))["status"] == "busy"
        )
        ok(client.delete(f"/api/cafe/orders/{second['id']}/", headers=cafe.manager.auth), 204)
        assert ws.receive_json()["type"] == "order_deleted"
        freed = ws.receive_json()
        assert (freed["type"], freed["data"]["status"]) == ("table_status_changed", "free")
    assert ok(client.get(f"/api/cafe/orders/{first['id']}/", headers=cafe.manager.auth), 404) == {
        "detail": "Order not found."
    }


def test_pay_and_close_frees_the_table(client):
    cafe = make_company(client)
    order = create_order(client, cafe)
    with client.websocket_connect(feed_url("orders", cafe.cashier)) as ws:
        ws.receive_json()
        paid = pay_in_full(client, order["id"], cafe.cashier)
        assert (paid["status"], paid["paid_amount"]) == ("closed", "1000.00")
        updated = ws.receive_json()
        assert updated["type"] == "order_updated" and updated["data"]["order"]["status"] == "closed"
        freed = ws.receive_json()
        assert (freed["type"], freed["data"]["status"]) == ("table_status_changed", "free")


def test_dish_ready_reaches_orders_and_kitchen_feeds(client):
    cafe = make_company(client)
    order = create_order(client, cafe, items=[("pizza", 2)])
    tasks = ok(client.get("/api/cafe/kitchen/tasks/?status=pending", headers=cafe.cook.auth))
    assert sorted(task["unit_index"] for task in tasks) == [1, 2]
    assert all(task["order"] == order["id"] and task["table_number"] == 1 for task in tasks)
    first, second = sorted(tasks, key=lambda task: task["unit_index"])
    with (
        client.websocket_connect(feed_url("orders", cafe.waiter)) as orders_ws,
        client.websocket_connect(feed_url("kitchen", cafe.cook)) as kitchen_ws,
    ):
        orders_ws.receive_json(), kitchen_ws.receive_json()
        ok(client.post(f"/api/cafe/kitchen/tasks/{first['id']}/ready/", headers=cafe.cook.auth))
        for ws in (orders_ws, kitchen_ws):
            ready = ws.receive_json()
            assert ready["type"] == "kitchen_task_ready"
            data = ready["data"]
            assert data["task"]["status"] == "ready" and data["task"]["id"] == first["id"]
            assert {key: data[key] for key in ("task_id", "order_id", "table", "menu_item", "unit_index")} == {
                "task_id": first["id"],
                "order_id": order["id"],
                "table": 1,
                "menu_item": "Пицца",
                "unit_index": 1,
            }
            assert (data["company_id"], data["branch_id"]) == (cafe.id, cafe.branch_a)
        patched = ok(
            client.patch(f"/api/cafe/kitchen/tasks/{second['id']}/", json={"status": "ready"}, headers=cafe.cook.auth)
        )
        assert patched["status"] == "ready"
        assert kitchen_ws.receive_json()["data"]["task_id"] == second["id"]
        ready = orders_ws.receive_json()
        assert (ready["type"], ready["data"]["unit_index"]) == ("kitchen_task_ready", 2)
        whole = orders_ws.receive_json()
        assert (whole["type"], whole["data"]["order"]["status"]) == ("order_updated", "ready")


def test_kitchen_feed_sees_new_and_claimed_tasks(client):
    cafe = make_company(client)
    with client.websocket_connect(feed_url("kitchen", cafe.cook)) as ws:
        ws.receive_json()
        create_order(client, cafe, items=[("coffee", 1)])
        created = ws.receive_json()
        assert created["type"] == "kitchen_task_created"
        task_id = created["data"]["task_id"]
        assert created["data"]["task"]["status"] == "pending"
        claimed = ok(client.post(f"/api/cafe/kitchen/tasks/{task_id}/claim/", headers=cafe.cook.auth))
        assert (claimed["status"], claimed["cook"]) == ("in_progress", cafe.cook.id)
        updated = ws.receive_json()
        assert (updated["type"], updated["data"]["task"]["status"]) == ("kitchen_task_updated", "in_progress")
    mine = ok(client.get("/api/cafe/kitchen/tasks/?mine=1", headers=cafe.cook.auth))
    assert [task["id"] for task in mine] == [task_id]


def test_owner_picks_a_branch_and_sees_every_branch_without_one(client):
    cafe = make_company(client)
    with (
        client.websocket_connect(feed_url("orders", cafe.owner, branch_id=cafe.branch_b)) as branch_ws,
        client.websocket_connect(feed_url("orders", cafe.owner)) as company_ws,
    ):
        assert branch_ws.receive_json()["group"] == f"cafe_orders_{cafe.id}_{cafe.branch_b}"
        hello = company_ws.receive_json()
        assert (hello["group"], hello["branch_id"]) == (f"cafe_orders_{cafe.id}", None)
        create_order(client, cafe, table="a1")
        b_order = create_order(client, cafe, table="b1", by="waiter_b")
        assert [company_ws.receive_json()["type"] for _ in range(4)] == [
            "order_created",
            "table_status_changed",
            "order_created",
            "table_status_changed",
        ]
        first = branch_ws.receive_json()
        assert first["type"] == "order_created" and first["data"]["order"]["id"] == b_order["id"]


def test_waiter_passing_another_branch_stays_in_its_own(client):
    cafe = make_company(client)
    with client.websocket_connect(feed_url("orders", cafe.waiter, branch_id=cafe.branch_b)) as ws:
        assert ws.receive_json()["group"] == f"cafe_orders_{cafe.id}_{cafe.branch_a}"
        create_order(client, cafe, table="b1", by="waiter_b")
        own = create_order(client, cafe, table="a1")
        first = ws.receive_json()
        assert first["type"] == "order_created" and first["data"]["order"]["id"] == own["id"]


def test_resume_replays_missed_events_then_goes_live(client):
    cafe = make_company(client)
    with client.websocket_connect(feed_url("orders", cafe.waiter)) as ws:
        ws.receive_json()
        create_order(client, cafe)
        seen = ws.receive_json()["event_id"]
    missed = create_order(client, cafe, table="a2")
    with client.websocket_connect(feed_url("orders", cafe.waiter, last_event_id=str(seen))) as ws:
        ws.receive_json()
        replayed = [ws.receive_json() for _ in range(3)]
        assert [event["type"] for event in replayed] == [
            "table_status_changed",
            "order_created",
            "table_status_changed",
        ]
        assert replayed[1]["data"]["order"]["id"] == missed["id"]
        positions = [event["event_id"] for event in replayed]
        assert positions == sorted(positions) and positions[0] > seen
        live = create_order(client, cafe, table="a1")
        event = ws.receive_json()
        assert event["data"]["order"]["id"] == live["id"] and event["event_id"] > positions[-1]
    with client.websocket_connect(feed_url("orders", cafe.waiter, last_event_id="999999")) as ws:
        ws.receive_json()
        assert ws.receive_json() == {"type": "resync_required"}
