"""Login throttling: failed logins per account and per address, counted in the database for every process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import httpx2
import pytest
from starlette.testclient import TestClient

from cafe_rt import Settings, create_app
from tests.factory import PASSWORD, Company, make_company
from tests.servers import create_company_by_command, server_env, uvicorn_server

TOO_MANY = {"detail": "Too many failed logins; try again later."}


def attempt(client, email: str, password: str) -> int:
    return client.post("/api/users/login/", json={"email": email, "password": password}).status_code


@pytest.fixture
def strict(settings: Settings) -> Iterator[tuple[TestClient, Company, Settings]]:
    strict = replace(settings, login_max_failures=3, login_lockout=60, login_max_failures_per_address=8)
    with TestClient(create_app(strict)) as client:
        yield client, make_company(client), strict


def test_ten_failures_lock_the_account_even_for_the_right_password(client: TestClient):
    cafe = make_company(client)
    for _ in range(10):
        assert attempt(client, cafe.waiter.email, "wrong-password") == 401
    refused = client.post("/api/users/login/", json={"email": cafe.waiter.email, "password": PASSWORD})
    assert (refused.status_code, refused.json()) == (429, TOO_MANY)
    assert 890 <= int(refused.headers["Retry-After"]) <= 900
    assert attempt(client, cafe.cook.email, PASSWORD) == 200  # a colleague at the same address is not locked out
    refused = client.post("/api/auth/login/", json={"email": cafe.waiter.email.upper(), "password": PASSWORD})
    assert refused.status_code == 429


def test_a_success_clears_the_count(strict):
    client, cafe, _ = strict
    for _ in range(2):
        assert attempt(client, cafe.waiter.email, "wrong-password") == 401
    assert attempt(client, cafe.waiter.email, PASSWORD) == 200
    for _ in range(2):
        assert attempt(client, cafe.waiter.email, "wrong-password") == 401
    assert attempt(client, cafe.waiter.email, PASSWORD) == 200


def test_the_lock_ends_after_the_lockout(settings: Settings):
    with TestClient(create_app(replace(settings, login_max_failures=2, login_lockout=1))) as client:
        cafe = make_company(client)
        for _ in range(2):
            assert attempt(client, cafe.waiter.email, "wrong-password") == 401
        assert attempt(client, cafe.waiter.email, PASSWORD) == 429
        time.sleep(1.2)
        assert attempt(client, cafe.waiter.email, PASSWORD) == 200


def test_unknown_emails_lock_like_real_ones(strict):
    client, _, _ = strict
    for _ in range(3):
        assert attempt(client, "nobody@test.cafe", "wrong-password") == 401
    assert attempt(client, "nobody@test.cafe", "wrong-password") == 429


def test_one_address_spraying_many_accounts_is_stopped(strict):
    client, cafe, strict_settings = strict
    for index in range(8):  # one guess per account: no account reaches its own limit
        assert attempt(client, f"user{index}@test.cafe", "password-guess") == 401
    response = client.post("/api/users/login/", json={"email": cafe.waiter.email, "password": PASSWORD})
    assert (response.status_code, response.json()) == (429, TOO_MANY)
    with TestClient(client.app, client=("203.0.113.9", 50000)) as elsewhere:
        assert attempt(elsewhere, cafe.waiter.email, PASSWORD) == 200


def test_failures_add_up_across_processes(fresh_postgres: str):
    """Two `serve` processes on one PostgreSQL: failures on either count toward one lock."""
    owner_email = create_company_by_command(fresh_postgres)
    env = server_env(fresh_postgres, LOGIN_MAX_FAILURES="4")
    with uvicorn_server(env) as first, uvicorn_server(env) as second:
        with httpx2.Client(base_url=f"http://{first}") as one, httpx2.Client(base_url=f"http://{second}") as two:
            for http in (one, two, one, two):
                assert attempt(http, owner_email, "wrong-password") == 401
            for http in (one, two):
                response = http.post("/api/users/login/", json={"email": owner_email, "password": PASSWORD})
                assert response.status_code == 429
                assert int(response.headers["Retry-After"]) > 800
