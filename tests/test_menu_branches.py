"""Menu branch rules: a manager writes only its own branch's items; company-wide ones are for owners and admins."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.factory import make_company, ok

COMPANY_WIDE_ONLY = "Company-wide menu items (no branch) are created and changed by owners and admins only."


def test_a_manager_creates_items_of_its_own_branch_only(client: TestClient):
    cafe = make_company(client)
    own = ok(
        client.post(
            "/api/cafe/menu-items/",
            json={"title": "Tea", "price": "90.00", "branch": cafe.branch_a},
            headers=cafe.manager.auth,
        ),
        201,
    )
    assert own["branch"] == cafe.branch_a
    by_default = ok(
        client.post("/api/cafe/menu-items/", json={"title": "Kvass", "price": "80.00"}, headers=cafe.manager.auth), 201
    )
    assert by_default["branch"] == cafe.branch_a
    other = client.post(
        "/api/cafe/menu-items/",
        json={"title": "Tea", "price": "1.00", "branch": cafe.branch_b},
        headers=cafe.manager.auth,
    )
    assert (other.status_code, other.json()) == (403, {"detail": "You can only write in your own branch."})
    company_wide = client.post(
        "/api/cafe/menu-items/", json={"title": "Tea", "price": "1.00", "branch": None}, headers=cafe.manager.auth
    )
    assert (company_wide.status_code, company_wide.json()) == (403, {"detail": COMPANY_WIDE_ONLY})
    titles = [item["title"] for item in ok(client.get("/api/cafe/menu-items/", headers=cafe.owner.auth))]
    assert sorted(titles) == ["Coffee", "Kvass", "Tea", "Пицца"]


def test_a_manager_cannot_change_company_wide_prices(client: TestClient):
    cafe = make_company(client)
    pizza = cafe.menu["pizza"]["id"]
    refused = client.patch(f"/api/cafe/menu-items/{pizza}/", json={"price": "1.00"}, headers=cafe.manager.auth)
    assert (refused.status_code, refused.json()) == (403, {"detail": COMPANY_WIDE_ONLY})
    assert (
        ok(client.patch(f"/api/cafe/menu-items/{pizza}/", json={"price": "510.00"}, headers=cafe.admin.auth))["price"]
        == "510.00"
    )
    mine = ok(
        client.post(
            "/api/cafe/menu-items/",
            json={"title": "Tea", "price": "90.00", "branch": cafe.branch_a},
            headers=cafe.owner.auth,
        ),
        201,
    )
    changed = ok(
        client.patch(f"/api/cafe/menu-items/{mine['id']}/", json={"price": "95.00"}, headers=cafe.manager.auth)
    )
    assert changed["price"] == "95.00"
    theirs = ok(
        client.post(
            "/api/cafe/menu-items/",
            json={"title": "Tea", "price": "90.00", "branch": cafe.branch_b},
            headers=cafe.owner.auth,
        ),
        201,
    )
    hidden = client.patch(f"/api/cafe/menu-items/{theirs['id']}/", json={"price": "1.00"}, headers=cafe.manager.auth)
    assert hidden.status_code == 404
