"""Late portions and kitchen screens over real `cafe_rt.py serve` processes (two, on PostgreSQL + Redis).

Each change is announced once, by exactly one of the processes, through the outbox.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx2
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import REDIS_URL, require_redis
from tests.factory import PASSWORD
from tests.servers import create_company_in, furnish, server_env, token_for, uvicorn_server
from tests.sse import event_stream

TIMEOUT = 10


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _sql(database_url: str, statement: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetch(statement, *args)
    finally:
        await connection.close()


def sql(database_url: str, statement: str, *args: Any) -> list[asyncpg.Record]:
    return asyncio.run(_sql(database_url, statement, *args))


async def frames_until(
    ws: ClientConnection, deadline: float, wanted: str, count: int, arrivals: list[float] | None = None
) -> list[dict]:
    """Every `wanted` frame until `count` of them came, or until `deadline` (time.monotonic()); `arrivals` gets
    the time.time() each came at."""
    found: list[dict] = []
    while len(found) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            break
        if frame.get("type") == wanted:
            found.append(frame)
            if arrivals is not None:
                arrivals.append(time.time())
    return found


def bar_screen_sockets(listed: list[dict]) -> int:
    """The open sockets and streams of the kitchen's bar station, in an answer of GET /api/cafe/screens/."""
    return sum(entry["sockets"] for entry in listed if (entry["feed"], entry["station"]) == ("kitchen", "bar"))


def _staff(http: httpx2.Client, owner: dict[str, str], branch: str, role: str) -> dict[str, str]:
    email = f"{role}-{uuid.uuid4().hex[:8]}@test.cafe"
    body = {"email": email, "password": PASSWORD, "role": role, "branch": branch}
    http.post("/api/users/", json=body, headers=owner).raise_for_status()
    return {"email": email, "token": token_for(http, email)}


def kitchen_company(
    http: httpx2.Client, owner_email: str
) -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str]]:
    """The company furnished (tests.servers.furnish), with the owner's and the waiter's headers and a cook of its
    branch (email and token)."""
    cafe = furnish(http, owner_email)
    owner = {"Authorization": f"Bearer {token_for(http, owner_email)}"}
    cook = _staff(http, owner, cafe["branch"], "cook")
    return cafe, owner, cook, {"Authorization": f"Bearer {cafe['waiter_token']}"}


