"""Table sessions: guests seated at a table; an open session holds its table busy."""

from __future__ import annotations

import secrets
from typing import cast

from core.auth import STAFF_ROLES, Actor, CompanyActor
from core.errors import Conflict, NotFound
from core.shapes import SessionJSON, SessionRow, TableRow
from core.values import new_id, utc_now
from domain.access import ensure_visible, require_role
from domain.floor import refresh_table_status, visible_table
from domain.orders import FINAL_STATUSES
from domain.validate import Body, is_uuid
from events import announce, entities
from events.outbox import Change
from events.services import Services
from storage.sql import Statements, one

SESSION_WRITERS = ("owner", "admin", "manager", "waiter", "cashier")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
INSERT_SESSION = """
INSERT INTO table_sessions (id, company_id, branch_id, table_id, session_code, guests_count, opened_at)
VALUES (:id, :company_id, :branch_id, :table_id, :session_code, :guests_count, :opened_at)
"""
SELECT_SESSION = """
SELECT s.*, t.number AS table_number FROM table_sessions s JOIN cafe_tables t ON t.id = s.table_id WHERE s.id = :id
"""
UPDATE_GUESTS = "UPDATE table_sessions SET guests_count = :guests_count WHERE id = :id"
CLOSE_SESSION = "UPDATE table_sessions SET closed_at = :closed_at WHERE id = :id"
SELECT_OPEN_SESSION_ID = "SELECT id FROM table_sessions WHERE table_id = :table_id AND closed_at IS NULL"
COUNT_OPEN_ORDERS = """
SELECT COUNT(*) AS n FROM orders WHERE table_id = :table_id AND status NOT IN ('closed', 'cancelled')
"""


def session_json(row: SessionRow) -> SessionJSON:
    return entities.session_data(row, row["table_number"])


async def visible_session(db: Statements, actor: Actor, session_id: object) -> SessionRow:
    if not is_uuid(session_id):
        raise NotFound("Table session not found.")
    row = ensure_visible(actor, await db.fetch_one(SELECT_SESSION, {"id": session_id}), "Table session")
    return cast(SessionRow, row)


async def get_session(services: Services, actor: Actor, session_id: str) -> SessionJSON:
    actor = require_role(actor, STAFF_ROLES)
    return session_json(await visible_session(services.database, actor, session_id))


async def _saved(change: Change, session_id: str, table_changed: bool, closed: bool = False) -> SessionJSON:
    """A session this transaction wrote, announced."""
    session = session_json(cast(SessionRow, one(await change.db.fetch_one(SELECT_SESSION, {"id": session_id}))))
    await announce.session_saved(change, session, table_changed, closed)
    return session


async def _open(change: Change, actor: CompanyActor, table: TableRow, guests_count: int) -> SessionJSON:
    if await change.db.fetch_one(SELECT_OPEN_SESSION_ID, {"table_id": table["id"]}) is not None:
        raise Conflict("The table already has an open session.")
    session_id = new_id()
    await change.db.execute(
        INSERT_SESSION,
        {
            "id": session_id,
            "company_id": actor.company_id,
            "branch_id": table["branch_id"],
            "table_id": table["id"],
            "session_code": "".join(secrets.choice(CODE_ALPHABET) for _ in range(6)),
            "guests_count": guests_count,
            "opened_at": utc_now(),
        },
    )
    return await _saved(change, session_id, await refresh_table_status(change, table["id"]))


async def open_session(services: Services, actor: Actor, data: object) -> SessionJSON:
    actor = require_role(actor, SESSION_WRITERS)
    body = Body(data, {"table", "guests_count"})
    table_id = body.ident("table")
    guests_count = body.integer("guests_count", low=1, high=1000, required=False) or 1
    body.check()
    async with services.change(actor.company_id) as change:
        return await _open(change, actor, await visible_table(change.db, actor, table_id), guests_count)


async def update_guests(services: Services, actor: Actor, session_id: str, data: object) -> SessionJSON:
    actor = require_role(actor, SESSION_WRITERS)
    body = Body(data, {"guests_count"})
    guests_count = body.integer("guests_count", low=1, high=1000)
    body.check()
    async with services.change(actor.company_id) as change:
        session = await visible_session(change.db, actor, session_id)
        if session["closed_at"] is not None:
            raise Conflict("The session is closed.")
        await change.db.execute(UPDATE_GUESTS, {"id": session["id"], "guests_count": guests_count})
        return await _saved(change, session["id"], table_changed=False)


async def _close(change: Change, session: SessionRow) -> SessionJSON:
    if session["closed_at"] is not None:
        raise Conflict("The session is already closed.")
    await change.db.execute(CLOSE_SESSION, {"id": session["id"], "closed_at": utc_now()})
    changed = await refresh_table_status(change, session["table_id"])
    return await _saved(change, session["id"], changed, closed=True)


async def close_session(services: Services, actor: Actor, session_id: str) -> SessionJSON:
    actor = require_role(actor, SESSION_WRITERS)
    async with services.change(actor.company_id) as change:
        return await _close(change, await visible_session(change.db, actor, session_id))


async def occupy_table(services: Services, actor: Actor, table_id: str, guests_count: int = 1) -> SessionJSON:
    """The table socket's `occupy`: seat guests, which opens a session and makes the table busy."""
    actor = require_role(actor, SESSION_WRITERS)
    async with services.change(actor.company_id) as change:
        return await _open(change, actor, await visible_table(change.db, actor, table_id), guests_count)


async def release_table(services: Services, actor: Actor, table_id: str) -> None:
    """The table socket's `release`: close its open session, refused while an order still holds it."""
    actor = require_role(actor, SESSION_WRITERS)
    async with services.change(actor.company_id) as change:
        table = await visible_table(change.db, actor, table_id)
        if one(await change.db.fetch_one(COUNT_OPEN_ORDERS, {"table_id": table["id"]}))["n"]:
            raise Conflict(f"An order that is not {' or '.join(FINAL_STATUSES)} still holds the table.")
        row = await change.db.fetch_one(SELECT_OPEN_SESSION_ID, {"table_id": table["id"]})
        if row is None:
            raise Conflict("The table is already free.")
        await _close(change, await visible_session(change.db, actor, row["id"]))
