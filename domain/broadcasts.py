"""Messages from the office to the floor: a broadcast to a branch, an alert to its waiters."""

from __future__ import annotations

from core.auth import Actor
from core.errors import NotFound
from core.values import utc_now
from domain.access import MANAGERS, company_branch, require_role
from domain.accounts import list_branches
from domain.validate import Body
from events import announce
from events.services import Services

LEVELS = ("info", "warning", "critical")


async def send_broadcast(services: Services, actor: Actor, data: object) -> dict[str, object]:
    """To the given branch, the sender's own, or (owner/admin with neither) every branch of the company."""
    actor = require_role(actor, MANAGERS)
    body = Body(data, {"message", "level", "branch"})
    text = body.text("message", max_length=1000)
    level = body.choice("level", LEVELS, required=False) or "info"
    branch_given = body.ident("branch", required=False)
    body.check()
    if branch_given is not None and (actor.company_wide or branch_given == actor.branch_id):
        branch_ids = [(await company_branch(services.database, actor, branch_given))["id"]]
    elif branch_given is not None:
        raise NotFound("Branch not found.")
    elif actor.branch_id is not None:
        branch_ids = [actor.branch_id]
    else:
        branch_ids = [branch["id"] for branch in await list_branches(services, actor)]
    sent = {"message": text, "level": level, "sender": actor.id, "created_at": utc_now()}
    async with services.change(actor.company_id) as change:
        for branch_id in branch_ids:
            await announce.broadcast(change, branch_id, sent)
    return sent | {"branches": branch_ids}
