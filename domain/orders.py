"""Orders: create with items (one kitchen task per portion), change, pay, delete (listing: order_queries)."""

from __future__ import annotations

from typing import TypedDict, cast

from core.auth import Actor
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.shapes import MenuItemRow, OrderItemRow, OrderJSON, OrderRow, TaskJSON, VoidJSON
from core.values import format_cents, new_id, utc_now
from domain import bonuses, sync, tasks
from domain.access import MANAGERS, ensure_visible, require_company, require_role, write_branch
from domain.catalog import visible_client, visible_menu_item
from domain.floor import refresh_table_status, visible_table
from domain.validate import Body, is_uuid, whole
from events import announce
from events.outbox import Change
from events.services import Services
from storage.sql import Row, Statements, one

STATUSES = ("open", "pending", "confirmed", "preparing", "ready", "delivered", "closed", "cancelled")
FINAL_STATUSES = ("closed", "cancelled")
PAYMENT_METHODS = ("cash", "card", "transfer", "online")
ORDER_WRITERS = ("owner", "admin", "manager", "waiter", "cashier")
ORDER_READERS = (*ORDER_WRITERS, "cook", "client")
MAX_QUANTITY = 100
# A void (cancelling what the kitchen started) and a comp (closing with money due) are a manager's decision.
WRITE_OFF_ROLES = MANAGERS
MAX_REASON = 500
# How the order reaches its guests. The rooms dialect (the online shop's admin) hears of pickup and delivery only.
ORDER_TYPES = ("dine_in", "pickup", "delivery")

SELECT_ORDER = "SELECT * FROM orders WHERE id = :id"
SELECT_ORDER_ITEMS = """
SELECT oi.id, oi.menu_item_id, oi.quantity, oi.price_cents, m.title
FROM order_items oi JOIN menu_items m ON m.id = oi.menu_item_id
WHERE oi.order_id = :order_id ORDER BY oi.line
"""
SELECT_TABLE_NUMBER = "SELECT number FROM cafe_tables WHERE id = :id"
SELECT_STAFF = "SELECT id, branch_id, role FROM users WHERE id = :id AND company_id = :company_id"
# The branch's next number is taken in the insert itself; the company's counter lock orders the writers.
INSERT_ORDER = """
INSERT INTO orders (id, company_id, branch_id, number, table_id, client_id, waiter_id, created_by, guests, status,
                    type, total_cents, paid_cents, bonuses_used_cents, bonuses_earned_cents, created_at, updated_at)
VALUES (:id, :company_id, :branch_id,
        (SELECT COALESCE(MAX(number), 0) + 1 FROM orders WHERE branch_id = :branch_id),
        :table_id, :client_id, :waiter_id, :created_by, :guests, :status, :type,
        :total_cents, 0, :bonuses_used_cents, 0, :created_at, :created_at)
RETURNING number
"""
INSERT_ORDER_ITEM = """
INSERT INTO order_items (id, company_id, order_id, menu_item_id, line, quantity, price_cents, created_at)
VALUES (:id, :company_id, :order_id, :menu_item_id, :line, :quantity, :price_cents, :created_at)
"""
UPDATE_ORDER = """
UPDATE orders SET status = :status, guests = :guests, waiter_id = :waiter_id, client_id = :client_id,
                  table_id = :table_id, paid_cents = :paid_cents, updated_at = :updated_at,
                  confirmed_at = :confirmed_at, ready_at = :ready_at, delivered_at = :delivered_at,
                  closed_at = :closed_at, bonuses_earned_cents = :bonuses_earned_cents,
                  void_kind = :void_kind, voided_by = :voided_by, voided_at = :voided_at,
                  void_reason = :void_reason, written_off_cents = :written_off_cents
WHERE id = :id
"""
INSERT_PAYMENT = """
INSERT INTO payments (id, company_id, order_id, method, amount_cents, created_by, created_at)
VALUES (:id, :company_id, :order_id, :method, :amount_cents, :created_by, :created_at)
"""
ORDER_STATE = (
    "id",
    "status",
    "guests",
    "waiter_id",
    "client_id",
    "table_id",
    "paid_cents",
    "updated_at",
    "confirmed_at",
    "ready_at",
    "delivered_at",
    "closed_at",
    "bonuses_earned_cents",
    "void_kind",
    "voided_by",
    "voided_at",
    "void_reason",
    "written_off_cents",
)
# The moment an order first reaches a status is kept; closed and cancelled share closed_at.
STATUS_STAMPS = {
    "confirmed": "confirmed_at",
    "ready": "ready_at",
    "delivered": "delivered_at",
    "closed": "closed_at",
    "cancelled": "closed_at",
}
SELECT_CUSTOMER = "SELECT id FROM users WHERE id = :id AND role = 'client'"
COUNT_PAYMENTS = "SELECT COUNT(*) AS n FROM payments WHERE order_id = :order_id"
COUNT_STARTED_PORTIONS = (
    "SELECT COUNT(*) AS n FROM kitchen_tasks WHERE order_id = :order_id AND status IN ('in_progress', 'ready')"
)
DELETE_ORDER_ITEMS = "DELETE FROM order_items WHERE order_id = :order_id"
DELETE_ORDER = "DELETE FROM orders WHERE id = :id"