def test_a_late_portion_is_announced_once_by_one_of_two_processes_and_after_a_restart(fresh_postgres):
    require_redis()
    owner_email = create_company_in(fresh_postgres)
    env = server_env(fresh_postgres, BROADCAST_URL=REDIS_URL, LATE_CHECK_INTERVAL="0.2")
    with (
        uvicorn_server(env) as first,
        uvicorn_server(env) as second,
        httpx2.Client(base_url=f"http://{first}") as http,
    ):
        cafe, owner, cook, waiter = kitchen_company(http, owner_email)
        drink = {"title": "Lemonade", "price": "90.00", "station": "bar", "prep_minutes": 5}
        lemonade = http.post("/api/cafe/menu-items/", json=drink, headers=owner).json()
        body = {
            "table": cafe["table"],
            "items": [{"menu_item": lemonade["id"], "quantity": 3}, {"menu_item": cafe["menu_item"], "quantity": 1}],
        }
        order = http.post("/api/cafe/orders/", json=body, headers=waiter).json()
        tasks = http.get("/api/cafe/kitchen/tasks/", params={"station": "bar"}, headers=owner).json()
        assert len(tasks) == 3 and all(task["due_at"] for task in tasks)
        on_time, *late = tasks
        http.post(f"/api/cafe/kitchen/tasks/{on_time['id']}/ready/", headers=owner).raise_for_status()
        token = cook["token"]

        arrivals: list[float] = []

        async def scenario() -> tuple[list[list[dict]], float]:
            urls = [
                f"ws://{first}/ws/cafe/kitchen/?token={token}",
                f"ws://{second}/ws/cafe/kitchen/?token={token}&station=bar",
                f"ws://{second}/ws/cafe/orders/?token={token}",
                f"ws://{first}/ws/cafe/kitchen/?token={token}&station=kitchen",
            ]
            sockets = [await connect(url) for url in urls]
            try:
                for ws in sockets:
                    await asyncio.wait_for(ws.recv(), TIMEOUT)
                # Five minutes pass in a moment: the two open bar portions are due now.
                due = datetime.now(UTC) + timedelta(seconds=1)
                ids = [task["id"] for task in late]
                await _sql(fresh_postgres, "UPDATE kitchen_tasks SET due_at = $1 WHERE id = ANY($2)", _stamp(due), ids)
                # Long enough for a duplicate to show up, if there were one.
                deadline = time.monotonic() + 6
                seen = await asyncio.gather(
                    *(frames_until(ws, deadline, "kitchen_task_late", 3, arrivals) for ws in sockets)
                )
                return seen, due.timestamp()
            finally:
                for ws in sockets:
                    await ws.close()

        seen, due = asyncio.run(scenario())
        branch_feed, bar_feed, orders_feed, kitchen_station = seen
        assert kitchen_station == [], "the hot kitchen's screen got the bar's late portions"
        for frames in (branch_feed, bar_feed, orders_feed):
            assert sorted(frame["data"]["task_id"] for frame in frames) == sorted(task["id"] for task in late)
        assert len(arrivals) == 6 and max(arrivals) < due + 3, [arrival - due for arrival in arrivals]
        late_event = bar_feed[0]
        task = next(task for task in late if task["id"] == late_event["data"]["task_id"])
        assert set(late_event["data"]) == {
            "task", "task_id", "order_id", "table", "menu_item", "station", "due_at", "company_id", "branch_id",
        }  # fmt: skip
        assert late_event["data"]["order_id"] == order["id"]
        assert (late_event["data"]["station"], late_event["data"]["menu_item"]) == ("bar", "Lemonade")
        assert late_event["data"]["task"]["late_at"] and late_event["data"]["task"]["status"] == "pending"
        assert late_event["data"]["branch_id"] == cafe["branch"] and late_event["data"]["due_at"] != task["due_at"]
        assert [frame["event_id"] for frame in branch_feed] == [frame["event_id"] for frame in orders_feed]
        listed = http.get(f"/api/cafe/kitchen/tasks/{task['id']}/", headers=owner).json()
        assert listed["late_at"] == late_event["data"]["task"]["late_at"]

        # Many portions due at one moment: both processes find them at once, and still each is announced once.
        rush = {"table": cafe["table"], "items": [{"menu_item": lemonade["id"], "quantity": 60}]}
        rushed = http.post("/api/cafe/orders/", json=rush, headers=waiter).json()
        due_now = _stamp(datetime.now(UTC) + timedelta(seconds=1))
        sql(fresh_postgres, "UPDATE kitchen_tasks SET due_at = $1 WHERE order_id = $2", due_now, rushed["id"])
        deadline = time.monotonic() + TIMEOUT
        while len(sql(fresh_postgres, "SELECT 1 FROM events WHERE type = 'kitchen_task_late'")) < 62:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(1)

    rows = sql(fresh_postgres, "SELECT payload FROM events WHERE type = 'kitchen_task_late'")
    announced_ids = [json.loads(row["payload"])["data"]["task_id"] for row in rows]
    rushed_ids = [
        row["id"] for row in sql(fresh_postgres, "SELECT id FROM kitchen_tasks WHERE order_id = $1", rushed["id"])
    ]
    assert sorted(announced_ids) == sorted([task["id"] for task in late] + rushed_ids)

    # While no process runs, another portion falls due: the first process up announces it.
    order_two = {"table": cafe["table"], "items": [{"menu_item": lemonade["id"], "quantity": 1}]}
    with uvicorn_server(env) as host, httpx2.Client(base_url=f"http://{host}") as http:
        http.post("/api/cafe/orders/", json=order_two, headers=waiter).raise_for_status()
    waiting = (
        "SELECT id FROM kitchen_tasks WHERE late_announced_at IS NULL AND status = 'pending' AND due_at IS NOT NULL"
    )
    (pending,) = sql(fresh_postgres, waiting)
    sql(
        fresh_postgres,
        "UPDATE kitchen_tasks SET due_at = $1 WHERE id = $2",
        _stamp(datetime.now(UTC) - timedelta(minutes=1)),
        pending["id"],
    )
    with uvicorn_server(env), uvicorn_server(env):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            announced = sql(fresh_postgres, "SELECT payload FROM events WHERE type = 'kitchen_task_late'")
            if len(announced) == 63:
                break
            time.sleep(0.2)
        time.sleep(1)
        announced = sql(fresh_postgres, "SELECT payload FROM events WHERE type = 'kitchen_task_late'")
    ids = [json.loads(row["payload"])["data"]["task_id"] for row in announced]
    assert sorted(ids) == sorted([task["id"] for task in late] + rushed_ids + [pending["id"]])


