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
from tests.servers import create_company_in, server_env, uvicorn_server

TOO_MANY = {"detail": "Too many failed logins; try again later."}


def attempt(client, email: str, password: str) -> int:
    return client.post("/api/users/login/", json={"email": email, "password": password}).status_code


@pytest.fixture
def strict(settings: Settings) -> Iterator[tuple[TestClient, Company, Settings]]:
    strict = replace(settings, login_max_failures=3, login_lockout=60, login_max_failures_per_address=8)
    with TestClient(create_app(strict)) as client:
        yield client, make_company(client), strict


def test_ten_failures_lock_the_account_from_that_address_only(client: TestClient):
    cafe = make_company(client)
    for _ in range(10):
        assert attempt(client, cafe.waiter.email, "wrong-password") == 401
    refused = client.post("/api/users/login/", json={"email": cafe.waiter.email, "password": PASSWORD})
    assert (refused.status_code, refused.json()) == (429, TOO_MANY)
    assert 890 <= int(refused.headers["Retry-After"]) <= 900
    assert attempt(client, cafe.cook.email, PASSWORD) == 200  # a colleague at the same address is not locked out
    refused = client.post("/api/auth/login/", json={"email": cafe.waiter.email.upper(), "password": PASSWORD})
    assert refused.status_code == 429
    # From another address the account is only slowed: the tenth failure earned a 1 s wait, no lock.
    with TestClient(client.app, client=("203.0.113.9", 50000)) as elsewhere:
        assert logs_in_after_waiting(elsewhere, cafe.waiter.email) <= 1


def logs_in_after_waiting(http: TestClient, email: str) -> int:
    """Log in with the right password, waiting out a Retry-After once; returns the seconds waited."""
    response = http.post("/api/users/login/", json={"email": email, "password": PASSWORD})
    if response.status_code != 429:
        assert response.status_code == 200, response.text
        return 0
    waited = int(response.headers["Retry-After"])
    time.sleep(waited + 0.05)
    assert attempt(http, email, PASSWORD) == 200
    return waited


def address(client: TestClient, index: int) -> TestClient:
    return TestClient(client.app, client=(f"198.51.100.{index}", 40000))


def test_a_stranger_elsewhere_slows_the_account_but_cannot_lock_the_right_password_out(strict):
    client, cafe, _ = strict
    with address(client, 7) as attacker:
        answers = [attempt(attacker, cafe.owner.email, "guess") for _ in range(6)]
    # Three failures lock the attacker's own pair; it gets nothing more from there.
    assert answers == [401, 401, 401, 429, 429, 429]
    with address(client, 8) as owner_phone:
        assert logs_in_after_waiting(owner_phone, cafe.owner.email) <= 1
    # The success cleared the account's count: the next typo is a plain 401, not a wait.
    with address(client, 9) as laptop:
        assert attempt(laptop, cafe.owner.email, "typo") == 401
        assert attempt(laptop, cafe.owner.email, PASSWORD) == 200


def test_the_account_wide_delay_grows_and_is_capped(settings: Settings):
    limits = replace(settings, login_max_failures=2, login_lockout=60, login_max_delay=2)
    with TestClient(create_app(limits)) as client:
        cafe = make_company(client)
        waits = []
        for index in range(1, 5):  # a new address for every guess: no pair ever reaches its own limit
            with address(client, index) as guesser:
                response = guesser.post("/api/users/login/", json={"email": cafe.waiter.email, "password": "guess"})
                if response.status_code == 429:
                    waits.append(int(response.headers["Retry-After"]))
                    assert response.json() == TOO_MANY
                    time.sleep(waits[-1] + 0.05)
                    response = guesser.post("/api/users/login/", json={"email": cafe.waiter.email, "password": "x"})
                assert response.status_code == 401
        # Failures 1 and 2 pass at once; then 1 s, 2 s, and the cap (2 s) again.
        assert waits == [1, 2]
        with address(client, 50) as waiter_phone:
            assert logs_in_after_waiting(waiter_phone, cafe.waiter.email) == 2
        assert attempt(client, cafe.waiter.email, PASSWORD) == 200  # cleared for every address


def test_a_wrong_old_password_counts_like_a_failed_login(strict):
    """Issue 15: a stolen access token must not become an unthrottled password oracle."""
    client, cafe, _ = strict

    def change(old: str) -> tuple[int, dict]:
        body = {"old_password": old, "new_password": "another-password-1"}
        response = client.post("/api/users/me/password/", json=body, headers=cafe.waiter.auth)
        return response.status_code, response.json()

    for _ in range(3):
        assert change("guess") == (400, {"detail": {"old_password": ["Wrong password."]}})
    status, detail = change(PASSWORD)  # even the right one, from this address, until the lock ends
    assert (status, detail) == (429, TOO_MANY)
    assert attempt(client, cafe.waiter.email, PASSWORD) == 429  # the login of that pair is locked too
    with address(client, 20) as elsewhere:  # the account is only slowed
        assert logs_in_after_waiting(elsewhere, cafe.waiter.email) <= 1


def test_a_right_old_password_clears_the_count(strict):
    client, cafe, _ = strict
    body = {"old_password": "guess", "new_password": "another-password-1"}
    for _ in range(2):
        assert client.post("/api/users/me/password/", json=body, headers=cafe.waiter.auth).status_code == 400
    changed = client.post("/api/users/me/password/", json=body | {"old_password": PASSWORD}, headers=cafe.waiter.auth)
    assert changed.status_code == 200
    for _ in range(2):
        assert attempt(client, cafe.waiter.email, "wrong-password") == 401
    assert attempt(client, cafe.waiter.email, "another-password-1") == 200


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
    owner_email = create_company_in(fresh_postgres)
    env = server_env(fresh_postgres, LOGIN_MAX_FAILURES="4")
    with uvicorn_server(env) as first, uvicorn_server(env) as second:
        with httpx2.Client(base_url=f"http://{first}") as one, httpx2.Client(base_url=f"http://{second}") as two:
            for http in (one, two, one, two):
                assert attempt(http, owner_email, "wrong-password") == 401
            for http in (one, two):
                response = http.post("/api/users/login/", json={"email": owner_email, "password": PASSWORD})
                assert response.status_code == 429
                assert int(response.headers["Retry-After"]) > 800
