"""Menu items and clients: the reference data orders point at."""

from __future__ import annotations

from typing import cast

from core.auth import Actor
from core.errors import Forbidden, NotFound
from core.shapes import ClientJSON, MenuItemJSON, MenuItemRow
from core.values import format_cents, new_id, utc_now
from domain.access import (
    MANAGERS,
    company_branch,
    ensure_visible,
    read_branch,
    require_company,
    require_role,
    write_branch,
)
from domain.stations import DEFAULT_STATION, MAX_STATION, STATION_RULE, is_station
from domain.validate import Body, is_uuid
from events import announce
from events.services import Services
from storage.sql import Row, Statements

INSERT_MENU_ITEM = """
INSERT INTO menu_items (id, company_id, branch_id, title, price_cents, is_active, created_at, station, prep_minutes)
VALUES (:id, :company_id, :branch_id, :title, :price_cents, :is_active, :created_at, :station, :prep_minutes)
"""
UPDATE_MENU_ITEM = """
UPDATE menu_items SET title = :title, price_cents = :price_cents, is_active = :is_active, station = :station,
    prep_minutes = :prep_minutes
WHERE id = :id
"""
SELECT_MENU_ITEM = "SELECT * FROM menu_items WHERE id = :id"
SELECT_MENU_ITEMS = "SELECT * FROM menu_items WHERE company_id = :company_id ORDER BY title"
INSERT_CLIENT = """
INSERT INTO clients (id, company_id, name, phone, created_at) VALUES (:id, :company_id, :name, :phone, :created_at)
"""
SELECT_CLIENT = "SELECT * FROM clients WHERE id = :id"
SELECT_CLIENTS = "SELECT * FROM clients WHERE company_id = :company_id ORDER BY name"
CLIENT_WRITERS = ("owner", "admin", "manager", "waiter", "cashier")
CLIENT_READERS = (*CLIENT_WRITERS, "cook")
# Who sees a client's phone; waiters and cooks see names only (the phone is null, and not searchable).
PHONE_READERS = ("owner", "admin", "manager", "cashier")
# A company-wide item's price is every branch's price: not for a manager of one branch to set.
COMPANY_WIDE_ONLY = "Company-wide menu items (no branch) are created and changed by owners and admins only."
# A day: longer is not a kitchen's preparation time.
MAX_PREP_MINUTES = 24 * 60


def menu_item_json(row: MenuItemRow) -> MenuItemJSON:
    return {
        "id": row["id"],
        "title": row["title"],
        "price": format_cents(row["price_cents"]),
        "is_active": bool(row["is_active"]),
        "branch": row["branch_id"],
        "station": row["station"],
        "prep_minutes": row["prep_minutes"],
    }


def _station(body: Body) -> str | None:
    """`station` of a menu item's body, None when absent; a bad slug is recorded as the field's error."""
    if not body.has("station"):
        return None
    value = body.text("station", max_length=MAX_STATION)
    if value is not None and not is_station(value):
        body.fail("station", STATION_RULE)
        return None
    return value


def client_json(row: Row, actor: Actor) -> ClientJSON:
    phone = row["phone"] if actor.role in PHONE_READERS else None
    return {"id": row["id"], "name": row["name"], "phone": phone, "created_at": row["created_at"]}


async def create_menu_item(services: Services, actor: Actor, data: object) -> MenuItemJSON:
    actor = require_role(actor, MANAGERS)
    body = Body(data, {"title", "price", "branch", "is_active", "station", "prep_minutes"})
    title = body.text("title")
    price = body.money("price")
    branch_id = body.ident("branch", required=False)
    is_active = body.boolean("is_active", default=True)
    station = _station(body) or DEFAULT_STATION
    prep_minutes = body.integer("prep_minutes", low=1, high=MAX_PREP_MINUTES, required=False)
    body.check()
    assert title is not None and price is not None  # required: check() refused their absence
    if actor.company_wide:
        if branch_id is not None:
            await company_branch(services.database, actor, branch_id)
    elif body.has("branch") and branch_id is None:
        raise Forbidden(COMPANY_WIDE_ONLY)
    else:
        # A manager's item belongs to its own branch: named, or by default.
        branch_id = await write_branch(services.database, actor, branch_id)
    row: MenuItemRow = {
        "id": new_id(),
        "company_id": actor.company_id,
        "branch_id": branch_id,
        "title": title,
        "price_cents": price,
        "is_active": int(is_active),
        "created_at": utc_now(),
        "station": station,
        "prep_minutes": prep_minutes,
    }
    item = menu_item_json(row)
    async with services.change(actor.company_id) as change:
        await change.db.execute(INSERT_MENU_ITEM, row)
        await announce.menu_item_saved(change, item)
    return item


