"""Stored notifications: what a waiter must not miss, listed and acknowledged over REST."""

from __future__ import annotations

import json

from core.auth import Actor
from core.errors import Conflict, NotFound
from core.shapes import NotificationJSON
from core.values import utc_now
from domain.access import require_company
from domain.validate import is_uuid
from events import announce
from events.services import Services
from storage.sql import Row

SELECT_NOTIFICATION = "SELECT * FROM notifications WHERE id = :id AND recipient_id = :recipient_id"
ACKNOWLEDGE = "UPDATE notifications SET acknowledged_at = :now WHERE id = :id AND acknowledged_at IS NULL"
SELECT_NOTIFICATIONS = """
SELECT * FROM notifications WHERE recipient_id = :recipient_id AND company_id = :company_id
  AND (:unread = 0 OR acknowledged_at IS NULL)
ORDER BY created_at DESC LIMIT 200
"""


def notification_json(row: Row) -> NotificationJSON:
    return {
        "id": row["id"],
        "type": row["type"],
        "data": json.loads(row["payload"]),
        "created_at": row["created_at"],
        "acknowledged_at": row["acknowledged_at"],
    }


async def list_notifications(services: Services, actor: Actor, unread_only: bool) -> list[NotificationJSON]:
    actor = require_company(actor)
    rows = await services.database.fetch_all(
        SELECT_NOTIFICATIONS, {"recipient_id": actor.id, "company_id": actor.company_id, "unread": int(unread_only)}
    )
    return [notification_json(row) for row in rows]


async def waiting_for(services: Services, actor: Actor, waiter_id: str) -> list[NotificationJSON]:
    """A waiter's unacknowledged notifications (its socket checked who may see them)."""
    actor = require_company(actor)
    rows = await services.database.fetch_all(
        SELECT_NOTIFICATIONS, {"recipient_id": waiter_id, "company_id": actor.company_id, "unread": 1}
    )
    return [notification_json(row) for row in rows]


async def acknowledge(services: Services, actor: Actor, notification_id: object) -> NotificationJSON:
    """Marks one of the actor's notifications read, once; every socket of the actor is told."""
    actor = require_company(actor)
    if not is_uuid(notification_id):
        raise NotFound("Notification not found.")
    async with services.change(actor.company_id) as change:
        row = await change.db.fetch_one(SELECT_NOTIFICATION, {"id": notification_id, "recipient_id": actor.id})
        if row is None:
            raise NotFound("Notification not found.")
        if row["acknowledged_at"] is not None:
            raise Conflict("The notification was already acknowledged.")
        now = utc_now()
        await change.db.execute(ACKNOWLEDGE, {"id": notification_id, "now": now})
        await announce.notification_acknowledged(change, actor.id, notification_id)
    return notification_json(dict(row) | {"acknowledged_at": now})
