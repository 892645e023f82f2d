"""JSON Schemas of the objects the API sends, shared by the OpenAPI and the AsyncAPI documents.

Both documents keep these under `components/schemas`, so `ref("Order")` means the same in each. They
use only what JSON Schema draft-07 (AsyncAPI's default) and 2020-12 (OpenAPI 3.1's) read alike.
Objects are closed (`additionalProperties: false`): a field the service starts sending must be added
here, or the tests that check every response and every socket frame fail.
"""

from __future__ import annotations

from typing import Any

from core.auth import ROLES
from domain.customer_orders import ORDER_TYPES
from domain.kitchen import TASK_STATUSES
from domain.orders import ORDER_TYPES as ALL_ORDER_TYPES
from domain.orders import STATUSES
from domain.stations import MAX_STATION, STATION_SLUG
from events.feeds import TABLE_STATUS_DISPLAY
from events.rooms import room_status

Schema = dict[str, Any]

ID: Schema = {"type": "string", "format": "uuid"}
TEXT: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
TIMESTAMP: Schema = {"type": "string", "format": "date-time", "description": "ISO 8601 UTC"}
MONEY: Schema = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "description": 'two decimals, "12.50"'}
STATION: Schema = {
    "type": "string",
    "pattern": "^" + STATION_SLUG.pattern + "$",
    "maxLength": MAX_STATION,
    "description": "a kitchen station's slug: kitchen, bar, cold",
}
# The rooms socket (seed 004) shows money as a JSON number: 1500, 150.5.
AMOUNT: Schema = {"type": "number"}
# ... and a finished order as "completed" (events/rooms.py): its own words for the statuses.
ROOM_STATUSES = [room_status(status) for status in STATUSES]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    if isinstance(schema.get("type"), str) and "enum" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def enum(values: tuple[str, ...] | list[str]) -> Schema:
    return {"type": "string", "enum": list(values)}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def obj(fields: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """A closed object: every field of `fields` is always sent, those of `optional` sometimes."""
    schema: Schema = {
        "type": "object",
        "properties": {**fields, **(optional or {})},
        "additionalProperties": False,
    }
    if fields:
        schema["required"] = list(fields)
    return schema


ORDER_ITEM = obj(
    {
        "id": ID,
        "menu_item": ID,
        "menu_item_title": TEXT,
        "quantity": INTEGER,
        "price": MONEY,
        "total": MONEY,
    }
)

# A void (cancelled after the kitchen started) or a comp (closed with money due), with who, when and why.
VOID = obj(
    {
        "kind": enum(["void", "comp"]),
        "by": nullable(ID),
        "reason": nullable(TEXT),
        "at": nullable(TIMESTAMP),
        "amount": {**MONEY, "description": "what the order still owed when it was voided or comped"},
    }
)

ORDER = obj(
    {
        "id": ID,
        "number": INTEGER,
        "table": nullable(ID),
        "table_number": nullable(INTEGER),
        "client": nullable(ID),
        "waiter": nullable(ID),
        "created_by": ID,
        "guests": INTEGER,
        "status": enum(STATUSES),
        "total_amount": MONEY,
        "paid_amount": MONEY,
        "bonuses_used": MONEY,
        "bonuses_earned": MONEY,
        "items": array(ref("OrderItem")),
        "branch": ID,
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "confirmed_at": nullable(TIMESTAMP),
        "ready_at": nullable(TIMESTAMP),
        "delivered_at": nullable(TIMESTAMP),
        "closed_at": nullable(TIMESTAMP),
    },
    # Always sent; events stored before migrations 0005 (void) and 0007 (type) lack them, and a resume may
    # replay such an event (absent void means null).
    {"void": nullable(ref("Void")), "type": enum(ALL_ORDER_TYPES)},
)

TABLE = obj(
    {
        "id": ID,
        "number": INTEGER,
        "places": INTEGER,
        "status": enum(list(TABLE_STATUS_DISPLAY)),
        "status_display": enum(list(TABLE_STATUS_DISPLAY.values())),
        "zone": nullable(ID),
        "branch": ID,
    }
)

KITCHEN_TASK = obj(
    {
        "id": ID,
        "status": enum(TASK_STATUSES),
        "order": ID,
        "order_item": ID,
        "menu_item": ID,
        "menu_item_title": TEXT,
        "table_number": nullable(INTEGER),
        "unit_index": INTEGER,
        "cook": nullable(ID),
        "branch": ID,
        "station": STATION,
        "created_at": TIMESTAMP,
        "due_at": nullable(TIMESTAMP),
        "started_at": nullable(TIMESTAMP),
        "ready_at": nullable(TIMESTAMP),
        "served_at": nullable(TIMESTAMP),
        "late_at": nullable(TIMESTAMP),
    }
)

TABLE_SESSION = obj(
    {
        "id": ID,
        "table_id": ID,
        "table_number": TEXT,
        "session_code": TEXT,
        "guests_count": INTEGER,
        "started_at": TIMESTAMP,
        "closed_at": nullable(TIMESTAMP),
        "is_active": BOOLEAN,
    }
)

NOTIFICATION = obj(
    {
        "id": ID,
        "type": enum(["order_notification", "payment_notification", "task_notification", "alert"]),
        "data": {"type": "object", "description": "the payload the waiter's socket carried, without notification_id"},
        "created_at": TIMESTAMP,
        "acknowledged_at": nullable(TIMESTAMP),
    }
)

USER = obj(
    {
        "id": ID,
        "email": TEXT,
        "role": enum(ROLES),
        "company": nullable(ID),
        "branch": nullable(ID),
        "city_ids": array(INTEGER),
        "is_active": BOOLEAN,
        "created_at": TIMESTAMP,
    }
)

# The entity sockets' view of a table (seed 003's table_update example).
TABLE_STATE = obj(
    {
        "table_id": ID,
        "table_number": TEXT,
        "status": enum(list(TABLE_STATUS_DISPLAY)),
        "is_occupied": BOOLEAN,
        "is_active": BOOLEAN,
        "zone": nullable(TEXT),
        "restaurant": TEXT,
        "session": nullable(obj({"id": ID, "session_code": TEXT, "guests_count": INTEGER, "started_at": TIMESTAMP})),
    }
)

# The rooms socket's view of an order (seed 004's new-order example).
ROOM_ORDER = obj(
    {
        "id": ID,
        "order_number": TEXT,
        "user_id": ID,
        "city_id": nullable(INTEGER),
        "branch_id": ID,
        "branchId": ID,
        "branch": obj({"id": ID, "name": TEXT}),
        "type": enum(["dine_in", *ORDER_TYPES]),
        "table_number": nullable(INTEGER),
        "status": enum(ROOM_STATUSES),
        "total": AMOUNT,
        "bonuses_used": AMOUNT,
        "bonuses_earned": AMOUNT,
        "items": array(obj({"menu_item": ID, "title": TEXT, "quantity": INTEGER})),
        "created_at": TIMESTAMP,
    }
)

SCHEMAS: dict[str, Schema] = {
    "Order": ORDER,
    "Void": VOID,
    "OrderItem": ORDER_ITEM,
    "Table": TABLE,
    "KitchenTask": KITCHEN_TASK,
    "TableSession": TABLE_SESSION,
    "Notification": NOTIFICATION,
    "User": USER,
    "TableState": TABLE_STATE,
    "RoomOrder": ROOM_ORDER,
}
