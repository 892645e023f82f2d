"""Reading orders: one, a filtered list, a page, a client's history."""

from __future__ import annotations

from typing import cast

from core.auth import Actor
from core.errors import Forbidden, Invalid, NotFound
from core.shapes import OrderJSON, OrderPage, OrderRow
from domain.access import read_branch, require_role
from domain.catalog import visible_client
from domain.orders import ORDER_READERS, ORDER_WRITERS, STATUSES, WRITE_OFF_ROLES, order_json, visible_order
from domain.validate import is_uuid
from events.services import Services
from storage.sql import Statements, one

PAGE_SIZE = 50
LIST_LIMIT = 1000
ORDER_FILTERS = """
WHERE company_id = :company_id
  AND (:branch_id = '' OR branch_id = :branch_id)
  AND (:status = '' OR status = :status)
  AND (:table_id = '' OR table_id = :table_id)
  AND (:waiter_id = '' OR waiter_id = :waiter_id)
  AND (:client_id = '' OR client_id = :client_id)
  AND (:created_by = '' OR created_by = :created_by)
  AND (:voided = '' OR (void_kind IS NOT NULL AND (:voided = 'true' OR void_kind = :voided)))
"""
VOIDED_FILTERS = ("true", "void", "comp")
SELECT_ORDERS = (
    "SELECT * FROM orders" + ORDER_FILTERS + "ORDER BY created_at DESC, number DESC LIMIT :limit OFFSET :offset"
)
COUNT_ORDERS = "SELECT COUNT(*) AS n FROM orders" + ORDER_FILTERS


async def get_order(services: Services, actor: Actor, order_id: str) -> OrderJSON:
    actor = require_role(actor, ORDER_READERS)
    db = services.database
    return await order_json(db, await visible_order(db, actor, order_id))


async def list_orders(services: Services, actor: Actor, query: dict[str, str]) -> OrderPage | list[OrderJSON]:
    actor = require_role(actor, ORDER_READERS)
    branch_id = await read_branch(services.database, actor, query.get("branch_id"))
    status = query.get("status", "")
    if status and status not in STATUSES:
        raise Invalid({"status": [f"Must be one of: {', '.join(STATUSES)}."]})
    filters: dict[str, str | None] = {
        "company_id": actor.company_id,
        "branch_id": branch_id or "",
        "status": status,
        "created_by": actor.id if actor.role == "client" else "",
        "voided": _voided_filter(actor, query.get("voided")),
    }
    for name in ("table", "waiter", "client"):
        value = query.get(name, "")
        if value and not is_uuid(value):
            raise Invalid({name: ["Must be a UUID."]})
        filters[f"{name}_id"] = value
    return await _order_page(services.database, filters, query.get("page"))


def _voided_filter(actor: Actor, value: str | None) -> str:
    """?voided=true|void|comp: the void and comp report, for those who may void and comp."""
    if value is None:
        return ""
    if value not in VOIDED_FILTERS:
        raise Invalid({"voided": [f"Must be one of: {', '.join(VOIDED_FILTERS)}."]})
    if actor.role not in WRITE_OFF_ROLES:
        raise Forbidden("The void and comp report is for owners, admins and managers.")
    return value


async def _order_page(
    db: Statements, filters: dict[str, str | None], page_param: str | None
) -> OrderPage | list[OrderJSON]:
    """The newest LIST_LIMIT orders as a list, or {count, next, previous, results} when ?page= is given."""
    if page_param is None:
        rows = cast(list[OrderRow], await db.fetch_all(SELECT_ORDERS, filters | {"limit": LIST_LIMIT, "offset": 0}))
        return [await order_json(db, row) for row in rows]
    if not (page_param.isascii() and page_param.isdigit()) or int(page_param) < 1:
        raise Invalid({"page": ["Must be a positive integer."]})
    page = int(page_param)
    count = one(await db.fetch_one(COUNT_ORDERS, filters))["n"]
    offset = (page - 1) * PAGE_SIZE
    if offset and offset >= count:
        raise NotFound("Invalid page.")
    rows = cast(list[OrderRow], await db.fetch_all(SELECT_ORDERS, filters | {"limit": PAGE_SIZE, "offset": offset}))
    return {
        "count": count,
        "next": page + 1 if offset + PAGE_SIZE < count else None,
        "previous": page - 1 if page > 1 else None,
        "results": [await order_json(db, row) for row in rows],
    }


async def client_orders(
    services: Services, actor: Actor, client_id: str, page_param: str | None
) -> OrderPage | list[OrderJSON]:
    actor = require_role(actor, ORDER_WRITERS)
    await visible_client(services.database, actor, client_id)
    filters: dict[str, str | None] = {
        "company_id": actor.company_id,
        "branch_id": "" if actor.company_wide else actor.branch_id,
        "status": "",
        "table_id": "",
        "waiter_id": "",
        "client_id": client_id,
        "created_by": "",
        "voided": "",
    }
    return await _order_page(services.database, filters, page_param)