def test_a_station_without_a_screen_is_announced_offline_once_and_online_again(fresh_postgres):
    """Counts kept by each process, shared through the database: the bar's screen is on one process, the waiter's
    orders feed and the screens listing on the other."""
    require_redis()
    owner_email = create_company_in(fresh_postgres)
    env = server_env(fresh_postgres, BROADCAST_URL=REDIS_URL, SCREEN_INTERVAL="0.3", SCREEN_GRACE="2")
    with (
        uvicorn_server(env) as first,
        uvicorn_server(env) as second,
        httpx2.Client(base_url=f"http://{first}") as http_first,
        httpx2.Client(base_url=f"http://{second}") as http,
    ):
        cafe = furnish(http_first, owner_email)
        owner = {"Authorization": f"Bearer {token_for(http, owner_email)}"}
        cook = _staff(http, owner, cafe["branch"], "cook")
        waiter = {"Authorization": f"Bearer {cafe['waiter_token']}"}

        def screens(headers: dict[str, str], **query: str) -> list[dict]:
            response = http.get("/api/cafe/screens/", params=query, headers=headers)
            response.raise_for_status()
            return response.json()

        def wait_for_screens(check: Any) -> list[dict]:
            deadline = time.monotonic() + TIMEOUT
            while not check(listed := screens(waiter)):
                assert time.monotonic() < deadline, listed
                time.sleep(0.1)
            return listed

        async def scenario() -> dict[str, Any]:
            bar_url = f"ws://{first}/ws/cafe/kitchen/?token={cook['token']}&station=bar"
            orders = await connect(f"ws://{second}/ws/cafe/orders/?token={cafe['waiter_token']}")
            await asyncio.wait_for(orders.recv(), TIMEOUT)
            result: dict[str, Any] = {}
            bar = await connect(bar_url)
            await asyncio.wait_for(bar.recv(), TIMEOUT)
            result["open"] = await asyncio.to_thread(
                wait_for_screens,
                lambda listed: bar_screen_sockets(listed) == 1 and any(entry["feed"] == "orders" for entry in listed),
            )
            # A screen that reconnects within the grace period is no alarm.
            await bar.close()
            await asyncio.to_thread(wait_for_screens, lambda listed: bar_screen_sockets(listed) == 0)
            bar = await connect(bar_url)
            await asyncio.wait_for(bar.recv(), TIMEOUT)
            result["blip"] = await frames_until(orders, time.monotonic() + 3, "kitchen_screen_offline", 1)
            closed_at = time.time()
            await bar.close()
            offline = await frames_until(orders, time.monotonic() + TIMEOUT, "kitchen_screen_offline", 1)
            result["offline_after"] = time.time() - closed_at
            # Once is once: nothing more while the station stays dark.
            offline += await frames_until(orders, time.monotonic() + 2, "kitchen_screen_offline", 1)
            result["offline"] = offline
            result["listed_offline"] = await asyncio.to_thread(screens, waiter)
            back = await connect(f"ws://{second}/ws/cafe/kitchen/?token={cook['token']}&station=bar")
            await asyncio.wait_for(back.recv(), TIMEOUT)
            online = await frames_until(orders, time.monotonic() + TIMEOUT, "kitchen_screen_online", 1)
            online += await frames_until(orders, time.monotonic() + 2, "kitchen_screen_online", 1)
            result["online"] = online
            await back.close()
            await orders.close()
            return result

        result = asyncio.run(scenario())
        entries = {(entry["feed"], entry["station"]): entry for entry in result["open"]}
        bar_entry = entries[("kitchen", "bar")]
        assert bar_entry["sockets"] == 1 and bar_entry["branch_id"] == cafe["branch"]
        assert [(user["email"], user["role"]) for user in bar_entry["users"]] == [(cook["email"], "cook")]
        assert entries[("orders", None)]["sockets"] == 1
        assert result["blip"] == []
        (offline,) = result["offline"]
        assert offline["data"]["station"] == "bar" and offline["data"]["branch_id"] == cafe["branch"]
        assert offline["data"]["since"]
        assert 2 <= result["offline_after"] < 2 + 4, result["offline_after"]
        listed_bar = [entry for entry in result["listed_offline"] if entry["station"] == "bar"]
        assert listed_bar == [
            {"feed": "kitchen", "station": "bar", "branch_id": cafe["branch"], "users": [], "sockets": 0,
             "since": offline["data"]["since"]},
        ]  # fmt: skip
        (online,) = result["online"]
        assert online["data"]["station"] == "bar"
        # Owners name the branch (or see every branch); a branch of no company of theirs is not found.
        assert {entry["branch_id"] for entry in screens(owner, branch=cafe["branch"])} <= {cafe["branch"]}
        assert http.get("/api/cafe/screens/", params={"branch": "nope"}, headers=owner).status_code == 404

    kinds = [row["type"] for row in sql(fresh_postgres, "SELECT type FROM events WHERE type LIKE 'kitchen_screen_%'")]
    assert sorted(kinds) == ["kitchen_screen_offline", "kitchen_screen_online"]


