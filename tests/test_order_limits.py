"""MAX_PORTIONS_PER_ORDER: one request (or an order grown later) cannot flood the kitchen."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from cafe_rt import Settings, create_app
from tests.factory import Company, add_person, create_order, make_company, ok


@pytest.fixture
def small(settings: Settings) -> Iterator[tuple[TestClient, Company]]:
    with TestClient(create_app(replace(settings, max_portions_per_order=10))) as client:
        yield client, make_company(client)


def lines(company: Company, *quantities: int) -> list[dict]:
    return [{"menu_item": company.menu["pizza"]["id"], "quantity": quantity} for quantity in quantities]


def test_the_default_cap_is_200_portions(client: TestClient):
    company = make_company(client)
    body = {"table": company.tables["a1"]["id"], "items": lines(company, 100, 100, 1)}
    response = client.post("/api/cafe/orders/", json=body, headers=company.waiter.auth)
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == {
        "items": ["An order may hold at most 200 portions (the sum of quantities); this makes 201."]
    }
    assert client.get("/api/cafe/kitchen/tasks/", headers=company.cook.auth).json() == []
    order = create_order(client, company, items=[("pizza", 100), ("coffee", 100)])
    assert sum(item["quantity"] for item in order["items"]) == 200


def test_a_customer_order_is_capped_too(small):
    client, company = small
    customer = add_person(client, company.owner, "customer", "client", None)
    body = {"branch": company.branch_a, "items": lines(company, 6, 5)}
    response = client.post("/api/cafe/orders/", json=body, headers=customer.auth)
    assert response.status_code == 400
    assert "at most 10 portions" in response.json()["detail"]["items"][0]


def test_items_added_later_count_the_portions_already_there(small):
    client, company = small
    order = create_order(client, company, items=[("pizza", 8)])
    add = {"order": order["id"], "menu_item": company.menu["coffee"]["id"], "quantity": 3}
    response = client.post("/api/cafe/order-items/", json=add, headers=company.waiter.auth)
    assert response.status_code == 400
    assert response.json()["detail"] == {
        "quantity": ["An order may hold at most 10 portions (the sum of quantities); this makes 11."]
    }
    ok(client.post("/api/cafe/order-items/", json={**add, "quantity": 2}, headers=company.waiter.auth), 201)
    item = order["items"][0]
    response = client.patch(f"/api/cafe/order-items/{item['id']}/", json={"quantity": 9}, headers=company.waiter.auth)
    assert response.status_code == 400
    assert "this makes 11" in response.json()["detail"]["quantity"][0]
    shrunk = ok(client.patch(f"/api/cafe/order-items/{item['id']}/", json={"quantity": 5}, headers=company.waiter.auth))
    assert sum(line["quantity"] for line in shrunk["items"]) == 7
    tasks = client.get("/api/cafe/kitchen/tasks/?status=pending", headers=company.cook.auth).json()
    assert len(tasks) == 7
