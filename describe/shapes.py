"""JSON Schemas of the objects the API sends, shared by the OpenAPI and the AsyncAPI documents.

The objects that core/shapes.py types (OrderJSON, TableJSON, ...) are generated from their TypedDicts: a field
added there is described here at once. What a type cannot say (the statuses an order may have, a station's slug)
is each `Component`'s `more`, keyed by field. Both documents keep these under `components/schemas`, so
`ref("Order")` means the same in each. Objects are closed (`additionalProperties: false`): the tests that check
every response and every socket frame fail on a field the service sends and no shape has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.auth import ROLES
from core.shapes import (
    AddedItemJSON,
    BranchJSON,
    ClientJSON,
    Id,
    MenuItemJSON,
    Money,
    NotificationJSON,
    OpenSessionJSON,
    OrderItemJSON,
    OrderJSON,
    OrderPage,
    OrderStatusJSON,
    ScreenJSON,
    ScreenUserJSON,
    SessionJSON,
    TableJSON,
    TableStateJSON,
    TaskJSON,
    Timestamp,
    UserJSON,
    VoidJSON,
    ZoneJSON,
)
from describe.json_schema import Schema, array, enum, nullable, obj, object_schema, type_schema
from domain.catalog import MAX_PREP_MINUTES
from domain.customer_orders import ORDER_TYPES
from domain.kitchen import TASK_STATUSES
from domain.orders import ORDER_TYPES as ALL_ORDER_TYPES
from domain.orders import STATUSES
from domain.stations import MAX_STATION, STATION_SLUG
from events.entities import ORDER_STATUS_DISPLAY
from events.feeds import FEEDS, TABLE_STATUS_DISPLAY
from events.rooms import room_status

ID = type_schema(Id, {})
TEXT = type_schema(str, {})
INTEGER = type_schema(int, {})
BOOLEAN = type_schema(bool, {})
TIMESTAMP = type_schema(Timestamp, {})
MONEY = type_schema(Money, {})
STATION: Schema = {
    "type": "string",
    "pattern": "^" + STATION_SLUG.pattern + "$",
    "maxLength": MAX_STATION,
    "description": "a kitchen station's slug: kitchen, bar, cold",
}
PREP_MINUTES: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_PREP_MINUTES}
# The rooms socket (seed 004) shows money as a JSON number: 1500, 150.5.
AMOUNT: Schema = {"type": "number"}
# ... and a finished order as "completed" (events/rooms.py): its own words for the statuses.
ROOM_STATUSES = [room_status(status) for status in STATUSES]


@dataclass(frozen=True)
class Component:
    """A TypedDict of core/shapes.py under its name in `components/schemas`."""

    name: str
    shape: type
    # field -> JSON Schema keywords over the ones its type gives (for `X | None`: over X's).
    more: Mapping[str, Schema] = field(default_factory=dict)
    # Fields the type requires and the schema does not (see Order).
    may_lack: tuple[str, ...] = ()


SHARED_COMPONENTS = (
    Component(
        "Order",
        OrderJSON,
        {"status": enum(STATUSES), "type": enum(ALL_ORDER_TYPES)},
        # Always sent; events stored before migrations 0005 (void) and 0007 (type) lack them, and a resume may
        # replay such an event (absent void means null).
        may_lack=("void", "type"),
    ),
    # A void (cancelled after the kitchen started) or a comp (closed with money due), with who, when and why.
    Component(
        "Void",
        VoidJSON,
        {
            "kind": enum(["void", "comp"]),
            "amount": {"description": "what the order still owed when it was voided or comped"},
        },
    ),
    Component("OrderItem", OrderItemJSON),
    Component(
        "Table",
        TableJSON,
        {"status": enum(list(TABLE_STATUS_DISPLAY)), "status_display": enum(list(TABLE_STATUS_DISPLAY.values()))},
    ),
    Component("KitchenTask", TaskJSON, {"status": enum(TASK_STATUSES), "station": STATION}),
    Component("TableSession", SessionJSON),
    Component(
        "Notification",
        NotificationJSON,
        {
            "type": enum(["order_notification", "payment_notification", "task_notification", "alert"]),
            "data": {
                "type": "object",
                "description": "the payload the waiter's socket carried, without notification_id",
            },
        },
    ),
    Component("User", UserJSON, {"role": enum(ROLES)}),
    # The entity sockets' own views of a table and of an order.
    Component("TableState", TableStateJSON, {"status": enum(list(TABLE_STATUS_DISPLAY))}),
    Component("OpenSession", OpenSessionJSON),
    Component(
        "OrderStatus",
        OrderStatusJSON,
        {"status": enum(STATUSES), "status_display": enum(list(ORDER_STATUS_DISPLAY.values()))},
        may_lack=("void",),  # always sent since migration 0005; older stored events lack it
    ),
)
# Only REST answers these (describe/bodies.py puts them with its RESPONSES).
REST_COMPONENTS = (
    Component("Branch", BranchJSON),
    Component("Zone", ZoneJSON),
    Component("MenuItem", MenuItemJSON, {"station": STATION, "prep_minutes": PREP_MINUTES}),
    # POST /api/cafe/order-items/: the created item, its order and the order's new total.
    Component("AddedOrderItem", AddedItemJSON),
    # phone is null for waiters (names only: domain/catalog.py PHONE_READERS).
    Component("Client", ClientJSON),
    Component("OrderPage", OrderPage),
    Component("Screen", ScreenJSON, {"feed": enum(list(FEEDS)), "station": STATION}),
    Component("ScreenUser", ScreenUserJSON),
)
NAMES: dict[object, str] = {component.shape: component.name for component in (*SHARED_COMPONENTS, *REST_COMPONENTS)}


def generated(components: tuple[Component, ...]) -> dict[str, Schema]:
    return {c.name: object_schema(c.shape, NAMES, c.more, c.may_lack) for c in components}


# Hand-written: events/announce.py builds it as a plain dict, with no TypedDict to generate it from.
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

SCHEMAS: dict[str, Schema] = generated(SHARED_COMPONENTS) | {"RoomOrder": ROOM_ORDER}
REST_OBJECTS: dict[str, Schema] = generated(REST_COMPONENTS)