def test_the_screens_of_a_killed_process_expire(fresh_postgres):
    """A process that dies without a word (SIGKILL) leaves its rows behind: they stop counting once its heartbeat is
    old, and the station it held is announced offline by the process that is left."""
    require_redis()
    owner_email = create_company_in(fresh_postgres)
    env = server_env(fresh_postgres, BROADCAST_URL=REDIS_URL, SCREEN_INTERVAL="0.3", SCREEN_GRACE="1")
    doomed: list[subprocess.Popen] = []
    with (
        uvicorn_server(env, processes=doomed) as first,
        uvicorn_server(env) as second,
        httpx2.Client(base_url=f"http://{second}") as http,
    ):
        cafe, owner, cook, waiter = kitchen_company(http, owner_email)

        def bar_sockets() -> int:
            return bar_screen_sockets(http.get("/api/cafe/screens/", headers=waiter).json())

        async def scenario() -> tuple[list[dict], float]:
            orders = await connect(f"ws://{second}/ws/cafe/orders/?token={cafe['waiter_token']}")
            await asyncio.wait_for(orders.recv(), TIMEOUT)
            bar = await connect(f"ws://{first}/ws/cafe/kitchen/?token={cook['token']}&station=bar")
            await asyncio.wait_for(bar.recv(), TIMEOUT)
            deadline = time.monotonic() + TIMEOUT
            while await asyncio.to_thread(bar_sockets) != 1:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            killed_at = time.time()
            doomed[0].send_signal(signal.SIGKILL)
            offline = await frames_until(orders, time.monotonic() + 15, "kitchen_screen_offline", 1)
            took = time.time() - killed_at
            await orders.close()
            return offline, took

        offline, took = asyncio.run(scenario())
        assert [frame["data"]["station"] for frame in offline] == ["bar"]
        # The heartbeat is old after max(3 x 0.3, 0.3 + 2) s, then the grace: about 3.3 s and a pass or two.
        assert 2 < took < 8, took
        assert bar_sockets() == 0
    rows = sql(fresh_postgres, "SELECT process_id FROM screen_processes")
    assert rows == [], "a heartbeat row outlived its process"


def test_a_station_stream_joins_its_group_and_counts_as_a_screen(tmp_path):
    """/ws/cafe/kitchen/?station=bar as server-sent events (a board behind a network that breaks WebSockets): the
    bar's group, and listed among the branch's screens while it is open."""
    database_url = f"sqlite:///{tmp_path}/stream.db"
    owner_email = create_company_in(database_url)
    env = server_env(database_url, SCREEN_INTERVAL="0.2")
    with uvicorn_server(env) as host, httpx2.Client(base_url=f"http://{host}") as http:
        cafe, owner, cook, waiter = kitchen_company(http, owner_email)

        def bar_sockets() -> int:
            return bar_screen_sockets(http.get("/api/cafe/screens/", headers=waiter).json())

        async def scenario() -> dict:
            async with httpx2.AsyncClient(base_url=f"http://{host}", timeout=TIMEOUT) as client:
                headers = {"Authorization": f"Bearer {cook['token']}"}
                async with event_stream(client, "/ws/cafe/kitchen/?station=bar", headers) as sse:
                    first = await sse.next()
                    assert first is not None
                    deadline = time.monotonic() + TIMEOUT
                    while await asyncio.to_thread(bar_sockets) != 1:
                        assert time.monotonic() < deadline
                        await asyncio.sleep(0.1)
                    return json.loads(first.data)

        established = asyncio.run(scenario())
        assert established["group"] == f"cafe_kitchen_{established['company_id']}_{cafe['branch']}_bar"
        deadline = time.monotonic() + TIMEOUT
        while bar_sockets() != 0:
            assert time.monotonic() < deadline, "the ended stream is still counted"
            time.sleep(0.1)
