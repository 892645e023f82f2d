"""Every earlier release's database upgrades in place: its rows usable over REST and sockets, positions continued.

Each fixture in tests/releases/ is the database a release left behind after a day's work through its own API
(tests/releases/capture.py made it from the project's history). Here it is rebuilt on SQLite and PostgreSQL as
that release would have made it, then today's code starts on it.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cafe_rt import Settings, create_app
from core.values import normalize_database_url
from storage.migrations import _statements, load_migrations
from storage.sql import Database
from tests.factory import TEST_HOSTS
from tests.test_migrations import versions

RELEASES_PATH = Path(__file__).resolve().parent / "releases"
# Every landed release whose schema changed, oldest first. A release that changes the schema adds its own
# fixture here (capture.py) before the next one lands; 0006856 is the first with schema_migrations.
RELEASES = ("ed11cf2", "f728d68", "cbc31d8", "0006856")
# Releases whose events had another shape than today's: a resume from before the upgrade is told to resync.
# 0006 gave kitchen tasks their station and due time: every release before it.
RESYNC_AFTER_UPGRADE = {"ed11cf2", "f728d68", "cbc31d8"}
_CREATED_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)")
_IDENTIFIER = re.compile(r"^[a-z_]+$")


def fixture_of(release: str) -> dict[str, Any]:
    return dict(json.loads((RELEASES_PATH / f"{release}.json").read_text()))


async def build_release_database(url: str, fixture: dict[str, Any]) -> None:
    """The release's own schema.sql as it ran it, then every row it had written, parents before children."""
    database = Database(normalize_database_url(url))
    await database.connect()
    try:
        async with database.transaction() as db:
            for statement in _statements(fixture["schema"]):
                await db.execute(statement)
            for table in _CREATED_TABLE.findall(fixture["schema"]):
                rows = fixture["rows"].get(table, [])
                if not rows:
                    continue
                columns = list(rows[0])
                # Table and column names come from the fixture (a file of this repository), never from a client;
                # they are checked before they are written into the statement, as identifiers cannot be bound.
                assert _IDENTIFIER.match(table) and all(_IDENTIFIER.match(column) for column in columns)
                insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
                await db.execute_many(insert, rows)
    finally:
        await database.disconnect()


