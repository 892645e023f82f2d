"""Builds a company the way its owner would: over REST, after the management command's first step."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from core.auth import issue_tokens
from domain import accounts

TEST_SECRET = "cafe-rt-test-secret-0123456789abcdef"
# TestClient asks for http://testserver/; the real servers of tests/servers.py listen on 127.0.0.1.
TEST_HOSTS = ("testserver", "127.0.0.1", "localhost")
PASSWORD = "password-123"


@dataclass
class Person:
    id: str
    email: str
    role: str
    branch: str | None
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Company:
    id: str
    branch_a: str
    branch_b: str
    people: dict[str, Person] = field(default_factory=dict)
    tables: dict[str, dict] = field(default_factory=dict)
    menu: dict[str, dict] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Person:
        try:
            return self.__dict__["people"][name]
        except KeyError:
            raise AttributeError(name) from None


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/users/login/", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    # The tests act as apps that send the Bearer token; a browser's session cookies are for tests that say so.
    client.cookies.clear()
    return response.json()


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json() if response.content else None


def add_person(client: TestClient, owner: Person, name: str, role: str, branch: str | None) -> Person:
    data: dict[str, Any] = {"email": f"{name}-{uuid.uuid4().hex[:8]}@test.cafe", "password": PASSWORD, "role": role}
    if branch:
        data["branch"] = branch
    user = ok(client.post("/api/users/", json=data, headers=owner.auth), 201)
    token = issue_tokens(client.app_state["services"].tokens, user)["access"]
    return Person(user["id"], user["email"], role, branch, token)


def portal(client: TestClient) -> BlockingPortal:
    """The portal into the app's event loop, which a TestClient has while it is open (`with TestClient(...)`)."""
    assert client.portal is not None, "the TestClient is not open"
    return client.portal


def make_company(client: TestClient, name: str = "Cafe") -> Company:
    services = client.app_state["services"]
    email = f"owner-{uuid.uuid4().hex[:8]}@test.cafe"
    created = portal(client).call(accounts.create_company, services, name, email, PASSWORD)
    owner = Person(created["owner_id"], email, "owner", None, login(client, email)["access"])
    branch_a = ok(client.post("/api/branches/", json={"name": "A", "city_id": 1}, headers=owner.auth), 201)
    branch_b = ok(client.post("/api/branches/", json={"name": "B", "city_id": 2}, headers=owner.auth), 201)
    company = Company(created["company_id"], branch_a["id"], branch_b["id"], people={"owner": owner})
    for person, role, branch in (
        ("admin", "admin", None),
        ("manager", "manager", branch_a["id"]),
        ("waiter", "waiter", branch_a["id"]),
        ("cook", "cook", branch_a["id"]),
        ("cashier", "cashier", branch_a["id"]),
        ("waiter_b", "waiter", branch_b["id"]),
    ):
        company.people[person] = add_person(client, owner, person, role, branch)
    for key, number, branch in (("a1", 1, branch_a["id"]), ("a2", 2, branch_a["id"]), ("b1", 1, branch_b["id"])):
        table = {"number": number, "places": 4, "branch": branch}
        company.tables[key] = ok(client.post("/api/cafe/tables/", json=table, headers=owner.auth), 201)
    for key, title, price in (("pizza", "Пицца", "500.00"), ("coffee", "Coffee", "150.00")):
        item = {"title": title, "price": price}
        company.menu[key] = ok(client.post("/api/cafe/menu-items/", json=item, headers=owner.auth), 201)
    return company


def pay_in_full(http: TestClient, order_id: str, by: Person, method: str = "card") -> dict:
    """Pay what the order still owes (which closes it): `amount` is required, never "pay it all" by default."""
    order = ok(http.get(f"/api/cafe/orders/{order_id}/", headers=by.auth))
    due = Decimal(order["total_amount"]) - Decimal(order["paid_amount"]) - Decimal(order.get("bonuses_used") or 0)
    return ok(
        http.post(f"/api/cafe/orders/{order_id}/pay/", json={"method": method, "amount": str(due)}, headers=by.auth)
    )


def create_order(
    http: TestClient,
    company: Company,
    table: str = "a1",
    by: str = "waiter",
    items: list[tuple[str, int]] | None = None,
    **extra: Any,
) -> dict:
    lines = items if items is not None else [("pizza", 2)]
    data = {
        "table": company.tables[table]["id"],
        "guests": 2,
        "items": [{"menu_item": company.menu[key]["id"], "quantity": quantity} for key, quantity in lines],
        **extra,
    }
    return ok(http.post("/api/cafe/orders/", json=data, headers=company.people[by].auth), 201)


def feed_url(feed: str, person: Person, **params: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in {"token": person.token, **params}.items())
    return f"/ws/cafe/{feed}/?{query}"


def receive_types(websocket: Any, count: int) -> list[dict]:
    return [websocket.receive_json() for _ in range(count)]


def close_code(client: TestClient, url: str, **kwargs: Any) -> int:
    """The code a socket at `url` is closed with (after its first message, if it gets one)."""
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect(url, **kwargs) as ws:
            ws.receive_json()
    return closed.value.code
