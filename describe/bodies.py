"""The REST API's own JSON shapes: request bodies (closed, as the service refuses unknown fields) and
the answers only REST gives. The objects the sockets carry too live in describe/shapes.py.
"""

from __future__ import annotations

from describe.shapes import (
    BOOLEAN,
    ID,
    INTEGER,
    MONEY,
    ORDER_ITEM,
    TEXT,
    TIMESTAMP,
    Schema,
    array,
    enum,
    nullable,
    obj,
    ref,
)
from domain.auth import ROLES
from domain.broadcasts import LEVELS
from domain.customer_orders import ORDER_TYPES
from domain.kitchen import TASK_STATUSES
from domain.orders import ORDER_TYPES as ALL_ORDER_TYPES
from domain.orders import PAYMENT_METHODS, STATUSES

NAME = {"type": "string", "minLength": 1, "maxLength": 200}
PASSWORD: Schema = {"type": "string", "minLength": 8, "maxLength": 128}
CITY_IDS = array({"type": "integer", "minimum": 1})
PRICE: Schema = {"type": ["string", "number"], "description": 'at most two decimals: "12.50", 12.5 or 12'}
GUESTS: Schema = {"type": "integer", "minimum": 1, "maximum": 1000}
QUANTITY: Schema = {"type": "integer", "minimum": 1, "maximum": 100}
LINES = {"type": "array", "maxItems": 100, "items": obj({"menu_item": ID}, {"quantity": QUANTITY})}

REQUESTS: dict[str, Schema] = {
    "Login": obj({"email": TEXT, "password": TEXT}),
    "Refresh": obj({"refresh": TEXT}),
    # A browser session sends none: the refresh cookie says it.
    "SessionRefresh": obj({}, {"refresh": TEXT}),
    "PasswordChange": obj({"old_password": TEXT, "new_password": PASSWORD}),
    "NewBranch": obj({"name": NAME, "city_id": {"type": "integer", "minimum": 1}}),
    "NewUser": obj(
        {"email": TEXT, "password": PASSWORD, "role": enum(ROLES)},
        {"branch": nullable(ID), "city_ids": CITY_IDS},
    ),
    # PATCH /api/users/<id>/: any of them; a real change revokes every token of the user.
    "UserChange": obj({}, {"role": enum(ROLES), "branch": nullable(ID), "city_ids": CITY_IDS, "is_active": BOOLEAN}),
    "NewZone": obj({"title": NAME}, {"branch": nullable(ID)}),
    "NewTable": obj(
        {"number": {"type": "integer", "minimum": 1, "maximum": 100_000}, "places": GUESTS},
        {"zone": nullable(ID), "branch": nullable(ID)},
    ),
    "TableChange": obj(
        {}, {"number": {"type": "integer", "minimum": 1, "maximum": 100_000}, "places": GUESTS, "zone": nullable(ID)}
    ),
    "NewTableSession": obj({"table": ID}, {"guests_count": GUESTS}),
    "TableSessionChange": obj({"guests_count": GUESTS}),
    "NewMenuItem": obj({"title": NAME, "price": PRICE}, {"branch": nullable(ID), "is_active": BOOLEAN}),
    "MenuItemChange": obj({}, {"title": NAME, "price": PRICE, "is_active": BOOLEAN}),
    "NewClient": obj({"name": NAME, "phone": {"type": "string", "minLength": 1, "maxLength": 32}}),
    "NewOrder": obj(
        {},
        {
            "table": nullable(ID),
            "guests": GUESTS,
            "client": nullable(ID),
            "waiter": nullable(ID),
            "items": LINES,
            "branch": nullable(ID),
            "type": {**enum(ALL_ORDER_TYPES), "description": "dine_in by default with a table, else pickup"},
        },
    ),
    # `branch` defaults to the customer's home branch; `type` is how the order reaches it (pickup by default).
    "NewCustomerOrder": obj(
        {"items": LINES},
        {"branch": nullable(ID), "guests": GUESTS, "bonuses_used": PRICE, "type": enum(ORDER_TYPES)},
    ),
    # POST /api/cafe/orders/ takes the one that fits the user: staff place NewOrder, customers NewCustomerOrder.
    "NewAnyOrder": {"anyOf": [ref("NewOrder"), ref("NewCustomerOrder")]},
    "OrderChange": obj(
        {},
        {
            "status": enum(STATUSES),
            "guests": GUESTS,
            "waiter": nullable(ID),
            "client": nullable(ID),
            "table": nullable(ID),
        },
    ),
    "Payment": obj({}, {"method": enum(PAYMENT_METHODS), "amount": PRICE, "close": BOOLEAN}),
    "NewOrderItem": obj({"order": ID, "menu_item": ID}, {"quantity": QUANTITY}),
    "OrderItemChange": obj({"quantity": QUANTITY}),
    "KitchenTaskChange": obj({"status": enum(TASK_STATUSES)}),
    "NewBroadcast": obj(
        {"message": {"type": "string", "minLength": 1, "maxLength": 1000}},
        {"level": enum(LEVELS), "branch": nullable(ID)},
    ),
}

RESPONSES: dict[str, Schema] = {
    "Error": obj({"detail": {"anyOf": [TEXT, {"type": "object", "additionalProperties": array(TEXT)}]}}),
    "Tokens": obj({"access": TEXT, "refresh": TEXT}),
    # Login: the tokens as before, and the CSRF token of the browser session its cookies hold.
    "LoginTokens": obj({"access": TEXT, "refresh": TEXT, "csrfToken": TEXT}),
    "CsrfToken": obj({"csrfToken": TEXT}),
    "SessionRefreshed": obj({"ok": BOOLEAN, "csrfToken": TEXT}),
    "Session": obj({"user": ref("User")}),
    "LoggedOut": obj({"ok": BOOLEAN}),
    "WsTicket": obj({"ticket": TEXT, "expires_in": {"type": "integer", "description": "seconds the ticket lives"}}),
    "Health": obj({"database": enum(["ok", "down"]), "broker": enum(["ok", "down"])}),
    "Branch": obj({"id": ID, "name": TEXT, "city_id": INTEGER, "company": ID}),
    "Zone": obj({"id": ID, "title": TEXT, "branch": ID}),
    "MenuItem": obj({"id": ID, "title": TEXT, "price": MONEY, "is_active": BOOLEAN, "branch": nullable(ID)}),
    # POST /api/cafe/order-items/: the created item, its order and the order's new total.
    "AddedOrderItem": obj({**ORDER_ITEM["properties"], "order": ID, "order_total_amount": MONEY}),
    "Client": obj({"id": ID, "name": TEXT, "phone": TEXT, "created_at": TIMESTAMP}),
    "OrderPage": obj(
        {
            "count": INTEGER,
            "next": nullable(INTEGER),
            "previous": nullable(INTEGER),
            "results": array(ref("Order")),
        }
    ),
    "BroadcastSent": obj(
        {"message": TEXT, "level": enum(LEVELS), "sender": ID, "created_at": TIMESTAMP, "branches": array(ID)}
    ),
    "Bonuses": obj(
        {
            "balance": MONEY,
            "operations": array(
                obj(
                    {
                        "type": enum(["earned", "used"]),
                        "amount": MONEY,
                        "balance_after": MONEY,
                        "order": ID,
                        "created_at": TIMESTAMP,
                    }
                )
            ),
        }
    ),
}
