"""Changing what an order holds after it was created: add, resize and remove its items."""

from __future__ import annotations

from typing import cast

from core.auth import Actor
from core.errors import Conflict, Invalid, NotFound
from core.shapes import AddedItemJSON, OrderJSON, OrderRow, TaskJSON, TaskRow
from core.values import utc_now
from domain import tasks
from domain.access import require_role
from domain.orders import (
    FINAL_STATUSES,
    MAX_QUANTITY,
    ORDER_WRITERS,
    available_menu_item,
    insert_line,
    load_order,
    order_json,
    save_order,
    too_many_portions,
    visible_order,
)
from domain.validate import Body, is_uuid
from events import announce
from events.outbox import Change
from events.services import Services
from storage.sql import Row, Statements, one

SELECT_ITEM = "SELECT * FROM order_items WHERE id = :id"
SELECT_NEXT_LINE = "SELECT COALESCE(MAX(line), 0) + 1 AS next FROM order_items WHERE order_id = :order_id"
SELECT_LINE_ID = "SELECT id FROM order_items WHERE order_id = :order_id AND line = :line"
UPDATE_QUANTITY = "UPDATE order_items SET quantity = :quantity WHERE id = :id"
DELETE_ITEM = "DELETE FROM order_items WHERE id = :id"
DELETE_ITEM_TASKS = "DELETE FROM kitchen_tasks WHERE order_item_id = :order_item_id"
UPDATE_TOTAL = """
UPDATE orders SET
  total_cents = (SELECT COALESCE(SUM(price_cents * quantity), 0) FROM order_items WHERE order_id = :order_id),
  updated_at = :updated_at
WHERE id = :order_id
"""
SELECT_ITEM_TASKS = tasks.TASK_COLUMNS + "WHERE kt.order_item_id = :order_item_id ORDER BY kt.unit_index"
SELECT_PORTIONS = "SELECT COALESCE(SUM(quantity), 0) AS n FROM order_items WHERE order_id = :order_id"


async def _open_order(db: Statements, actor: Actor, order_id: object) -> OrderRow:
    order = await visible_order(db, actor, order_id)
    if order["status"] in FINAL_STATUSES:
        raise Conflict(f"The order is {order['status']} and can no longer change.")
    return order


async def _item_of_open_order(db: Statements, actor: Actor, item_id: object) -> tuple[Row, OrderRow]:
    if not is_uuid(item_id):
        raise NotFound("Order item not found.")
    row = await db.fetch_one(SELECT_ITEM, {"id": item_id})
    if row is None or row["company_id"] != actor.company_id:
        raise NotFound("Order item not found.")
    return dict(row), await _open_order(db, actor, row["order_id"])


async def _check_portions(services: Services, db: Statements, order_id: str, added: int) -> None:
    """An order keeps to MAX_PORTIONS_PER_ORDER also when it grows after it was placed."""
    if added <= 0:
        return
    portions = one(await db.fetch_one(SELECT_PORTIONS, {"order_id": order_id}))["n"] + added
    if portions > services.settings.max_portions_per_order:
        raise Invalid({"quantity": [too_many_portions(services.settings.max_portions_per_order, portions)]})


async def _item_tasks(db: Statements, item_id: str) -> list[TaskJSON]:
    rows = cast(list[TaskRow], await db.fetch_all(SELECT_ITEM_TASKS, {"order_item_id": item_id}))
    return [tasks.task_json(row) for row in rows]


async def _finish(change: Change, order_id: str, new_task_ids: list[str]) -> OrderJSON:
    """Recompute the total, announce the items, then the new portions."""
    await change.db.execute(UPDATE_TOTAL, {"order_id": order_id, "updated_at": utc_now()})
    current = await load_order(change.db, order_id)
    if new_task_ids and current["status"] == "ready":
        # DESIGN: new portions send a ready order back to preparing (ready_at is stamped anew when it is ready).
        order = await save_order(change, current, {"status": "preparing", "ready_at": None})
    else:
        order = await order_json(change.db, current)
    await announce.items_changed(change, order)
    for task_id in new_task_ids:
        await announce.task_created(change, await tasks.load_task(change.db, task_id))
    return order


