"""Zones and tables, and keeping a table's busy/free status true."""

from __future__ import annotations

from typing import cast

from core.auth import Actor, CompanyActor
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.shapes import TableJSON, TableRow, ZoneJSON
from core.values import new_id, utc_now
from domain.access import MANAGERS, ensure_visible, read_branch, require_company, require_role, write_branch
from domain.validate import Body, is_uuid
from events import announce, feeds
from events.outbox import Change
from events.services import Services
from storage.sql import Row, Statements, one

INSERT_ZONE = """
INSERT INTO zones (id, company_id, branch_id, title, created_at)
VALUES (:id, :company_id, :branch_id, :title, :created_at)
"""
SELECT_ZONE = "SELECT * FROM zones WHERE id = :id AND company_id = :company_id"
SELECT_ZONES = """
SELECT * FROM zones WHERE company_id = :company_id AND (:branch_id = '' OR branch_id = :branch_id) ORDER BY created_at
"""
INSERT_TABLE = """
INSERT INTO cafe_tables (id, company_id, branch_id, zone_id, number, places, status, created_at)
VALUES (:id, :company_id, :branch_id, :zone_id, :number, :places, 'free', :created_at)
"""
UPDATE_TABLE = "UPDATE cafe_tables SET number = :number, places = :places, zone_id = :zone_id WHERE id = :id"
UPDATE_TABLE_STATUS = "UPDATE cafe_tables SET status = :status WHERE id = :id"
SELECT_TABLE = "SELECT * FROM cafe_tables WHERE id = :id"
SELECT_TABLE_BY_NUMBER = "SELECT id FROM cafe_tables WHERE branch_id = :branch_id AND number = :number"
SELECT_TABLES = """
SELECT * FROM cafe_tables WHERE company_id = :company_id AND (:branch_id = '' OR branch_id = :branch_id)
ORDER BY branch_id, number
"""
# Whether anything holds the table: EXISTS stops at the first open order, where a count read them all.
SELECT_TABLE_HOLDERS = """
SELECT t.*,
  CASE WHEN EXISTS (SELECT 1 FROM orders WHERE table_id = t.id AND status NOT IN ('closed', 'cancelled'))
         OR EXISTS (SELECT 1 FROM table_sessions WHERE table_id = t.id AND closed_at IS NULL)
       THEN 1 ELSE 0 END AS held
FROM cafe_tables t WHERE t.id = :id
"""


def floor_reader(actor: Actor) -> CompanyActor:
    """Staff read the floor (zones, tables); customers order without a table and see none of it."""
    actor = require_company(actor)
    if not actor.is_staff:
        raise Forbidden("Only staff can see the floor (tables and zones).")
    return actor


def zone_json(row: Row) -> ZoneJSON:
    return {"id": row["id"], "title": row["title"], "branch": row["branch_id"]}


def table_json(row: TableRow) -> TableJSON:
    return {
        "id": row["id"],
        "number": row["number"],
        "places": row["places"],
        "status": row["status"],
        "status_display": feeds.TABLE_STATUS_DISPLAY[row["status"]],
        "zone": row["zone_id"],
        "branch": row["branch_id"],
    }


async def create_zone(services: Services, actor: Actor, data: object) -> ZoneJSON:
    actor = require_role(actor, MANAGERS)
    body = Body(data, {"title", "branch"})
    title = body.text("title")
    branch_given = body.ident("branch", required=False)
    body.check()
    branch_id = await write_branch(services.database, actor, branch_given)
    zone: Row = {
        "id": new_id(),
        "company_id": actor.company_id,
        "branch_id": branch_id,
        "title": title,
        "created_at": utc_now(),
    }
    await services.database.execute(INSERT_ZONE, zone)
    return zone_json(zone)


async def list_zones(services: Services, actor: Actor, branch_param: str | None) -> list[ZoneJSON]:
    actor = floor_reader(actor)
    branch_id = await read_branch(services.database, actor, branch_param)
    scope = {"company_id": actor.company_id, "branch_id": branch_id or ""}
    rows = await services.database.fetch_all(SELECT_ZONES, scope)
    return [zone_json(row) for row in rows]


