"""The AsyncAPI 3.0 document of the three socket dialects, served at GET /asyncapi.json.

`MESSAGES` holds every frame, keyed by its `type` (or `action`): what the server sends and what a
client may send, each with the JSON Schema of its payload. `CHANNELS` holds one entry per socket
URL, naming the messages it sends and takes. To add a message, add its line to `MESSAGES` and its
key to the channels that carry it; the test suite checks every frame it receives against this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from describe.shapes import (
    AMOUNT,
    ID,
    INTEGER,
    MONEY,
    SCHEMAS,
    TEXT,
    TIMESTAMP,
    Schema,
    array,
    enum,
    nullable,
    obj,
    ref,
)
from domain.broadcasts import LEVELS
from domain.entities import ORDER_STATUS_DISPLAY
from domain.orders import PAYMENT_METHODS, STATUSES

EVENT_ID: Schema = {"type": "integer", "minimum": 1, "description": "position in the company's event sequence"}
# Every cafe feed event's data also says whose it is.
SCOPE = {"company_id": ID, "branch_id": ID}


def const(value: str) -> Schema:
    return {"type": "string", "const": value}


def reply(kind: str, data: Schema | None = None) -> Schema:
    """A frame the socket sends itself (on connect, or as an answer): no event_id."""
    return obj({"type": const(kind)} | ({"data": data} if data is not None else {}))


def event(kind: str, data: Schema) -> Schema:
    """A change pushed to every socket of its channel, resumable by its event_id."""
    return obj({"type": const(kind), "data": data, "event_id": EVENT_ID})


def state(kind: str, data: Schema) -> Schema:
    """Sent on connect and on request (no event_id), and pushed on change (with one)."""
    return obj({"type": const(kind), "data": data}, {"event_id": EVENT_ID})


def feed_event(kind: str, fields: dict[str, Schema]) -> Schema:
    return event(kind, obj(fields | SCOPE))


def action(name: str, fields: dict[str, Schema] | None = None, optional: dict[str, Schema] | None = None) -> Schema:
    return obj({"action": const(name), **(fields or {})}, optional)


def room_frame(kind: str, data: Schema | None = None) -> Schema:
    """A client frame of the rooms socket: `{"type": ..., "data": ...}`."""
    return obj({"type": const(kind)} | ({"data": data} if data is not None else {}))


TABLE_NUMBER = nullable(TEXT)
TASK_FIELDS = {
    "task": ref("KitchenTask"),
    "task_id": ID,
    "order_id": ID,
    "table": nullable(INTEGER),
    "menu_item": TEXT,
    "unit_index": INTEGER,
}
ITEMS = obj({"order_id": ID, "items": array(ref("OrderItem")), "total_amount": MONEY})
NOTIFICATION_ID = {"notification_id": ID}
BROADCAST = {"message": TEXT, "level": enum(LEVELS), "sender": ID, "created_at": TIMESTAMP}
ORDER_STATUS = obj(
    {
        "id": ID,
        "status": enum(STATUSES),
        "status_display": enum(list(ORDER_STATUS_DISPLAY.values())),
        "total_amount": MONEY,
        "items_count": INTEGER,
        "created_at": TIMESTAMP,
        "confirmed_at": nullable(TIMESTAMP),
        "ready_at": nullable(TIMESTAMP),
        "delivered_at": nullable(TIMESTAMP),
    }
)
SYNC = {"entity": TEXT, "entityId": ID}

# key: (summary, payload). The key is the frame's `type` (client actions: "action-" + `action`);
# two frames of one type but different shapes get keys of their own and say their type in the payload.
MESSAGES: dict[str, tuple[str, Schema]] = {
    # Shared by the dialects.
    "pong": ("Answer to a ping", reply("pong")),
    "error": ("A message the server could not use; the socket stays open", obj({"error": TEXT})),
    "token_refreshed": (
        "The in-band refresh_token was accepted",
        reply("token_refreshed", obj({"expires_at": INTEGER})),
    ),
    "resync_required": (
        "last_event_id is older than the outbox keeps, or unknown: refetch over REST",
        reply("resync_required"),
    ),
    # The cafe feeds (seeds 000-002).
    "connection_established": (
        "On connect: the group the feed joined",
        obj({"type": const("connection_established"), "company_id": ID, "branch_id": nullable(ID), "group": TEXT}),
    ),
    "order_created": ("An order was created", feed_event("order_created", {"order": ref("Order")})),
    "order_updated": (
        "An order changed, was paid, or moved status",
        feed_event("order_updated", {"order": ref("Order")}),
    ),
    "order_deleted": ("An order was deleted", feed_event("order_deleted", {"order_id": ID, "number": INTEGER})),
    "table_status_changed": (
        "A table turned busy or free",
        feed_event(
            "table_status_changed",
            {
                "table": ref("Table"),
                "table_id": ID,
                "table_number": INTEGER,
                "status": enum(["busy", "free"]),
                "status_display": TEXT,
            },
        ),
    ),
    "table_created": ("A table was created", feed_event("table_created", {"table": ref("Table")})),
    "table_updated": ("A table was changed", feed_event("table_updated", {"table": ref("Table")})),
    "kitchen_task_ready": ("A portion is ready", feed_event("kitchen_task_ready", TASK_FIELDS)),
    "kitchen_task_created": ("New portions for the kitchen", feed_event("kitchen_task_created", TASK_FIELDS)),
    "kitchen_task_updated": (
        "A portion was claimed, reopened or cancelled",
        feed_event("kitchen_task_updated", TASK_FIELDS),
    ),
    # The entity sockets (seed 003).
    "order_status": (
        "The order's status (on connect, get_status, and when it changes)",
        state("order_status", ORDER_STATUS),
    ),
    "order_update": ("The whole order, after any change", event("order_update", ref("Order"))),
    "order_items_update": ("The order's items changed", event("order_items_update", ITEMS)),
    "items_list": ("The order's items (on connect and get_items)", reply("items_list", ITEMS)),
    "items_updated": ("The order's items changed", event("items_updated", ITEMS)),
    "table_status": (
        "The table (on connect, get_status, and when busy/free changes)",
        state("table_status", ref("TableState")),
    ),
    "table_update": ("The table changed: occupancy, zone, session", event("table_update", ref("TableState"))),
    "session_status": (
        "The session (on connect, get_status, and when it closes)",
        state("session_status", ref("TableSession")),
    ),
    "session_update": ("The session changed", event("session_update", ref("TableSession"))),
    "tasks_list": (
        "The waiter's unacknowledged notifications (on connect and get_tasks)",
        reply("tasks_list", obj({"waiter_id": ID, "notifications": array(ref("Notification"))})),
    ),
    "order_notification": (
        "A new order (on the waiter's socket with its notification_id)",
        event(
            "order_notification",
            obj(
                {"order_id": ID, "table_number": TABLE_NUMBER, "items_count": INTEGER, "message": TEXT}, NOTIFICATION_ID
            ),
        ),
    ),
    "payment_notification": (
        "A payment (on the waiter's socket with its notification_id)",
        event(
            "payment_notification",
            obj(
                {
                    "order_id": ID,
                    "table_number": TABLE_NUMBER,
                    "amount": MONEY,
                    "method": enum(PAYMENT_METHODS),
                    "message": TEXT,
                },
                NOTIFICATION_ID,
            ),
        ),
    ),
    "task_notification": (
        "A portion of the waiter's order is ready",
        event(
            "task_notification",
            obj(
                {
                    "task_id": ID,
                    "order_id": ID,
                    "table_number": TABLE_NUMBER,
                    "menu_item": TEXT,
                    "unit_index": INTEGER,
                    "message": TEXT,
                    "notification_id": ID,
                }
            ),
        ),
    ),
    "alert": (
        "A broadcast from the office (on the waiter's socket with its notification_id)",
        event("alert", obj(BROADCAST, NOTIFICATION_ID)),
    ),
    "notification_acknowledged": (
        "One of the waiter's sockets acknowledged a notification",
        event("notification_acknowledged", obj(NOTIFICATION_ID)),
    ),
    "restaurant_status": (
        "The branch at a glance (on connect and get_status)",
        reply(
            "restaurant_status",
            obj(
                {
                    "restaurant_id": ID,
                    "restaurant": TEXT,
                    "city_id": INTEGER,
                    "tables": obj({"busy": INTEGER, "free": INTEGER}),
                    "open_orders": INTEGER,
                    "kitchen": obj({"pending": INTEGER, "in_progress": INTEGER}),
                }
            ),
        ),
    ),
    "new_order": (
        "An order was created in the branch",
        event(
            "new_order",
            obj(
                {
                    "order_id": ID,
                    "number": INTEGER,
                    "table_number": TABLE_NUMBER,
                    "items_count": INTEGER,
                    "total_amount": MONEY,
                    "status": enum(STATUSES),
                    "waiter_id": nullable(ID),
                    "created_at": TIMESTAMP,
                }
            ),
        ),
    ),
    "order_ready": (
        "Every portion of an order is ready",
        event(
            "order_ready",
            obj({"order_id": ID, "number": INTEGER, "table_number": TABLE_NUMBER, "ready_at": TIMESTAMP}),
        ),
    ),
    "payment_completed": (
        "An order was paid",
        event(
            "payment_completed",
            obj(
                {
                    "order_id": ID,
                    "amount": MONEY,
                    "method": enum(PAYMENT_METHODS),
                    "total_amount": MONEY,
                    "paid_amount": MONEY,
                    "status": enum(STATUSES),
                }
            ),
        ),
    ),
    "broadcast": ("A broadcast from the office", event("broadcast", obj(BROADCAST))),
    # The rooms socket (seed 004).
    "connected": ("On connect", reply("connected", obj({"userId": ID, "role": TEXT}))),
    "room-joined": ("join-room was accepted", reply("room-joined", obj({"roomId": TEXT}))),
    "room-left": ("leave-room was accepted", reply("room-left", obj({"roomId": TEXT}))),
    "room-error": ("A refused or malformed message; nothing changed", reply("error", obj({"message": TEXT}))),
    "token-refreshed": (
        "The in-band refresh-token was accepted",
        reply("token-refreshed", obj({"expires_at": INTEGER})),
    ),
    "new-order": ("An order was created (admin-orders, city room)", event("new-order", ref("RoomOrder"))),
    "order-created": ("The order the user placed", event("order-created", ref("RoomOrder"))),
    "order-status-updated": (
        "An order's status changed",
        event(
            "order-status-updated",
            obj({"orderId": ID, "newStatus": enum(STATUSES), "oldStatus": enum(STATUSES), "timestamp": TIMESTAMP}),
        ),
    ),
    "bonus-updated": (
        "The customer's bonus balance changed",
        event(
            "bonus-updated",
            obj(
                {
                    "balance": AMOUNT,
                    "operation": obj({"type": enum(["earned", "used"]), "amount": AMOUNT, "orderId": ID}),
                    "timestamp": TIMESTAMP,
                }
            ),
        ),
    ),
    "sync-success": ("The POS took a change", event("sync-success", obj(SYNC | {"timestamp": TIMESTAMP}))),
    "sync-error": (
        "The POS sync gave up on a change",
        event("sync-error", obj(SYNC | {"error": TEXT, "timestamp": TIMESTAMP})),
    ),
    # What clients send: the cafe feeds and the entity sockets.
    "action-ping": ("Answered with pong", action("ping")),
    "action-refresh_token": ("A new access token for this socket", action("refresh_token", {"token": TEXT})),
    "action-get_status": ("Send the entity's state again", action("get_status")),
    "action-update_status": (
        "Move the order's status (owners, admins, managers)",
        action("update_status", {"status": enum(STATUSES)}),
    ),
    "action-get_items": ("Send items_list again", action("get_items")),
    "action-occupy": ("Seat guests: opens a session", action("occupy", optional={"guests_count": INTEGER})),
    "action-release": ("Close the table's session", action("release")),
    "action-update_guests_count": (
        "Change the session's guests count",
        action("update_guests_count", {"guests_count": INTEGER}),
    ),
    "action-close_session": ("Close the session", action("close_session")),
    "action-get_tasks": ("Send tasks_list again", action("get_tasks")),
    "action-acknowledge": ("Acknowledge a notification (the waiter itself)", action("acknowledge", NOTIFICATION_ID)),
    # What clients send: the rooms socket.
    "ping": ("Answered with pong", room_frame("ping")),
    "join-room": ("Join a room (checked on the server)", room_frame("join-room", obj({"roomId": TEXT}))),
    "leave-room": ("Leave a room", room_frame("leave-room", obj({"roomId": TEXT}))),
    "refresh-token": ("A new access token for this socket", room_frame("refresh-token", obj({"token": TEXT}))),
}


@dataclass(frozen=True)
class Channel:
    address: str
    title: str
    sends: tuple[str, ...]
    receives: tuple[str, ...]
    branch_query: bool = False


FEED_SENDS = ("connection_established", "pong", "error", "token_refreshed", "resync_required")
FEED_TAKES = ("action-ping", "action-refresh_token")
ENTITY_SENDS = ("pong", "error", "token_refreshed", "resync_required")
ENTITY_TAKES = FEED_TAKES
NOTIFICATIONS = ("order_notification", "payment_notification", "alert")
ROOMS = Channel(
    "/",
    "The rooms socket (seed 004)",
    sends=(
        "connected",
        "pong",
        "room-error",
        "room-joined",
        "room-left",
        "token-refreshed",
        "resync_required",
        "new-order",
        "order-created",
        "order-status-updated",
        "bonus-updated",
        "sync-success",
        "sync-error",
    ),
    receives=("ping", "join-room", "leave-room", "refresh-token"),
)

CHANNELS: dict[str, Channel] = {
    "cafe-orders": Channel(
        "/ws/cafe/orders/",
        "The orders feed",
        sends=(
            *FEED_SENDS,
            "order_created",
            "order_updated",
            "order_deleted",
            "table_status_changed",
            "kitchen_task_ready",
        ),
        receives=FEED_TAKES,
        branch_query=True,
    ),
    "cafe-tables": Channel(
        "/ws/cafe/tables/",
        "The tables feed",
        sends=(*FEED_SENDS, "table_status_changed", "table_created", "table_updated"),
        receives=FEED_TAKES,
        branch_query=True,
    ),
    "cafe-kitchen": Channel(
        "/ws/cafe/kitchen/",
        "The kitchen feed",
        sends=(*FEED_SENDS, "kitchen_task_ready", "kitchen_task_created", "kitchen_task_updated"),
        receives=FEED_TAKES,
        branch_query=True,
    ),
    "order": Channel(
        "/ws/orders/{order_id}/",
        "One order",
        sends=(*ENTITY_SENDS, "order_status", "order_update", "order_items_update"),
        receives=(*ENTITY_TAKES, "action-get_status", "action-update_status"),
    ),
    "order-items": Channel(
        "/ws/orders/{order_id}/items/",
        "One order's items",
        sends=(*ENTITY_SENDS, "items_list", "items_updated"),
        receives=(*ENTITY_TAKES, "action-get_items"),
    ),
    "table": Channel(
        "/ws/tables/{table_id}/",
        "One table",
        sends=(*ENTITY_SENDS, "table_status", "table_update"),
        receives=(*ENTITY_TAKES, "action-get_status", "action-occupy", "action-release"),
    ),
    "table-session": Channel(
        "/ws/tables/sessions/{session_id}/",
        "One table session",
        sends=(*ENTITY_SENDS, "session_status", "session_update"),
        receives=(*ENTITY_TAKES, "action-get_status", "action-update_guests_count", "action-close_session"),
    ),
    "waiter": Channel(
        "/ws/waiters/{waiter_id}/",
        "One waiter's notifications (the waiter; its managers, owners, admins)",
        sends=(*ENTITY_SENDS, "tasks_list", *NOTIFICATIONS, "task_notification", "notification_acknowledged"),
        receives=(*ENTITY_TAKES, "action-get_tasks", "action-acknowledge"),
    ),
    "restaurant": Channel(
        "/ws/restaurants/{restaurant_id}/",
        "One branch",
        sends=(*ENTITY_SENDS, "restaurant_status", "new_order", "order_ready", "payment_completed", "broadcast"),
        receives=(*ENTITY_TAKES, "action-get_status"),
    ),
    "restaurant-notifications": Channel(
        "/ws/restaurants/{restaurant_id}/notifications/",
        "One branch's notifications",
        sends=(*ENTITY_SENDS, *NOTIFICATIONS),
        receives=ENTITY_TAKES,
    ),
    "rooms": ROOMS,
    "rooms-ws": Channel("/ws/", "The rooms socket, also at /ws/", ROOMS.sends, ROOMS.receives),
}

QUERY = {
    "token": {"type": "string", "description": "an access token (or send `Authorization: Bearer`)"},
    "ticket": {
        "type": "string",
        "description": "a single-use ticket from POST /api/auth/ws-ticket, instead of a token",
    },
    "last_event_id": {
        "type": "string",
        "pattern": "^[0-9]+$",
        "description": "resume: replay every event after this one first (else resync_required)",
    },
}
BRANCH_QUERY = {
    "branch_id": {
        "type": "string",
        "format": "uuid",
        "description": "owners and admins: one branch's group instead of the company-level one",
    }
}


def _channel(key: str, channel: Channel) -> dict[str, Any]:
    query = QUERY | (BRANCH_QUERY if channel.branch_query else {})
    described: dict[str, Any] = {
        "address": channel.address,
        "title": channel.title,
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in (*channel.sends, *channel.receives)},
        "bindings": {
            "ws": {"method": "GET", "query": {"type": "object", "properties": query}, "bindingVersion": "0.1.0"}
        },
    }
    names = re.findall(r"{(\w+)}", channel.address)
    if names:
        described["parameters"] = {name: {"description": f"the {name.removesuffix('_id')}'s id"} for name in names}
    return described


def _operation(key: str, action: str, names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{key}"},
        "messages": [{"$ref": f"#/channels/{key}/messages/{name}"} for name in names],
    }


def _message(key: str, summary: str, payload: Schema) -> dict[str, Any]:
    kind = payload["properties"].get("type") or payload["properties"].get("action")
    return {"name": kind["const"] if kind else key, "summary": summary, "payload": payload}


@cache
def document() -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for key, channel in CHANNELS.items():
        operations[f"{key}-sends"] = _operation(key, "send", channel.sends)
        operations[f"{key}-receives"] = _operation(key, "receive", channel.receives)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "cafe_rt sockets",
            "version": "1.0.0",
            "description": "The three WebSocket dialects of cafe_rt: the cafe feeds, the entity sockets and the "
            "rooms socket. Every frame is a JSON text; events carry `event_id` for resuming with "
            "`?last_event_id=`. Writes go over REST (/openapi.json). Operations are the server's: `send` is "
            "what the server sends, `receive` what it takes from clients.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "localhost:8000",
                "protocol": "ws",
                "description": "`cafe_rt.py serve`; wss behind TLS",
                "security": [
                    {"$ref": "#/components/securitySchemes/token"},
                    {"$ref": "#/components/securitySchemes/bearer"},
                ],
            }
        },
        "channels": {key: _channel(key, channel) for key, channel in CHANNELS.items()},
        "operations": operations,
        "components": {
            "schemas": SCHEMAS,
            "messages": {key: _message(key, summary, payload) for key, (summary, payload) in MESSAGES.items()},
            "securitySchemes": {
                "token": {"type": "httpApiKey", "in": "query", "name": "token", "description": "an access token"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }
