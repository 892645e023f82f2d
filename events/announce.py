"""What each change emits, in every dialect: DESIGN's "What each change emits" table as code.

Writers call one function per kind of change; this module decides the events, their channels and
their order. Waiter notifications are stored here too, so a missed one can be listed later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TypedDict, cast

from core.shapes import MenuItemJSON, OrderJSON, OrderRow, SessionJSON, TableJSON, TaskJSON
from core.values import new_id, parse_cents, utc_now
from events import entities, feeds, rooms
from events.entities import message
from events.outbox import Change
from storage.sql import one

SELECT_BRANCH_WAITERS = (
    "SELECT id FROM users WHERE company_id = :company_id AND branch_id = :branch_id AND role = 'waiter'"
)
INSERT_NOTIFICATION = """
INSERT INTO notifications (id, company_id, recipient_id, type, payload, created_at)
VALUES (:id, :company_id, :recipient_id, :type, :payload, :created_at)
"""
SELECT_BRANCH_CITY_AND_NAME = "SELECT city_id, name FROM branches WHERE id = :id"
SELECT_ORDER_WAITER = "SELECT waiter_id, number FROM orders WHERE id = :id"


def _table_number(value: int | None) -> str | None:
    return None if value is None else str(value)


def _amount(cents: int) -> int | float:
    """Money as the rooms socket shows it: a JSON number (1500, 150.5)."""
    return cents // 100 if cents % 100 == 0 else cents / 100


def _money(text: str) -> int | float:
    return _amount(parse_cents(text) or 0)


async def _branch_city(change: Change, branch_id: str) -> int:
    return (await _branch(change, branch_id))["city_id"]


class _BranchPlace(TypedDict):
    """SELECT_BRANCH_CITY_AND_NAME's row."""

    city_id: int
    name: str


async def _branch(change: Change, branch_id: str) -> _BranchPlace:
    """The branch's city and name, read once per change (several events of one change name them)."""
    key = f"branch_{branch_id}"
    if key not in change.memo:
        # The branch of a row this change writes: it exists, by the row's foreign key.
        change.memo[key] = one(await change.reads.fetch_one(SELECT_BRANCH_CITY_AND_NAME, {"id": branch_id}))
    return cast(_BranchPlace, change.memo[key])


async def read_ahead_for_order(change: Change, branch_id: str) -> None:
    """What announcing a new order of the branch reads (its city and name), read now: a reads_first change
    calls this before it takes the company's lock, so the read is not one more round trip under it."""
    await _branch(change, branch_id)


def shop_order(order: OrderJSON) -> bool:
    """Whether the order is the online shop's (pickup, delivery), which the rooms dialect's order rooms carry:
    its admin panel announces every new-order as one to pack, and knows no dine_in (DESIGN, Browser sessions)."""
    return order["type"] in ("pickup", "delivery")


async def _order_rooms(change: Change, branch_id: str) -> list[str]:
    """admin-orders and the city room of the branch."""
    city_id = await _branch_city(change, branch_id)
    return [rooms.admin_channel(change.company_id), rooms.city_channel(change.company_id, city_id)]


def _room_order(order: OrderJSON, branch: _BranchPlace) -> dict[str, object]:
    """new-order / order-created: seed 004's fields, and what today's mini-app and admin panel read."""
    return {
        "id": order["id"],
        "order_number": str(order["number"]),
        "user_id": order["created_by"],
        "city_id": branch["city_id"],
        "branch_id": order["branch"],
        "branchId": order["branch"],
        "branch": {"id": order["branch"], "name": branch["name"]},
        "type": order["type"],
        "table_number": order["table_number"],
        "status": rooms.room_status(order["status"]),
        "total": _money(order["total_amount"]),
        "bonuses_used": _money(order["bonuses_used"]),
        "bonuses_earned": _money(order["bonuses_earned"]),
        "items": [
            {"menu_item": item["menu_item"], "title": item["menu_item_title"], "quantity": item["quantity"]}
            for item in order["items"]
        ],
        "created_at": order["created_at"],
    }


async def _notify(change: Change, branch_id: str, waiter_ids: list[str], kind: str, data: Mapping[str, object]) -> None:
    """A stored notification for each waiter (on its socket, with its id), and the branch-wide copy."""
    for waiter_id in waiter_ids:
        await _notify_waiter(change, waiter_id, kind, data)
    channel = entities.restaurant_notifications_channel(change.company_id, branch_id)
    await change.emit(kind, [channel], message(kind, data))


