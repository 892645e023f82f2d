"""A branch as the entity sockets call it: a restaurant, and its live summary."""

from __future__ import annotations

from core.auth import STAFF_ROLES, Actor
from core.errors import NotFound
from core.shapes import BranchRow
from domain.access import can_see_branch, company_branch, require_role
from storage.sql import Statements, one

SELECT_SUMMARY = """
SELECT
  (SELECT COUNT(*) FROM cafe_tables WHERE branch_id = :branch_id AND status = 'busy') AS busy_tables,
  (SELECT COUNT(*) FROM cafe_tables WHERE branch_id = :branch_id AND status = 'free') AS free_tables,
  (SELECT COUNT(*) FROM orders WHERE branch_id = :branch_id AND status NOT IN ('closed', 'cancelled')) AS open_orders,
  (SELECT COUNT(*) FROM kitchen_tasks WHERE branch_id = :branch_id AND status = 'pending') AS pending_tasks,
  (SELECT COUNT(*) FROM kitchen_tasks WHERE branch_id = :branch_id AND status = 'in_progress') AS cooking_tasks
"""


async def visible_restaurant(db: Statements, actor: Actor, branch_id: object) -> BranchRow:
    """A branch of the actor's company that the actor works in (any branch for owners and admins)."""
    actor = require_role(actor, STAFF_ROLES)
    branch = await company_branch(db, actor, branch_id)
    if not can_see_branch(actor, branch["id"]):
        raise NotFound("Branch not found.")
    return branch


async def restaurant_status(db: Statements, actor: Actor, branch_id: str) -> dict[str, object]:
    branch = await visible_restaurant(db, actor, branch_id)
    counts = one(await db.fetch_one(SELECT_SUMMARY, {"branch_id": branch["id"]}))
    return {
        "restaurant_id": branch["id"],
        "restaurant": branch["name"],
        "city_id": branch["city_id"],
        "tables": {"busy": counts["busy_tables"], "free": counts["free_tables"]},
        "open_orders": counts["open_orders"],
        "kitchen": {"pending": counts["pending_tasks"], "in_progress": counts["cooking_tasks"]},
    }
