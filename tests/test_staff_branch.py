"""A branch-bound role (manager, waiter, cook, cashier) always has a branch."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.factory import PASSWORD, make_company, ok


@pytest.mark.parametrize("role", ["manager", "waiter", "cook", "cashier"])
def test_a_branch_bound_role_without_a_branch_is_refused(client: TestClient, role: str):
    cafe = make_company(client)
    before = ok(client.get("/api/users/", headers=cafe.owner.auth))
    for extra in ({"branch": None}, {}):
        data = {"email": f"{role}-new@test.cafe", "password": PASSWORD, "role": role, **extra}
        response = client.post("/api/users/", json=data, headers=cafe.owner.auth)
        assert response.status_code == 400, response.text
        assert response.json() == {"detail": {"branch": [f"A {role} works in one branch: give its id."]}}
    assert ok(client.get("/api/users/", headers=cafe.owner.auth)) == before


def test_owners_admins_and_customers_need_no_branch(client: TestClient):
    cafe = make_company(client)
    for role in ("admin", "client"):
        data = {"email": f"{role}-new@test.cafe", "password": PASSWORD, "role": role, "branch": None}
        assert ok(client.post("/api/users/", json=data, headers=cafe.owner.auth), 201)["branch"] is None
