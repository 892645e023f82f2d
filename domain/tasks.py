"""Kitchen task rows: one per portion of an order item."""

from __future__ import annotations

from typing import TypedDict, cast

from core.shapes import MenuItemRow, TaskJSON, TaskRow
from core.values import new_id, utc_later, utc_now
from events import announce
from events.outbox import Change
from storage.sql import Row, Statements, one

INSERT_TASK = """
INSERT INTO kitchen_tasks
    (id, company_id, branch_id, order_id, order_item_id, menu_item_id, unit_index, status, created_at, station, due_at)
VALUES (:id, :company_id, :branch_id, :order_id, :order_item_id, :menu_item_id, :unit_index, 'pending', :created_at,
    :station, :due_at)
"""
SELECT_STATION = "SELECT station, prep_minutes FROM menu_items WHERE id = :id"
TASK_COLUMNS = """
SELECT kt.*, m.title AS menu_item_title, t.number AS table_number
FROM kitchen_tasks kt
JOIN menu_items m ON m.id = kt.menu_item_id
JOIN orders o ON o.id = kt.order_id
LEFT JOIN cafe_tables t ON t.id = o.table_id
"""
SELECT_TASK = TASK_COLUMNS + "WHERE kt.id = :id"
SELECT_ORDER_TASKS = TASK_COLUMNS + "WHERE kt.order_id = :order_id ORDER BY kt.created_at, kt.unit_index"
UPDATE_TASK = """
UPDATE kitchen_tasks
SET status = :status, cook_id = :cook_id, started_at = :started_at, ready_at = :ready_at, served_at = :served_at
WHERE id = :id
"""
DELETE_TASKS = "DELETE FROM kitchen_tasks WHERE order_id = :order_id"
OPEN_STATUSES = ("pending", "in_progress")
# Done in the kitchen: an order whose portions are all done is ready.
DONE_STATUSES = ("ready", "served", "cancelled")


def task_json(row: TaskRow) -> TaskJSON:
    return {
        "id": row["id"],
        "status": row["status"],
        "order": row["order_id"],
        "order_item": row["order_item_id"],
        "menu_item": row["menu_item_id"],
        "menu_item_title": row["menu_item_title"],
        "table_number": row["table_number"],
        "unit_index": row["unit_index"],
        "cook": row["cook_id"],
        "branch": row["branch_id"],
        "station": row["station"],
        "created_at": row["created_at"],
        "due_at": row["due_at"],
        "started_at": row["started_at"],
        "ready_at": row["ready_at"],
        "served_at": row["served_at"],
        "late_at": row["late_announced_at"],
    }


def _portion_rows(item: Row, branch_id: str, units: range, station: str, prep_minutes: int | None) -> list[Row]:
    """Each portion is due its menu item's prep_minutes after it was ordered (no due time without them)."""
    now = utc_now()
    due_at = None if prep_minutes is None else utc_later(prep_minutes * 60)
    return [
        {
            "id": new_id(),
            "company_id": item["company_id"],
            "branch_id": branch_id,
            "order_id": item["order_id"],
            "order_item_id": item["id"],
            "menu_item_id": item["menu_item_id"],
            "unit_index": unit_index,
            "created_at": now,
            "station": station,
            "due_at": due_at,
        }
        for unit_index in units
    ]


async def create_tasks(db: Statements, item: Row, branch_id: str, units: range) -> list[str]:
    """One pending task per portion of an order item, numbered by `units` (unit_index 1..quantity at first),
    at its menu item's station."""
    menu_item = one(await db.fetch_one(SELECT_STATION, {"id": item["menu_item_id"]}))
    rows = _portion_rows(item, branch_id, units, menu_item["station"], menu_item["prep_minutes"])
    await db.execute_many(INSERT_TASK, rows)
    return [row["id"] for row in rows]


async def insert_portions(
    db: Statements, item: Row, branch_id: str, units: range, menu_item: MenuItemRow, table_number: int | None
) -> list[TaskJSON]:
    """As create_tasks, answering the new tasks' JSON from what was written (nothing is read back)."""
    rows = _portion_rows(item, branch_id, units, menu_item["station"], menu_item["prep_minutes"])
    await db.execute_many(INSERT_TASK, rows)
    return [
        task_json(
            {
                "id": row["id"],
                "company_id": row["company_id"],
                "branch_id": row["branch_id"],
                "order_id": row["order_id"],
                "order_item_id": row["order_item_id"],
                "menu_item_id": row["menu_item_id"],
                "unit_index": row["unit_index"],
                "status": "pending",
                "cook_id": None,
                "created_at": row["created_at"],
                "started_at": None,
                "ready_at": None,
                "station": row["station"],
                "due_at": row["due_at"],
                "served_at": None,
                "late_announced_at": None,
                "menu_item_title": menu_item["title"],
                "table_number": table_number,
            }
        )
        for row in rows
    ]


async def load_task(db: Statements, task_id: str) -> TaskJSON:
    """A task this transaction wrote or holds by a foreign key."""
    return task_json(cast(TaskRow, one(await db.fetch_one(SELECT_TASK, {"id": task_id}))))


async def order_tasks(db: Statements, order_id: str) -> list[TaskJSON]:
    rows = cast(list[TaskRow], await db.fetch_all(SELECT_ORDER_TASKS, {"order_id": order_id}))
    return [task_json(row) for row in rows]


class TaskChanges(TypedDict, total=False):
    """What save_task may change, by TaskJSON's names; what is left out keeps its value."""

    status: str
    cook: str | None
    started_at: str | None
    ready_at: str | None
    served_at: str | None


async def save_task(change: Change, task: TaskJSON, changes: TaskChanges) -> TaskJSON:
    """Write a task's new state and announce it."""
    values = {
        "id": task["id"],
        "status": changes.get("status", task["status"]),
        "cook_id": changes.get("cook", task["cook"]),
        "started_at": changes.get("started_at", task["started_at"]),
        "ready_at": changes.get("ready_at", task["ready_at"]),
        "served_at": changes.get("served_at", task["served_at"]),
    }
    await change.db.execute(UPDATE_TASK, values)
    saved = await load_task(change.db, task["id"])
    await announce.task_saved(change, saved)
    return saved


async def cancel_open_tasks(change: Change, order_id: str) -> None:
    for task in await order_tasks(change.db, order_id):
        if task["status"] in OPEN_STATUSES:
            await save_task(change, task, {"status": "cancelled"})


async def delete_tasks(db: Statements, order_id: str) -> None:
    await db.execute(DELETE_TASKS, {"order_id": order_id})