def login(client: TestClient, email: str, password: str) -> dict[str, str]:
    answer = client.post("/api/users/login/", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access']}"}


def orders_feed_positions(fixture: dict[str, Any], after: int, channel: str) -> list[int]:
    return sorted(
        event["position"]
        for event in fixture["rows"]["events"]
        if event["position"] > after and channel in event["channels"].split(" ")
    )


@pytest.mark.parametrize("release", RELEASES)
def test_a_release_database_upgrades_with_every_row_usable(release: str, database_url: str) -> None:
    fixture = fixture_of(release)
    facts, password = fixture["facts"], fixture["password"]
    asyncio.run(build_release_database(database_url, fixture))
    settings = Settings(
        database_url=database_url, broadcast_url="memory://", jwt_secret=fixture["secret"], allowed_hosts=TEST_HOSTS
    )
    with TestClient(create_app(settings)) as client:
        waiter, cook = login(client, "waiter@demo.cafe", password), login(client, "cook@demo.cafe", password)
        listed = {order["id"]: order for order in client.get("/api/cafe/orders/", headers=waiter).json()}
        assert {facts["cooking_order"], facts["part_paid_order"], facts["closed_order"]} <= set(listed)
        assert listed[facts["closed_order"]]["status"] == "closed"
        cooking = client.get(f"/api/cafe/orders/{facts['cooking_order']}/", headers=waiter).json()
        assert len(cooking["items"]) == facts["cooking_order_lines"]
        branch, company = cooking["branch"], fixture["rows"]["companies"][0]["id"]

        # A screen that was following the orders feed before the upgrade resumes where it was, with no gap.
        seen_before = facts["last_position"] - 6
        missed = orders_feed_positions(fixture, seen_before, f"cafe_orders_{company}_{branch}")
        assert missed, "the fixture has recent events on the orders feed"
        token = waiter["Authorization"].split()[1]
        with client.websocket_connect(f"/ws/cafe/orders/?token={token}&last_event_id={seen_before}") as feed:
            assert feed.receive_json()["type"] == "connection_established"
            # Either every event it missed, in today's shape (the frame checker holds each to /asyncapi.json),
            # or resync_required where the release's events had another shape; never a gap.
            first = feed.receive_json()
            if first.get("type") != "resync_required":
                assert [first["event_id"]] + [feed.receive_json()["event_id"] for _ in missed[1:]] == missed
            assert (first.get("type") == "resync_required") == (release in RESYNC_AFTER_UPGRADE)

            # The part-paid order is paid off and closed; its table turns free.
            part_paid = client.get(f"/api/cafe/orders/{facts['part_paid_order']}/", headers=waiter).json()
            due = float(part_paid["total_amount"]) - float(part_paid["paid_amount"])
            paid = client.post(
                f"/api/cafe/orders/{facts['part_paid_order']}/pay/",
                headers=waiter,
                json={"method": "card", "amount": f"{due:.2f}", "close": True},
            )
            assert paid.status_code == 200, paid.text
            assert paid.json()["status"] == "closed"
            first_new = feed.receive_json()
            assert first_new["event_id"] == facts["last_position"] + 1

            # The cooking order takes one more line, and the kitchen finishes it.
            item = client.get("/api/cafe/menu-items/", headers=waiter).json()[0]["id"]
            added = client.post(
                "/api/cafe/order-items/",
                headers=waiter,
                json={"order": facts["cooking_order"], "menu_item": item, "quantity": 1},
            )
            assert added.status_code == 201, added.text
            tasks = client.get("/api/cafe/kitchen/tasks/", headers=cook).json()
            for task in tasks:
                if task["order"] == facts["cooking_order"] and task["status"] != "ready":
                    if task["status"] == "pending":
                        assert (
                            client.post(f"/api/cafe/kitchen/tasks/{task['id']}/claim/", headers=cook).status_code == 200
                        )
                    assert client.post(f"/api/cafe/kitchen/tasks/{task['id']}/ready/", headers=cook).status_code == 200
            cooking = client.get(f"/api/cafe/orders/{facts['cooking_order']}/", headers=waiter).json()
            assert cooking["status"] == "ready"
            assert len(cooking["items"]) == facts["cooking_order_lines"] + 1
            cooking_due = float(cooking["total_amount"]) - float(cooking["paid_amount"])
            closed = client.post(
                f"/api/cafe/orders/{facts['cooking_order']}/pay/",
                headers=waiter,
                json={"method": "cash", "amount": f"{cooking_due:.2f}", "close": True},
            )
            assert closed.status_code == 200 and closed.json()["status"] == "closed", closed.text

        # Both tables are free again, and a new order on one takes the next number of the branch.
        tables = {table["id"]: table for table in client.get("/api/cafe/tables/", headers=waiter).json()}
        assert [tables[table]["status"] for table in facts["busy_tables"]] == ["free", "free"]
        numbers = [order["number"] for order in listed.values() if order["branch"] == branch]
        created = client.post(
            "/api/cafe/orders/",
            headers=waiter,
            json={"table": facts["busy_tables"][0], "guests": 1, "items": [{"menu_item": item, "quantity": 1}]},
        )
        assert created.status_code == 201, created.text
        assert created.json()["number"] == max(numbers) + 1

        if "customer_order" in facts:  # the customer still reads its own order
            customer = login(client, "client@demo.cafe", password)
            own = client.get(f"/api/cafe/orders/{facts['customer_order']}/", headers=customer)
            assert own.status_code == 200, own.text
    assert asyncio.run(versions(database_url)) == [migration.version for migration in load_migrations()]


def test_every_release_fixture_is_there() -> None:
    """A fixture per release; and the newest one was made by code whose schema the migrations reach."""
    for release in RELEASES:
        fixture = fixture_of(release)
        assert fixture["commit"] == release and fixture["rows"]["orders"]
