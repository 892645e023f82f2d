"""The write limit for bench/speed.py: the least work any implementation of cafe_rt's order contract must do.

A bare ASGI app under the same uvicorn as `cafe_rt.py serve` (uvloop, httptools, websockets-sansio, no
compression), on the same schema (migrations/), with no framework, no validation layer and no hub:
- `POST /api/cafe/orders/` verifies the bearer token (HS256, as cafe_rt), parses the same JSON body, and in
  one transaction takes the company's position under its counter row, reads the menu item's price and the
  branch's next number, inserts the order, its item, a kitchen task per portion and the waiter's
  notification, marks the table busy, and writes ONE event row; after the commit it serializes one
  `order_created` frame and sends it to every socket; answers 201 with the order's id.
- `/ws/cafe/orders/` sockets are greeted and held.
What cafe_rt does beyond this (11 events per order in three dialects, validation, authorization reads, the
broker, resume bookkeeping) is its own cost, and the ratio to this shows it.

    .venv/bin/python bench/write_limit_server.py --port 8400 --database-url sqlite:///w.db --secret S \\
        --company C --branch B --table T --menu-item M --user U
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.migrations import open_database

LOCK_COUNTER = """
UPDATE event_counters SET last_position = last_position + 1 WHERE company_id = :company_id RETURNING last_position
"""
SELECT_PRICE = "SELECT price_cents FROM menu_items WHERE id = :id AND company_id = :company_id"
SELECT_NEXT_NUMBER = "SELECT COALESCE(MAX(number), 0) + 1 AS next FROM orders WHERE branch_id = :branch_id"
INSERT_ORDER = """
INSERT INTO orders (id, company_id, branch_id, number, table_id, client_id, waiter_id, created_by, guests, status,
    total_cents, paid_cents, bonuses_used_cents, bonuses_earned_cents, created_at, updated_at)
VALUES (:id, :company_id, :branch_id, :number, :table_id, NULL, :user_id, :user_id, :guests, 'open',
    :total_cents, 0, 0, 0, :now, :now)
"""
INSERT_ITEM = """
INSERT INTO order_items (id, company_id, order_id, menu_item_id, line, quantity, price_cents, created_at)
VALUES (:id, :company_id, :order_id, :menu_item_id, 1, :quantity, :price_cents, :now)
"""
INSERT_TASK = """
INSERT INTO kitchen_tasks (id, company_id, branch_id, order_id, order_item_id, menu_item_id, unit_index, status,
    created_at)
