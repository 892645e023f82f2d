"""Every frame of the three socket dialects, keyed by its `type`, with the JSON Schema of its payload.

Server frames are replies (no event_id), events (with the event_id to resume from) or states (sent on
connect without one, pushed on change with one). Client frames are keyed "action-" + their `action`
(cafe feeds and entity sockets) or by their `type` (rooms socket). describe/asyncapi.py puts them on
the channels that carry them.
"""

from __future__ import annotations

from describe.json_schema import Schema, array, enum, nullable, obj, ref
from describe.shapes import AMOUNT, ID, INTEGER, MONEY, ROOM_STATUSES, STATION, TEXT, TIMESTAMP
from domain.broadcasts import LEVELS
from domain.orders import MAX_REASON, PAYMENT_METHODS, STATUSES

REASON: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_REASON,
    "description": "why: required when the move is a void or a comp",
}
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


def room_request(kind: str, data: Schema) -> Schema:
    """join-room / leave-room: `{"type", "data"}`, or `{"type", "payload"}` as older mini-app builds send."""
    return obj({"type": const(kind)}, {"data": data, "payload": data}) | {
        "anyOf": [{"required": ["data"]}, {"required": ["payload"]}]
    }


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
        "A portion was claimed, reopened, cancelled, served (bumped) or recalled",
        feed_event("kitchen_task_updated", TASK_FIELDS),
    ),
    "kitchen_task_late": (
        "A portion is not ready by its due time (announced once per portion)",
        feed_event(
            "kitchen_task_late",
            {
                "task": ref("KitchenTask"),
                "task_id": ID,
                "order_id": ID,
                "table": nullable(INTEGER),
                "menu_item": TEXT,
                "station": STATION,
                "due_at": TIMESTAMP,
            },
        ),
    ),
    "kitchen_screen_offline": (
        "A kitchen station has had no screen for SCREEN_GRACE seconds (station null: the all-stations screen)",
        feed_event("kitchen_screen_offline", {"station": nullable(STATION), "since": TIMESTAMP}),
    ),
    "kitchen_screen_online": (
        "A kitchen station that was offline has a screen again",
        feed_event("kitchen_screen_online", {"station": nullable(STATION), "since": TIMESTAMP}),
    ),
    # The entity sockets (seed 003).
    "order_status": (
        "The order's status (on connect, get_status, and when it changes)",
        state("order_status", ref("OrderStatus")),
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
    "new-order": (
        "A pickup or delivery order was created (admin-orders, city room, branch room; dine-in orders stay off them)",
        event("new-order", ref("RoomOrder")),
    ),
    "order-created": ("The order the user placed", event("order-created", ref("RoomOrder"))),
    "order-status-updated": (
        "An order's status changed",
        event(
            "order-status-updated",
            obj(
                {
                    "orderId": ID,
                    "newStatus": enum(ROOM_STATUSES),
                    "oldStatus": enum(ROOM_STATUSES),
                    "timestamp": TIMESTAMP,
                    "branchId": ID,
                }
            ),
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
    "menu-updated": (
        "A menu item was created, changed or switched off (every rooms socket of the company): reload the menu",
        event("menu-updated", obj({"branchId": nullable(ID), "menuItemId": ID})),
    ),
    "sync-success": ("The POS took a change", event("sync-success", obj(SYNC | {"timestamp": TIMESTAMP}))),
    "sync-error": (
        "The POS sync gave up on a change",
        event("sync-error", obj(SYNC | {"error": TEXT, "timestamp": TIMESTAMP})),
    ),
    # What clients send: the cafe feeds and the entity sockets.
    "action-ping": ("Answered with pong", action("ping")),
    "action-refresh_token": (
        "A new access token for this socket, or a fresh ticket standing for one (a cookie session's page)",
        action("refresh_token", optional={"token": TEXT, "ticket": TEXT})
        | {"anyOf": [{"required": ["token"]}, {"required": ["ticket"]}]},
    ),
    "action-get_status": ("Send the entity's state again", action("get_status")),
    "action-update_status": (
        "Move the order's status (owners, admins, managers)",
        action("update_status", {"status": enum(STATUSES)}, {"reason": REASON}),
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
    "join-room": (
        "Join a room (checked on the server): admin-orders, admin-broadcasts (owners, admins), city-{cityId}-orders, "
        "branch-{branchId}-orders, user-{userId}",
        room_request("join-room", obj({"roomId": TEXT})),
    ),
    "leave-room": ("Leave a room", room_request("leave-room", obj({"roomId": TEXT}))),
    "refresh-token": ("A new access token for this socket", room_frame("refresh-token", obj({"token": TEXT}))),
}
