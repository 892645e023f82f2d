"""Make the database of an earlier release, through that release's own code and API, for tests/test_upgrade.py.

    .venv/bin/python tests/releases/capture.py COMMIT

unpacks COMMIT (git archive) into a temporary folder, loads its demo, runs its app under uvicorn on a SQLite
file, makes orders over its REST API (cooked, part-paid, closed; a customer's order where the release has
them), then writes tests/releases/<COMMIT>.json: the release's schema (its schema.sql, or, from the first
versioned release on, its migrations/*.sql in order and the schema_migrations table they are recorded in),
every row of every table (schema_migrations' too), and the facts the upgrade test checks against. Run it for
every release that changes the schema, before the next one lands: the fixture is that release's database as
it would be found in a cafe.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SECRET = "cafe-rt-release-fixture-secret-0123456789"
PASSWORD = "demo-pass-1"


class Client:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def ok(self, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
        status, answer = self.call(method, path, token, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {answer}")
        return answer

    def login(self, email: str) -> str:
        return str(self.ok("POST", "/api/users/login/", body={"email": email, "password": PASSWORD})["access"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unpack(commit: str, folder: Path) -> None:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    with tempfile.TemporaryFile() as tar_file:
        tar_file.write(archive)
        tar_file.seek(0)
        with tarfile.open(fileobj=tar_file) as tar:
            tar.extractall(folder, filter="data")


def make_orders(api: Client) -> dict[str, Any]:
    """What a day at the demo cafe leaves behind, through the release's API; answers the ids to check later."""
    waiter, cook = api.login("waiter@demo.cafe"), api.login("cook@demo.cafe")
    tables = [table for table in api.ok("GET", "/api/cafe/tables/", waiter) if table["status"] == "free"]
    items = api.ok("GET", "/api/cafe/menu-items/", waiter)

    def order(table: dict[str, Any], lines: list[tuple[int, int]]) -> dict[str, Any]:
        body = {
            "table": table["id"],
            "guests": 2,
            "items": [{"menu_item": items[index]["id"], "quantity": quantity} for index, quantity in lines],
        }
        return dict(api.ok("POST", "/api/cafe/orders/", waiter, body))

    cooking = order(tables[0], [(0, 2), (1, 1)])
    tasks = api.ok("GET", "/api/cafe/kitchen/tasks/?status=pending", cook)
    first = next(task for task in tasks if task["order"] == cooking["id"])
    api.ok("POST", f"/api/cafe/kitchen/tasks/{first['id']}/claim/", cook)
    api.ok("POST", f"/api/cafe/kitchen/tasks/{first['id']}/ready/", cook)
    part_paid = order(tables[1], [(1, 1)])
    api.ok(
        "POST", f"/api/cafe/orders/{part_paid['id']}/pay/", waiter, {"method": "cash", "amount": "1.00", "close": False}
    )
    closed = order(tables[2], [(0, 1)])
    status, refused = api.call("PATCH", f"/api/cafe/orders/{closed['id']}/", waiter, {"status": "closed"})
    if status == 403:  # from issue 22 on, a waiter closes an order by paying it in full
        due = f"{float(closed['total_amount']) - float(closed['paid_amount']):.2f}"
        body = {"method": "cash", "amount": due, "close": True}
        api.ok("POST", f"/api/cafe/orders/{closed['id']}/pay/", waiter, body)
    elif status >= 300:
        raise RuntimeError(f"closing an order: {status} {refused}")
    facts: dict[str, Any] = {
        "cooking_order": cooking["id"],
        "part_paid_order": part_paid["id"],
        "closed_order": closed["id"],
        "cooking_order_lines": 2,
        "busy_tables": [tables[0]["id"], tables[1]["id"]],
    }
    customer = api.login("client@demo.cafe")
    body = {"branch": tables[0]["branch"], "items": [{"menu_item": items[0]["id"], "quantity": 1}]}
    status, placed = api.call("POST", "/api/cafe/orders/", customer, body)
    if status == 201:  # the release has customer orders (seed 004)
        facts["customer_order"] = placed["id"]
    elif status != 403:  # the first release had no customer orders: it refused them
        raise RuntimeError(f"a customer's order: {status} {placed}")
    return facts


def dump(database: Path) -> tuple[dict[str, list[dict[str, Any]]], int]:
    connection = sqlite3.connect(database)
    connection.row_factory = sqlite3.Row
    tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    rows = {table: [dict(row) for row in connection.execute(f'SELECT * FROM "{table}"')] for table in tables}
    last = connection.execute("SELECT MAX(last_position) FROM event_counters").fetchone()[0]
    connection.close()
    return rows, int(last)


def release_schema(source: Path, database: Path) -> str:
    """The statements that made the release's schema, in the order it ran them."""
    if (source / "schema.sql").exists():
        return (source / "schema.sql").read_text()
    migrations = [path.read_text() for path in sorted((source / "migrations").glob("*.sql"))]
    connection = sqlite3.connect(database)
    recorded = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    created = connection.execute(recorded).fetchone()[0]
    connection.close()
    # As the release's runner creates it, so the rebuilt database has it before its rows are written.
    versions_table = created.replace("CREATE TABLE schema_migrations", "CREATE TABLE IF NOT EXISTS schema_migrations")
    return ";\n".join([*(text.strip().rstrip(";") for text in migrations), versions_table]) + ";\n"


def capture(commit: str) -> Path:
    full = subprocess.run(["git", "-C", str(ROOT), "rev-parse", commit], check=True, capture_output=True, text=True)
    commit = full.stdout.strip()[:7]
    with tempfile.TemporaryDirectory() as temporary:
        source, database = Path(temporary) / "src", Path(temporary) / "cafe.db"
        source.mkdir()
        unpack(commit, source)
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{database}",
            "JWT_SECRET": SECRET,
            "BROADCAST_URL": "memory://",
        }
        env.pop("REDIS_URL", None)
        subprocess.run([sys.executable, "cafe_rt.py", "demo"], cwd=source, env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "cafe_rt:app", "--port", str(port), "--log-level", "warning"],
            cwd=source,
            env=env,
        )
        try:
            api = Client(f"http://127.0.0.1:{port}")
            for _ in range(100):
                try:
                    api.call("GET", "/api/users/me/")
                    break
                except OSError:
                    time.sleep(0.1)
            facts = make_orders(api)
        finally:
            server.terminate()
            server.wait(10)
        rows, last_position = dump(database)
        schema = release_schema(source, database)
    facts["last_position"] = last_position
    out = HERE / f"{commit}.json"
    fixture = {"commit": commit, "secret": SECRET, "password": PASSWORD, "schema": schema, "facts": facts, "rows": rows}
    out.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n")
    return out


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(capture(name))
