"""Orders a customer places itself (seed 004): no table needed, bonuses may pay part of it."""

from __future__ import annotations

from core.auth import Actor
from core.shapes import OrderJSON
from domain.access import company_branch, require_role
from domain.orders import NewOrder, place_order, price_lines, read_items
from domain.validate import Body
from events.services import Services

# How a customer's own order reaches it (staff orders at a table are dine_in).
ORDER_TYPES = ("pickup", "delivery")


async def create_order(services: Services, actor: Actor, data: object) -> OrderJSON:
    actor = require_role(actor, ("client",))
    body = Body(data, {"branch", "items", "guests", "bonuses_used", "type"})
    # DESIGN: a table-less order defaults to the user's home branch.
    branch_id = body.ident("branch", required=False) or actor.branch_id
    guests = body.integer("guests", low=1, high=1000, required=False) or 1
    bonuses_used = body.money("bonuses_used", required=False) or 0
    kind = body.choice("type", ORDER_TYPES, required=False) or "pickup"
    lines = read_items(body, services.settings.max_portions_per_order)
    if not lines and not body.errors:
        body.fail("items", "An order needs at least one item.")
    if branch_id is None and "branch" not in body.errors:
        body.fail("branch", "This field is required: the user has no home branch.")
    body.check()
    async with services.change(actor.company_id) as change:
        branch = await company_branch(change.db, actor, branch_id)
        priced = await price_lines(change.db, actor, lines, branch["id"])
        fields: NewOrder = {"guests": guests, "type": kind}
        return await place_order(
            change, actor, branch["id"], fields, priced, status="pending", bonuses_used=bonuses_used
        )