VALUES (:id, :company_id, :branch_id, :order_id, :item_id, :menu_item_id, :unit_index, 'pending', :now)
"""
MARK_TABLE_BUSY = "UPDATE cafe_tables SET status = 'busy' WHERE id = :id AND status <> 'busy'"
INSERT_NOTIFICATION = """
INSERT INTO notifications (id, company_id, recipient_id, type, payload, created_at)
VALUES (:id, :company_id, :user_id, 'order_notification', :payload, :now)
"""
INSERT_EVENT = """
INSERT INTO events (company_id, position, type, channels, payload, created_at, published)
VALUES (:company_id, :position, 'order_created', :channels, :payload, :now, 1)
"""
SEED = [
    "INSERT INTO companies (id, name, created_at) VALUES (:company, 'limit', :now)",
    "INSERT INTO branches (id, company_id, name, city_id, created_at) VALUES (:branch, :company, 'Main', 1, :now)",
    "INSERT INTO users (id, email, password_hash, role, company_id, branch_id, created_at) "
    "VALUES (:user, 'limit@bench.cafe', 'x', 'owner', :company, NULL, :now)",
    "INSERT INTO cafe_tables (id, company_id, branch_id, zone_id, number, places, status, created_at) "
    "VALUES (:table, :company, :branch, NULL, 1, 4, 'free', :now)",
    "INSERT INTO menu_items (id, company_id, branch_id, title, price_cents, is_active, created_at) "
    "VALUES (:menu_item, :company, NULL, 'Soup', 45000, 1, :now)",
    "INSERT INTO event_counters (company_id, last_position, pruned_through) VALUES (:company, 0, 0)",
]
GREETING = '{"type": "connection_established", "group": "limit"}'


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Store:
    """One transaction per order: SQLite on the loop's thread (sqlite3, WAL), PostgreSQL on an asyncpg pool."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")

    async def connect(self, seed: dict[str, str]) -> None:
        await (await open_database(self.url)).disconnect()
        values = {**seed, "now": utc_now()}
        if self.is_sqlite:
            self.sqlite = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            self.sqlite.execute("PRAGMA journal_mode=WAL")
            self.sqlite.execute("PRAGMA synchronous=NORMAL")
            self.sqlite.row_factory = sqlite3.Row
            for statement in SEED:
                self.sqlite.execute(statement, values)
            return
        import asyncpg

        from storage.sql import positional

        self.positional = positional
        self.pool = await asyncpg.create_pool(self.url.replace("postgresql", "postgres", 1), min_size=4, max_size=16)
        async with self.pool.acquire() as connection:
            for statement in SEED:
                text, names = positional(statement)
                await connection.execute(text, *[values[name] for name in names])

    async def order(self, values: dict[str, Any], portions: int) -> int:
        """Writes the order's rows and its event; answers the event's position."""
        if self.is_sqlite:
            return self._sqlite_order(values, portions)
        async with self.pool.acquire() as connection, connection.transaction():

            async def run(sql: str, extra: dict[str, Any] | None = None) -> Any:
                text, names = self.positional(sql)
                merged = {**values, **(extra or {})}
                return await connection.fetchrow(text, *[merged[name] for name in names])

            return await self._write(run, values, portions)

    def _sqlite_order(self, values: dict[str, Any], portions: int) -> int:
        connection = self.sqlite
        connection.execute("BEGIN IMMEDIATE")
        try:

            async def run(sql: str, extra: dict[str, Any] | None = None) -> Any:
                return connection.execute(sql, {**values, **(extra or {})}).fetchone()

            # Every statement completes at once on SQLite: the coroutine is driven by hand, on this thread.
            coroutine = self._write(run, values, portions)
            try:
                coroutine.send(None)
            except StopIteration as done:
                position = int(done.value)
            connection.execute("COMMIT")
            return position
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    @staticmethod
    async def _write(run: Any, values: dict[str, Any], portions: int) -> int:
        position = (await run(LOCK_COUNTER))["last_position"]
        price = (await run(SELECT_PRICE, {"id": values["menu_item_id"]}))["price_cents"]
        number = (await run(SELECT_NEXT_NUMBER))["next"]
        values.update(position=position, number=number, price_cents=price, total_cents=price * values["quantity"])
        await run(INSERT_ORDER)
        await run(INSERT_ITEM, {"id": values["item_id"], "order_id": values["id"]})
        for unit in range(1, portions + 1):
            await run(INSERT_TASK, {"id": str(uuid.uuid4()), "order_id": values["id"], "unit_index": unit})
        await run(MARK_TABLE_BUSY, {"id": values["table_id"]})
        await run(INSERT_NOTIFICATION, {"id": str(uuid.uuid4())})
        await run(INSERT_EVENT)
        return int(position)


class WriteLimit:
    """The ASGI app."""

    def __init__(self, store: Store, secret: str, seed: dict[str, str]) -> None:
        self.store, self.secret, self.seed = store, secret, seed
        self.sockets: set[Any] = set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await self.store.connect(self.seed)
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
        elif scope["type"] == "websocket":
            await self.socket(receive, send)
        else:
            await self.post(scope, receive, send)

    async def socket(self, receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": GREETING})
        self.sockets.add(send)
        try:
            while (await receive())["type"] != "websocket.disconnect":
                pass
        finally:
            self.sockets.discard(send)

    async def post(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        token = headers.get(b"authorization", b"").removeprefix(b"Bearer ").decode()
        claims = jwt.decode(token, self.secret, algorithms=["HS256"])
        data = json.loads(body)
        line = data["items"][0]
        company = self.seed["company"]
        now = utc_now()
        order_id = str(uuid.uuid4())
        values: dict[str, Any] = {
            "id": order_id,
            "item_id": str(uuid.uuid4()),
            "company_id": company,
            "branch_id": data["branch"],
            "table_id": data["table"],
            "user_id": claims["sub"],
            "guests": int(data["guests"]),
            "menu_item_id": line["menu_item"],
            "quantity": int(line["quantity"]),
            "now": now,
            "channels": f"cafe_orders_{company}_{data['branch']} cafe_orders_{company}",
            "payload": "",
        }
        order = {"id": order_id, "table": data["table"], "guests": values["guests"], "status": "open"}
        values["payload"] = json.dumps({"type": "order_created", "data": {"order": order}})
        position = await self.store.order(values, values["quantity"])
        frame = json.dumps(
            {"type": "order_created", "data": {"order": order}, "event_id": position}, separators=(",", ":")
        )
        for socket_send in list(self.sockets):
            await socket_send({"type": "websocket.send", "text": frame})
        answer = json.dumps({**order, "number": values["number"]}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": answer})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8400)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--secret", required=True)
    for name in ("company", "branch", "table", "menu-item", "user"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    seed = {
        "company": args.company,
        "branch": args.branch,
        "table": args.table,
        "menu_item": args.menu_item,
        "user": args.user,
    }
    app = WriteLimit(Store(args.database_url), args.secret, seed)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
