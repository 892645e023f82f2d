"""The kitchen's work: listing, claiming and finishing portions."""

from __future__ import annotations

from typing import cast

from core.auth import STAFF_ROLES, Actor
from core.errors import Conflict, Invalid, NotFound
from core.shapes import TaskJSON, TaskRow
from core.values import utc_now
from domain.access import ensure_visible, read_branch, require_role
from domain.orders import load_order, save_order
from domain.stations import station_query
from domain.tasks import (
    DONE_STATUSES,
    OPEN_STATUSES,
    SELECT_TASK,
    TASK_COLUMNS,
    TaskChanges,
    order_tasks,
    save_task,
    task_json,
)
from domain.validate import Body, is_uuid, query_flag
from events.outbox import Change
from events.services import Services
from storage.sql import Statements

TASK_STATUSES = ("pending", "in_progress", "ready", "served", "cancelled")
KITCHEN_ROLES = ("owner", "admin", "manager", "cook")
# Who may bump a ready portion as served: the kitchen, and the waiter who carried it out.
SERVERS = (*KITCHEN_ROLES, "waiter")
SELECT_TASKS = (
    TASK_COLUMNS
    + """
WHERE kt.company_id = :company_id
  AND (:branch_id = '' OR kt.branch_id = :branch_id)
  AND (:status = '' OR kt.status = :status)
  AND (:status <> '' OR kt.status <> 'served')
  AND (:station = '' OR kt.station = :station)
  AND (:cook_id = '' OR kt.cook_id = :cook_id)
ORDER BY kt.created_at, kt.unit_index
LIMIT 1000
"""
)
# Orders still being worked on may turn ready; delivered ones are already past that.
BECOMES_READY_FROM = ("open", "pending", "confirmed", "preparing")
# A portion of a finished order stays where it is.
FINAL_ORDER_STATUSES = ("closed", "cancelled")


async def list_tasks(services: Services, actor: Actor, query: dict[str, str]) -> list[TaskJSON]:
    actor = require_role(actor, STAFF_ROLES)
    branch_id = await read_branch(services.database, actor, query.get("branch_id"))
    status = query.get("status", "")
    if status and status not in TASK_STATUSES:
        raise Invalid({"status": [f"Must be one of: {', '.join(TASK_STATUSES)}."]})
    station = station_query(query)
    mine = query_flag(query, "mine")
    rows = await services.database.fetch_all(
        SELECT_TASKS,
        {
            "company_id": actor.company_id,
            "branch_id": branch_id or "",
            "status": status,
            "station": station or "",
            "cook_id": actor.id if mine else "",
        },
    )
    return [task_json(row) for row in cast(list[TaskRow], rows)]


async def _visible_task(db: Statements, actor: Actor, task_id: object) -> TaskJSON:
    if not is_uuid(task_id):
        raise NotFound("Kitchen task not found.")
    row = ensure_visible(actor, await db.fetch_one(SELECT_TASK, {"id": task_id}), "Kitchen task")
    return task_json(cast(TaskRow, row))


async def get_task(services: Services, actor: Actor, task_id: str) -> TaskJSON:
    actor = require_role(actor, STAFF_ROLES)
    return await _visible_task(services.database, actor, task_id)


async def _claim(change: Change, actor: Actor, task: TaskJSON) -> TaskJSON:
    if task["status"] == "in_progress" and task["cook"] == actor.id:
        return task
    if task["status"] != "pending":
        raise Conflict(f"The task is {task['status']} and cannot be claimed.")
    return await save_task(change, task, {"status": "in_progress", "cook": actor.id, "started_at": utc_now()})