async def add_item(services: Services, actor: Actor, data: object) -> AddedItemJSON:
    """A new line on an open order; answers the created item (PATCH and DELETE answer the whole order)."""
    actor = require_role(actor, ORDER_WRITERS)
    body = Body(data, {"order", "menu_item", "quantity"})
    order_id = body.ident("order")
    menu_item_id = body.ident("menu_item")
    quantity = body.integer("quantity", low=1, high=MAX_QUANTITY, required=False) or 1
    body.check()
    assert menu_item_id is not None  # required: check() refused their absence
    async with services.change(actor.company_id) as change:
        order = await _open_order(change.db, actor, order_id)
        await _check_portions(services, change.db, order["id"], quantity)
        menu_item = await available_menu_item(change.db, actor, menu_item_id, order["branch_id"], "menu_item")
        line = one(await change.db.fetch_one(SELECT_NEXT_LINE, {"order_id": order["id"]}))["next"]
        task_ids = await insert_line(
            change.db, actor.company_id, order["branch_id"], order["id"], line, menu_item, quantity
        )
        item_id = one(await change.db.fetch_one(SELECT_LINE_ID, {"order_id": order["id"], "line": line}))["id"]
        saved = await _finish(change, order["id"], task_ids)
    return added_item_json(saved, item_id)


def added_item_json(order: OrderJSON, item_id: str) -> AddedItemJSON:
    """The created item (so a client can change it later by its id), its order and the order's new total."""
    item = next(item for item in order["items"] if item["id"] == item_id)
    return {**item, "order": order["id"], "order_total_amount": order["total_amount"]}


async def change_item(services: Services, actor: Actor, item_id: str, data: object) -> OrderJSON:
    """A new quantity: more portions go to the kitchen; fewer cancel pending ones, never cooked ones."""
    actor = require_role(actor, ORDER_WRITERS)
    body = Body(data, {"quantity"})
    quantity = body.integer("quantity", low=1, high=MAX_QUANTITY)
    body.check()
    assert quantity is not None  # required: check() refused their absence
    async with services.change(actor.company_id) as change:
        item, order = await _item_of_open_order(change.db, actor, item_id)
        await _check_portions(services, change.db, order["id"], quantity - item["quantity"])
        portions = await _item_tasks(change.db, item["id"])
        new_task_ids: list[str] = []
        if quantity > item["quantity"]:
            first = max((portion["unit_index"] for portion in portions), default=0) + 1
            units = range(first, first + quantity - item["quantity"])
            new_task_ids = await tasks.create_tasks(change.db, item, order["branch_id"], units)
        elif quantity < item["quantity"]:
            pending = [portion for portion in reversed(portions) if portion["status"] == "pending"]
            surplus = item["quantity"] - quantity
            if len(pending) < surplus:
                raise Conflict(f"Only {len(pending)} portions are still pending; the others are cooking or ready.")
            for portion in pending[:surplus]:
                await tasks.save_task(change, portion, {"status": "cancelled"})
        await change.db.execute(UPDATE_QUANTITY, {"id": item["id"], "quantity": quantity})
        return await _finish(change, order["id"], new_task_ids)


async def remove_item(services: Services, actor: Actor, item_id: str) -> OrderJSON:
    actor = require_role(actor, ORDER_WRITERS)
    async with services.change(actor.company_id) as change:
        item, order = await _item_of_open_order(change.db, actor, item_id)
        portions = await _item_tasks(change.db, item["id"])
        if any(portion["status"] in ("in_progress", "ready", "served") for portion in portions):
            raise Conflict("Some portions are cooking or ready; reduce the quantity instead.")
        for portion in portions:
            if portion["status"] == "pending":
                await tasks.save_task(change, portion, {"status": "cancelled"})
        await change.db.execute(DELETE_ITEM_TASKS, {"order_item_id": item["id"]})
        await change.db.execute(DELETE_ITEM, {"id": item["id"]})
        return await _finish(change, order["id"], [])
