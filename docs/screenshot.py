"""Take docs/board.png: the demo company's wall board (1920x1080) in headless chromium, with a few orders under
way at its two stations, the kitchen and the bar.

    .venv/bin/python docs/screenshot.py [--out docs/board.png]

Starts its own `cafe_rt.py serve` on a throwaway SQLite file loaded with `cafe_rt.py demo`, signs in on
/board/ as the demo cook, makes orders over REST as the waiter and has the cook work on them; one portion is
made late (its due time moved into the past) so the server's kitchen_task_late shows.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import server_env, uvicorn_server  # noqa: E402  (the repository root is put on the path just above)

PASSWORD = "demo-pass-1"


def login(http: httpx2.Client, email: str) -> dict[str, str]:
    response = http.post("/api/users/login/", json={"email": email, "password": PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access']}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "board.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = server_env(f"sqlite:///{folder}/demo.db", LATE_CHECK_INTERVAL="0.3")
        subprocess.run([sys.executable, "cafe_rt.py", "demo"], cwd=ROOT, env={**os.environ, **env}, check=True)
        with uvicorn_server(env) as host, httpx2.Client(base_url=f"http://{host}") as http, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium")
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(f"http://{host}/board/")
            page.fill("input[name=email]", "cook@demo.cafe")
            page.fill("input[name=password]", PASSWORD)
            page.click("#login-form button[type=submit]")
            expect(page.locator('.feed[data-state="live"]')).to_have_count(3)

            waiter, cook = login(http, "waiter@demo.cafe"), login(http, "cook@demo.cafe")
            tables = http.get("/api/cafe/tables/", headers=waiter).json()
            menu = {item["title"]: item["id"] for item in http.get("/api/cafe/menu-items/", headers=waiter).json()}
            orders = [
                (1, 4, {"Margherita": 2, "Cappuccino": 2}),
                (3, 2, {"Carbonara": 1, "Cheesecake": 1}),
                (4, 3, {"Cappuccino": 3}),
                (6, 2, {"Margherita": 1, "Carbonara": 1}),
            ]
            by_number = {table["number"]: table["id"] for table in tables}
            first = None
            for number, guests, items in orders:
                body = {
                    "table": by_number[number],
                    "guests": guests,
                    "items": [{"menu_item": menu[title], "quantity": count} for title, count in items.items()],
                }
                order = http.post("/api/cafe/orders/", json=body, headers=waiter)
                order.raise_for_status()
                first = first or order.json()["id"]
            # The first order's pizzas should have been out by now.
            with sqlite3.connect(f"{folder}/demo.db") as db:
                db.execute(
                    "UPDATE kitchen_tasks SET due_at = '2000-01-01T00:00:00Z' WHERE order_id = ? AND station = ?",
                    (first, "kitchen"),
                )
            expect(page.locator('[data-late="server"]')).to_have_count(2)
            tasks = http.get("/api/cafe/kitchen/tasks/?status=pending", headers=cook).json()
            third = [task for task in tasks if task["table_number"] == 4]
            for task in third + tasks[:2]:
                http.post(f"/api/cafe/kitchen/tasks/{task['id']}/claim/", headers=cook).raise_for_status()
            for task in third:
                http.post(f"/api/cafe/kitchen/tasks/{task['id']}/ready/", headers=cook).raise_for_status()
            expect(page.locator('[data-task-id][data-status="ready"]')).to_have_count(len(third))
            time.sleep(1.5)
            page.screenshot(path=args.out)
            browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