async def _zone_in_branch(db: Statements, actor: Actor, zone_id: str | None, branch_id: str) -> str | None:
    if zone_id is None:
        return None
    zone = await db.fetch_one(SELECT_ZONE, {"id": zone_id, "company_id": actor.company_id})
    if zone is None:
        raise NotFound("Zone not found.")
    if zone["branch_id"] != branch_id:
        raise Invalid({"zone": ["The zone belongs to another branch."]})
    return zone_id


async def _number_free(db: Statements, branch_id: str, number: int, table_id: str | None = None) -> None:
    row = await db.fetch_one(SELECT_TABLE_BY_NUMBER, {"branch_id": branch_id, "number": number})
    if row is not None and row["id"] != table_id:
        raise Conflict({"number": ["A table with this number already exists in the branch."]})


async def create_table(services: Services, actor: Actor, data: object) -> TableJSON:
    actor = require_role(actor, MANAGERS)
    body = Body(data, {"number", "places", "zone", "branch"})
    number = body.integer("number", low=1, high=100_000)
    places = body.integer("places", low=1, high=1000)
    zone_id = body.ident("zone", required=False)
    branch_given = body.ident("branch", required=False)
    body.check()
    assert number is not None and places is not None  # required: check() refused their absence
    branch_id = await write_branch(services.database, actor, branch_given)
    async with services.change(actor.company_id) as change:
        zone_id = await _zone_in_branch(change.db, actor, zone_id, branch_id)
        await _number_free(change.db, branch_id, number)
        row: TableRow = {
            "id": new_id(),
            "company_id": actor.company_id,
            "branch_id": branch_id,
            "zone_id": zone_id,
            "number": number,
            "places": places,
            "status": "free",
            "created_at": utc_now(),
        }
        await change.db.execute(INSERT_TABLE, row)
        table = table_json(row)
        await announce.table_saved(change, "table_created", table)
    return table


async def visible_table(db: Statements, actor: Actor, table_id: object) -> TableRow:
    if not is_uuid(table_id):
        raise NotFound("Table not found.")
    return cast(TableRow, ensure_visible(actor, await db.fetch_one(SELECT_TABLE, {"id": table_id}), "Table"))


async def get_table(services: Services, actor: Actor, table_id: str) -> TableJSON:
    actor = floor_reader(actor)
    return table_json(await visible_table(services.database, actor, table_id))


async def list_tables(services: Services, actor: Actor, branch_param: str | None) -> list[TableJSON]:
    actor = floor_reader(actor)
    branch_id = await read_branch(services.database, actor, branch_param)
    scope = {"company_id": actor.company_id, "branch_id": branch_id or ""}
    rows = cast(list[TableRow], await services.database.fetch_all(SELECT_TABLES, scope))
    return [table_json(row) for row in rows]


async def update_table(services: Services, actor: Actor, table_id: str, data: object) -> TableJSON:
    actor = require_role(actor, MANAGERS)
    body = Body(data, {"number", "places", "zone"})
    number = body.integer("number", low=1, high=100_000, required=False)
    places = body.integer("places", low=1, high=1000, required=False)
    zone_id = body.ident("zone", required=False)
    body.check()
    async with services.change(actor.company_id) as change:
        current = await visible_table(change.db, actor, table_id)
        updated: TableRow = {
            **current,
            "number": number if number is not None else current["number"],
            "places": places if places is not None else current["places"],
            "zone_id": await _zone_in_branch(change.db, actor, zone_id, current["branch_id"])
            if body.has("zone")
            else current["zone_id"],
        }
        await _number_free(change.db, current["branch_id"], updated["number"], current["id"])
        await change.db.execute(UPDATE_TABLE, updated)
        table = table_json(updated)
        await announce.table_saved(change, "table_updated", table)
    return table


async def refresh_table_status(change: Change, table_id: str | None) -> bool:
    """Busy while a non-final order or an open session holds the table, free otherwise; True if it changed."""
    if table_id is None:
        return False
    row = one(await change.db.fetch_one(SELECT_TABLE_HOLDERS, {"id": table_id}))
    status = "busy" if row["held"] else "free"
    if row["status"] == status:
        return False
    await change.db.execute(UPDATE_TABLE_STATUS, {"id": table_id, "status": status})
    await announce.table_status_changed(change, table_json({**cast(TableRow, row), "status": status}))
    return True
