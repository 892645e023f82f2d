"""Rooms of the rooms socket (seed 004): names a client sees, channels that carry the company."""

from __future__ import annotations

import re

from core.auth import Actor, CompanyActor
from core.errors import Forbidden
from storage.sql import Statements

ADMIN_ROOM = "admin-orders"
# The shop admin's broadcast pages join it; cafe_rt's own broadcasts go to the entity sockets, so it carries
# nothing yet, but joining it must not fail for the owners and admins whose pages do.
BROADCASTS_ROOM = "admin-broadcasts"
CITY_ROOM = re.compile(r"city-([1-9][0-9]{0,8})-orders")
USER_ROOM = re.compile(r"user-([0-9a-f-]{36})")
BRANCH_ROOM = re.compile(r"branch-([0-9a-f-]{36})-orders")
SELECT_COMPANY_CITIES = "SELECT DISTINCT city_id FROM branches WHERE company_id = :company_id"
SELECT_COMPANY_BRANCH = "SELECT id, city_id FROM branches WHERE id = :id AND company_id = :company_id"


# The rooms socket's words for an order's status where they differ from the other dialects' (seed 004).
ROOM_STATUS_WORDS = {"closed": "completed"}


def room_status(status: str) -> str:
    return ROOM_STATUS_WORDS.get(status, status)


def admin_channel(company_id: str) -> str:
    return f"room_admin_orders_{company_id}"


def city_channel(company_id: str, city_id: int) -> str:
    return f"room_city_orders_{company_id}_{city_id}"


def broadcasts_channel(company_id: str) -> str:
    return f"room_admin_broadcasts_{company_id}"


def user_channel(company_id: str, user_id: str) -> str:
    return f"room_user_{company_id}_{user_id}"


def company_channel(company_id: str) -> str:
    """Every rooms socket of the company is on it, without a room name: it carries menu-updated."""
    return f"room_company_{company_id}"


def branch_channel(company_id: str, branch_id: str) -> str:
    return f"room_branch_orders_{company_id}_{branch_id}"


async def _branch_room(db: Statements, actor: CompanyActor, branch_id: str) -> str | None:
    """branch-{id}-orders: owners and admins; staff of that branch; managers of its city. Never customers."""
    if not actor.is_staff:
        return None
    branch = await db.fetch_one(SELECT_COMPANY_BRANCH, {"id": branch_id, "company_id": actor.company_id})
    if branch is None:
        return None
    if actor.company_wide or actor.branch_id == branch["id"]:
        return branch_channel(actor.company_id, branch["id"])
    if actor.role == "manager" and branch["city_id"] in actor.city_ids:
        return branch_channel(actor.company_id, branch["id"])
    return None


def automatic_rooms(actor: Actor) -> list[str]:
    """admin/owner (the seed's admin/ceo) -> admin-orders; manager -> its cities; everyone -> user-{id}."""
    rooms = [ADMIN_ROOM] if actor.company_wide else []
    if actor.role == "manager":
        rooms += [f"city-{city_id}-orders" for city_id in actor.city_ids]
    return [*rooms, f"user-{actor.id}"]


async def room_channel(db: Statements, actor: CompanyActor, room_id: object) -> str:
    """The channel behind a room the actor may join; Forbidden for anything else."""
    if room_id == ADMIN_ROOM and actor.company_wide:
        return admin_channel(actor.company_id)
    if room_id == BROADCASTS_ROOM and actor.company_wide:
        return broadcasts_channel(actor.company_id)
    city = CITY_ROOM.fullmatch(room_id) if isinstance(room_id, str) else None
    if city is not None:
        city_id = int(city.group(1))
        if actor.role == "manager" and city_id in actor.city_ids:
            return city_channel(actor.company_id, city_id)
        if actor.company_wide:
            cities = {
                row["city_id"] for row in await db.fetch_all(SELECT_COMPANY_CITIES, {"company_id": actor.company_id})
            }
            if city_id in cities:
                return city_channel(actor.company_id, city_id)
    branch = BRANCH_ROOM.fullmatch(room_id) if isinstance(room_id, str) else None
    if branch is not None and (channel := await _branch_room(db, actor, branch.group(1))) is not None:
        return channel
    user = USER_ROOM.fullmatch(room_id) if isinstance(room_id, str) else None
    if user is not None and user.group(1) == actor.id:
        return user_channel(actor.company_id, actor.id)
    raise Forbidden(f"You may not join the room {str(room_id)[:80]!r}.")