async def _notify_waiter(change: Change, waiter_id: str, kind: str, data: Mapping[str, object]) -> None:
    notification_id = new_id()
    await change.db.execute(
        INSERT_NOTIFICATION,
        {
            "id": notification_id,
            "company_id": change.company_id,
            "recipient_id": waiter_id,
            "type": kind,
            "payload": json.dumps(data, ensure_ascii=False),
            "created_at": utc_now(),
        },
    )
    channel = entities.waiter_channel(change.company_id, waiter_id)
    await change.emit(kind, [channel], message(kind, {**data, "notification_id": notification_id}))


async def order_created(change: Change, order: OrderJSON) -> None:
    await feeds.emit_order(change, "order_created", order)
    summary = {
        "order_id": order["id"],
        "number": order["number"],
        "table_number": _table_number(order["table_number"]),
        "items_count": entities.items_count(order),
        "total_amount": order["total_amount"],
        "status": order["status"],
        "waiter_id": order["waiter"],
        "created_at": order["created_at"],
    }
    restaurant = entities.restaurant_channel(change.company_id, order["branch"])
    await change.emit("new_order", [restaurant], message("new_order", summary))
    where = f"table {order['table_number']}" if order["table_number"] is not None else "takeaway"
    note = {
        "order_id": order["id"],
        "table_number": summary["table_number"],
        "items_count": summary["items_count"],
        "message": f"New order for {where}",
    }
    await _notify(change, order["branch"], [order["waiter"]] if order["waiter"] else [], "order_notification", note)
    data = _room_order(order, await _branch(change, order["branch"]))
    if shop_order(order):
        branch_room = rooms.branch_channel(change.company_id, order["branch"])
        followers = [*await _order_rooms(change, order["branch"]), branch_room]
        await change.emit("new-order", followers, {"type": "new-order", "data": data})
    creator = [rooms.user_channel(change.company_id, order["created_by"])]
    await change.emit("order-created", creator, {"type": "order-created", "data": data})


async def order_saved(change: Change, before: OrderRow, order: OrderJSON) -> None:
    """Any change of an order's own fields (status, guests, payment, staff)."""
    await feeds.emit_order(change, "order_updated", order)
    channel = [entities.order_channel(change.company_id, order["id"])]
    if before["status"] != order["status"]:
        await change.emit("order_status", channel, message("order_status", entities.order_status_data(order)))
        status = {
            "orderId": order["id"],
            "newStatus": rooms.room_status(order["status"]),
            "oldStatus": rooms.room_status(before["status"]),
            "timestamp": order["updated_at"],
            "branchId": order["branch"],
        }
        followers = [rooms.user_channel(change.company_id, order["created_by"])]
        if shop_order(order):
            branch_room = rooms.branch_channel(change.company_id, order["branch"])
            followers += [*await _order_rooms(change, order["branch"]), branch_room]
        await change.emit("order-status-updated", followers, {"type": "order-status-updated", "data": status})
    await change.emit("order_update", channel, message("order_update", order))
    if order["status"] == "ready" and before["status"] != "ready":
        data = {
            "order_id": order["id"],
            "number": order["number"],
            "table_number": _table_number(order["table_number"]),
            "ready_at": order["ready_at"],
        }
        restaurant = entities.restaurant_channel(change.company_id, order["branch"])
        await change.emit("order_ready", [restaurant], message("order_ready", data))


async def items_changed(change: Change, order: OrderJSON) -> None:
    await feeds.emit_order(change, "order_updated", order)
    data = entities.items_data(order)
    await change.emit(
        "order_items_update",
        [entities.order_channel(change.company_id, order["id"])],
        message("order_items_update", data),
    )
    await change.emit(
        "items_updated",
        [entities.order_items_channel(change.company_id, order["id"])],
        message("items_updated", data),
    )


async def order_deleted(change: Change, order: OrderJSON) -> None:
    await feeds.emit_order_deleted(change, order)


async def payment_made(change: Change, order: OrderJSON, amount: str, method: str) -> None:
    data = {
        "order_id": order["id"],
        "table_number": _table_number(order["table_number"]),
        "amount": amount,
        "method": method,
        "message": f"Payment of {amount} received for order {order['number']}",
    }
    await _notify(change, order["branch"], [order["waiter"]] if order["waiter"] else [], "payment_notification", data)
    completed = {
        "order_id": order["id"],
        "amount": amount,
        "method": method,
        "total_amount": order["total_amount"],
        "paid_amount": order["paid_amount"],
        "status": order["status"],
    }
    restaurant = entities.restaurant_channel(change.company_id, order["branch"])
    await change.emit("payment_completed", [restaurant], message("payment_completed", completed))


