"""Who sees whom: a manager its branch's people, waiters and cooks client names without phones, customers no floor."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.factory import Company, add_person, make_company, ok

NO_FLOOR = "Only staff can see the floor (tables and zones)."


def customer_order(client: TestClient, cafe: Company, who: str, branch: str) -> dict:
    body = {"branch": branch, "items": [{"menu_item": cafe.menu["coffee"]["id"], "quantity": 1}]}
    return ok(client.post("/api/cafe/orders/", json=body, headers=cafe.people[who].auth), 201)


def user_ids(client: TestClient, cafe: Company, who: str) -> set[str]:
    return {user["id"] for user in ok(client.get("/api/users/", headers=cafe.people[who].auth))}


def test_a_manager_sees_its_branch_staff_and_the_customers_of_its_branch_orders(client: TestClient):
    cafe = make_company(client)
    for name in ("regular", "elsewhere", "newcomer"):
        cafe.people[name] = add_person(client, cafe.owner, name, "client", None)
    customer_order(client, cafe, "regular", cafe.branch_a)
    customer_order(client, cafe, "elsewhere", cafe.branch_b)
    everyone = {person.id for person in cafe.people.values()}
    assert user_ids(client, cafe, "owner") == everyone
    assert user_ids(client, cafe, "admin") == everyone
    branch_a = {cafe.people[name].id for name in ("manager", "waiter", "cook", "cashier", "regular")}
    assert user_ids(client, cafe, "manager") == branch_a
    for who in ("waiter", "cook", "cashier", "regular"):
        assert client.get("/api/users/", headers=cafe.people[who].auth).status_code == 403


def test_waiters_and_cooks_see_client_names_but_not_phones(client: TestClient):
    cafe = make_company(client)
    anna = {"name": "Anna", "phone": "+79990001122"}
    anna = ok(client.post("/api/cafe/clients/", json=anna, headers=cafe.manager.auth), 201)
    assert anna["phone"] == "+79990001122"
    boris = {"name": "Boris", "phone": "+78880003344"}
    by_waiter = ok(client.post("/api/cafe/clients/", json=boris, headers=cafe.waiter.auth), 201)
    assert by_waiter["phone"] is None  # stored, but not shown back to a waiter either
    for who in ("waiter", "cook"):
        listed = ok(client.get("/api/cafe/clients/", headers=cafe.people[who].auth))
        assert [(c["name"], c["phone"]) for c in listed] == [("Anna", None), ("Boris", None)]
        # No phone search either: it would tell a phone number digit by digit.
        assert ok(client.get("/api/cafe/clients/?search=7999", headers=cafe.people[who].auth)) == []
        assert [c["id"] for c in ok(client.get("/api/cafe/clients/?search=ann", headers=cafe.people[who].auth))] == [
            anna["id"]
        ]
    for who in ("owner", "admin", "manager", "cashier"):
        listed = ok(client.get("/api/cafe/clients/", headers=cafe.people[who].auth))
        assert [(c["name"], c["phone"]) for c in listed] == [("Anna", "+79990001122"), ("Boris", "+78880003344")]
        assert [c["id"] for c in ok(client.get("/api/cafe/clients/?search=7999", headers=cafe.people[who].auth))] == [
            anna["id"]
        ]
    cafe.people["guest"] = add_person(client, cafe.owner, "guest", "client", None)
    assert client.get("/api/cafe/clients/", headers=cafe.guest.auth).status_code == 403


def test_customers_see_no_floor_and_still_order_and_follow_their_own(client: TestClient):
    cafe = make_company(client)
    terrace = {"title": "Terrace", "branch": cafe.branch_a}
    ok(client.post("/api/cafe/zones/", json=terrace, headers=cafe.owner.auth), 201)
    guest = cafe.people["guest"] = add_person(client, cafe.owner, "guest", "client", None)
    table = cafe.tables["a1"]["id"]
    for path in ("/api/cafe/tables/", "/api/cafe/zones/", f"/api/cafe/tables/{table}/"):
        refused = client.get(path, headers=guest.auth)
        assert (refused.status_code, refused.json()) == (403, {"detail": NO_FLOOR})
        assert client.get(path, headers=cafe.waiter.auth).status_code == 200
    assert len(ok(client.get("/api/cafe/tables/", headers=cafe.owner.auth))) == 3
    # What a customer legitimately needs stays open: the menu, its own order, its own order's socket.
    assert len(ok(client.get("/api/cafe/menu-items/", headers=guest.auth))) == 2
    order = customer_order(client, cafe, "guest", cafe.branch_a)
    assert [o["id"] for o in ok(client.get("/api/cafe/orders/", headers=guest.auth))] == [order["id"]]
    with client.websocket_connect(f"/ws/orders/{order['id']}/?token={guest.token}") as ws:
        assert ws.receive_json()["data"]["id"] == order["id"]