async def update_menu_item(services: Services, actor: Actor, item_id: str, data: object) -> MenuItemJSON:
    actor = require_role(actor, MANAGERS)
    body = Body(data, {"title", "price", "is_active", "station", "prep_minutes"})
    title = body.text("title", required=False)
    price = body.money("price", required=False)
    is_active = body.boolean("is_active", default=True) if body.has("is_active") else None
    station = _station(body)
    # null takes the item's preparation time away (its next portions have no due time).
    prep_minutes = body.integer("prep_minutes", low=1, high=MAX_PREP_MINUTES, required=False)
    body.check()
    async with services.change(actor.company_id) as change:
        current = await visible_menu_item(change.db, actor, item_id)
        if not actor.company_wide and current["branch_id"] != actor.branch_id:
            raise Forbidden(COMPANY_WIDE_ONLY)
        updated: MenuItemRow = {
            **current,
            "title": title or current["title"],
            "price_cents": current["price_cents"] if price is None else price,
            "is_active": current["is_active"] if is_active is None else int(is_active),
            "station": station or current["station"],
            "prep_minutes": prep_minutes if body.has("prep_minutes") else current["prep_minutes"],
        }
        await change.db.execute(UPDATE_MENU_ITEM, updated)
        item = menu_item_json(updated)
        await announce.menu_item_saved(change, item)
    return item


async def visible_menu_item(db: Statements, actor: Actor, item_id: object) -> MenuItemRow:
    if not is_uuid(item_id):
        raise NotFound("Menu item not found.")
    return cast(MenuItemRow, ensure_visible(actor, await db.fetch_one(SELECT_MENU_ITEM, {"id": item_id}), "Menu item"))


async def list_menu_items(services: Services, actor: Actor, branch_param: str | None) -> list[MenuItemJSON]:
    actor = require_company(actor)
    branch_id = await read_branch(services.database, actor, branch_param)
    rows = cast(
        list[MenuItemRow], await services.database.fetch_all(SELECT_MENU_ITEMS, {"company_id": actor.company_id})
    )
    return [menu_item_json(row) for row in rows if branch_id is None or row["branch_id"] in (None, branch_id)]


async def create_client(services: Services, actor: Actor, data: object) -> ClientJSON:
    actor = require_role(actor, CLIENT_WRITERS)
    body = Body(data, {"name", "phone"})
    name = body.text("name")
    phone = body.text("phone", max_length=32)
    body.check()
    row: Row = {"id": new_id(), "company_id": actor.company_id, "name": name, "phone": phone, "created_at": utc_now()}
    await services.database.execute(INSERT_CLIENT, row)
    return client_json(row, actor)


async def visible_client(db: Statements, actor: Actor, client_id: object) -> Row:
    if not is_uuid(client_id):
        raise NotFound("Client not found.")
    return ensure_visible(actor, await db.fetch_one(SELECT_CLIENT, {"id": client_id}), "Client")


async def list_clients(services: Services, actor: Actor, search: str | None) -> list[ClientJSON]:
    actor = require_role(actor, CLIENT_READERS)
    rows = await services.database.fetch_all(SELECT_CLIENTS, {"company_id": actor.company_id})
    needle = (search or "").strip().lower()
    by_phone = actor.role in PHONE_READERS
    return [
        client_json(row, actor)
        for row in rows
        if not needle or needle in row["name"].lower() or (by_phone and needle in row["phone"])
    ]
