"""Money rules: a payment never exceeds what is due, and bonuses are earned on what the order cost."""

from __future__ import annotations

from tests.factory import create_order, make_company, ok
from tests.test_rooms import add_customer, customer_order


def test_a_payment_above_what_is_due_is_refused_and_changes_nothing(client):
    cafe = make_company(client)
    order = create_order(client, cafe)  # 2 x 500.00
    url = f"/api/cafe/orders/{order['id']}/pay/"
    for body in ({"amount": "1000.01"}, {"amount": "50000.00", "close": False}):
        refused = client.post(url, json=body, headers=cafe.cashier.auth)
        assert refused.status_code == 400
        assert refused.json()["detail"] == {"amount": [f"{body['amount']} is more than the 1000.00 still due."]}
    ok(client.post(url, json={"amount": "600.00", "close": False}, headers=cafe.cashier.auth))
    over_rest = client.post(url, json={"amount": "400.01", "close": False}, headers=cafe.cashier.auth)
    assert over_rest.json()["detail"] == {"amount": ["400.01 is more than the 400.00 still due."]}
    fetched = ok(client.get(f"/api/cafe/orders/{order['id']}/", headers=cafe.cashier.auth))
    assert (fetched["paid_amount"], fetched["status"]) == ("600.00", "open")


def test_bonuses_are_earned_on_the_order_cost_once(client):
    cafe = make_company(client)
    customer = add_customer(client, cafe)
    order = customer_order(client, cafe, customer)  # 1000.00
    url = f"/api/cafe/orders/{order['id']}/pay/"
    assert client.post(url, json={"amount": "50000.00", "close": False}, headers=cafe.cashier.auth).status_code == 400
    ok(client.post(url, json={"amount": "999.00", "close": False}, headers=cafe.cashier.auth))
    paid = ok(client.post(url, json={"amount": "1.00"}, headers=cafe.cashier.auth))
    assert (paid["status"], paid["paid_amount"], paid["bonuses_earned"]) == ("closed", "1000.00", "50.00")
    assert client.post(url, json={"amount": "1.00"}, headers=cafe.cashier.auth).status_code == 409
    mine = ok(client.get("/api/bonuses/me/", headers=customer.auth))
    assert mine["balance"] == "50.00" and [op["type"] for op in mine["operations"]] == ["earned"]


def test_a_payment_without_an_amount_is_a_400_never_pay_what_is_due(client):
    cafe = make_company(client)
    order = create_order(client, cafe)
    url = f"/api/cafe/orders/{order['id']}/pay/"
    for body in ({}, {"method": "card"}, {"method": "card", "close": True}, None):
        refused = client.post(url, json=body, headers=cafe.cashier.auth)
        assert refused.status_code == 400, refused.text
    fetched = ok(client.get(f"/api/cafe/orders/{order['id']}/", headers=cafe.cashier.auth))
    assert (fetched["paid_amount"], fetched["status"]) == ("0.00", "open")
