"""Stored notifications: what a waiter must not miss, listed and acknowledged over REST."""

from __future__ import annotations

import json
from typing import Any

from domain.access import require_company
from domain.auth import Actor
from domain.db import new_id, utc_now
from domain.errors import NotFound
from domain.services import Services
from domain.validate import is_uuid

INSERT_NOTIFICATION = """
INSERT INTO notifications (id, company_id, recipient_id, type, payload, created_at)
VALUES (:id, :company_id, :recipient_id, :type, :payload, :created_at)
"""
SELECT_NOTIFICATIONS = """
SELECT * FROM notifications WHERE recipient_id = :recipient_id AND company_id = :company_id
  AND (:unread = 0 OR acknowledged_at IS NULL)
ORDER BY created_at DESC LIMIT 200
"""
SELECT_NOTIFICATION = "SELECT * FROM notifications WHERE id = :id AND recipient_id = :recipient_id"
ACKNOWLEDGE = "UPDATE notifications SET acknowledged_at = :now WHERE id = :id AND acknowledged_at IS NULL"


def notification_json(row: Any) -> dict:
    return {
        "id": row["id"],
        "type": row["type"],
        "data": json.loads(row["payload"]),
        "created_at": row["created_at"],
        "acknowledged_at": row["acknowledged_at"],
    }


async def store(db: Any, company_id: str, recipient_id: str, kind: str, data: dict) -> str:
    notification_id = new_id()
    await db.execute(
        INSERT_NOTIFICATION,
        {
            "id": notification_id,
            "company_id": company_id,
            "recipient_id": recipient_id,
            "type": kind,
            "payload": json.dumps(data, ensure_ascii=False),
            "created_at": utc_now(),
        },
    )
    return notification_id


async def list_notifications(services: Services, actor: Actor, unread_only: bool) -> list[dict]:
    require_company(actor)
    rows = await services.database.fetch_all(
        SELECT_NOTIFICATIONS, {"recipient_id": actor.id, "company_id": actor.company_id, "unread": int(unread_only)}
    )
    return [notification_json(row) for row in rows]


async def acknowledge(services: Services, actor: Actor, notification_id: str) -> dict:
    require_company(actor)
    db = services.database
    if not is_uuid(notification_id):
        raise NotFound("Notification not found.")
    async with services.gate:
        await db.execute(ACKNOWLEDGE, {"id": notification_id, "now": utc_now()})
    row = await db.fetch_one(SELECT_NOTIFICATION, {"id": notification_id, "recipient_id": actor.id})
    if row is None:
        raise NotFound("Notification not found.")
    return notification_json(row)
