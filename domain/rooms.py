"""Rooms of the rooms socket (seed 004): names a client sees, channels that carry the company."""

from __future__ import annotations

import re
from typing import Any

from domain.auth import Actor
from domain.errors import Forbidden

ADMIN_ROOM = "admin-orders"
CITY_ROOM = re.compile(r"city-([1-9][0-9]{0,8})-orders")
USER_ROOM = re.compile(r"user-([0-9a-f-]{36})")
SELECT_COMPANY_CITIES = "SELECT DISTINCT city_id FROM branches WHERE company_id = :company_id"


def admin_channel(company_id: str) -> str:
    return f"room_admin_orders_{company_id}"


def city_channel(company_id: str, city_id: int) -> str:
    return f"room_city_orders_{company_id}_{city_id}"


def user_channel(company_id: str, user_id: str) -> str:
    return f"room_user_{company_id}_{user_id}"


def automatic_rooms(actor: Actor) -> list[str]:
    """admin/owner (the seed's admin/ceo) -> admin-orders; manager -> its cities; everyone -> user-{id}."""
    rooms = [ADMIN_ROOM] if actor.company_wide else []
    if actor.role == "manager":
        rooms += [f"city-{city_id}-orders" for city_id in actor.city_ids]
    return [*rooms, f"user-{actor.id}"]


async def room_channel(db: Any, actor: Actor, room_id: object) -> str:
    """The channel behind a room the actor may join; Forbidden for anything else."""
    if room_id == ADMIN_ROOM and actor.company_wide:
        return admin_channel(actor.company_id)
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
    user = USER_ROOM.fullmatch(room_id) if isinstance(room_id, str) else None
    if user is not None and user.group(1) == actor.id:
        return user_channel(actor.company_id, actor.id)
    raise Forbidden(f"You may not join the room {str(room_id)[:80]!r}.")
