"""Who may see and change what: company isolation and the branch rules of DESIGN."""

from __future__ import annotations

from typing import cast

from core.auth import Actor, CompanyActor, company_bound
from core.errors import Forbidden, Invalid, NotFound
from core.shapes import BranchRow
from domain.validate import is_uuid
from storage.sql import Row, Statements

SELECT_BRANCH = "SELECT id, company_id, name, city_id FROM branches WHERE id = :id AND company_id = :company_id"

MANAGERS = ("owner", "admin", "manager")
# Entity sockets (seed 003) a customer may open: those of an order it placed itself, read-only.
CUSTOMER_ENTITY_SOCKETS = ("order", "order_items")


def require_role(actor: Actor, roles: tuple[str, ...]) -> CompanyActor:
    """The actor, of a company and in one of `roles`; else 403."""
    bound = require_company(actor)
    if bound.role not in roles:
        raise Forbidden("You do not have permission to perform this action.")
    return bound


def require_company(actor: Actor) -> CompanyActor:
    bound = company_bound(actor)
    if bound is None:
        raise Forbidden("The user has no company.")
    return bound


def may_open_entity_socket(actor: Actor, kind: str) -> bool:
    """Staff open every kind (the entity itself is checked next); customers only their own order's."""
    return actor.is_staff or (actor.role == "client" and kind in CUSTOMER_ENTITY_SOCKETS)


def can_see_branch(actor: Actor, branch_id: str | None) -> bool:
    """Owners and admins see every branch, customers shop at every branch, other staff see their own."""
    return actor.company_wide or actor.role == "client" or branch_id is None or branch_id == actor.branch_id


async def company_branch(db: Statements, actor: Actor, branch_id: object) -> BranchRow:
    """A branch of the actor's company, or 404 (another company's id looks like a missing one)."""
    if not is_uuid(branch_id):
        raise NotFound("Branch not found.")
    row = await db.fetch_one(SELECT_BRANCH, {"id": branch_id, "company_id": require_company(actor).company_id})
    if row is None:
        raise NotFound("Branch not found.")
    return cast(BranchRow, dict(row))


async def read_branch(db: Statements, actor: Actor, requested: str | None) -> str | None:
    """The branch a listing or feed is about; None means the whole company (owners/admins only)."""
    if not actor.company_wide:
        return actor.branch_id
    if requested:
        return (await company_branch(db, actor, requested))["id"]
    return None


async def write_branch(db: Statements, actor: Actor, given: str | None) -> str:
    """The branch a new zone, table or order belongs to."""
    if given is not None:
        branch = await company_branch(db, actor, given)
        if not actor.company_wide and branch["id"] != actor.branch_id:
            raise Forbidden("You can only write in your own branch.")
        return branch["id"]
    if actor.branch_id is None:
        raise Invalid({"branch": ["This field is required: the user has no home branch."]})
    return actor.branch_id


def ensure_visible(actor: Actor, row: Row | None, what: str) -> Row:
    """A row of the actor's company and, for branch-bound staff, of its branch; else 404."""
    if row is None:
        raise NotFound(f"{what} not found.")
    data = dict(row)
    if data["company_id"] != actor.company_id or not can_see_branch(actor, data.get("branch_id")):
        raise NotFound(f"{what} not found.")
    return data
