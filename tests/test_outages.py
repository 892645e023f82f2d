"""A dependency that is down is a 503 with Retry-After naming it, never a 500 (DESIGN.md, "Safe to retry").

The database cut itself is tests/test_retry_server.py (a TCP proxy in front of PostgreSQL); here the
errors a full disk, a database shutting down or a busy pool raise are put where a request meets them."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest

from domain import accounts, orders
from front_door import outages
from tests.factory import create_order, make_company

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (sqlite3.OperationalError("database or disk is full"), outages.DISK_FULL),
        (sqlite3.OperationalError("database is locked"), outages.DATABASE_BUSY),
        (sqlite3.OperationalError("unable to open database file"), outages.DATABASE_DOWN),
        (asyncpg.DiskFullError("could not extend file"), outages.DISK_FULL),
        (asyncpg.AdminShutdownError("terminating connection due to administrator command"), outages.DATABASE_STOPPING),
        (asyncpg.CannotConnectNowError("the database system is starting up"), outages.DATABASE_STOPPING),
        (
            asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
            outages.DATABASE_DOWN,
        ),
        (ConnectionRefusedError(111, "Connect call failed"), outages.DATABASE_DOWN),
        (TimeoutError(), outages.POOL_TIMEOUT),
        (sqlite3.OperationalError("no such column: x"), None),
        (asyncpg.UniqueViolationError("duplicate key"), None),
        (asyncpg.InterfaceError("cannot perform operation: another operation is in progress"), None),
    ],
)
def test_which_errors_are_outages(error, detail):
    assert outages.outage(error) == detail


@SQLITE_ONLY
def test_a_full_disk_is_503_for_a_write_and_for_login(client, monkeypatch):
    cafe = make_company(client)

    async def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(orders, "update_order", full)
    monkeypatch.setattr(accounts, "login", full)
    order = create_order(client, cafe)
    answers = [
        client.patch(f"/api/cafe/orders/{order['id']}/", json={"guests": 3}, headers=cafe.waiter.auth),
        client.post("/api/users/login/", json={"email": cafe.waiter.email, "password": "password-123"}),
    ]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == str(outages.RETRY_AFTER)
        assert answer.json() == {"detail": outages.DISK_FULL}


@SQLITE_ONLY
def test_a_bug_stays_a_500(client, monkeypatch):
    """Not an outage: the handler raises it again, to Starlette's 500 (which the TestClient raises here)."""
    cafe = make_company(client)

    async def broken(*args, **kwargs):
        raise sqlite3.OperationalError("no such column: x")

    monkeypatch.setattr(orders, "update_order", broken)
    order = create_order(client, cafe)
    with pytest.raises(sqlite3.OperationalError, match="no such column"):
        client.patch(f"/api/cafe/orders/{order['id']}/", json={"guests": 3}, headers=cafe.waiter.auth)