async def table_saved(change: Change, event_type: str, table: TableJSON) -> None:
    """table_created / table_updated, and the table's own socket."""
    await feeds.emit_table(change, event_type, table)
    await table_update(change, table["id"])


async def table_update(change: Change, table_id: str) -> None:
    data = await entities.table_data(change.db, table_id)
    channel = [entities.table_channel(change.company_id, table_id)]
    await change.emit("table_update", channel, message("table_update", data))


async def table_status_changed(change: Change, table: TableJSON) -> None:
    await feeds.emit_table_status(change, table)
    data = await entities.table_data(change.db, table["id"])
    channel = [entities.table_channel(change.company_id, table["id"])]
    # Seed 003: table changes go to the table and the restaurant consumers.
    restaurant = entities.restaurant_channel(change.company_id, table["branch"])
    await change.emit("table_status", [*channel, restaurant], message("table_status", data))
    await change.emit("table_update", channel, message("table_update", data))


async def session_saved(change: Change, session: SessionJSON, table_status_changed: bool, closed: bool) -> None:
    """session_update (and session_status when it closes); table_update unless the status change sent one."""
    channel = [entities.session_channel(change.company_id, session["id"])]
    await change.emit("session_update", channel, message("session_update", session))
    if closed:
        await change.emit("session_status", channel, message("session_status", session))
    if not table_status_changed:
        await table_update(change, session["table_id"])


async def task_created(change: Change, task: TaskJSON) -> None:
    await feeds.emit_kitchen_task(change, "kitchen_task_created", task)


async def task_saved(change: Change, task: TaskJSON) -> None:
    """kitchen_task_ready / _updated; a ready portion is also a task_notification for its order's waiter."""
    if task["status"] != "ready":
        await feeds.emit_kitchen_task(change, "kitchen_task_updated", task)
        return
    await feeds.emit_kitchen_task(change, "kitchen_task_ready", task)
    order = one(await change.db.fetch_one(SELECT_ORDER_WAITER, {"id": task["order"]}))
    if order["waiter_id"]:
        data = {
            "task_id": task["id"],
            "order_id": task["order"],
            "table_number": _table_number(task["table_number"]),
            "menu_item": task["menu_item_title"],
            "unit_index": task["unit_index"],
            "message": f"{task['menu_item_title']} is ready for order {order['number']}",
        }
        await _notify_waiter(change, order["waiter_id"], "task_notification", data)


async def broadcast(change: Change, branch_id: str, data: Mapping[str, object]) -> None:
    """An admin's broadcast: `broadcast` on the restaurant socket, `alert` to its waiters and notifications."""
    restaurant = entities.restaurant_channel(change.company_id, branch_id)
    await change.emit("broadcast", [restaurant], message("broadcast", data))
    rows = await change.db.fetch_all(SELECT_BRANCH_WAITERS, {"company_id": change.company_id, "branch_id": branch_id})
    await _notify(change, branch_id, [row["id"] for row in rows], "alert", data)


async def notification_acknowledged(change: Change, waiter_id: str, notification_id: str) -> None:
    """Every socket of the waiter learns that one of them acknowledged it."""
    data = {"notification_id": notification_id}
    channel = [entities.waiter_channel(change.company_id, waiter_id)]
    await change.emit("notification_acknowledged", channel, message("notification_acknowledged", data))


async def bonus_updated(change: Change, user_id: str, balance: int, kind: str, amount: int, order_id: str) -> None:
    data = {
        "balance": _amount(balance),
        "operation": {"type": kind, "amount": _amount(amount), "orderId": order_id},
        "timestamp": utc_now(),
    }
    channel = [rooms.user_channel(change.company_id, user_id)]
    await change.emit("bonus-updated", channel, {"type": "bonus-updated", "data": data})


async def menu_item_saved(change: Change, item: MenuItemJSON) -> None:
    """menu-updated to every rooms socket of the company (created, changed or switched off): the mini-app
    reloads its menu."""
    data = {"branchId": item["branch"], "menuItemId": item["id"]}
    channel = [rooms.company_channel(change.company_id)]
    await change.emit("menu-updated", channel, {"type": "menu-updated", "data": data})


async def sync_finished(change: Change, branch_id: str, entity: str, entity_id: str, error: str | None) -> None:
    """sync-success / sync-error of a POS sync job, for admin-orders and the city room."""
    data: dict[str, object] = {"entity": entity, "entityId": entity_id}
    if error is not None:
        data["error"] = error
    data["timestamp"] = utc_now()
    kind = "sync-success" if error is None else "sync-error"
    await change.emit(kind, await _order_rooms(change, branch_id), {"type": kind, "data": data})
