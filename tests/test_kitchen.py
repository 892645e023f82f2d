"""Kitchen stations, due times, bump (served) and recall, and the station's own kitchen feed."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime

from starlette.testclient import TestClient

from cafe_rt import create_app
from tests.factory import add_person, close_code, create_order, feed_url, make_company, ok

CLOSE_NOT_FOUND = 4404


def _bar_item(client, cafe, **extra) -> dict:
    body = {"title": "Espresso", "price": "120.00", "station": "bar", "prep_minutes": 3, **extra}
    item = ok(client.post("/api/cafe/menu-items/", json=body, headers=cafe.owner.auth), 201)
    cafe.menu["espresso"] = item
    return item


def _tasks(client, person, **query) -> list[dict]:
    return ok(client.get("/api/cafe/kitchen/tasks/", params=query, headers=person.auth))


def test_menu_items_have_a_station_and_a_preparation_time(client):
    cafe = make_company(client)
    assert (cafe.menu["pizza"]["station"], cafe.menu["pizza"]["prep_minutes"]) == ("kitchen", None)
    item = _bar_item(client, cafe)
    assert (item["station"], item["prep_minutes"]) == ("bar", 3)
    changed = ok(
        client.patch(
            f"/api/cafe/menu-items/{item['id']}/",
            json={"station": "cold", "prep_minutes": None},
            headers=cafe.owner.auth,
        )
    )
    assert (changed["station"], changed["prep_minutes"]) == ("cold", None)
    kept = ok(client.patch(f"/api/cafe/menu-items/{item['id']}/", json={"title": "Ristretto"}, headers=cafe.owner.auth))
    assert (kept["station"], kept["prep_minutes"]) == ("cold", None)
    listed = {row["id"]: row for row in ok(client.get("/api/cafe/menu-items/", headers=cafe.waiter.auth))}
    assert listed[item["id"]]["station"] == "cold"


def test_bad_stations_and_times_are_refused_and_change_nothing(client):
    cafe = make_company(client)
    bad_stations: tuple[object, ...] = ("Bar", "bar bar", "", "-bar", "x" * 33, "bar;drop", 7, None)
    for bad in bad_stations:
        response = client.post(
            "/api/cafe/menu-items/", json={"title": "Tea", "price": "1.00", "station": bad}, headers=cafe.owner.auth
        )
        assert response.status_code == 400 and "station" in response.json()["detail"], (bad, response.text)
    bad_times: tuple[object, ...] = (0, -1, 24 * 60 + 1, "5", 2.5, True)
    for bad in bad_times:
        response = client.post(
            "/api/cafe/menu-items/",
            json={"title": "Tea", "price": "1.00", "prep_minutes": bad},
            headers=cafe.owner.auth,
        )
        assert response.status_code == 400 and "prep_minutes" in response.json()["detail"], (bad, response.text)
    pizza = cafe.menu["pizza"]["id"]
    response = client.patch(f"/api/cafe/menu-items/{pizza}/", json={"station": "BAR!"}, headers=cafe.owner.auth)
    assert response.status_code == 400
    titles = [item["title"] for item in ok(client.get("/api/cafe/menu-items/", headers=cafe.owner.auth))]
    assert "Tea" not in titles
    for bad in ("Bar", "a b", "x" * 40, "ba/r"):
        response = client.get("/api/cafe/kitchen/tasks/", params={"station": bad}, headers=cafe.cook.auth)
        assert response.status_code == 400 and "station" in response.json()["detail"]


def test_tasks_carry_their_station_and_due_time_and_filter_by_station(client):
    cafe = make_company(client)
    _bar_item(client, cafe)
    order = create_order(client, cafe, items=[("pizza", 1), ("espresso", 2)])
    tasks = _tasks(client, cafe.cook)
    assert sorted(task["station"] for task in tasks) == ["bar", "bar", "kitchen"]
    for task in tasks:
        if task["station"] == "kitchen":
            assert task["due_at"] is None
        else:
            waited = datetime.fromisoformat(task["due_at"]) - datetime.fromisoformat(task["created_at"])
            assert abs(waited.total_seconds() - 180) < 2
        assert task["late_at"] is None and task["served_at"] is None
    bar = _tasks(client, cafe.cook, station="bar")
    assert len(bar) == 2 and {task["order"] for task in bar} == {order["id"]}
    assert [task["station"] for task in _tasks(client, cafe.cook, station="kitchen")] == ["kitchen"]
    assert _tasks(client, cafe.cook, station="cold") == []
    # Portions added later are due from when they were added, at their item's station.
    item = ok(
        client.post(
            "/api/cafe/order-items/",
            json={"order": order["id"], "menu_item": cafe.menu["espresso"]["id"], "quantity": 1},
            headers=cafe.waiter.auth,
        ),
        201,
    )
    assert item["menu_item"] == cafe.menu["espresso"]["id"]
    assert len(_tasks(client, cafe.cook, station="bar")) == 3


def test_station_feed_joins_its_group_and_gets_only_its_portions(client):
    cafe = make_company(client)
    _bar_item(client, cafe)
    bar_url = feed_url("kitchen", cafe.cook, station="bar")
    with client.websocket_connect(bar_url) as bar, client.websocket_connect(feed_url("kitchen", cafe.cook)) as every:
        assert bar.receive_json() == {
            "type": "connection_established",
            "company_id": cafe.id,
            "branch_id": cafe.branch_a,
            "group": f"cafe_kitchen_{cafe.id}_{cafe.branch_a}_bar",
        }
        assert every.receive_json()["group"] == f"cafe_kitchen_{cafe.id}_{cafe.branch_a}"
        create_order(client, cafe, items=[("pizza", 1), ("espresso", 1)])
        seen = [every.receive_json(), every.receive_json()]
        assert sorted(frame["data"]["task"]["station"] for frame in seen) == ["bar", "kitchen"]
        (espresso,) = [frame for frame in seen if frame["data"]["task"]["station"] == "bar"]
        (pizza,) = [frame for frame in seen if frame["data"]["task"]["station"] == "kitchen"]
        assert bar.receive_json() == espresso
        ok(client.post(f"/api/cafe/kitchen/tasks/{pizza['data']['task_id']}/claim/", headers=cafe.cook.auth))
        ok(client.post(f"/api/cafe/kitchen/tasks/{espresso['data']['task_id']}/claim/", headers=cafe.cook.auth))
        assert every.receive_json()["data"]["task"]["station"] == "kitchen"
        claimed = bar.receive_json()
        assert (claimed["type"], claimed["data"]["task_id"]) == ("kitchen_task_updated", espresso["data"]["task_id"])
        assert every.receive_json() == claimed
        bar.send_json({"action": "ping"})
        assert bar.receive_json() == {"type": "pong"}, "a kitchen portion reached the bar's feed"


def test_bad_station_on_the_socket_is_refused(client):
    cafe = make_company(client)
    for bad in ("Bar", "a%20b", "x" * 40, "bar%3Bx"):
        assert close_code(client, feed_url("kitchen", cafe.cook, station=bad)) == CLOSE_NOT_FOUND
    # An owner's company-wide feed has no station; one names the branch with it.
    assert close_code(client, feed_url("kitchen", cafe.owner, station="bar")) == CLOSE_NOT_FOUND
    with client.websocket_connect(feed_url("kitchen", cafe.owner, station="bar", branch_id=cafe.branch_a)) as ws:
        assert ws.receive_json()["group"] == f"cafe_kitchen_{cafe.id}_{cafe.branch_a}_bar"
    # The other feeds have no stations: the parameter changes nothing there.
    with client.websocket_connect(feed_url("orders", cafe.waiter, station="bar")) as ws:
        assert ws.receive_json()["group"] == f"cafe_orders_{cafe.id}_{cafe.branch_a}"


def test_served_portions_leave_the_queue_and_recall_brings_them_back(client):
    cafe = make_company(client)
    order = create_order(client, cafe, items=[("pizza", 2)])
    first, second = _tasks(client, cafe.cook)
    with client.websocket_connect(feed_url("kitchen", cafe.cook)) as kitchen:
        kitchen.receive_json()
        response = client.post(f"/api/cafe/kitchen/tasks/{first['id']}/served/", headers=cafe.cook.auth)
        assert response.status_code == 409, "a pending portion cannot be served"
        response = client.post(f"/api/cafe/kitchen/tasks/{first['id']}/recall/", headers=cafe.cook.auth)
        assert response.status_code == 409, "a pending portion cannot be recalled"
        ok(client.post(f"/api/cafe/kitchen/tasks/{first['id']}/ready/", headers=cafe.cook.auth))
        assert kitchen.receive_json()["type"] == "kitchen_task_ready"
        served = ok(client.post(f"/api/cafe/kitchen/tasks/{first['id']}/served/", headers=cafe.waiter.auth))
        assert served["status"] == "served" and served["served_at"]
        event = kitchen.receive_json()
        assert (event["type"], event["data"]["task"]) == ("kitchen_task_updated", served)
        # Bumping twice is the same bump.
        assert ok(client.post(f"/api/cafe/kitchen/tasks/{first['id']}/served/", headers=cafe.cook.auth)) == served
        assert [task["id"] for task in _tasks(client, cafe.cook)] == [second["id"]]
        assert [task["id"] for task in _tasks(client, cafe.cook, status="served")] == [first["id"]]
        recalled = ok(client.post(f"/api/cafe/kitchen/tasks/{first['id']}/recall/", headers=cafe.cook.auth))
        assert (recalled["status"], recalled["served_at"], recalled["ready_at"]) == ("in_progress", None, None)
        event = kitchen.receive_json()
        assert (event["type"], event["data"]["task"]) == ("kitchen_task_updated", recalled)
        assert {task["id"] for task in _tasks(client, cafe.cook)} == {first["id"], second["id"]}
    assert ok(client.get(f"/api/cafe/orders/{order['id']}/", headers=cafe.waiter.auth))["status"] == "open"
    # A waiter may bump what it carried out, but not cook or recall.
    assert client.post(f"/api/cafe/kitchen/tasks/{first['id']}/recall/", headers=cafe.waiter.auth).status_code == 403


def test_patch_moves_a_portion_to_served_and_back(client):
    cafe = make_company(client)
    create_order(client, cafe, items=[("pizza", 1)])
    (task,) = _tasks(client, cafe.cook)
    url = f"/api/cafe/kitchen/tasks/{task['id']}/"
    assert client.patch(url, json={"status": "served"}, headers=cafe.cook.auth).status_code == 409
    ok(client.patch(url, json={"status": "ready"}, headers=cafe.cook.auth))
    assert ok(client.patch(url, json={"status": "served"}, headers=cafe.cook.auth))["status"] == "served"
    assert ok(client.patch(url, json={"status": "in_progress"}, headers=cafe.cook.auth))["status"] == "in_progress"
    assert client.patch(url, json={"status": "late"}, headers=cafe.cook.auth).status_code == 400


def test_an_order_turns_ready_with_its_portions_and_a_recall_sends_it_back(client):
    """The order follows its portions: ready when all are ready or served, preparing again on a recall, with the
    usual events on the cafe feeds and the entity sockets."""
    cafe = make_company(client)
    order = create_order(client, cafe, items=[("pizza", 2)])
    first, second = _tasks(client, cafe.cook)
    ok(client.post(f"/api/cafe/kitchen/tasks/{first['id']}/ready/", headers=cafe.cook.auth))
    ok(client.post(f"/api/cafe/kitchen/tasks/{first['id']}/served/", headers=cafe.cook.auth))
    order_url = f"/api/cafe/orders/{order['id']}/"
    assert ok(client.get(order_url, headers=cafe.waiter.auth))["status"] == "open"
    ok(client.post(f"/api/cafe/kitchen/tasks/{second['id']}/ready/", headers=cafe.cook.auth))
    assert ok(client.get(order_url, headers=cafe.waiter.auth))["status"] == "ready"
    entity = f"/ws/orders/{order['id']}/?token={cafe.waiter.token}"
    with client.websocket_connect(feed_url("orders", cafe.waiter)) as orders, client.websocket_connect(entity) as one:
        orders.receive_json()
        assert one.receive_json()["data"]["status"] == "ready"
        ok(client.post(f"/api/cafe/kitchen/tasks/{first['id']}/recall/", headers=cafe.cook.auth))
        updated = orders.receive_json()
        assert (updated["type"], updated["data"]["order"]["status"]) == ("order_updated", "preparing")
        assert updated["data"]["order"]["ready_at"] is None
        status = one.receive_json()
        assert (status["type"], status["data"]["status"]) == ("order_status", "preparing")
        ok(client.post(f"/api/cafe/kitchen/tasks/{first['id']}/ready/", headers=cafe.cook.auth))
        frames = [orders.receive_json() for _ in range(2)]
        assert [frame["type"] for frame in frames] == ["kitchen_task_ready", "order_updated"]
        assert frames[1]["data"]["order"]["status"] == "ready"
    due = client.get(order_url, headers=cafe.waiter.auth).json()["total_amount"]
    ok(client.post(f"{order_url}pay/", json={"method": "cash", "amount": due}, headers=cafe.waiter.auth))
    response = client.post(f"/api/cafe/kitchen/tasks/{first['id']}/recall/", headers=cafe.cook.auth)
    assert response.status_code == 409, "a closed order's portion stays where it is"


def test_a_cooking_or_served_portion_keeps_its_line(client):
    cafe = make_company(client)
    order = create_order(client, cafe, items=[("pizza", 1)])
    (task,) = _tasks(client, cafe.cook)
    ok(client.post(f"/api/cafe/kitchen/tasks/{task['id']}/ready/", headers=cafe.cook.auth))
    ok(client.post(f"/api/cafe/kitchen/tasks/{task['id']}/served/", headers=cafe.cook.auth))
    line = order["items"][0]["id"]
    assert client.delete(f"/api/cafe/order-items/{line}/", headers=cafe.waiter.auth).status_code == 409


def test_screens_are_listed_per_branch_and_company(settings):
    """What GET /api/cafe/screens/ shows is the caller's: its branch (owners: the one they name), never another
    company's; customers none."""
    quick = replace(settings, screen_interval=0.1)
    with TestClient(create_app(quick)) as client:
        cafe = make_company(client)
        other = make_company(client, "Other")
        customer = add_person(client, cafe.owner, "guest", "client", None)
        with client.websocket_connect(feed_url("kitchen", cafe.cook, station="bar")) as bar:
            bar.receive_json()
            deadline = time.monotonic() + 10
            while not (listed := ok(client.get("/api/cafe/screens/", headers=cafe.waiter.auth))):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            (entry,) = listed
            assert entry | {"since": None} == {
                "feed": "kitchen",
                "station": "bar",
                "branch_id": cafe.branch_a,
                "users": [{"id": cafe.cook.id, "email": cafe.cook.email, "role": "cook"}],
                "sockets": 1,
                "since": None,
            }
            assert ok(client.get("/api/cafe/screens/", headers=cafe.waiter_b.auth)) == []
            assert ok(client.get("/api/cafe/screens/", params={"branch": cafe.branch_a}, headers=cafe.owner.auth)) == [
                entry
            ]
            assert ok(client.get("/api/cafe/screens/", headers=cafe.owner.auth)) == [entry]
            assert ok(client.get("/api/cafe/screens/", headers=other.owner.auth)) == []
            foreign = client.get("/api/cafe/screens/", params={"branch": cafe.branch_a}, headers=other.owner.auth)
            assert foreign.status_code == 404
            assert client.get("/api/cafe/screens/", headers=customer.auth).status_code == 403