async def _finish(change: Change, actor: Actor, task: TaskJSON) -> TaskJSON:
    if task["status"] not in OPEN_STATUSES:
        raise Conflict(f"The task is {task['status']} and cannot be marked ready.")
    now = utc_now()
    saved = await save_task(
        change,
        task,
        {"status": "ready", "cook": task["cook"] or actor.id, "started_at": task["started_at"] or now, "ready_at": now},
    )
    order = await load_order(change.db, task["order"])
    portions = await order_tasks(change.db, order["id"])
    all_done = all(portion["status"] in DONE_STATUSES for portion in portions)
    if all_done and order["status"] in BECOMES_READY_FROM:
        await save_order(change, order, {"status": "ready"})
    return saved


async def _serve(change: Change, task: TaskJSON) -> TaskJSON:
    """A ready portion went out (bumped): it leaves the kitchen's queue."""
    if task["status"] == "served":
        return task
    if task["status"] != "ready":
        raise Conflict(f"The task is {task['status']} and cannot be served; only a ready portion can.")
    return await save_task(change, task, {"status": "served", "served_at": utc_now()})


async def _recall(change: Change, actor: Actor, task: TaskJSON) -> TaskJSON:
    """A ready or served portion back to cooking (bumped by mistake, or sent back); a ready order is not ready
    any more."""
    if task["status"] not in ("ready", "served"):
        raise Conflict(f"The task is {task['status']} and cannot be recalled; only a ready or served portion can.")
    order = await load_order(change.db, task["order"])
    if order["status"] in FINAL_ORDER_STATUSES:
        raise Conflict(f"The order is {order['status']}: its portions cannot be recalled.")
    changes: TaskChanges = {
        "status": "in_progress",
        "cook": task["cook"] or actor.id,
        "ready_at": None,
        "served_at": None,
    }
    saved = await save_task(change, task, changes)
    if order["status"] == "ready":
        await save_order(change, order, {"status": "preparing", "ready_at": None})
    return saved


async def _reopen(change: Change, task: TaskJSON) -> TaskJSON:
    if task["status"] != "in_progress":
        raise Conflict(f"The task is {task['status']} and cannot go back to pending.")
    return await save_task(change, task, {"status": "pending", "cook": None, "started_at": None})


async def _cancel(change: Change, task: TaskJSON) -> TaskJSON:
    if task["status"] not in OPEN_STATUSES:
        raise Conflict(f"The task is {task['status']} and cannot be cancelled.")
    return await save_task(change, task, {"status": "cancelled"})


async def claim_task(services: Services, actor: Actor, task_id: str) -> TaskJSON:
    actor = require_role(actor, KITCHEN_ROLES)
    async with services.change(actor.company_id) as change:
        return await _claim(change, actor, await _visible_task(change.db, actor, task_id))


async def mark_ready(services: Services, actor: Actor, task_id: str) -> TaskJSON:
    actor = require_role(actor, KITCHEN_ROLES)
    async with services.change(actor.company_id) as change:
        return await _finish(change, actor, await _visible_task(change.db, actor, task_id))


async def serve_task(services: Services, actor: Actor, task_id: str) -> TaskJSON:
    actor = require_role(actor, SERVERS)
    async with services.change(actor.company_id) as change:
        return await _serve(change, await _visible_task(change.db, actor, task_id))


async def recall_task(services: Services, actor: Actor, task_id: str) -> TaskJSON:
    actor = require_role(actor, KITCHEN_ROLES)
    async with services.change(actor.company_id) as change:
        return await _recall(change, actor, await _visible_task(change.db, actor, task_id))


async def update_task(services: Services, actor: Actor, task_id: str, data: object) -> TaskJSON:
    actor = require_role(actor, KITCHEN_ROLES)
    body = Body(data, {"status"})
    status = body.choice("status", TASK_STATUSES)
    body.check()
    async with services.change(actor.company_id) as change:
        task = await _visible_task(change.db, actor, task_id)
        if status == "in_progress" and task["status"] in ("ready", "served"):
            return await _recall(change, actor, task)
        if status == "in_progress":
            return await _claim(change, actor, task)
        if status == "served":
            return await _serve(change, task)
        if status == "ready":
            return await _finish(change, actor, task)
        if status == "pending":
            return await _reopen(change, task)
        return await _cancel(change, task)
