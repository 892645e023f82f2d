"""Voids and comps: cancelling what the kitchen started and closing with money due are managers' decisions,
recorded with who, when and why, shown in the order and its events, and listed in a report."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.factory import Company, create_order, feed_url, make_company, ok
from tests.test_entity_sockets import next_of

COMP_RULE = "Closing an order with 1000.00 still due is a comp: only owners, admins and managers may do it."
VOID_RULE = (
    "Cancelling an order the kitchen has started (portions in progress or ready) is a void: "
    "only owners, admins and managers may do it."
)


def order_path(order: dict) -> str:
    return f"/api/cafe/orders/{order['id']}/"


def patch(client: TestClient, cafe: Company, order: dict, who: str, **body: str):
    return client.patch(order_path(order), json=body, headers=cafe.people[who].auth)


def portions(client: TestClient, cafe: Company, order: dict) -> list[str]:
    tasks = ok(client.get("/api/cafe/kitchen/tasks/", headers=cafe.cook.auth))
    return sorted(task["status"] for task in tasks if task["order"] == order["id"])


def start_cooking(client: TestClient, cafe: Company, order: dict) -> None:
    """The cook claims one portion of the order: it leaves `pending`."""
    tasks = ok(client.get("/api/cafe/kitchen/tasks/", headers=cafe.cook.auth))
    task = next(task for task in tasks if task["order"] == order["id"])
    ok(client.post(f"/api/cafe/kitchen/tasks/{task['id']}/claim/", headers=cafe.cook.auth))


def test_a_comp_is_refused_to_waiters_and_cashiers_and_the_order_stays_open(client: TestClient):
    cafe = make_company(client)
    order = create_order(client, cafe)
    for who in ("waiter", "cashier"):
        refused = patch(client, cafe, order, who, status="closed", reason="x")
        assert (refused.status_code, refused.json()) == (403, {"detail": COMP_RULE})
    after = ok(client.get(order_path(order), headers=cafe.owner.auth))
    assert (after["status"], after["void"], after["closed_at"]) == ("open", None, None)
    table = ok(client.get(f"/api/cafe/tables/{cafe.tables['a1']['id']}/", headers=cafe.waiter.auth))
    assert table["status"] == "busy"


def test_a_manager_comps_with_a_reason_recorded_in_the_order_and_its_events(client: TestClient):
    cafe = make_company(client)
    order = create_order(client, cafe)
    missing = client.patch(order_path(order), json={"status": "closed"}, headers=cafe.manager.auth)
    assert missing.status_code == 400 and set(missing.json()["detail"]) == {"reason"}
    assert ok(client.get(order_path(order), headers=cafe.owner.auth))["status"] == "open"
    with (
        client.websocket_connect(feed_url("orders", cafe.manager)) as feed,
        client.websocket_connect(f"/ws/orders/{order['id']}/?token={cafe.manager.token}") as entity,
    ):
        feed.receive_json()
        entity.receive_json()
        comped = ok(patch(client, cafe, order, "manager", status="closed", reason="  Birthday  "))
        void = comped["void"]
        assert (comped["status"], comped["paid_amount"]) == ("closed", "0.00")
        assert (void["kind"], void["by"], void["reason"]) == ("comp", cafe.manager.id, "Birthday")
        assert void["amount"] == "1000.00"
        assert void["at"] is not None
        updated = feed.receive_json()
        assert (updated["type"], updated["data"]["order"]["void"]) == ("order_updated", void)
        assert next_of(entity, "order_status")["data"]["void"] == void
        assert next_of(entity, "order_update")["data"]["void"] == void
    assert ok(client.get(order_path(order), headers=cafe.cashier.auth))["void"] == void


def test_closing_a_paid_order_is_no_comp(client: TestClient):
    """The positive control of the rule: nothing due, anyone who writes orders may close it, no reason needed."""
    cafe = make_company(client)
    order = create_order(client, cafe)
    ok(client.post(f"{order_path(order)}pay/", json={"amount": "1000.00", "close": False}, headers=cafe.cashier.auth))
    closed = ok(client.patch(order_path(order), json={"status": "closed"}, headers=cafe.waiter.auth))
    assert (closed["status"], closed["void"]) == ("closed", None)


def test_paying_part_then_comping_the_rest_writes_off_only_the_rest(client: TestClient):
    cafe = make_company(client)
    order = create_order(client, cafe)
    ok(client.post(f"{order_path(order)}pay/", json={"amount": "600.00", "close": False}, headers=cafe.cashier.auth))
    refused = client.patch(order_path(order), json={"status": "closed", "reason": "x"}, headers=cafe.cashier.auth)
    assert refused.status_code == 403 and "400.00 still due is a comp" in refused.json()["detail"]
    comped = ok(patch(client, cafe, order, "owner", status="closed", reason="Cold soup"))
    assert (comped["void"]["kind"], comped["void"]["amount"], comped["void"]["by"]) == ("comp", "400.00", cafe.owner.id)


def test_a_void_is_refused_to_a_cashier_and_the_kitchen_keeps_cooking(client: TestClient):
    cafe = make_company(client)
    order = create_order(client, cafe)
    start_cooking(client, cafe, order)
    refused = client.patch(order_path(order), json={"status": "cancelled", "reason": "x"}, headers=cafe.cashier.auth)
    assert (refused.status_code, refused.json()) == (403, {"detail": VOID_RULE})
    assert ok(client.get(order_path(order), headers=cafe.owner.auth))["status"] == "open"
    assert portions(client, cafe, order) == ["in_progress", "pending"]
    missing = client.patch(order_path(order), json={"status": "cancelled"}, headers=cafe.manager.auth)
    assert missing.status_code == 400 and set(missing.json()["detail"]) == {"reason"}
    voided = ok(
        client.patch(order_path(order), json={"status": "cancelled", "reason": "Guest left"}, headers=cafe.manager.auth)
    )
    assert voided["status"] == "cancelled"
    void = voided["void"]
    assert (void["kind"], void["reason"], void["amount"]) == ("void", "Guest left", "1000.00")
    assert portions(client, cafe, order) == ["cancelled", "cancelled"]


def test_cancelling_before_the_kitchen_starts_is_no_void(client: TestClient):
    cafe = make_company(client)
    order = create_order(client, cafe)
    cancelled = ok(client.patch(order_path(order), json={"status": "cancelled"}, headers=cafe.waiter.auth))
    assert (cancelled["status"], cancelled["void"]) == ("cancelled", None)


def test_a_started_order_cannot_be_deleted_without_a_trace(client: TestClient):
    cafe = make_company(client)
    order = create_order(client, cafe)
    start_cooking(client, cafe, order)
    refused = client.delete(order_path(order), headers=cafe.manager.auth)
    assert refused.status_code == 409 and "void" in refused.json()["detail"]
    assert ok(client.get(order_path(order), headers=cafe.owner.auth))["status"] == "open"


def test_the_order_socket_applies_the_same_rule(client: TestClient):
    cafe = make_company(client)
    order = create_order(client, cafe)
    start_cooking(client, cafe, order)
    with client.websocket_connect(f"/ws/orders/{order['id']}/?token={cafe.manager.token}") as ws:
        ws.receive_json()
        ws.send_json({"action": "update_status", "status": "cancelled"})
        assert "reason" in ws.receive_json()["error"]
        assert ok(client.get(order_path(order), headers=cafe.owner.auth))["status"] == "open"
        ws.send_json({"action": "update_status", "status": "cancelled", "reason": "Burnt"})
        status = next_of(ws, "order_status")["data"]
        assert (status["status"], status["void"]["kind"], status["void"]["reason"]) == ("cancelled", "void", "Burnt")
    with client.websocket_connect(f"/ws/orders/{order['id']}/?token={cafe.waiter.token}") as ws:
        ws.receive_json()
        ws.send_json({"action": "update_status", "status": "closed", "reason": "x"})
        assert "owners, admins and managers" in ws.receive_json()["error"]


def test_the_report_lists_voids_and_comps_for_managers_only(client: TestClient):
    cafe = make_company(client)
    comped, voided, plain = create_order(client, cafe), create_order(client, cafe), create_order(client, cafe)
    other_branch = create_order(client, cafe, table="b1", by="waiter_b")
    ok(client.patch(order_path(comped), json={"status": "closed", "reason": "Regular"}, headers=cafe.manager.auth))
    start_cooking(client, cafe, voided)
    ok(client.patch(order_path(voided), json={"status": "cancelled", "reason": "Spilled"}, headers=cafe.manager.auth))
    ok(patch(client, cafe, other_branch, "owner", status="closed", reason="Owner's friend"))
    ok(client.patch(order_path(plain), json={"status": "cancelled"}, headers=cafe.waiter.auth))

    def report(who: str, value: str = "true") -> list[dict]:
        return ok(client.get(f"/api/cafe/orders/?voided={value}", headers=cafe.people[who].auth))

    assert {order["id"] for order in report("owner")} == {comped["id"], voided["id"], other_branch["id"]}
    assert {order["id"] for order in report("manager")} == {comped["id"], voided["id"]}  # its own branch
    assert [order["id"] for order in report("admin", "void")] == [voided["id"]]
    assert {order["void"]["reason"] for order in report("admin", "comp")} == {"Regular", "Owner's friend"}
    page = ok(client.get("/api/cafe/orders/?voided=true&page=1", headers=cafe.owner.auth))
    assert page["count"] == 3
    for who in ("waiter", "cashier", "cook"):
        refused = client.get("/api/cafe/orders/?voided=true", headers=cafe.people[who].auth)
        assert (refused.status_code, refused.json()) == (
            403,
            {"detail": "The void and comp report is for owners, admins and managers."},
        )
    assert client.get("/api/cafe/orders/?voided=yes", headers=cafe.owner.auth).status_code == 400