async def load_order(db: Statements, order_id: str) -> OrderRow:
    """An order this transaction wrote or holds by a foreign key."""
    return cast(OrderRow, one(await db.fetch_one(SELECT_ORDER, {"id": order_id})))


async def order_json(db: Statements, row: OrderRow) -> OrderJSON:
    items = cast(list[OrderItemRow], await db.fetch_all(SELECT_ORDER_ITEMS, {"order_id": row["id"]}))
    table = await db.fetch_one(SELECT_TABLE_NUMBER, {"id": row["table_id"]}) if row["table_id"] else None
    return order_document(row, items, table["number"] if table else None)


def order_document(row: OrderRow, items: list[OrderItemRow], table_number: int | None) -> OrderJSON:
    """An order's JSON from its row, its items (with the menu item's title) and its table's number."""
    return {
        "id": row["id"],
        "number": row["number"],
        "type": row["type"],
        "table": row["table_id"],
        "table_number": table_number,
        "client": row["client_id"],
        "waiter": row["waiter_id"],
        "created_by": row["created_by"],
        "guests": row["guests"],
        "status": row["status"],
        "total_amount": format_cents(row["total_cents"]),
        "paid_amount": format_cents(row["paid_cents"]),
        "bonuses_used": format_cents(row["bonuses_used_cents"]),
        "bonuses_earned": format_cents(row["bonuses_earned_cents"]),
        "items": [
            {
                "id": item["id"],
                "menu_item": item["menu_item_id"],
                "menu_item_title": item["title"],
                "quantity": item["quantity"],
                "price": format_cents(item["price_cents"]),
                "total": format_cents(item["price_cents"] * item["quantity"]),
            }
            for item in items
        ],
        "branch": row["branch_id"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "confirmed_at": row["confirmed_at"],
        "ready_at": row["ready_at"],
        "delivered_at": row["delivered_at"],
        "closed_at": row["closed_at"],
        "void": void_document(row),
    }


def void_document(row: OrderRow) -> VoidJSON | None:
    if row["void_kind"] is None:
        return None
    return {
        "kind": row["void_kind"],
        "by": row["voided_by"],
        "reason": row["void_reason"],
        "at": row["voided_at"],
        "amount": format_cents(row["written_off_cents"]),
    }


def read_items(body: Body, max_portions: int) -> list[tuple[str, int]]:
    lines: list[tuple[str, int]] = []
    for index, entry in enumerate(body.items("items", required=False)):
        field = f"items[{index}]"
        if not isinstance(entry, dict) or set(entry) - {"menu_item", "quantity"}:
            body.fail(field, "Must be an object with menu_item and quantity.")
            continue
        menu_item, quantity = entry.get("menu_item"), whole(entry.get("quantity", 1))
        if not is_uuid(menu_item):
            body.fail(f"{field}.menu_item", "Must be a UUID.")
        elif quantity is None or not 1 <= quantity <= MAX_QUANTITY:
            body.fail(f"{field}.quantity", f"Must be an integer between 1 and {MAX_QUANTITY}.")
        else:
            lines.append((menu_item, quantity))
    portions = sum(quantity for _, quantity in lines)
    if portions > max_portions:
        body.fail("items", too_many_portions(max_portions, portions))
    return lines


def too_many_portions(max_portions: int, portions: int) -> str:
    return f"An order may hold at most {max_portions} portions (the sum of quantities); this makes {portions}."


async def _staff_member(db: Statements, actor: Actor, user_id: str | None, branch_id: str) -> str | None:
    if user_id is None:
        return None
    if user_id == actor.id and actor.role != "client" and actor.branch_id in (None, branch_id):
        return user_id  # the token already says who the writer is and where it works
    row = await db.fetch_one(SELECT_STAFF, {"id": user_id, "company_id": actor.company_id})
    if row is None:
        raise NotFound("Waiter not found.")
    if row["role"] == "client" or row["branch_id"] not in (None, branch_id):
        raise Invalid({"waiter": ["The waiter does not work in the order's branch."]})
    return user_id


async def create_order(services: Services, actor: Actor, data: object) -> OrderJSON:
    actor = require_role(actor, ORDER_WRITERS)
    body = Body(data, {"table", "guests", "client", "waiter", "items", "branch", "type"})
    table_id = body.ident("table", required=False)
    guests = body.integer("guests", low=1, high=1000, required=False) or 1
    client_id = body.ident("client", required=False)
    waiter_id = body.ident("waiter", required=False)
    branch_given = body.ident("branch", required=False)
    kind = body.choice("type", ORDER_TYPES, required=False) or ("dine_in" if table_id else "pickup")
    lines = read_items(body, services.settings.max_portions_per_order)
    body.check()
    if waiter_id is None and actor.role == "waiter":
        waiter_id = actor.id
    # What an order only refers to (its table, branch, client, waiter and menu items) is read before the
    # company's lock; the table's status, which the order changes, is read under it (refresh_table_status).
    async with services.change(actor.company_id, reads_first=True) as change:
        reads = change.reads
        table_number = None
        if table_id is not None:
            table = await visible_table(reads, actor, table_id)
            if branch_given is not None and branch_given != table["branch_id"]:
                raise Invalid({"branch": ["The table belongs to another branch."]})
            branch_id, table_number = table["branch_id"], table["number"]
        else:
            branch_id = await write_branch(reads, actor, branch_given)
        if client_id is not None:
            await visible_client(reads, actor, client_id)
        waiter_id = await _staff_member(reads, actor, waiter_id, branch_id)
        priced = await price_lines(reads, actor, lines, branch_id)
        await announce.read_ahead_for_order(change, branch_id)
        await change.lock()
        fields: NewOrder = {
            "table_id": table_id,
            "client_id": client_id,
            "waiter_id": waiter_id,
            "guests": guests,
            "type": kind,
        }
        order = await place_order(change, actor, branch_id, fields, priced, status="open", table_number=table_number)
    return order


class NewOrder(TypedDict, total=False):
    """The columns of a new order its caller chose; the rest are place_order's (left out: their defaults)."""

    table_id: str | None
    client_id: str | None
    waiter_id: str | None
    guests: int
    type: str


class OrderChanges(TypedDict, total=False):
    """What save_order may change, by OrderRow's column names; what is left out keeps its value."""

    status: str
    guests: int
    waiter_id: str | None
    client_id: str | None
    table_id: str | None
    paid_cents: int
    bonuses_earned_cents: int
    ready_at: str | None
    void_kind: str
    voided_by: str
    voided_at: str
    void_reason: str
    written_off_cents: int


async def place_order(
    change: Change,
    actor: Actor,
    branch_id: str,
    fields: NewOrder,
    priced: list[tuple[MenuItemRow, int]],
    status: str,
    bonuses_used: int = 0,
    table_number: int | None = None,
) -> OrderJSON:
    """Insert a checked order with its items and portions, spend its bonuses, and announce it all.

    The order's JSON and its tasks' are built from what is written: nothing is read back."""
    db = change.db
    total = sum(item["price_cents"] * quantity for item, quantity in priced)
    if bonuses_used > total:
        raise Invalid({"bonuses_used": ["Bonuses cannot pay more than the order's total."]})
    now = utc_now()
    row: Row = {
        "id": new_id(),
        "company_id": actor.company_id,
        "branch_id": branch_id,
        "table_id": fields.get("table_id"),
        "client_id": fields.get("client_id"),
        "waiter_id": fields.get("waiter_id"),
        "created_by": actor.id,
        "guests": fields.get("guests", 1),
        "status": status,
        "type": fields.get("type") or ("dine_in" if fields.get("table_id") else "pickup"),
        "total_cents": total,
        "bonuses_used_cents": bonuses_used,
        "created_at": now,
    }
    inserted = one(await db.fetch_one(INSERT_ORDER, row))
    row |= {
        "number": inserted["number"],
        "paid_cents": 0,
        "bonuses_earned_cents": 0,
        "updated_at": now,
        "confirmed_at": None,
        "ready_at": None,
        "delivered_at": None,
        "closed_at": None,
        "void_kind": None,
        "voided_by": None,
        "voided_at": None,
        "void_reason": None,
        "written_off_cents": 0,
    }
    items = [_item_row(row, line, menu_item, quantity) for line, (menu_item, quantity) in enumerate(priced, start=1)]
    await db.execute_many(INSERT_ORDER_ITEM, items)
    portions: list[TaskJSON] = []
    for item, (menu_item, quantity) in zip(items, priced, strict=True):
        units = range(1, quantity + 1)
        portions += await tasks.insert_portions(db, item, branch_id, units, menu_item, table_number)
    lines: list[OrderItemRow] = [
        {
            "id": item["id"],
            "menu_item_id": item["menu_item_id"],
            "quantity": item["quantity"],
            "price_cents": item["price_cents"],
            "title": menu["title"],
        }
        for item, (menu, _) in zip(items, priced, strict=False)
    ]
    # The row now holds every column of orders: the inserted values, the number and the defaults.
    order = order_document(cast(OrderRow, row), lines, table_number)
    await announce.order_created(change, order)
    await sync.enqueue(change, order, "created")
    if bonuses_used:
        await bonuses.spend(change, actor.id, row["id"], bonuses_used)
    await refresh_table_status(change, fields.get("table_id"))
    for task in portions:
        await announce.task_created(change, task)
    return order


def _item_row(order: Row, line: int, menu_item: MenuItemRow, quantity: int) -> Row:
    """An order item at today's menu price."""
    return {
        "id": new_id(),
        "company_id": order["company_id"],
        "order_id": order["id"],
        "menu_item_id": menu_item["id"],
        "line": line,
        "quantity": quantity,
        "price_cents": menu_item["price_cents"],
        "created_at": order["created_at"],
    }


async def insert_line(
    db: Statements, company_id: str, branch_id: str, order_id: str, line: int, menu_item: MenuItemRow, quantity: int
) -> list[str]:
    """An order item at today's menu price, and its portions' kitchen tasks; returns the task ids."""
    item = _item_row({"company_id": company_id, "id": order_id, "created_at": utc_now()}, line, menu_item, quantity)
    await db.execute(INSERT_ORDER_ITEM, item)
    return await tasks.create_tasks(db, item, branch_id, range(1, quantity + 1))


async def price_lines(
    db: Statements, actor: Actor, lines: list[tuple[str, int]], branch_id: str
) -> list[tuple[MenuItemRow, int]]:
    """Each (menu item id, quantity) as (menu item available in the branch, quantity); 400 names the line."""
    priced = []
    for index, (menu_item_id, quantity) in enumerate(lines):
        field = f"items[{index}].menu_item"
        priced.append((await available_menu_item(db, actor, menu_item_id, branch_id, field), quantity))
    return priced


async def available_menu_item(
    db: Statements, actor: Actor, menu_item_id: str, branch_id: str, field: str
) -> MenuItemRow:
    item = await visible_menu_item(db, actor, menu_item_id)
    if not item["is_active"] or item["branch_id"] not in (None, branch_id):
        raise Invalid({field: ["This menu item is not available in the branch."]})
    return item


async def visible_order(db: Statements, actor: Actor, order_id: object) -> OrderRow:
    """An order of the actor's company and branch; a customer sees only the orders it placed."""
    if not is_uuid(order_id):
        raise NotFound("Order not found.")
    row = await db.fetch_one(SELECT_ORDER, {"id": order_id})
    if actor.role == "client" and (row is None or row["created_by"] != actor.id):
        raise NotFound("Order not found.")
    return cast(OrderRow, ensure_visible(actor, row, "Order"))


async def save_order(change: Change, current: OrderRow, changes: OrderChanges) -> OrderJSON:
    """Write an order's new state, announce it, and keep its tables' status true."""
    values: Row = {**current, **changes, "updated_at": utc_now()}
    if values["status"] != current["status"]:
        stamp = STATUS_STAMPS.get(values["status"])
        if stamp and values[stamp] is None:
            values[stamp] = values["updated_at"]
    await change.db.execute(UPDATE_ORDER, {name: values[name] for name in ORDER_STATE})
    if values["status"] == "cancelled" and current["status"] != "cancelled":
        await tasks.cancel_open_tasks(change, current["id"])
    order = await order_json(change.db, await load_order(change.db, current["id"]))
    await announce.order_saved(change, current, order)
    if order["status"] != current["status"]:
        await sync.enqueue(change, order, "status_changed")
    await refresh_table_status(change, current["table_id"])
    if values["table_id"] != current["table_id"]:
        await refresh_table_status(change, values["table_id"])
    return order


def _check_not_final(order: OrderRow) -> None:
    if order["status"] in FINAL_STATUSES:
        raise Conflict(f"The order is {order['status']} and can no longer change.")


def amount_due(order: OrderRow) -> int:
    return order["total_cents"] - order["bonuses_used_cents"] - order["paid_cents"]


async def write_off(db: Statements, actor: Actor, current: OrderRow, status: str, reason: str | None) -> OrderChanges:
    """The one place that decides voids and comps: the columns a move to `status` records, {} for a plain move.

    A void cancels an order whose portions have left `pending`; a comp closes one with money still due.
    Both are for WRITE_OFF_ROLES (403 naming the rule) and need a reason (400)."""
    due = amount_due(current)
    if status == "closed" and due > 0:
        kind = "comp"
        rule = f"Closing an order with {format_cents(due)} still due is a comp"
    elif status == "cancelled" and one(await db.fetch_one(COUNT_STARTED_PORTIONS, {"order_id": current["id"]}))["n"]:
        kind = "void"
        rule = "Cancelling an order the kitchen has started (portions in progress or ready) is a void"
    else:
        return {}
    if actor.role not in WRITE_OFF_ROLES:
        raise Forbidden(f"{rule}: only owners, admins and managers may do it.")
    if reason is None:
        raise Invalid({"reason": [f"{rule}: say why in reason."]})
    return {
        "void_kind": kind,
        "voided_by": actor.id,
        "voided_at": utc_now(),
        "void_reason": reason,
        "written_off_cents": max(due, 0),
    }


async def update_order(services: Services, actor: Actor, order_id: str, data: object) -> OrderJSON:
    actor = require_role(actor, ORDER_WRITERS)
    body = Body(data, {"status", "guests", "waiter", "client", "table", "reason"})
    status = body.choice("status", STATUSES, required=False)
    reason = body.text("reason", required=False, max_length=MAX_REASON)
    guests = body.integer("guests", low=1, high=1000, required=False)
    waiter_id = body.ident("waiter", required=False)
    client_id = body.ident("client", required=False)
    table_id = body.ident("table", required=False)
    body.check()
    async with services.change(actor.company_id) as change:
        db = change.db
        current = await visible_order(db, actor, order_id)
        _check_not_final(current)
        changes: OrderChanges = {}
        if status is not None:
            changes["status"] = status
            if status != current["status"]:
                changes |= await write_off(db, actor, current, status, reason)
        if guests is not None:
            changes["guests"] = guests
        if body.has("waiter"):
            changes["waiter_id"] = await _staff_member(db, actor, waiter_id, current["branch_id"])
        if body.has("client"):
            changes["client_id"] = (await visible_client(db, actor, client_id))["id"] if client_id else None
        if body.has("table"):
            if table_id is not None:
                table = await visible_table(db, actor, table_id)
                if table["branch_id"] != current["branch_id"]:
                    raise Invalid({"table": ["The table belongs to another branch."]})
            changes["table_id"] = table_id
        return await save_order(change, current, changes)


async def set_status(services: Services, actor: Actor, order_id: str, status: object, reason: object) -> OrderJSON:
    """The order socket's update_status: managers, owners and admins only; a void or comp takes its reason."""
    actor = require_company(actor)
    if actor.role not in MANAGERS:
        raise Forbidden("Only owners, admins and managers can update an order's status on its socket.")
    data = {"status": status} if reason is None else {"status": status, "reason": reason}
    return await update_order(services, actor, order_id, data)


async def pay_order(services: Services, actor: Actor, order_id: str, data: object) -> OrderJSON:
    actor = require_role(actor, ORDER_WRITERS)
    body = Body(data if data is not None else {}, {"method", "amount", "close"})
    method = body.choice("method", PAYMENT_METHODS, required=False) or "cash"
    # Required: a retried or mistaken empty body must never mean "pay whatever is due".
    amount = body.money("amount", required=True, low=1)
    close = body.boolean("close", default=True)
    body.check()
    assert amount is not None  # required: body.check() refused its absence
    async with services.change(actor.company_id) as change:
        current = await visible_order(change.db, actor, order_id)
        _check_not_final(current)
        due = amount_due(current)
        if due <= 0:
            raise Conflict("Nothing is due on this order.")
        if amount > due:
            raise Invalid({"amount": [f"{format_cents(amount)} is more than the {format_cents(due)} still due."]})
        if close and amount < due:
            raise Conflict(
                {
                    "amount": [
                        f"{format_cents(amount)} does not cover the {format_cents(due)} due; "
                        "pay the rest or send close=false."
                    ]
                }
            )
        await change.db.execute(
            INSERT_PAYMENT,
            {
                "id": new_id(),
                "company_id": actor.company_id,
                "order_id": current["id"],
                "method": method,
                "amount_cents": amount,
                "created_by": actor.id,
                "created_at": utc_now(),
            },
        )
        changes: OrderChanges = {"paid_cents": current["paid_cents"] + amount}
        customer = await change.db.fetch_one(SELECT_CUSTOMER, {"id": current["created_by"]})
        # Earned on what the order cost in money, once (closing is final), never on what was typed.
        cost = current["total_cents"] - current["bonuses_used_cents"]
        earned = cost * services.settings.bonus_percent // 100 if close and customer else 0
        if close:
            changes |= {"status": "closed", "bonuses_earned_cents": earned}
        order = await save_order(change, current, changes)
        await announce.payment_made(change, order, format_cents(amount), method)
        if earned:
            await bonuses.earn(change, current["created_by"], current["id"], earned)
        return order


async def delete_order(services: Services, actor: Actor, order_id: str) -> None:
    actor = require_role(actor, MANAGERS)
    async with services.change(actor.company_id) as change:
        db = change.db
        current = await visible_order(db, actor, order_id)
        if one(await db.fetch_one(COUNT_PAYMENTS, {"order_id": current["id"]}))["n"]:
            raise Conflict("A paid order cannot be deleted; cancel it instead.")
        if one(await db.fetch_one(COUNT_STARTED_PORTIONS, {"order_id": current["id"]}))["n"]:
            # Deleting leaves no trace; a void must (who, when, why).
            raise Conflict("The kitchen has started this order; cancel it with a reason (a void) instead.")
        order = await order_json(db, current)
        await tasks.cancel_open_tasks(change, current["id"])
        await tasks.delete_tasks(db, current["id"])
        await db.execute(DELETE_ORDER_ITEMS, {"order_id": current["id"]})
        await db.execute(DELETE_ORDER, {"id": current["id"]})
        await announce.order_deleted(change, order)
        await refresh_table_status(change, current["table_id"])
